//! Zero-copy guest tx (the `copy-threshold` devarg): fragments of at least the
//! threshold are grant-mapped instead of copied, and the mbuf chain points at the guest
//! page (an external buffer, [`vpmd_mempool::ExtBuf`]), as netback maps fragments
//! (`xenvif_tx_build_gops`). The first [`XEN_NETBACK_TX_COPY_LEN`] bytes of a frame are
//! always copied, so its headers are never read from guest memory and never split.
//!
//! A mapped fragment's request is answered only once the last mbuf referencing its
//! page is freed, by whichever lcore frees it: that thread hands the page back through
//! [`Returns`] (netback's zerocopy callback feeding the dealloc ring). The queue's next
//! rx burst unmaps every returned page in one batch, then writes their responses
//! (`NETIF_RSP_OKAY`, or `ERROR` for a packet dropped after mapping) and notifies as
//! `rsp_event` asks (netback's `xenvif_tx_dealloc_action`). Responses thus leave
//! request order, which the protocol allows: each carries its request's id, and the
//! ring cannot overflow since a frontend reuses only answered slots. An application
//! holding mbufs can so run a frontend out of slots, as a stack holding skbs does.
//!
//! Pending packets (netback's pending ring, sized to the ring: [`MAX_PENDING_REQS`]):
//! a packet with mapped fragments holds an entry until its last fragment comes back.
//! Each external buffer's shared info (its holder) is an mbuf from the rx pool, so the
//! frames in flight live in the hugepage mempool.
//!
//! **When a page is unmapped**: only after the last mbuf referencing it is freed. While
//! the queue lives, its rx burst unmaps returned pages (a disabled, rogue vif's queue
//! too, writing nothing to its rings). Once the queue is gone (the vif disconnected, or
//! reconnected with new rings), [`Returns`] is closed: the thread that frees the last
//! mbuf of a page drops the page itself, which unmaps it, and no response is written
//! (that ring is gone). Closing never waits for mbufs an application holds: packets
//! still in flight are counted `tx_zerocopy_fail` then, and their grants stay pinned
//! until their mbufs are freed.
//!
//! Must never: unmap a page an mbuf may still reference, answer a request twice,
//! allocate per packet, or panic on guest input.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use vpmd_fastpath::MpmcRing;
use vpmd_mempool::{Ext, ExtMem, ExtSink, PktBuf, PktPool};
use vpmd_pmd::RxCounters;

use super::ring::VifRing;
use super::rx::{alloc_copy, Answer, DataSlot, Drop as Dropped, Planned};
use super::stats::QueueCounters;
use super::vif::FatalReason;
use crate::platform::{GrantOps, Platform};
use crate::wire::defs::{FATAL_SKB_SLOTS_DEFAULT, XEN_NETBACK_TX_COPY_LEN};
use crate::wire::grant::{DomId, GrantRef, GrantStatus};
use crate::wire::netif::{NetifStatus, TxResponse};
use crate::wire::ring::RingLayout;
use crate::wire::Entry;

/// Requests a queue can have unanswered: the guest tx ring's size (netback's
/// `MAX_PENDING_REQS`).
pub const MAX_PENDING_REQS: usize = 256;
const _: () = assert!(RingLayout::TX.entries as usize == MAX_PENDING_REQS);

/// A data page of platform `P`.
type PageOf<P> = <<P as Platform>::Grants as GrantOps>::Page;

/// Where freed mbufs send their pages back: a lock-free ring the queue drains at the
/// start of each rx burst, or, once the queue is gone, nowhere (the page is dropped).
#[derive(Debug)]
pub struct Returns<Pg> {
    ring: MpmcRing<(Pg, u64)>,
    closed: AtomicBool,
}

impl<Pg: ExtMem> ExtSink<Pg> for Returns<Pg> {
    fn complete(&self, page: Pg, tag: u64) {
        // Acquire pairs with the close: after it nobody drains the ring, so unmap here.
        if self.closed.load(Ordering::Acquire) {
            drop(page);
            return;
        }
        // Never full (a slot per unanswered request). A page pushed just as the queue
        // closes stays in the ring and is unmapped when the last holder of the ring
        // (the queue or a freeing thread) drops it.
        let _ = self.ring.enqueue((page, tag));
    }
}

