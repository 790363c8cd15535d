//! vpmd's rx: consumes the guest's **tx ring** (`netif_tx_request`s in, responses out)
//! and turns each packet into a buffer chain, as netback's `xenvif_tx_action` does:
//! copy each request out of the ring, walk and count the packet's slots with every
//! netback check, then one grant-copy batch for the burst, then check each copy,
//! deliver, and answer every request in order.
//!
//! With a rate ([`Credit`]), a packet the credit does not cover stays in the ring, as
//! one without buffers does, until a later burst finds the credit replenished.
//!
//! Errors come in netback's two tiers: a bad packet is answered `NETIF_RSP_ERROR` and
//! dropped (counted); a protocol violation disables the vif ([`FatalReason`]) and its
//! rings are not touched again.
//!
//! The whole frame is grant-copied, the first buffer taking as much as it holds, so
//! the first [`XEN_NETBACK_TX_COPY_LEN`] bytes (the headers) are never split across
//! buffers (XSA-423/432), whatever the guest's slot layout. With a copy threshold,
//! larger fragments past those bytes are grant-mapped instead and answered when their
//! mbufs are freed ([`zerocopy`](super::zerocopy)).
//!
//! Must never: read a ring slot twice (each is decoded from one copy), allocate per
//! packet beyond the packet's own buffers, panic or block on guest input, or arm
//! `req_event` (poll mode keeps the frontend from notifying us).

mod fast;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use vpmd_mempool::{ol_flags, Burst, PktBuf, PktPool, TxOffload};
use vpmd_pmd::RxCounters;

use super::credit::Credit;
use super::hash::HASH_TYPES;
use super::reuse_segments;
use super::ring::{VifRing, VifRingParts};
use super::vif::{FatalReason, VifShared};
use super::zerocopy::ZeroCopy;
use crate::platform::{CopySegment, GrantPtr, Platform};
use crate::wire::defs::*;
use crate::wire::grant::GrantRef;
use crate::wire::netif::{
    Extra, ExtraInfo, GsoInfo, HashInfo, NetifStatus, TxFlags, TxRequest, TxResponse,
};
use crate::wire::ring::{RingIdx, RingLayout};
use crate::wire::Entry;

/// The checksum offload flags a request's `NETTXF_*` flags mean for its buffer.
#[inline]
fn csum_ol_flags(f: TxFlags) -> u64 {
    if f.contains(TxFlags::CSUM_BLANK) {
        ol_flags::RX_L4_CKSUM_NONE
    } else if f.contains(TxFlags::DATA_VALIDATED) {
        ol_flags::RX_L4_CKSUM_GOOD
    } else {
        0
    }
}

/// Request slots prefetched at the start of a burst (a burst of one-slot packets).
const PREFETCH_SLOTS: RingIdx = 32;

/// Shortest frame a first slot may carry (`ETH_HLEN`).
const ETH_HLEN: usize = 14;

/// What answers one request of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Answer {
    /// The packet's status.
    Packet,
    /// A consumed extra-info slot: `NETIF_RSP_NULL`.
    Null,
    /// A zero-length fragment, answered `NETIF_RSP_OKAY` whatever the packet's fate.
    Okay,
    /// A grant-mapped fragment, answered once its mbufs are freed ([`zerocopy`]).
    ///
    /// [`zerocopy`]: super::zerocopy
    Deferred,
}

/// A multicast-list change a request carries instead of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum McastOp {
    Add([u8; 6]),
    Del([u8; 6]),
}

/// A data slot of a planned packet: where its bytes are in the guest.
#[derive(Debug, Clone, Copy)]
pub(super) struct DataSlot {
    pub gref: GrantRef,
    pub offset: u16,
    pub len: u16,
}

/// A packet walked in this burst.
#[derive(Debug, Clone, Copy)]
pub(super) struct Planned {
    /// Its requests in `reqs` (ids and answers), in ring order.
    pub reqs: (usize, usize),
    /// Its data slots in `data` (the bytes to copy).
    pub data: (usize, usize),
    /// Its buffers in `bufs` (none if dropped).
    bufs: (usize, usize),
    /// Its copy segments.
    segs: (usize, usize),
    /// The frame's size.
    len: usize,
    flags: TxFlags,
    gso: Option<GsoInfo>,
    /// The frontend's hash of the packet, if it sent one.
    hash: Option<HashInfo>,
    /// More fragments than a netback skb holds (counted, not an error).
    frag_overflow: bool,
    /// Why it is dropped, if it is.
    pub drop: Option<Drop>,
    /// An extra-only request: a multicast-list change, no packet.
    mcast: Option<McastOp>,
}

