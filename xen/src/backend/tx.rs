//! vpmd's tx: fills the guest's **rx ring** (`netif_rx_request`s in, responses out),
//! as netback's `rx.c` does: estimate a packet's worst-case slots before taking it,
//! grant-copy it into the frontend's posted pages (one batch per burst), put each
//! response in the slot of the request it answers, a failed copy's status patched into
//! its response, one push and at most one notification per burst.
//!
//! A packet takes `ceil(len / 4096)` data slots (each a whole page from offset 0), plus
//! one per extra after the first: GSO, then the hash when the frontend asked for one
//! through its control ring ([`hash`](super::hash); netback's order). Packets that do
//! not fit stay with the caller, as with `rte_eth_tx_burst`.
//!
//! A frontend that posts too few buffers for too long has its packets dropped and,
//! later, its carrier turned off ([`RxTimers`]).
//!
//! Must never: read a request slot twice for a decision (the prefetch of a burst's
//! target pages peeks at its requests for a hint only), write outside a response slot,
//! panic on guest input, or allocate per packet.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use vpmd_mempool::{ol_flags, Burst, PktBuf};
use vpmd_pmd::TxCounters;

use super::hash::{HashShared, HashView};
use super::reuse_segments;
use super::ring::{VifRing, VifRingParts};
use super::rx_stall::{Blocked, RxTimers};
use super::vif::FatalReason;
use crate::platform::{CopySegment, GrantPtr, Platform};
use crate::wire::defs::*;
use crate::wire::grant::GrantRef;
use crate::wire::netif::{Extra, ExtraInfo, GsoInfo, RxFlags, RxRequest, RxResponse};
use crate::wire::ring::{RingIdx, RingLayout};
use crate::wire::Entry;

/// Posted requests whose pages are prefetched at the start of a burst.
const PREFETCH_SLOTS: usize = 32;

/// What the frontend said it accepts (its `feature-*` keys).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrontendOffloads {
    /// `feature-gso-tcpv4`.
    pub gso_tcpv4: bool,
    /// `feature-gso-tcpv6`.
    pub gso_tcpv6: bool,
    /// Not `feature-no-csum-offload`: partial checksums may be passed on.
    pub csum: bool,
}

/// One consumed request of the guest rx ring and what will answer it.
#[derive(Debug, Clone, Copy)]
struct Slot {
    idx: RingIdx,
    id: u16,
    /// The extra overlaying this slot, or a data slot.
    extra: Option<ExtraInfo>,
    len: u16,
    flags: RxFlags,
    /// A copy into its page failed: answered `NETIF_RSP_ERROR`.
    failed: bool,
    /// Its copy segments.
    segs: (usize, usize),
}

/// The guest rx ring of one queue.
pub struct GuestRxRing<P: Platform> {
    q: VifRing<P>,
    offloads: FrontendOffloads,
    timers: RxTimers,
    hash: HashView,
    slots: Vec<Slot>,
    grefs: Vec<GrantRef>,
    segs: Vec<CopySegment<'static>>,
}

/// The GSO extra a packet needs, if the frontend takes that kind.
fn gso_of<B: PktBuf>(m: &B, fe: FrontendOffloads) -> Option<GsoInfo> {
    let f = m.ol_flags();
    let size = m.tx_offload().tso_segsz;
    if f & (ol_flags::TX_TCP_SEG | ol_flags::RX_LRO) == 0 || size == 0 {
        return None;
    }
    let ethertype = m
        .data()
        .get(12..14)
        .map(|e| u16::from_be_bytes([e[0], e[1]]));
    let v6 = f & ol_flags::TX_IPV6 != 0 || ethertype == Some(0x86dd);
    let (kind, ok) = if v6 {
        (XEN_NETIF_GSO_TYPE_TCPV6, fe.gso_tcpv6)
    } else {
        (XEN_NETIF_GSO_TYPE_TCPV4, fe.gso_tcpv4)
    };
    ok.then_some(GsoInfo {
        size,
        kind,
        pad: 0,
        features: 0,
    })
}

/// The checksum flags of a packet's first response.
fn csum_flags<B: PktBuf>(m: &B, fe: FrontendOffloads) -> RxFlags {
    let f = m.ol_flags();
    let partial = f & (ol_flags::TX_L4_MASK | ol_flags::TX_TCP_SEG) != 0
        || f & ol_flags::RX_L4_CKSUM_MASK == ol_flags::RX_L4_CKSUM_NONE;
    if partial && fe.csum {
        RxFlags::CSUM_BLANK | RxFlags::DATA_VALIDATED
    } else if f & ol_flags::RX_L4_CKSUM_MASK == ol_flags::RX_L4_CKSUM_GOOD {
        RxFlags::DATA_VALIDATED
    } else {
        RxFlags::EMPTY
    }
}

