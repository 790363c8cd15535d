//! vpmd-perf: the benchmarks behind `vpmd-bench`, the DPDK-app runner (`testpmd`) that
//! tests reuse to drive dpdk-testpmd as a real peer, and the latency prober and traffic
//! generator on vpmd's own vhost-user front-end (`probe`).

#![forbid(unsafe_code)]

pub mod bench;
pub mod harness;
pub mod plot;
pub mod probe;
pub mod report;
pub mod testpmd;