/// Why a packet is answered `NETIF_RSP_ERROR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Drop {
    Slots,
    FragSize,
    Short,
    Grant,
}

/// Outcome of walking one packet.
enum Walk {
    /// Planned (possibly to be dropped).
    Packet(Planned),
    /// The frontend is rogue.
    Fatal(FatalReason),
}

/// The guest tx ring of one queue, with what its burst needs.
pub struct GuestTxRing<P: Platform> {
    q: VifRing<P>,
    /// Rate limiting, if the vif has a rate.
    credit: Option<Credit>,
    /// Grant-mapping large fragments, if `copy-threshold` asks for it.
    zc: Option<ZeroCopy<P>>,
    /// The vif's rate generation `credit` follows.
    rate_gen: u64,
    fatal_slots: usize,
    // Scratch, reused by every burst.
    reqs: Vec<(u16, Answer)>,
    data: Vec<DataSlot>,
    pkts: Vec<Planned>,
    segs: Vec<CopySegment<'static>>,
}

impl<P: Platform> GuestTxRing<P> {
    /// The ring mapped from `domid`'s grant, notified through `evtchn`, its packets
    /// paid for with `credit` if there is one, fragments of at least `copy_threshold`
    /// bytes grant-mapped (0: everything copied).
    pub(crate) fn new(parts: VifRingParts<P>, credit: Option<Credit>, copy_threshold: u16) -> Self {
        let n = RingLayout::TX.entries as usize;
        let zc = (copy_threshold > 0)
            .then(|| {
                ZeroCopy::new(
                    Arc::clone(&parts.platform),
                    Arc::clone(&parts.stats),
                    usize::from(copy_threshold),
                )
            })
            .flatten();
        let rate_gen = parts.vif.rate().generation();
        Self {
            zc,
            q: VifRing::new(parts, RingLayout::TX),
            credit,
            rate_gen,
            fatal_slots: FATAL_SKB_SLOTS_DEFAULT,
            reqs: Vec::with_capacity(n),
            data: Vec::with_capacity(n),
            pkts: Vec::with_capacity(n),
            segs: Vec::with_capacity(2 * n),
        }
    }

    /// The vif this ring belongs to.
    pub fn vif(&self) -> &Arc<VifShared> {
        &self.q.vif
    }

