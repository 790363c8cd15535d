//! The backend's end of one shared ring (`BACK_RING` of `io/ring.h`), over a page
//! mapped from the frontend's grant: requests are copied out of their slot once,
//! responses written into the slot of the request they answer, `rsp_prod` published
//! with one Release store per burst.
//!
//! Must never: read a request slot twice for one decision (callers get a copy), write
//! `req_event` (poll mode: the frontend is never asked for notifications), or touch
//! memory outside the mapped page (offsets come from [`RingLayout::slot_offset`]).

use std::sync::atomic::{fence, Ordering};
use std::sync::Arc;

use super::clock::Clock;
use super::staging::{StagedPages, StagingReader};
use super::stats::QueueCounters;
use super::vif::{FatalReason, VifShared};
use super::{EvtchnOf, MappingOf};
use crate::platform::shm::{SharedMem, ShmError};
use crate::platform::{CopySegment, EventChannel, GrantOps, Platform};
use crate::wire::grant::DomId;
use crate::wire::ring::{field, need_notify, RingIdx, RingLayout};
use crate::wire::Entry;

/// The backend's private indexes over a mapped ring page.
#[derive(Debug)]
pub(crate) struct BackRing<M> {
    page: M,
    layout: RingLayout,
    /// Next request to consume.
    pub req_cons: RingIdx,
    /// Next response slot to fill (published by [`BackRing::push`]).
    pub rsp_prod_pvt: RingIdx,
    /// The `rsp_prod` last published.
    rsp_prod: RingIdx,
}

impl<M: AsRef<SharedMem>> BackRing<M> {
    /// A ring the frontend has just initialised (`BACK_RING_INIT`: both indexes 0).
    pub fn new(page: M, layout: RingLayout) -> Self {
        Self {
            page,
            layout,
            req_cons: 0,
            rsp_prod_pvt: 0,
            rsp_prod: 0,
        }
    }

    /// The ring's geometry.
    pub fn layout(&self) -> RingLayout {
        self.layout
    }

    fn mem(&self) -> &SharedMem {
        self.page.as_ref()
    }

    /// The frontend's `req_prod`; requests up to it are visible once this returns
    /// (Acquire, the `rmb()` before `RING_COPY_REQUEST`).
    #[inline]
    pub fn req_prod(&self) -> Result<RingIdx, ShmError> {
        self.mem().load_u32(field::REQ_PROD, Ordering::Acquire)
    }

    /// A copy of the slot at `idx`, taken once (XSA-155): the caller decodes and
    /// validates the copy.
    #[inline]
    pub fn copy_slot<T: Entry>(&self, idx: RingIdx) -> Result<T::Bytes, ShmError> {
        let mut b = T::Bytes::default();
        self.mem().read(self.layout.slot_offset(idx), b.as_mut())?;
        Ok(b)
    }

    /// Prefetches the slots from `from` up to `to` (at most one ring's worth), a line at
    /// a time, before they are copied one by one.
    #[inline]
    pub fn prefetch_slots(&self, from: RingIdx, to: RingIdx) {
        let n = to.wrapping_sub(from).min(self.layout.entries);
        // A step under a line's worth of slots touches every line of the range.
        let step = (64 / self.layout.slot_size).max(1);
        for i in (0..n).step_by(step) {
            let off = self.layout.slot_offset(from.wrapping_add(i));
            self.mem().prefetch(off, false);
        }
    }

    /// Writes a response (or an extra-info overlay) into the slot at `idx`.
    #[inline]
    pub fn put_slot(&self, idx: RingIdx, bytes: &[u8]) -> Result<(), ShmError> {
        self.mem().write(self.layout.slot_offset(idx), bytes)
    }

    /// Publishes responses up to `rsp_prod_pvt`; whether the frontend asked for an
    /// event (`RING_PUSH_RESPONSES_AND_CHECK_NOTIFY`).
    pub fn push(&mut self) -> Result<bool, ShmError> {
        let (old, new) = (self.rsp_prod, self.rsp_prod_pvt);
        if old == new {
            return Ok(false);
        }
        // Release: the response bytes are visible before the index (the `wmb()`).
        self.mem()
            .atomic_u32(field::RSP_PROD)?
            .store(new, Ordering::Release);
        self.rsp_prod = new;
        // The `mb()`: the index store is visible before we read the threshold, so a
        // frontend that moves rsp_event after our store sees the new index.
        fence(Ordering::SeqCst);
        let event = self.mem().load_u32(field::RSP_EVENT, Ordering::Acquire)?;
        Ok(need_notify(old, new, event))
    }
}

