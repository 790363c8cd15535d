//! The benchmarks, one file each; each module doc says what is measured and against what.

pub mod fwd_modes;
pub mod mempool;
pub mod ring;
pub mod vhost;
pub mod vhost_latency;
pub mod xen;