    /// Receives up to `max` packets into `out`, with buffers from `pool`.
    pub fn rx_burst<Pl: PktPool>(
        &mut self,
        pool: &Pl,
        out: &mut Burst<Pl::Buf>,
        max: usize,
        counters: &RxCounters,
        bufs: &mut Vec<Pl::Buf>,
    ) -> usize {
        // Answers for mapped fragments freed since the last burst, even on a disabled vif
        // (which gets its pages unmapped but nothing written).
        if let Some(zc) = &mut self.zc {
            zc.reap(&mut self.q);
            zc.begin_burst();
        }
        let Some(prod) = self.q.live_prod(FatalReason::ImpossibleRequests) else {
            return 0;
        };
        self.q.stats.seen_prod[0].store(prod, Ordering::Relaxed);
        self.reqs.clear();
        self.data.clear();
        self.pkts.clear();
        bufs.clear();
        self.q.begin_staged();
        // The requests of a burst's worth of packets, then each packet's first lines
        // as it is walked: their misses overlap instead of queueing in the copies.
        let cons = self.q.ring.req_cons;
        self.q.ring.prefetch_slots(
            cons,
            cons.wrapping_add(prod.wrapping_sub(cons).min(PREFETCH_SLOTS)),
        );
        let zc_usable = ZeroCopy::<P>::usable(pool);
        let max = max.min(out.room());
        let room = usize::from(pool.data_room()).max(ETH_HLEN);
        let rate_gen = self.q.vif.rate().generation();
        if rate_gen != self.rate_gen {
            self.rate_gen = rate_gen;
            self.rate_changed(self.q.clock.now());
        }
        // One clock read per burst, for the credit, if there is one.
        let now = self.credit.as_ref().map(|_| self.q.clock.now());
        let mut fatal = None;
        // The leading one-slot packets in staged grants, in one pass.
        let fast = self.rx_fast(pool, out, max, prod, counters);
        let mut delivered = fast;
        while delivered < max && self.q.ring.req_cons != prod {
            let start = self.q.ring.req_cons;
            let marks = (self.reqs.len(), self.data.len());
            let mut p = match self.walk(prod) {
                Ok(Walk::Packet(p)) => p,
                Ok(Walk::Fatal(why)) => {
                    fatal = Some(why);
                    break;
                }
                Err(_) => {
                    fatal = Some(FatalReason::RingAccess);
                    break;
                }
            };
            let size = p.len as u64;
            if let (Some(c), Some(now)) = (&mut self.credit, now) {
                if !c.ready(size, now) {
                    self.q.stats.rx_rate_limited.add(1);
                    self.unwalk(start, marks);
                    break;
                }
            }
            if p.drop.is_none() && p.mcast.is_none() {
                if let (Some(t), Some(s)) = (self.q.staged(), self.data.get(p.data.0)) {
                    t.prefetch(s.gref, s.offset, s.len, false);
                }
                let b0 = bufs.len();
                let got = match self.zc.as_mut().filter(|_| zc_usable) {
                    Some(zc) => {
                        // A staged grant is cheaper to copy than to map.
                        let staged = |g| self.q.staged().is_some_and(|t| t.contains(g));
                        let mark =
                            zc.plan(&mut self.data, &mut p, &self.reqs, self.pkts.len(), staged);
                        let ok = zc.alloc(pool, bufs, room);
                        if !ok {
                            zc.undo(mark);
                        }
                        ok
                    }
                    None => alloc_copy(pool, bufs, p.len, room),
                };
                if !got {
                    // Out of buffers: leave the packet in the ring for a later burst.
                    counters.nombuf.add(1);
                    bufs.truncate(b0);
                    self.unwalk(start, marks);
                    break;
                }
                p.bufs = (b0, bufs.len());
                delivered += 1;
            }
            // Dropped packets pay too, as in netback (the charge precedes the checks).
            if let Some(c) = &mut self.credit {
                c.charge(size);
            }
            self.pkts.push(p);
        }
        let mut segs = reuse_segments(std::mem::take(&mut self.segs));
        self.build_copies(bufs, &mut segs);
        self.q.copy(&mut segs);
        for p in self.pkts.iter_mut().filter(|p| p.drop.is_none()) {
            if !segs[p.segs.0..p.segs.1].iter().all(|s| s.status().is_ok()) {
                p.drop = Some(Drop::Grant);
            }
        }
        self.segs = reuse_segments(segs);
        self.q.end_staged();
        if let Some(zc) = &mut self.zc {
            let domid = self.q.domid;
            zc.map_and_attach(pool, domid, bufs, &mut self.pkts, &mut self.reqs, counters);
        }
        let n = fast + self.finish(bufs, out, counters);
        if let Some(zc) = &mut self.zc {
            zc.settle(&self.pkts);
        }
        if let Some(why) = fatal {
            self.q.fatal(why);
        }
        n
    }

    /// Follows the vif's new rate (rarely: the toolstack rewrote `rate`).
    #[cold]
    fn rate_changed(&mut self, now: std::time::Duration) {
        self.credit = match (self.credit.take(), self.q.vif.rate().get()) {
            (Some(mut c), Some(r)) => {
                c.set_rate(r, now);
                Some(c)
            }
            (None, Some(r)) => Some(Credit::new(r, now)),
            (_, None) => None,
        };
    }

    /// Puts the packet just walked back in the ring, for a later burst to walk again.
    fn unwalk(&mut self, start: RingIdx, (reqs, data): (usize, usize)) {
        self.q.ring.req_cons = start;
        self.reqs.truncate(reqs);
        self.data.truncate(data);
    }