/// One of a vif's shared rings as a queue serves it: the ring, the event channel to
/// notify the frontend through, and what a fault must reach (the vif's rogue flag,
/// the queue's counters).
pub(crate) struct VifRing<P: Platform> {
    pub ring: BackRing<MappingOf<P>>,
    evtchn: Arc<EvtchnOf<P>>,
    platform: Arc<P>,
    pub domid: DomId,
    pub vif: Arc<VifShared>,
    pub stats: Arc<QueueCounters>,
    pub clock: Clock,
    staged: StagingReader<MappingOf<P>>,
}

impl<P: Platform> std::fmt::Debug for VifRing<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VifRing")
            .field("domid", &self.domid)
            .field("req_cons", &self.ring.req_cons)
            .field("rsp_prod_pvt", &self.ring.rsp_prod_pvt)
            .finish_non_exhaustive()
    }
}

/// What a [`VifRing`] is made of.
pub(crate) struct VifRingParts<P: Platform> {
    pub platform: Arc<P>,
    pub domid: DomId,
    pub page: MappingOf<P>,
    pub evtchn: Arc<EvtchnOf<P>>,
    pub vif: Arc<VifShared>,
    pub stats: Arc<QueueCounters>,
    pub clock: Clock,
    pub staged: StagingReader<MappingOf<P>>,
}

impl<P: Platform> VifRing<P> {
    pub fn new(p: VifRingParts<P>, layout: RingLayout) -> Self {
        Self {
            ring: BackRing::new(p.page, layout),
            evtchn: p.evtchn,
            platform: p.platform,
            domid: p.domid,
            vif: p.vif,
            stats: p.stats,
            clock: p.clock,
            staged: p.staged,
        }
    }

    /// Starts the part of a burst that reads staged grants: picks up the table the
    /// control side last published.
    #[inline]
    pub fn begin_staged(&mut self) {
        self.staged.enter();
    }

    /// The queue's staged grants, between [`begin_staged`](Self::begin_staged) and
    /// [`end_staged`](Self::end_staged).
    #[inline]
    pub fn staged(&self) -> Option<&StagedPages<MappingOf<P>>> {
        self.staged.current().map(|t| &**t)
    }

    /// Ends it: the control side may now retire the table this burst read.
    #[inline]
    pub fn end_staged(&self) {
        self.staged.exit_idle();
    }

    /// Declares the frontend rogue (netback's `xenvif_fatal_tx_err`).
    pub fn fatal(&self, why: FatalReason) {
        log::error!("vif {}: frontend is rogue: {}", self.domid.0, why.name());
        self.vif.disable(why);
    }

    /// The frontend's `req_prod` if the vif is live and the index possible; otherwise
    /// `None`, the vif disabled with `overflow` if the index is what is wrong.
    pub fn live_prod(&self, overflow: FatalReason) -> Option<RingIdx> {
        if self.vif.is_disabled() {
            return None;
        }
        let Ok(prod) = self.ring.req_prod() else {
            self.fatal(FatalReason::RingAccess);
            return None;
        };
        if self
            .ring
            .layout()
            .request_prod_overflow(prod, self.ring.rsp_prod_pvt)
        {
            self.fatal(overflow);
            return None;
        }
        Some(prod)
    }

    /// Runs a burst's copy batch (a batch that did not run leaves every segment
    /// failed, which the caller checks per segment).
    pub fn copy(&self, segs: &mut [CopySegment<'_>]) {
        if !segs.is_empty() && self.platform.grants().copy(segs).is_err() {
            log::warn!("vif {}: grant copy batch failed", self.domid.0);
        }
    }

    /// Publishes the responses and notifies the frontend if `rsp_event` asks.
    pub fn push_and_notify(&mut self) {
        match self.ring.push() {
            Ok(true) => {
                self.stats.notify.add(1);
                let _ = self.evtchn.notify();
            }
            Ok(false) => {}
            Err(_) => self.fatal(FatalReason::RingAccess),
        }
    }
}
