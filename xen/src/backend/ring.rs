//! The backend's end of one shared ring (`BACK_RING` of `io/ring.h`), over a page
//! mapped from the frontend's grant: requests are copied out of their slot once,
//! responses written into the slot of the request they answer, `rsp_prod` published
//! with one Release store per burst.
//!
//! Must never: read a request slot twice for one decision (callers get a copy), write
//! `req_event` (poll mode: the frontend is never asked for notifications), or touch
//! memory outside the mapped page (offsets come from [`RingLayout::slot_offset`]).

use std::sync::atomic::{fence, Ordering};

use crate::platform::shm::{SharedMem, ShmError};
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
