//! The netback backend: serves a frontend's netif rings from user space, generic over
//! the [`Platform`](crate::platform::Platform) (the sim today, a Linux dom0 later).
//!
//! - [`xenbus`]: feature keys, the backend state machine, connect/disconnect;
//!   [`discover`]: the vifs the toolstack created for this domain, waiting for a
//!   backend; [`order`]: which searching port takes it; [`slot`]: the vif a port
//!   serves, bound again when the toolstack replaces it.
//! - [`rx`]: vpmd's rx, from the guest's tx ring; [`tx`]: vpmd's tx, into the guest's
//!   rx ring. Directions are named from vpmd's side, as in ethdev.
//! - [`staging`]: grants the frontend keeps mapped (staging grants), copied without
//!   grant operations.
//! - [`rx_stall`]: the guest rx ring's drain and stall timers (XSA-392).
//! - [`zerocopy`]: grant-mapped guest tx fragments (`copy-threshold`), answered when
//!   their mbufs are freed.
//! - [`credit`]: guest tx rate limiting, [`live_rate`] its live changes; [`clock`]: the
//!   time it and the guest rx timers read, steppable in tests.
//! - [`ctrl`]: the control ring (`feature-ctrl-ring`), served by the control plane;
//!   [`hash`]: the receive-side hash settings it sets and the guest rx path applies;
//!   [`toeplitz`]: the hash itself.
//! - [`ring`]: the backend's end of a shared ring; [`vif`]: the rogue-frontend flag
//!   shared by a vif's queues; [`stats`]: netback's counters.
//! - [`mcast`]: the frontend's multicast list and filter.
//! - [`late_eoi`]: the frontend's notifications, consumed at a bounded rate (XSA-332).
//!
//! Must never: name a simulator type (only the platform traits), use unsafe code, or
//! let one frontend's fault reach another vif.

pub mod clock;
pub mod credit;
pub mod ctrl;
pub mod discover;
pub mod hash;
pub mod late_eoi;
pub mod live_rate;
pub mod mcast;
pub mod order;
pub mod ring;
pub mod rx;
pub mod rx_stall;
pub mod slot;
pub mod staging;
pub mod stats;
pub mod toeplitz;
pub mod tx;
pub mod vif;
pub mod xenbus;
pub mod zerocopy;

pub use clock::Clock;
pub use credit::Rate;
pub use ctrl::{CtrlCounters, CtrlSide};
pub use hash::HashSettings;
pub use mcast::McastFilter;
pub use rx::GuestTxRing;
pub use slot::VifSlot;
pub use staging::{Staging, STAGING_MAX_GRANTS};
pub use stats::QueueCounters;
pub use tx::{FrontendOffloads, GuestRxRing};
pub use vif::{FatalReason, VifShared};
pub use xenbus::{BackendConfig, Claim, Netback, QueueEnds, Queues, XenbusError};

use crate::platform::{CopySegment, EventChannels, GrantOps, Platform};

/// A granted page mapped by platform `P`.
pub(crate) type MappingOf<P> = <<P as Platform>::Grants as GrantOps>::Mapping;
/// A bound event channel of platform `P`.
pub(crate) type EvtchnOf<P> = <<P as Platform>::Events as EventChannels>::Channel;

/// The same (empty) vector for segments of another lifetime, so a burst's copy batch
/// reuses the last burst's allocation.
pub(crate) fn reuse_segments<'b>(mut v: Vec<CopySegment<'_>>) -> Vec<CopySegment<'b>> {
    v.clear();
    // In-place collect: an empty vector keeps its allocation.
    v.into_iter().map(|_| unreachable!()).collect()
}
