//! vpmd-vhost: the vhost-user PMD, a virtio-net device backend for QEMU/KVM guests and
//! DPDK's virtio_user.
//!
//! - [`memory`]: guest memory regions mapped from the front-end's fds, translation.
//! - [`virtio`]: virtio constants.
//! - [`vring`]: what the control plane hands the data path.
//! - [`virtqueue`]: split virtqueues, device side: ring access, chains, used ring,
//!   notifications.
//! - [`net`]: the virtio-net data path: [`net::rx::dequeue_burst`] (the guest's tx ring)
//!   and [`net::tx::enqueue_burst`] (its rx ring), header and offload mapping.
//! - [`stats`]: per-vring counters with DPDK's xstats names.
//! - [`driver`]: the guest side of a split virtqueue and a mock virtio-net guest, for
//!   tests and for vpmd's own vhost-user front-end.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod driver;
pub mod memory;
pub mod net;
pub mod stats;
pub mod virtio;
pub mod virtqueue;
pub mod vring;