/// One packet in flight.
#[derive(Debug, Clone, Copy, Default)]
struct Pending {
    /// Its mapped fragments not yet returned.
    frags: u16,
    /// Still to be answered `NETIF_RSP_OKAY`.
    ok: bool,
}

/// A fragment to map, and where its mbuf goes.
#[derive(Debug, Clone, Copy)]
struct Piece {
    gref: GrantRef,
    offset: u16,
    len: u16,
    /// Its request in the burst's `reqs`.
    req: usize,
    /// Its placeholder in the burst's buffers.
    buf: usize,
    /// Its packet in the burst's `pkts`.
    pkt: usize,
    /// Submitted in this burst's map batch.
    mapped: bool,
}

/// How a packet's bytes become buffers, in order.
#[derive(Debug, Clone, Copy)]
enum Run {
    /// This many bytes copied, into as many buffers as they need.
    Copy(usize),
    /// One mapped fragment (`pieces[i]`), in one placeholder buffer.
    Map(usize),
}

/// A queue's zero-copy state.
pub(super) struct ZeroCopy<P: Platform> {
    threshold: usize,
    platform: Arc<P>,
    stats: Arc<QueueCounters>,
    returns: Arc<Returns<PageOf<P>>>,
    pending: Vec<Pending>,
    /// Free indexes into `pending` (netback's pending ring).
    free: Vec<u16>,
    // Scratch, reused by every burst.
    pieces: Vec<Piece>,
    runs: Vec<Run>,
    refs: Vec<GrantRef>,
    mapped: Vec<Result<PageOf<P>, GrantStatus>>,
    unmap: Vec<PageOf<P>>,
    done: Vec<u64>,
    /// (packet, pending entry) of the burst's packets with mapped fragments.
    attached: Vec<(usize, u16)>,
}

impl<P: Platform> ZeroCopy<P> {
    /// Maps fragments of at least `threshold` (> 0) bytes; `None` if the return ring
    /// cannot be made (the queue then copies).
    pub fn new(platform: Arc<P>, stats: Arc<QueueCounters>, threshold: usize) -> Option<Self> {
        let n = MAX_PENDING_REQS;
        Some(Self {
            threshold: threshold.max(1),
            platform,
            stats,
            returns: Arc::new(Returns {
                ring: MpmcRing::new(n).ok()?,
                closed: AtomicBool::new(false),
            }),
            pending: vec![Pending::default(); n],
            free: (0..n as u16).rev().collect(),
            pieces: Vec::with_capacity(n),
            // A run per data slot and one between each two, at most.
            runs: Vec::with_capacity(2 * (FATAL_SKB_SLOTS_DEFAULT + 1) + 1),
            refs: Vec::with_capacity(n),
            mapped: Vec::with_capacity(n),
            unmap: Vec::with_capacity(n),
            done: Vec::with_capacity(n),
            attached: Vec::with_capacity(n),
        })
    }

    /// Whether `pool`'s buffers can hold external pages (and their bookkeeping).
    pub fn usable<Pl: PktPool>(pool: &Pl) -> bool {
        Pl::EXTBUF && usize::from(pool.data_room()) >= std::mem::size_of::<PageOf<P>>() + 64
    }

    /// Unmaps the pages freed since the last burst, then answers their requests and
    /// notifies (unless the vif is disabled: then its rings are not touched).
    pub fn reap(&mut self, q: &mut VifRing<P>) {
        while self.done.len() < MAX_PENDING_REQS {
            let Some((page, tag)) = self.returns.ring.dequeue() else {
                break;
            };
            self.unmap.push(page);
            self.done.push(tag);
        }
        if self.done.is_empty() {
            return;
        }
        self.unmap_batch();
        let mut live = !q.vif.is_disabled();
        for tag in self.done.drain(..) {
            let (id, e) = (tag as u16, usize::from((tag >> 16) as u16));
            let Some(p) = self.pending.get_mut(e) else {
                continue;
            };
            p.frags = p.frags.saturating_sub(1);
            if live {
                let status = if p.ok {
                    NetifStatus::OKAY
                } else {
                    NetifStatus::ERROR
                };
                let i = q.ring.rsp_prod_pvt;
                if q.ring
                    .put_slot(i, &TxResponse { id, status }.encode())
                    .is_ok()
                {
                    q.ring.rsp_prod_pvt = i.wrapping_add(1);
                } else {
                    q.fatal(FatalReason::RingAccess);
                    live = false;
                }
            }
            if p.frags == 0 {
                if p.ok && live {
                    self.stats.tx_zerocopy_success.add(1);
                } else {
                    self.stats.tx_zerocopy_fail.add(1);
                }
                self.free.push(e as u16);
            }
        }
        if live {
            q.push_and_notify();
        }
    }