impl<P: Platform> GuestRxRing<P> {
    /// The ring mapped from `domid`'s grant, notified through `evtchn`, hashing as
    /// `hash` says.
    pub(crate) fn new(
        parts: VifRingParts<P>,
        offloads: FrontendOffloads,
        timers: RxTimers,
        hash: Arc<HashShared>,
    ) -> Self {
        let n = RingLayout::RX.entries as usize;
        Self {
            q: VifRing::new(parts, RingLayout::RX),
            offloads,
            timers,
            hash: HashView::new(hash),
            slots: Vec::with_capacity(n),
            grefs: Vec::with_capacity(n),
            segs: Vec::with_capacity(2 * n),
        }
    }

    /// Sends as many packets from the front of `pkts` as the posted buffers hold;
    /// returns how many were taken. A disabled vif takes and drops everything, as does
    /// a queue past its drain timeout or stalled.
    pub fn tx_burst<B: PktBuf>(&mut self, pkts: &mut Burst<B>, counters: &TxCounters) -> usize {
        let Some(prod) = self.q.live_prod(FatalReason::RxImpossibleRequests) else {
            return drop_all(pkts, counters);
        };
        self.q.stats.seen_prod[1].store(prod, Ordering::Relaxed);
        let now = self.q.clock.now();
        let free = |cons: RingIdx| prod.wrapping_sub(cons) as usize;
        if self.timers.is_stalled() {
            if !self.timers.resume(free(self.q.ring.req_cons), now) {
                return self.drain(pkts, counters);
            }
            self.q.vif.queue_stalled(false);
        }
        self.slots.clear();
        self.q.begin_staged();
        self.prefetch_targets(free(self.q.ring.req_cons).min(pkts.len()));
        let mut segs = reuse_segments(std::mem::take(&mut self.segs));
        let mut taken = 0;
        let mut bytes = 0u64;
        let mut blocked = None;
        let hasher = self.hash.refresh().copied();
        let mut hashed = 0;
        // Read once per burst: a change applies from the next one.
        let filter = self.q.vif.mcast().control();
        let mut filtered = 0;
        for m in pkts.as_slice() {
            if filter && !self.q.vif.mcast().passes(m.data()) {
                // Taken and dropped, as netback's `xenvif_start_xmit` does.
                taken += 1;
                filtered += 1;
                continue;
            }
            let len = m.pkt_len() as usize;
            let gso = gso_of(m, self.offloads);
            // Without hash settings, this one branch is all hashing costs a packet.
            let hash = match &hasher {
                None => None,
                Some(h) => h.extra(m),
            };
            let data_slots = len.div_ceil(XEN_PAGE_SIZE).max(1);
            let need = data_slots + usize::from(gso.is_some()) + usize::from(hash.is_some());
            if free(self.q.ring.req_cons) < need {
                blocked = Some(need);
                break;
            }
            if self
                .plan(
                    m,
                    [gso.map(Extra::Gso), hash.map(Extra::Hash)],
                    data_slots,
                    &mut segs,
                )
                .is_err()
            {
                // The mapped ring cannot be read: nothing more can be done for it.
                self.q.fatal(FatalReason::RingAccess);
                break;
            }
            taken += 1;
            hashed += u64::from(hash.is_some());
            bytes += len as u64;
        }
        self.q.end_staged();
        self.q.copy(&mut segs);
        let failed: u64 = self
            .slots
            .iter_mut()
            .filter(|s| !segs[s.segs.0..s.segs.1].iter().all(|g| g.status().is_ok()))
            .map(|s| {
                s.failed = true;
                1
            })
            .sum();
        self.segs = reuse_segments(segs);
        self.q.stats.tx_grant_errors.add(failed);
        self.q.stats.tx_hash_extras.add(hashed);
        self.q.stats.tx_mcast_filtered.add(filtered as u64);
        self.answer();
        pkts.take_front(taken).for_each(drop);
        let sent = taken - filtered;
        counters.packets.add(sent as u64);
        counters.bytes.add(bytes);
        match blocked {
            Some(need) if sent == 0 => match self.timers.blocked(need, now) {
                Blocked::Keep => taken,
                Blocked::Drain => taken + self.drain(pkts, counters),
                Blocked::Stall => {
                    log::warn!("vif {}: guest rx ring stalled", self.q.domid.0);
                    self.q.stats.tx_stalls.add(1);
                    self.q.vif.queue_stalled(true);
                    taken + self.drain(pkts, counters)
                }
            },
            _ => {
                self.timers.progress(now);
                taken
            }
        }
    }

    /// Prefetches, for writing, the first lines of the staged pages the next `n` posted
    /// requests name, so the copies into them do not each wait for the guest's core to
    /// give its line up. A hint only: the requests are read again, once, to be used.
    fn prefetch_targets(&self, n: usize) {
        let (Some(t), cons) = (self.q.staged(), self.q.ring.req_cons) else {
            return;
        };
        self.q
            .ring
            .prefetch_slots(cons, cons.wrapping_add(n.min(PREFETCH_SLOTS) as RingIdx));
        for i in 0..n.min(PREFETCH_SLOTS) {
            if let Ok(b) = self
                .q
                .ring
                .copy_slot::<RxRequest>(cons.wrapping_add(i as RingIdx))
            {
                t.prefetch(RxRequest::decode(&b).gref, 0, 128, true);
            }
        }
    }

