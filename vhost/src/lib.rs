//! vpmd-vhost: the vhost-user PMD, a virtio-net device backend for QEMU/KVM guests and
//! DPDK's virtio_user.
//!
//! - [`memory`]: guest memory regions mapped from the front-end's fds, translation.
//! - [`virtio`]: virtio constants.
//! - [`vring`]: what the control plane hands the data path.
//! - [`protocol`]: the vhost-user wire protocol (constants, messages, framing).
//! - [`device`]: the per-session virtio-net device state machine and the [`VringSink`]
//!   trait through which vrings reach the data path.
//! - [`socket`]: server and client sockets on one epoll control thread.
//! - [`virtqueue`]: split virtqueues, device side: ring access, chains, used ring,
//!   notifications.
//! - [`net`]: the virtio-net data path: [`net::rx::dequeue_burst`] (the guest's tx ring)
//!   and [`net::tx::enqueue_burst`] (its rx ring), header and offload mapping.
//! - [`stats`]: per-vring counters with DPDK's xstats names.
//! - [`pmd`]: the `net_vpmd_vhost` ethdev driver gluing the two planes together.
//! - [`frontend`]: a minimal vhost-user front-end (tests, benchmarks).
//! - [`driver`]: the guest side of a split virtqueue and a mock virtio-net guest, for
//!   tests.
//! - [`vuser`]: vpmd's own vhost-user front-end, a fast virtio-net guest for benchmarks
//!   (traffic generator, sink, latency prober).
//!
//! [`VringSink`]: device::VringSink

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod device;
pub mod driver;
pub mod frontend;
pub mod memory;
pub mod net;
pub mod pmd;
pub mod protocol;
pub mod socket;
pub mod stats;
pub mod virtio;
pub mod virtqueue;
pub mod vring;
pub mod vuser;

use vpmd_sys as sys;

pub use device::{CtlStats, DeviceConfig, LinkInfo, VringSink};
pub use pmd::VhostDriver;
pub use socket::{ConnState, Handle, Reactor, ReactorConfig, VhostSocket};