    fn unmap_batch(&mut self) {
        if self.unmap.is_empty() {
            return;
        }
        if let Err(e) = self.platform.grants().unmap_pages(&mut self.unmap) {
            log::warn!("grant unmap of guest tx pages failed: {e}");
        }
        self.unmap.clear();
    }

    /// Forgets the previous burst's fragments.
    pub fn begin_burst(&mut self) {
        self.pieces.clear();
        self.attached.clear();
    }

    /// Splits packet `pkt` (just walked, `p`) into copied runs and mapped fragments (of
    /// grants not `staged`):
    /// the copied bytes become slots appended to `data` (and `p.data` points at them),
    /// the fragments are remembered. Returns a mark for [`ZeroCopy::undo`].
    pub fn plan(
        &mut self,
        data: &mut Vec<DataSlot>,
        p: &mut Planned,
        reqs: &[(u16, Answer)],
        pkt: usize,
        staged: impl Fn(GrantRef) -> bool,
    ) -> usize {
        let mark = self.pieces.len();
        self.runs.clear();
        let c0 = data.len();
        // Data slots answer the packet's `Answer::Packet` requests, in order.
        let mut slot_reqs =
            (p.reqs.0..p.reqs.1).filter(|&i| reqs.get(i).is_some_and(|r| r.1 == Answer::Packet));
        let (mut pos, mut run) = (0usize, 0usize);
        for k in p.data.0..p.data.1 {
            let Some(&s) = data.get(k) else {
                break;
            };
            let req = slot_reqs.next();
            let len = usize::from(s.len);
            let head = XEN_NETBACK_TX_COPY_LEN.saturating_sub(pos).min(len);
            let tail = len - head;
            pos += len;
            if head > 0 {
                data.push(DataSlot {
                    len: head as u16,
                    ..s
                });
                run += head;
            }
            if tail == 0 {
                continue;
            }
            // `offset + len <= 4096` was checked by the walk.
            let offset = s.offset.wrapping_add(head as u16);
            match req {
                Some(req) if tail >= self.threshold && !staged(s.gref) => {
                    if run > 0 {
                        self.runs.push(Run::Copy(run));
                        run = 0;
                    }
                    self.runs.push(Run::Map(self.pieces.len()));
                    self.pieces.push(Piece {
                        gref: s.gref,
                        offset,
                        len: tail as u16,
                        req,
                        buf: 0,
                        pkt,
                        mapped: false,
                    });
                }
                _ => {
                    data.push(DataSlot {
                        gref: s.gref,
                        offset,
                        len: tail as u16,
                    });
                    run += tail;
                }
            }
        }
        if run > 0 {
            self.runs.push(Run::Copy(run));
        }
        p.data = (c0, data.len());
        mark
    }

    /// Forgets the fragments planned since `mark` (their packet stays in the ring).
    pub fn undo(&mut self, mark: usize) {
        self.pieces.truncate(mark);
    }

    /// Buffers for the packet just planned: copy buffers per run, one placeholder per
    /// fragment; false if the pool ran dry.
    pub fn alloc<Pl: PktPool>(&mut self, pool: &Pl, bufs: &mut Vec<Pl::Buf>, room: usize) -> bool {
        for &r in &self.runs {
            match r {
                Run::Copy(n) => {
                    if !alloc_copy(pool, bufs, n, room) {
                        return false;
                    }
                }
                Run::Map(i) => {
                    let Ok(b) = pool.alloc() else {
                        return false;
                    };
                    if let Some(pc) = self.pieces.get_mut(i) {
                        pc.buf = bufs.len();
                    }
                    bufs.push(b);
                }
            }
        }
        true
    }

