//! The shared ring page (`io/ring.h` `DEFINE_RING_TYPES`), ANCHORS 3.1: a 64-byte
//! header of free-running producer indexes and event thresholds, then a power-of-two
//! array of slots, each a union of one request and one response.
//!
//! Only layout and index arithmetic live here; reading the indexes (with the right
//! ordering) is the data path's job. Indexes wrap at 2^32 and are masked on access, so
//! nothing here can produce an offset outside the page.

use super::defs::XEN_PAGE_SIZE;
use super::netif::{RxRequest, RxResponse, TxRequest, TxResponse};
use super::{assert_layout, Entry};
use crate::wire::ctrl::{CtrlRequest, CtrlResponse};

/// A free-running ring index (`RING_IDX`).
pub type RingIdx = u32;

/// The header of a shared ring page (`struct X_sring` without its `ring[]`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SringHeader {
    /// Requests produced by the frontend.
    pub req_prod: RingIdx,
    /// The frontend wants an event when `req_prod` passes this.
    pub req_event: RingIdx,
    /// Responses produced by the backend.
    pub rsp_prod: RingIdx,
    /// The backend wants an event when `rsp_prod` passes this.
    pub rsp_event: RingIdx,
    /// `pvt` union (netif: `smartpoll_active`, unused by Linux).
    pub pvt: [u8; 4],
    /// Padding to 64 bytes.
    pub pad: [u8; 44],
}
assert_layout!(SringHeader, 64, {
    req_prod: 0, req_event: 4, rsp_prod: 8, rsp_event: 12, pvt: 16, pad: 20,
});

/// Byte offsets of the header fields, for atomic access in a mapped ring page.
pub mod field {
    use super::SringHeader;
    use std::mem::offset_of;

    /// `req_prod`.
    pub const REQ_PROD: usize = offset_of!(SringHeader, req_prod);
    /// `req_event`.
    pub const REQ_EVENT: usize = offset_of!(SringHeader, req_event);
    /// `rsp_prod`.
    pub const RSP_PROD: usize = offset_of!(SringHeader, rsp_prod);
    /// `rsp_event`.
    pub const RSP_EVENT: usize = offset_of!(SringHeader, rsp_event);
}

/// The geometry of one kind of ring on one page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingLayout {
    /// Slots (a power of two).
    pub entries: u32,
    /// Bytes per slot (the larger of request and response).
    pub slot_size: usize,
}

impl RingLayout {
    /// The layout of a one-page ring whose request and response are `req` and `rsp`
    /// bytes (`__CONST_RING_SIZE`): as many slots as fit after the header, rounded
    /// down to a power of two.
    pub const fn new(req: usize, rsp: usize) -> Self {
        let slot_size = if req > rsp { req } else { rsp };
        let fit = (XEN_PAGE_SIZE - size_of::<SringHeader>()) / slot_size;
        // Round down to a power of two (`__RD32`).
        let entries = 1u32 << (usize::BITS - 1 - fit.leading_zeros());
        Self { entries, slot_size }
    }

    /// The guest tx ring: `netif_tx_request` (12) / `netif_tx_response` (4).
    pub const TX: Self = Self::new(TxRequest::SIZE, TxResponse::SIZE);
    /// The guest rx ring: `netif_rx_request` (8) / `netif_rx_response` (8).
    pub const RX: Self = Self::new(RxRequest::SIZE, RxResponse::SIZE);
    /// The control ring: `xen_netif_ctrl_request` (16) / `_response` (12).
    pub const CTRL: Self = Self::new(CtrlRequest::SIZE, CtrlResponse::SIZE);

    /// Byte offset in the page of the slot for `idx` (`RING_GET_REQUEST`).
    #[inline]
    pub const fn slot_offset(&self, idx: RingIdx) -> usize {
        size_of::<SringHeader>() + (idx & (self.entries - 1)) as usize * self.slot_size
    }

    /// Whether a frontend claims more outstanding requests than the ring holds
    /// (`RING_REQUEST_PROD_OVERFLOW`): an ill-behaved frontend.
    #[inline]
    pub const fn request_prod_overflow(&self, req_prod: RingIdx, rsp_prod_pvt: RingIdx) -> bool {
        req_prod.wrapping_sub(rsp_prod_pvt) > self.entries
    }

    /// Whether consuming request `cons` would overwrite a response not yet pushed
    /// (`RING_REQUEST_CONS_OVERFLOW`).
    #[inline]
    pub const fn request_cons_overflow(&self, cons: RingIdx, rsp_prod_pvt: RingIdx) -> bool {
        cons.wrapping_sub(rsp_prod_pvt) >= self.entries
    }
}

// ANCHORS 3.1: slots per one-page ring.
const _: () = {
    assert!(RingLayout::TX.entries == 256 && RingLayout::TX.slot_size == 12);
    assert!(RingLayout::RX.entries == 256 && RingLayout::RX.slot_size == 8);
    assert!(RingLayout::CTRL.entries == 128 && RingLayout::CTRL.slot_size == 16);
};

/// Whether moving a producer index from `old` to `new` passed the peer's `event`
/// threshold, so the peer asked to be notified (`RING_PUSH_*_AND_CHECK_NOTIFY`).
#[inline]
pub const fn need_notify(old: RingIdx, new: RingIdx, event: RingIdx) -> bool {
    new.wrapping_sub(event) < new.wrapping_sub(old)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_sizes_match_the_anchors() {
        assert_eq!(
            RingLayout::TX,
            RingLayout {
                entries: 256,
                slot_size: 12
            }
        );
        assert_eq!(
            RingLayout::RX,
            RingLayout {
                entries: 256,
                slot_size: 8
            }
        );
        assert_eq!(
            RingLayout::CTRL,
            RingLayout {
                entries: 128,
                slot_size: 16
            }
        );
        // The last slot ends inside the page, whatever the index.
        for l in [RingLayout::TX, RingLayout::RX, RingLayout::CTRL] {
            assert_eq!(l.slot_offset(0), 64);
            assert_eq!(l.slot_offset(l.entries), 64);
            assert!(l.slot_offset(u32::MAX) + l.slot_size <= XEN_PAGE_SIZE);
        }
        assert_eq!(field::RSP_EVENT, 12);
    }

    #[test]
    fn overflow_checks_wrap() {
        let l = RingLayout::TX;
        assert!(!l.request_prod_overflow(256, 0));
        assert!(l.request_prod_overflow(257, 0));
        assert!(!l.request_prod_overflow(5, u32::MAX - 250));
        assert!(l.request_prod_overflow(6, u32::MAX - 250));
        assert!(l.request_cons_overflow(256, 0));
        assert!(!l.request_cons_overflow(255, 0));
    }

    #[test]
    fn notify_only_when_the_event_index_is_passed() {
        assert!(need_notify(0, 1, 1));
        assert!(need_notify(0, 4, 3));
        assert!(!need_notify(4, 8, 3)); // threshold already behind us
        assert!(!need_notify(0, 4, 5)); // not reached yet
        assert!(need_notify(u32::MAX, 1, 0)); // across the wrap
    }
}
