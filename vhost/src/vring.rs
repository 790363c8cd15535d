//! What the control plane hands the data path when a vring starts, and the position the
//! data path hands back when it stops.
//!
//! The control plane validates everything here before building a [`VringConfig`]: the
//! size is a power of two no larger than [`MAX_QUEUE_SIZE`], the three ring areas were
//! translated from the front-end's addresses with their full lengths, and they are
//! aligned. The data path still treats every value *inside* the rings as hostile.
//!
//! [`MAX_QUEUE_SIZE`]: crate::virtio::MAX_QUEUE_SIZE

use std::fs::File;
use std::sync::Arc;

use crate::memory::{HostPtr, MemTable};

/// A started vring, ready for the data path.
#[derive(Debug, Clone)]
pub struct VringConfig {
    /// Vring index: even = the guest's rx queue (vpmd transmits into it), odd = the
    /// guest's tx queue (vpmd receives from it); queue pair = index / 2.
    pub index: u16,
    /// Number of descriptors (power of two, <= 32768).
    pub size: u16,
    /// Descriptor table, `16 * size` bytes, 16-byte aligned.
    pub desc: HostPtr,
    /// Available ring, `6 + 2 * size` bytes, 2-byte aligned.
    pub avail: HostPtr,
    /// Used ring, `6 + 8 * size` bytes, 4-byte aligned.
    pub used: HostPtr,
    /// The memory table the pointers point into; buffers are translated through it.
    pub mem: Arc<MemTable>,
    /// Negotiated virtio features.
    pub features: u64,
    /// Where the device resumes: next avail entry to process.
    pub last_avail_idx: u16,
    /// Next used entry to write (equal to `last_avail_idx` for vpmd's copying datapath,
    /// except mid-way through a mergeable packet, which never spans bursts).
    pub last_used_idx: u16,
    /// The call eventfd (interrupt to the guest), if the front-end gave one.
    pub call: Option<Arc<File>>,
}

// SAFETY: the raw ring pointers point into `mem`'s mappings, kept alive by the `Arc`;
// which thread touches them is decided by the handover protocol.
unsafe impl Send for VringConfig {}

/// A ring position packed into a handover report: avail index low, used index high.
pub fn pack_position(last_avail_idx: u16, last_used_idx: u16) -> u64 {
    last_avail_idx as u64 | (last_used_idx as u64) << 16
}

/// The inverse of [`pack_position`].
pub fn unpack_position(report: u64) -> (u16, u16) {
    (report as u16, (report >> 16) as u16)
}