    /// Maps the burst's fragments in one batch and turns each placeholder into a
    /// segment over its page. A fragment that fails to map drops its packet
    /// (`NETIF_RSP_ERROR`, as a failed copy does); pages of dropped packets are unmapped
    /// at once. Attached fragments' requests become [`Answer::Deferred`].
    pub fn map_and_attach<Pl: PktPool>(
        &mut self,
        pool: &Pl,
        domid: DomId,
        bufs: &mut [Pl::Buf],
        pkts: &mut [Planned],
        reqs: &mut [(u16, Answer)],
        counters: &RxCounters,
    ) {
        self.refs.clear();
        for pc in &mut self.pieces {
            pc.mapped = pkts.get(pc.pkt).is_some_and(|p| p.drop.is_none());
            if pc.mapped {
                self.refs.push(pc.gref);
            }
        }
        if self.refs.is_empty() {
            return;
        }
        self.platform
            .grants()
            .map_pages(domid, &self.refs, &mut self.mapped);
        let mut results = self.mapped.drain(..);
        // A failed fragment drops its whole packet, including fragments before it.
        for (pc, r) in self
            .pieces
            .iter()
            .filter(|pc| pc.mapped)
            .zip(results.as_slice())
        {
            if let (Err(_), Some(p)) = (r, pkts.get_mut(pc.pkt)) {
                p.drop = Some(Dropped::Grant);
            }
        }
        let mut cur: Option<(usize, u16)> = None;
        for i in 0..self.pieces.len() {
            let Some(&pc) = self.pieces.get(i).filter(|pc| pc.mapped) else {
                continue;
            };
            let Some(Ok(page)) = results.next() else {
                continue;
            };
            let Some(p) = pkts.get_mut(pc.pkt) else {
                self.unmap.push(page);
                continue;
            };
            if p.drop.is_some() {
                self.unmap.push(page);
                continue;
            }
            let entry = match cur {
                Some((pkt, e)) if pkt == pc.pkt => e,
                _ => match self.free.pop() {
                    Some(e) => {
                        self.pending[usize::from(e)] = Pending { frags: 0, ok: true };
                        self.attached.push((pc.pkt, e));
                        cur = Some((pc.pkt, e));
                        e
                    }
                    // Unreachable (an entry per packet with unanswered requests).
                    None => {
                        p.drop = Some(Dropped::Grant);
                        self.unmap.push(page);
                        continue;
                    }
                },
            };
            let (Some((id, answer)), Ok(holder)) = (reqs.get_mut(pc.req), pool.alloc()) else {
                // Out of buffers for the pending slot (the packet's own were reserved
                // when it was walked; this one was not): netback's failed allocation.
                counters.nombuf.add(1);
                p.drop = Some(Dropped::Grant);
                self.unmap.push(page);
                continue;
            };
            let ext = Ext {
                mem: page,
                tag: u64::from(*id) | u64::from(entry) << 16,
                sink: Arc::clone(&self.returns),
            };
            let attached = match bufs.get_mut(pc.buf) {
                Some(b) => b.attach_ext(holder, ext, pc.offset, pc.len),
                None => Err(ext),
            };
            match attached {
                Ok(()) => {
                    self.pending[usize::from(entry)].frags += 1;
                    *answer = Answer::Deferred;
                }
                Err(ext) => {
                    p.drop = Some(Dropped::Grant);
                    self.unmap.push(ext.mem);
                }
            }
        }
        // Pages of no piece (none, unless the platform answered too many) unmap too.
        self.unmap.extend(results.flatten());
        self.unmap_batch();
    }

    /// Once the burst's packets are final: counts those sent with mapped fragments,
    /// marks those dropped after all (their fragments come back as `ERROR`), and frees
    /// entries of packets that ended up with no fragment attached.
    pub fn settle(&mut self, pkts: &[Planned]) {
        for &(pkt, e) in &self.attached {
            let p = &mut self.pending[usize::from(e)];
            if p.frags == 0 {
                self.free.push(e);
                continue;
            }
            self.stats.tx_zerocopy_sent.add(1);
            if pkts.get(pkt).is_none_or(|p| p.drop.is_some()) {
                p.ok = false;
            }
        }
    }
}

impl<P: Platform> std::ops::Drop for ZeroCopy<P> {
    /// The queue is going: pages still out are unmapped by whoever frees their last
    /// mbuf; those already back are unmapped now. No responses (the rings go too).
    fn drop(&mut self) {
        // Release pairs with `Returns::complete`'s Acquire.
        self.returns.closed.store(true, Ordering::Release);
        while let Some((page, _)) = self.returns.ring.dequeue() {
            self.unmap.push(page);
        }
        self.unmap_batch();
        let in_flight = MAX_PENDING_REQS - self.free.len();
        self.stats.tx_zerocopy_fail.add(in_flight as u64);
    }
}
