//! vpmd-perf: the benchmarks behind `vpmd-bench`, the DPDK-app runner (`testpmd`) that
//! tests reuse to drive dpdk-testpmd as a real peer, DPDK's rte_ring and rte_mempool as
//! in-process anchors (`dpdk`, the one module with unsafe code), and the latency prober and traffic
//! generator on vpmd's own vhost-user front-end (`probe`).

// Unsafe code only in `dpdk` (FFI to DPDK's anchors), every block with a SAFETY comment.
#![deny(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod bench;
#[allow(unsafe_code)]
pub mod dpdk;
pub mod harness;
pub mod plot;
pub mod probe;
pub mod report;
pub mod testpmd;
