//! One vif's state shared between its control plane (xenbus) and its data-path queues:
//! whether the frontend was found rogue, and why; how many of its queues are stalled
//! (the guest rx stall timer, which turns the carrier off).
//!
//! A fatal error (netback's `xenvif_fatal_tx_err`) disables this vif only: its queues
//! stop touching its rings, its carrier goes down, and every other vif keeps working
//! (XSA-39, XSA-90). Nothing here blocks or allocates; the data path sets the flag
//! with one atomic, the control plane reads it.
//!
//! Must never: re-enable a disabled vif without a new connection (a reconnect from
//! Closed builds a fresh [`VifShared`]).

use std::sync::atomic::{AtomicU16, AtomicU8, Ordering};

use super::live_rate::LiveRate;
use super::mcast::McastFilter;

/// Why a frontend was declared rogue. Each is a protocol violation netback treats as
/// fatal for the vif.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FatalReason {
    /// `req_prod - rsp_prod_pvt` is larger than the ring (`RING_REQUEST_PROD_OVERFLOW`).
    ImpossibleRequests = 1,
    /// A packet's `more_data` chain runs past `req_prod`.
    ChainBeyondProd = 2,
    /// A packet has more following slots than `fatal_skb_slots` allows.
    TooManySlots = 3,
    /// A slot's `offset + size` crosses its page.
    CrossPage = 4,
    /// `NETTXF_extra_info` with no slot left for the extra.
    MissingExtra = 5,
    /// An extra of type 0 or a type the protocol does not define.
    InvalidExtraType = 6,
    /// A GSO extra with size 0.
    GsoSizeZero = 7,
    /// A GSO extra of an unknown type.
    BadGsoType = 8,
    /// The guest rx ring claims more requests than it holds.
    RxImpossibleRequests = 9,
    /// A ring page could not be accessed (the mapping went away).
    RingAccess = 10,
    /// The control ring claims more requests than it holds.
    CtrlImpossibleRequests = 11,
}

impl FatalReason {
    const ALL: [Self; 11] = [
        Self::ImpossibleRequests,
        Self::ChainBeyondProd,
        Self::TooManySlots,
        Self::CrossPage,
        Self::MissingExtra,
        Self::InvalidExtraType,
        Self::GsoSizeZero,
        Self::BadGsoType,
        Self::RxImpossibleRequests,
        Self::RingAccess,
        Self::CtrlImpossibleRequests,
    ];

    /// The xstats-style name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::ImpossibleRequests => "impossible_requests",
            Self::ChainBeyondProd => "chain_beyond_req_prod",
            Self::TooManySlots => "too_many_slots",
            Self::CrossPage => "cross_page",
            Self::MissingExtra => "missing_extra_info",
            Self::InvalidExtraType => "invalid_extra_type",
            Self::GsoSizeZero => "gso_size_zero",
            Self::BadGsoType => "bad_gso_type",
            Self::RxImpossibleRequests => "rx_impossible_requests",
            Self::RingAccess => "ring_access",
            Self::CtrlImpossibleRequests => "ctrl_impossible_requests",
        }
    }

    fn from_code(c: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|r| *r as u8 == c)
    }
}

/// What a vif's queues and its control plane share.
#[derive(Debug, Default)]
pub struct VifShared {
    fatal: AtomicU8,
    stalled_queues: AtomicU16,
    mcast: McastFilter,
    rate: LiveRate,
}

impl VifShared {
    /// A live vif.
    pub fn new() -> Self {
        Self::default()
    }

    /// Marks the frontend rogue; the first reason sticks.
    pub fn disable(&self, why: FatalReason) {
        let _ = self
            .fatal
            .compare_exchange(0, why as u8, Ordering::AcqRel, Ordering::Acquire);
    }

    /// Whether a fatal error disabled the vif.
    #[inline]
    pub fn is_disabled(&self) -> bool {
        self.fatal.load(Ordering::Acquire) != 0
    }

    /// The fatal error, if any.
    pub fn fatal(&self) -> Option<FatalReason> {
        FatalReason::from_code(self.fatal.load(Ordering::Acquire))
    }

    /// A queue stalled (`true`) or resumed (`false`); each queue reports each
    /// transition once.
    pub fn queue_stalled(&self, stalled: bool) {
        if stalled {
            self.stalled_queues.fetch_add(1, Ordering::AcqRel);
        } else {
            self.stalled_queues.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Whether any queue is stalled (netback turns the carrier off for one).
    pub fn is_stalled(&self) -> bool {
        self.stalled_queues.load(Ordering::Acquire) != 0
    }

    /// The frontend's multicast list (per connection, as netback frees it at
    /// disconnect).
    pub fn mcast(&self) -> &McastFilter {
        &self.mcast
    }

    /// The rate the toolstack set, published to the queues.
    pub fn rate(&self) -> &LiveRate {
        &self.rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_reason_sticks() {
        let v = VifShared::new();
        assert!(!v.is_disabled());
        v.disable(FatalReason::CrossPage);
        v.disable(FatalReason::TooManySlots);
        assert_eq!(v.fatal(), Some(FatalReason::CrossPage));
        for r in FatalReason::ALL {
            assert_eq!(FatalReason::from_code(r as u8), Some(r));
        }
    }
}
