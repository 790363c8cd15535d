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
//! - [`frontend`]: a minimal vhost-user front-end (tests, benchmarks).
//! - `sys`: the control plane's OS calls, its only unsafe code.
//!
//! [`VringSink`]: device::VringSink

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod device;
pub mod frontend;
pub mod memory;
pub mod protocol;
pub mod socket;
mod sys;
pub mod virtio;
pub mod vring;

pub use device::{CtlStats, DeviceConfig, LinkInfo, VringSink};
pub use socket::{ConnState, Handle, Reactor, ReactorConfig, VhostSocket};