    /// Drops every packet the ring has no room for (netback's expired rx queue).
    fn drain<B: PktBuf>(&mut self, pkts: &mut Burst<B>, counters: &TxCounters) -> usize {
        let n = drop_all(pkts, counters);
        self.q.stats.tx_drained.add(n as u64);
        n
    }

    /// Consumes the requests for one packet (its extras, in order, after the first
    /// data slot) and builds its copies (copying at once into staged grants).
    fn plan<'a, B: PktBuf>(
        &mut self,
        m: &'a B,
        extras: [Option<Extra>; 2],
        data_slots: usize,
        segs: &mut Vec<CopySegment<'a>>,
    ) -> Result<(), crate::platform::shm::ShmError> {
        self.grefs.clear();
        let first_slot = self.slots.len();
        let mut left = m.pkt_len() as usize;
        for j in 0..data_slots {
            let idx = self.q.ring.req_cons;
            let req = RxRequest::decode(&self.q.ring.copy_slot::<RxRequest>(idx)?);
            self.q.ring.req_cons = idx.wrapping_add(1);
            let len = left.min(XEN_PAGE_SIZE);
            left -= len;
            let mut flags = if left > 0 {
                RxFlags::MORE_DATA
            } else {
                RxFlags::EMPTY
            };
            if j == 0 {
                flags |= csum_flags(m, self.offloads);
                if extras.iter().any(Option::is_some) {
                    flags |= RxFlags::EXTRA_INFO;
                }
            }
            self.grefs.push(req.gref);
            self.slots.push(Slot {
                idx,
                id: req.id,
                extra: None,
                len: len as u16,
                flags,
                failed: false,
                segs: (0, 0),
            });
            if j == 0 {
                // The extras take the slots after the first (netback's order).
                let mut left = extras.iter().flatten().count();
                for &x in extras.iter().flatten() {
                    left -= 1;
                    let idx = self.q.ring.req_cons;
                    let req = RxRequest::decode(&self.q.ring.copy_slot::<RxRequest>(idx)?);
                    self.q.ring.req_cons = idx.wrapping_add(1);
                    self.slots.push(Slot {
                        idx,
                        id: req.id,
                        extra: Some(ExtraInfo::new(x, left > 0)),
                        len: 0,
                        flags: RxFlags::EMPTY,
                        failed: false,
                        segs: (0, 0),
                    });
                }
            }
        }
        // Copy segments: walk the buffer chain against the pages.
        let domid = self.q.domid;
        let staged = self.q.staged();
        let mut data_slots_iter = self.slots[first_slot..]
            .iter_mut()
            .filter(|s| s.extra.is_none())
            .zip(self.grefs.iter().copied());
        let mut seg_bufs = std::iter::successors(Some(m), |b| b.next()).map(|b| b.data());
        let mut src: &'a [u8] = &[];
        for (slot, gref) in &mut data_slots_iter {
            let s0 = segs.len();
            let mut need = usize::from(slot.len);
            let mut off = 0u16;
            while need > 0 {
                if src.is_empty() {
                    match seg_bufs.next() {
                        Some(d) => src = d,
                        None => break,
                    }
                    continue;
                }
                let n = need.min(src.len());
                let (now, later) = src.split_at(n);
                src = later;
                if !staged.is_some_and(|t| t.write(gref, off, now)) {
                    segs.push(CopySegment::to_grant(
                        now,
                        GrantPtr {
                            domid,
                            gref,
                            offset: off,
                        },
                    ));
                }
                off += n as u16;
                need -= n;
            }
            slot.segs = (s0, segs.len());
        }
        Ok(())
    }

    /// Writes the responses in their requests' slots, publishes, notifies.
    fn answer(&mut self) {
        for s in &self.slots {
            let bytes: [u8; 8] = match s.extra {
                Some(x) => x.encode(),
                // Only the status is patched: the flags still chain the packet's
                // slots, so the frontend drops it whole.
                None if s.failed => RxResponse {
                    id: s.id,
                    offset: 0,
                    flags: s.flags,
                    status: NETIF_RSP_ERROR,
                }
                .encode(),
                None => RxResponse {
                    id: s.id,
                    offset: 0,
                    flags: s.flags,
                    status: s.len as i16,
                }
                .encode(),
            };
            if self.q.ring.put_slot(s.idx, &bytes).is_err() {
                self.q.fatal(FatalReason::RingAccess);
                return;
            }
        }
        self.q.ring.rsp_prod_pvt = self.q.ring.req_cons;
        self.q.push_and_notify();
    }
}

/// Takes every packet and drops it, counting errors (a vif that is not serving).
pub(crate) fn drop_all<B: PktBuf>(pkts: &mut Burst<B>, counters: &TxCounters) -> usize {
    let n = pkts.len();
    pkts.clear();
    counters.errors.add(n as u64);
    n
}
