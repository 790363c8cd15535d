//! Split virtqueues on the device side (virtio 1.2 §2.7): the ring state one polling lcore
//! owns, and the pieces the net bursts are built from.
//!
//! - `split`: the only unsafe code, single-field accesses to the shared rings.
//! - `chain`: descriptor chains walked as if the guest were hostile, resolved into
//!   guest locations for the copies.
//! - `used`: the available-ring snapshot taken once per burst, used elements written in
//!   place and published with one Release store per burst.
//! - `notify`: kick suppression while polling, `EVENT_IDX`, interrupts to the guest.
//!
//! A [`SplitQueue`] is built from the [`VringConfig`] the control plane hands over and
//! lives until the ring stops or the memory table changes; then the control plane reads
//! [`SplitQueue::position`] and builds a new one. Must never: panic, allocate, lock or make
//! a syscall per packet (the one syscall is the call eventfd, at most once per burst), or
//! trust a value it read from guest memory without checking the copy it validated.

#![deny(unsafe_code)]

mod chain;
mod notify;
pub(crate) mod split;
mod used;

use std::fs::File;
use std::sync::Arc;

use crate::memory::{GuestLoc, MemTable};
use crate::virtio;
use crate::vring::VringConfig;

pub(crate) use chain::{Cursor, Fault, Walk};
use split::Rings;

/// Most guest buffers one packet may be made of (DPDK's `BUF_VECTOR_MAX`): a descriptor
/// counts once per memory region it crosses; with mergeable rx buffers, the chains of
/// one packet share the budget. Chains beyond it are refused, never truncated.
pub const MAX_IOV: usize = 256;

/// Why a [`SplitQueue`] could not be built from a [`VringConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VringError {
    /// The size is not a power of two in `1..=32768`.
    #[error("vring size {0} is not a power of two in 1..=32768")]
    BadSize(u16),
    /// A ring area is not aligned as the spec requires (16, 2, 4 bytes).
    #[error("vring {area} is misaligned")]
    Misaligned {
        /// Which area.
        area: &'static str,
    },
    /// A ring area does not lie wholly inside one region of the memory table.
    #[error("vring {area} ({len} bytes) is not inside guest memory")]
    OutsideMemory {
        /// Which area.
        area: &'static str,
        /// Its length for this ring size.
        len: usize,
    },
}

/// One guest chain taken for the packet being placed (mergeable rx buffers).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ChainRec {
    /// Head descriptor index: the used element's id.
    pub(crate) head: u16,
    /// Writable bytes the walk collected from it.
    pub(crate) cap: u32,
}

/// A split virtqueue, device side, owned by the lcore that polls it.
#[derive(Debug)]
pub struct SplitQueue {
    pub(crate) rings: Rings,
    pub(crate) size: u16,
    pub(crate) features: u64,
    /// `virtio_net_hdr` length for the negotiated features (10 or 12).
    pub(crate) hdr_len: u32,
    indirect: bool,
    event_idx: bool,
    pub(crate) mergeable: bool,
    /// `VIRTIO_F_IN_ORDER`: a batch of used buffers may be reported by its last element.
    pub(crate) in_order: bool,
    /// Next available-ring position to consume.
    pub(crate) last_avail: u16,
    /// Next used-ring position to fill.
    pub(crate) last_used: u16,
    /// `used.idx` at the last interrupt decision (EVENT_IDX), and whether it is known.
    signalled_used: u16,
    signalled_valid: bool,
    /// Whether the glue asked for kicks ([`SplitQueue::enable_notifications`]).
    kicks_wanted: bool,
    /// The guest corrupted the available index; the queue serves nothing any more.
    broken: bool,
    /// Complete partial checksums of received frames in software (the port did not
    /// enable rx checksum offloads, so nobody downstream would).
    pub(crate) rx_sw_csum: bool,
    /// Last memory region a translation hit.
    pub(crate) hint: usize,
    call: Option<Arc<File>>,
    index: u16,
    /// Guest buffers of the chains being copied: twice [`MAX_IOV`], so a burst can
    /// resolve the next packet's chain (up to `MAX_IOV` buffers) while less than
    /// `MAX_IOV` are taken by the packets before it.
    pub(crate) iov: Box<[GuestLoc]>,
    /// Chains of the packets being placed (mergeable rx buffers): twice [`MAX_IOV`], as
    /// for `iov`.
    pub(crate) chains: Box<[ChainRec]>,
}

impl SplitQueue {
    /// Takes over a started vring: checks the ring areas (size, alignment, inside
    /// `cfg.mem`), switches the guest's kicks off (the queue is polled) and resumes at
    /// `cfg.last_avail_idx` / `cfg.last_used_idx`.
    pub fn new(cfg: VringConfig) -> Result<Self, VringError> {
        let rings = Rings::new(&cfg)?;
        let f = cfg.features;
        let mut q = Self {
            rings,
            size: cfg.size,
            features: f,
            hdr_len: virtio::net_hdr_len(f) as u32,
            indirect: virtio::has(f, virtio::RING_F_INDIRECT_DESC),
            event_idx: virtio::has(f, virtio::RING_F_EVENT_IDX),
            mergeable: virtio::has(f, virtio::NET_F_MRG_RXBUF),
            in_order: virtio::has(f, virtio::F_IN_ORDER),
            last_avail: cfg.last_avail_idx,
            last_used: cfg.last_used_idx,
            signalled_used: cfg.last_used_idx,
            signalled_valid: false,
            kicks_wanted: false,
            broken: false,
            rx_sw_csum: false,
            hint: 0,
            call: cfg.call,
            index: cfg.index,
            iov: vec![GuestLoc::default(); 2 * MAX_IOV].into_boxed_slice(),
            chains: vec![ChainRec::default(); 2 * MAX_IOV].into_boxed_slice(),
        };
        q.disable_notifications();
        Ok(q)
    }

    /// Where the queue stands: (next available position to consume, next used position
    /// to fill). Bursts never stop half-way through a packet, so this is always a clean
    /// restart point; the glue packs it with [`crate::vring::pack_position`].
    #[inline]
    pub fn position(&self) -> (u16, u16) {
        (self.last_avail, self.last_used)
    }

    /// The vring index (even: the guest's rx queue, odd: its tx queue).
    pub fn index(&self) -> u16 {
        self.index
    }

    /// Number of descriptors.
    pub fn size(&self) -> u16 {
        self.size
    }

    /// The negotiated features the queue works with.
    pub fn features(&self) -> u64 {
        self.features
    }

    /// The `virtio_net_hdr` length in front of every packet (10 or 12).
    pub fn hdr_len(&self) -> usize {
        self.hdr_len as usize
    }

    /// Completes partial checksums of frames received from the guest in software (DPDK
    /// net_vhost does this when the port has no rx checksum offload enabled).
    pub fn set_rx_sw_csum(&mut self, on: bool) {
        self.rx_sw_csum = on;
    }

    /// True once the guest moved the available index more than `size` entries ahead:
    /// the queue is disabled (bursts return 0) until the control plane restarts the ring.
    /// The glue reports it (link down, log) and drops what it would have sent.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Entries the guest has made available and the queue has not consumed (0 when
    /// broken or when the index is corrupt); for an idle policy deciding whether to sleep.
    pub fn avail_pending(&self) -> u16 {
        if self.broken {
            return 0;
        }
        let n = self.rings.avail_idx().wrapping_sub(self.last_avail);
        if n > self.size {
            0
        } else {
            n
        }
    }

    /// The memory table buffers are translated through.
    #[inline]
    pub(crate) fn mem(&self) -> &MemTable {
        self.rings.mem()
    }
}
