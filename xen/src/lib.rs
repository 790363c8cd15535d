//! vpmd-xen: the Xen PMD, a user-space netback.
//!
//! - [`wire`]: the netif protocol's shared structs and constants, with compile-time
//!   layout checks; decoding copies guest data once.
//! - [`backend`]: netback: the xenbus state machine and the data path, generic over
//!   the platform.
//! - [`netfront`]: a netfront on the sim, for tests, benchmarks and demos.
//! - [`pmd`]: `net_vpmd_xen`, the ethdev glue.
//! - [`platform`]: what Xen provides a backend (grant copy and map, event channels,
//!   xenstore) as traits, a xenstore client for the xenstored wire protocol, and
//!   [`platform::sim`], a simulated hypervisor for running a backend and a frontend
//!   on one Linux machine without Xen, and [`platform::linux`], a real Xen domain.
//!
//! Unsafe code is confined to `platform::shm` (shared mappings) and
//! `platform::linux::ioctl` (the gntdev and evtchn ioctls); the OS calls (fd
//! passing, eventfds, sealed memfds, `poll`) come from `vpmd-sys`, shared with the vhost
//! PMD. Everything else is safe Rust.

#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod backend;
pub mod netfront;
pub mod platform;
pub mod pmd;
pub mod wire;

pub use pmd::XenDriver;