    /// Walks the packet at `req_cons` (copying each slot once), consuming its slots.
    fn walk(&mut self, prod: RingIdx) -> Result<Walk, crate::platform::shm::ShmError> {
        let r0 = self.reqs.len();
        let d0 = self.data.len();
        let mut idx = self.q.ring.req_cons;
        let first = TxRequest::decode(&self.q.ring.copy_slot::<TxRequest>(idx)?);
        idx = idx.wrapping_add(1);
        self.reqs.push((first.id, Answer::Packet));
        let mut gso = None;
        let mut hash = None;
        let (mut add, mut del) = (None, None);
        if first.flags.contains(TxFlags::EXTRA_INFO) {
            loop {
                if idx == prod {
                    return Ok(Walk::Fatal(FatalReason::MissingExtra));
                }
                let x = ExtraInfo::decode_slot(&self.q.ring.copy_slot::<TxRequest>(idx)?);
                idx = idx.wrapping_add(1);
                self.reqs.push((0, Answer::Null));
                match x.parse() {
                    Err(_) => return Ok(Walk::Fatal(FatalReason::InvalidExtraType)),
                    Ok(Extra::Gso(g)) => gso = Some(g),
                    Ok(Extra::Hash(h)) => hash = Some(h),
                    Ok(Extra::McastAdd(m)) => add = Some(McastOp::Add(m)),
                    Ok(Extra::McastDel(m)) => del = Some(McastOp::Del(m)),
                }
                if !x.more() {
                    break;
                }
            }
        }
        if let Some(op) = add.or(del) {
            // netback's order: an add wins over a delete, and the request's own slot
            // is a dummy: no data, no following slots are read, no GSO check.
            self.q.ring.req_cons = idx;
            return Ok(Walk::Packet(Planned {
                reqs: (r0, self.reqs.len()),
                data: (d0, d0),
                bufs: (0, 0),
                segs: (0, 0),
                len: usize::from(first.size),
                flags: first.flags,
                gso: None,
                hash: None,
                frag_overflow: false,
                drop: None,
                mcast: Some(op),
            }));
        }
        if let Some(g) = gso {
            if g.size == 0 {
                return Ok(Walk::Fatal(FatalReason::GsoSizeZero));
            }
            if g.kind != XEN_NETIF_GSO_TYPE_TCPV4 && g.kind != XEN_NETIF_GSO_TYPE_TCPV6 {
                return Ok(Walk::Fatal(FatalReason::BadGsoType));
            }
        }
        // The following slots: netback's `xenvif_count_requests`.
        let mut first_len = usize::from(first.size);
        let mut drop = None;
        let mut more = first.flags.contains(TxFlags::MORE_DATA);
        let mut follow = 0usize;
        self.data.push(DataSlot {
            gref: first.gref,
            offset: first.offset,
            len: 0, // set below, once the followers are subtracted
        });
        while more {
            if idx == prod {
                return Ok(Walk::Fatal(FatalReason::ChainBeyondProd));
            }
            if follow >= self.fatal_slots {
                return Ok(Walk::Fatal(FatalReason::TooManySlots));
            }
            if drop.is_none() && follow >= XEN_NETBK_LEGACY_SLOTS_MAX {
                drop = Some(Drop::Slots);
            }
            let t = TxRequest::decode(&self.q.ring.copy_slot::<TxRequest>(idx)?);
            idx = idx.wrapping_add(1);
            follow += 1;
            more = t.flags.contains(TxFlags::MORE_DATA);
            let size = usize::from(t.size);
            if drop.is_none() && size > first_len {
                drop = Some(Drop::FragSize);
            }
            first_len = first_len.saturating_sub(size);
            if usize::from(t.offset) + size > XEN_PAGE_SIZE {
                return Ok(Walk::Fatal(FatalReason::CrossPage));
            }
            if size == 0 {
                // XSA-448: no zero-size fragment; the slot is simply answered.
                self.reqs.push((t.id, Answer::Okay));
            } else {
                self.reqs.push((t.id, Answer::Packet));
                self.data.push(DataSlot {
                    gref: t.gref,
                    offset: t.offset,
                    len: t.size,
                });
            }
        }
        if drop.is_none() && first_len < ETH_HLEN {
            drop = Some(Drop::Short);
        }
        if drop.is_none() && usize::from(first.offset) + first_len > XEN_PAGE_SIZE {
            return Ok(Walk::Fatal(FatalReason::CrossPage));
        }
        self.data[d0].len = first_len as u16;
        // What a netback skb would hold: the first slot beyond the copied header is a
        // fragment too.
        let frags = self.data.len() - d0 - 1 + usize::from(first_len > XEN_NETBACK_TX_COPY_LEN);
        let frag_overflow = drop.is_none() && frags > MAX_XEN_SKB_FRAGS;
        self.q.ring.req_cons = idx;
        Ok(Walk::Packet(Planned {
            reqs: (r0, self.reqs.len()),
            data: (d0, self.data.len()),
            bufs: (0, 0),
            segs: (0, 0),
            len: usize::from(first.size),
            flags: first.flags,
            gso,
            hash,
            frag_overflow,
            drop,
            mcast: None,
        }))
    }

