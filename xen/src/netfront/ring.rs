//! The frontend's end of a shared ring (`FRONT_RING` of `io/ring.h`), in the guest's
//! own memory: `SHARED_RING_INIT`, requests pushed with
//! `RING_PUSH_REQUESTS_AND_CHECK_NOTIFY`, responses consumed with
//! `RING_FINAL_CHECK_FOR_RESPONSES` (which re-arms `rsp_event`).
//!
//! Written from netfront's side of the protocol, independently of the backend's ring
//! code, so that a bug in one does not hide in the other. Must never read a response
//! slot before `rsp_prod` covers it.

use std::sync::atomic::{fence, Ordering};

use crate::platform::shm::{SharedMem, ShmError};
use crate::wire::defs::XEN_PAGE_SIZE;
use crate::wire::ring::{field, need_notify, RingIdx, RingLayout};

/// A front ring on guest page `frame`.
#[derive(Debug)]
pub(crate) struct FrontRing {
    base: usize,
    layout: RingLayout,
    /// Next request slot to fill.
    pub req_prod_pvt: RingIdx,
    /// Next response to consume.
    pub rsp_cons: RingIdx,
    /// Whether [`final_check`](Self::final_check) asks for an event (a busy-polling
    /// frontend never does).
    pub events: bool,
}

impl FrontRing {
    /// Zeroes the page and initialises the header (`SHARED_RING_INIT`: both event
    /// thresholds 1).
    pub fn init(mem: &SharedMem, frame: u32, layout: RingLayout) -> Result<Self, ShmError> {
        let base = frame as usize * XEN_PAGE_SIZE;
        mem.fill(base, XEN_PAGE_SIZE, 0)?;
        mem.atomic_u32(base + field::REQ_EVENT)?
            .store(1, Ordering::Relaxed);
        mem.atomic_u32(base + field::RSP_EVENT)?
            .store(1, Ordering::Release);
        Ok(Self {
            base,
            layout,
            req_prod_pvt: 0,
            rsp_cons: 0,
            events: true,
        })
    }

    /// Slots the frontend may still fill before the ring is full.
    pub fn free_requests(&self) -> u32 {
        self.layout.entries - self.req_prod_pvt.wrapping_sub(self.rsp_cons)
    }

    /// Writes the request bytes for slot `idx`.
    pub fn put(&self, mem: &SharedMem, idx: RingIdx, bytes: &[u8]) -> Result<(), ShmError> {
        mem.write(self.base + self.layout.slot_offset(idx), bytes)
    }

    /// Copies the response in slot `idx`.
    pub fn get<const N: usize>(&self, mem: &SharedMem, idx: RingIdx) -> Result<[u8; N], ShmError> {
        let mut b = [0u8; N];
        mem.read(self.base + self.layout.slot_offset(idx), &mut b)?;
        Ok(b)
    }

    /// Publishes requests up to `req_prod_pvt`; whether the backend asked for an event.
    pub fn push(&self, mem: &SharedMem) -> Result<bool, ShmError> {
        let prod = mem.atomic_u32(self.base + field::REQ_PROD)?;
        let old = prod.load(Ordering::Relaxed);
        prod.store(self.req_prod_pvt, Ordering::Release);
        fence(Ordering::SeqCst);
        let event = mem.load_u32(self.base + field::REQ_EVENT, Ordering::Acquire)?;
        Ok(need_notify(old, self.req_prod_pvt, event))
    }

    /// Sets `req_prod` to any value (what a hostile frontend does).
    pub fn set_req_prod(&self, mem: &SharedMem, v: RingIdx) -> Result<(), ShmError> {
        mem.atomic_u32(self.base + field::REQ_PROD)?
            .store(v, Ordering::Release);
        Ok(())
    }

    /// The backend's `rsp_prod` (Acquire: the responses before it are visible).
    pub fn rsp_prod(&self, mem: &SharedMem) -> Result<RingIdx, ShmError> {
        mem.load_u32(self.base + field::RSP_PROD, Ordering::Acquire)
    }

    /// Asks for an event at the next response, then checks again: whether responses
    /// are waiting (`RING_FINAL_CHECK_FOR_RESPONSES`). Without [`events`](Self::events)
    /// it only checks.
    pub fn final_check(&self, mem: &SharedMem) -> Result<bool, ShmError> {
        if self.rsp_prod(mem)? != self.rsp_cons || !self.events {
            return Ok(self.rsp_prod(mem)? != self.rsp_cons);
        }
        mem.atomic_u32(self.base + field::RSP_EVENT)?
            .store(self.rsp_cons.wrapping_add(1), Ordering::Release);
        fence(Ordering::SeqCst);
        Ok(self.rsp_prod(mem)? != self.rsp_cons)
    }
}
