//! vpmd-perf: the benchmarks behind `vpmd-bench`, and the DPDK-app runner (`testpmd`)
//! that tests reuse to drive dpdk-testpmd as a real peer.

#![forbid(unsafe_code)]

pub mod bench;
pub mod harness;
pub mod plot;
pub mod report;
pub mod testpmd;
