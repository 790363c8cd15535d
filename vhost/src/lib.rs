//! vpmd-vhost: the vhost-user PMD, a virtio-net device backend for QEMU/KVM guests and
//! DPDK's virtio_user.
//!
//! - [`memory`]: guest memory regions mapped from the front-end's fds, translation.
//! - [`virtio`]: virtio constants.
//! - [`vring`]: what the control plane hands the data path.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod memory;
pub mod virtio;
pub mod vring;
