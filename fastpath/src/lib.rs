//! vpmd-fastpath: lock-free burst rings and the pinned busy-poll lcore runtime.
//!
//! - [`ring`]: a single-producer/single-consumer burst ring ([`ring::spsc`]) for core-to-core
//!   hand-off, and an MPMC ring ([`ring::MpmcRing`]) for when several producers are real.
//!   Both move [`vpmd_mempool::Burst`]s, never single packets through a callback.
//! - [`lcore`]: threads pinned to one CPU each, polling a list of [`lcore::PollTask`]s by
//!   weighted round-robin, with an idle policy and OVS-style busy/idle cycle counters.
//! - [`ctl`]: how control-plane changes reach a running lcore without a lock on its fast path.
//! - [`handover`]: how a control thread swaps the state a polled queue works on and learns
//!   when the old state is no longer in use.
//!
//! This crate knows no device: it polls anything that implements [`lcore::PollTask`].
//!
//! Unsafe code is fenced: the crate denies `unsafe_code` and only `ring::slots` (the ring's
//! slot storage), `lcore::cycles` (the `rdtsc` intrinsic) and `membarrier` (the system
//! call) allow it, each block with a `// SAFETY:` note. Nothing on a fast path allocates, locks, logs or makes a syscall.

#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]
#![warn(missing_debug_implementations)]

pub mod ctl;
pub mod handover;
pub mod lcore;
mod membarrier;
pub mod ring;

pub use ctl::Generation;
pub use handover::{handover, Handover, Reader};
pub use lcore::{
    online_cpus, IdlePolicy, Lcore, LcoreConfig, LcoreError, LcoreHandle, LcoreStats, PollTask,
};
pub use ring::{spsc, Consumer, MpmcRing, Producer, RingError};
