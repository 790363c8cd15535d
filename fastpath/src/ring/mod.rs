//! Burst rings: the bounded queues that hand packets from one core to another.
//!
//! - [`spsc()`] makes a single-producer/single-consumer ring: free-running indexes masked on
//!   access, `CachePadded` head and tail, each side caching the other's index, one Release
//!   store per burst. Use it for every core-to-core hand-off with one writer.
//! - [`MpmcRing`] wraps `crossbeam_queue::ArrayQueue` for when several producers (or
//!   consumers) are real; it costs a CAS per element.
//!
//! Both move items from the front of a [`vpmd_mempool::Burst`] and append to one, as DPDK's
//! `rte_ring_enqueue_burst`/`rte_ring_dequeue_burst` do: what does not fit stays with the
//! caller. Neither ring ever allocates, blocks, or drops an item after creation; items still
//! queued when a ring goes away are dropped with it (packet buffers return to their pool).

mod mpmc;
#[allow(unsafe_code)]
mod slots;
mod spsc;

pub use mpmc::MpmcRing;
pub use spsc::{spsc, Consumer, Producer};

/// The largest capacity a ring accepts: DPDK's `RTE_RING_SZ_MASK + 1`.
pub const MAX_CAPACITY: usize = 1 << 31;

/// Why a ring could not be created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RingError {
    /// The capacity is below the ring's minimum.
    #[error("ring capacity {capacity} is too small (minimum {min})")]
    TooSmall {
        /// The capacity asked for.
        capacity: usize,
        /// The smallest capacity this ring accepts.
        min: usize,
    },
    /// An SPSC ring's capacity must be a power of two (indexes are masked, not divided).
    #[error("ring capacity {0} is not a power of two")]
    NotPowerOfTwo(usize),
    /// The capacity is above [`MAX_CAPACITY`].
    #[error("ring capacity {0} is above the maximum {MAX_CAPACITY}")]
    TooLarge(usize),
}
