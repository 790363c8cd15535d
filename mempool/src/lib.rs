//! vpmd-mempool: packet buffer pools.
//!
//! One contiguous region per pool (2 MiB hugepages when the system has them), fixed-size
//! objects made of a cache-aligned [`Mbuf`] header, headroom and data room, per-lcore
//! caches in front of a shared lock-free free list, and the [`PktBuf`]/[`PktPool`] trait
//! pair that PMD datapaths are generic over.
//!
//! Unsafe code lives in `hugepage` (the mapping), `mbuf` (the header behind a handle),
//! `ext` (external buffers' holders), `cache` (the per-lcore slots) and `pool` (carving
//! the region); the rest is safe.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod buf;
pub mod burst;
mod cache;
pub mod ext;
pub mod hugepage;
pub mod lcore;
pub mod mbuf;
pub mod ol_flags;
mod pool;

pub use buf::{PktBuf, PktPool};
pub use burst::Burst;
pub use ext::{Ext, ExtBuf, ExtMem, ExtSink};
pub use hugepage::{HugepagePolicy, PageKind};
pub use lcore::{LcoreGuard, MAX_LCORES};
pub use mbuf::{Mbuf, TxOffload};
pub use pool::{Mempool, NoBufs, PoolConfig, PoolError, PoolInfo, PoolStats};