    /// One copy segment per (slot, buffer) overlap of every packet to deliver; the
    /// overlaps in staged grants are copied at once instead.
    fn build_copies<'a, B: PktBuf>(&mut self, bufs: &'a mut [B], segs: &mut Vec<CopySegment<'a>>) {
        let domid = self.q.domid;
        let staged = self.q.staged();
        let mut rest: &'a mut [B] = bufs;
        for p in self.pkts.iter_mut().filter(|p| p.drop.is_none()) {
            let s0 = segs.len();
            let (mine, tail) = std::mem::take(&mut rest).split_at_mut(p.bufs.1 - p.bufs.0);
            rest = tail;
            let mut slots = self.data[p.data.0..p.data.1].iter().copied();
            let mut cur: Option<(GrantPtr, usize)> = None;
            for b in mine.iter_mut() {
                let Some(mut dst) = b.data_mut() else {
                    continue;
                };
                while !dst.is_empty() {
                    let (ptr, left) = match cur {
                        Some((ptr, left)) if left > 0 => (ptr, left),
                        _ => match slots.next() {
                            Some(s) => (
                                GrantPtr {
                                    domid,
                                    gref: s.gref,
                                    offset: s.offset,
                                },
                                usize::from(s.len),
                            ),
                            None => break,
                        },
                    };
                    let n = left.min(dst.len());
                    let (now, later) = std::mem::take(&mut dst).split_at_mut(n);
                    dst = later;
                    if !staged.is_some_and(|t| t.read(ptr.gref, ptr.offset, now)) {
                        segs.push(CopySegment::from_grant(ptr, now));
                    }
                    let next = GrantPtr {
                        offset: ptr.offset.wrapping_add(n as u16),
                        ..ptr
                    };
                    cur = Some((next, left - n));
                }
            }
            p.segs = (s0, segs.len());
        }
    }

    /// Checks the copies, delivers good packets, answers every request, notifies.
    fn finish<B: PktBuf>(
        &mut self,
        bufs: &mut Vec<B>,
        out: &mut Burst<B>,
        counters: &RxCounters,
    ) -> usize {
        let base = out.len();
        let (mut packets, mut bytes) = (0u64, 0u64);
        // Back to front, so each packet's buffers are the tail of `bufs`.
        for i in (0..self.pkts.len()).rev() {
            let p = self.pkts[i];
            if p.bufs.1 == p.bufs.0 {
                continue;
            }
            let ok = p.drop.is_none();
            let mut chain: Option<B> = None;
            while bufs.len() > p.bufs.0 {
                let Some(mut b) = bufs.pop() else { break };
                if let Some(t) = chain.take() {
                    if b.chain(t).is_err() {
                        chain = None;
                        break;
                    }
                }
                chain = Some(b);
            }
            bufs.truncate(p.bufs.0);
            match chain {
                Some(mut head) if ok => {
                    self.offloads(&mut head, &p);
                    if out.push(head).is_ok() {
                        bytes += p.len as u64;
                        packets += 1;
                    }
                }
                _ => self.pkts[i].drop = p.drop.or(Some(Drop::Grant)),
            }
        }
        // Pushed back to front; restore ring order.
        out.as_mut_slice()[base..].reverse();
        counters.packets.add(packets);
        counters.bytes.add(bytes);
        self.answer(counters);
        packets as usize
    }

    fn offloads<B: PktBuf>(&mut self, m: &mut B, p: &Planned) {
        let mut flags = csum_ol_flags(p.flags);
        if let Some(g) = p.gso {
            if !p.flags.contains(TxFlags::CSUM_BLANK) {
                // A GSO frame must be checksum-partial; netback fixes such buggy
                // frontends up and counts them.
                self.q.stats.rx_gso_checksum_fixup.add(1);
            }
            flags = (flags & !ol_flags::RX_L4_CKSUM_MASK)
                | ol_flags::RX_LRO
                | ol_flags::RX_L4_CKSUM_NONE;
            m.set_tx_offload(TxOffload {
                tso_segsz: g.size,
                ..TxOffload::default()
            });
        }
        // Netback's `skb_set_hash` from a hash extra: only the four defined types.
        if let Some(h) = p.hash.filter(|h| h.kind < HASH_TYPES) {
            m.set_rss_hash(u32::from_le_bytes(h.value));
            flags |= ol_flags::RX_RSS_HASH;
            self.q.stats.rx_hash_extras.add(1);
        }
        m.set_ol_flags(flags);
    }

    /// Writes every request's response in ring order, publishes them and notifies as
    /// `rsp_event` asks.
    fn answer(&mut self, counters: &RxCounters) {
        for p in &self.pkts {
            let status = match (p.mcast, p.drop) {
                (Some(op), _) => self.mcast(op),
                (None, None) => NetifStatus::OKAY,
                (None, Some(d)) => {
                    counters.errors.add(1);
                    match d {
                        Drop::Slots => self.q.stats.rx_drop_slots.add(1),
                        Drop::FragSize => self.q.stats.rx_drop_frag_size.add(1),
                        Drop::Short => self.q.stats.rx_drop_short.add(1),
                        Drop::Grant => self.q.stats.rx_drop_grant.add(1),
                    }
                    NetifStatus::ERROR
                }
            };
            // Counted here, once the packet's fate is final (a packet left in the ring
            // for want of buffers is walked again).
            self.q
                .stats
                .tx_frag_overflow
                .add(u64::from(p.frag_overflow));
            for &(id, a) in &self.reqs[p.reqs.0..p.reqs.1] {
                if a == Answer::Okay {
                    self.q.stats.rx_zero_frags.add(1);
                }
                let rsp = match a {
                    Answer::Packet => TxResponse { id, status },
                    Answer::Null => TxResponse {
                        id,
                        status: NetifStatus::NULL,
                    },
                    Answer::Okay => TxResponse {
                        id,
                        status: NetifStatus::OKAY,
                    },
                    // Answered when its mbufs are freed.
                    Answer::Deferred => continue,
                };
                let i = self.q.ring.rsp_prod_pvt;
                if self.q.ring.put_slot(i, &rsp.encode()).is_err() {
                    self.q.fatal(FatalReason::RingAccess);
                    return;
                }
                self.q.ring.rsp_prod_pvt = i.wrapping_add(1);
            }
        }
        self.q.push_and_notify();
    }

    /// Applies a multicast-list change once its request is answered (a request walked
    /// again after waiting for credit is applied once); the request's status.
    fn mcast(&self, op: McastOp) -> NetifStatus {
        let (list, stats) = (self.q.vif.mcast(), &self.q.stats);
        match op {
            McastOp::Add(m) => {
                stats.rx_mcast_add.add(1);
                if list.add(m) {
                    return NetifStatus::OKAY;
                }
                if stats.rx_mcast_full.get() == 0 {
                    log::warn!("vif {}: too many multicast addresses", self.q.domid.0);
                }
                stats.rx_mcast_full.add(1);
                NetifStatus::ERROR
            }
            McastOp::Del(m) => {
                stats.rx_mcast_del.add(1);
                list.del(m);
                NetifStatus::OKAY
            }
        }
    }
}

/// Appends buffers holding `len` bytes, at most `room` each, to `bufs`; false if the
/// pool ran dry (some buffers may have been appended).
pub(super) fn alloc_copy<Pl: PktPool>(
    pool: &Pl,
    bufs: &mut Vec<Pl::Buf>,
    mut len: usize,
    room: usize,
) -> bool {
    while len > 0 {
        let Ok(mut b) = pool.alloc() else {
            return false;
        };
        let n = len.min(room).min(usize::from(b.tailroom()));
        if n == 0 || b.append(n as u16).is_none() {
            return false;
        }
        len -= n;
        bufs.push(b);
    }
    true
}
