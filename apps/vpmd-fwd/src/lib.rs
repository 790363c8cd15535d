//! vpmd-fwd: the testpmd-like forwarding app, as a library so tests and benchmarks can
//! drive it in-process; `main.rs` is a thin wrapper.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cli;
pub mod demo;
pub mod drivers;
pub mod engine;
mod homing;
pub mod log;
pub mod pipeline;
pub mod prompt;
pub mod run;
pub mod stats;
pub mod stream;
