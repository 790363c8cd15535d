//! `vpmd-config`: the TOML file of `vpmd-fwd`, the testpmd-like forwarding app.
//!
//! The file says everything the command line says; the app parses it with [`Config::from_file`]
//! (or starts from [`Config::default`]), applies its CLI flags on top, then calls
//! [`Config::validate`] again. Enum-like values and MACs implement `FromStr` so clap parses flags
//! with the same rules as the file. See `examples/fwd.toml` for a commented file.
//!
//! This crate uses nothing from vpmd and checks only what needs no driver: devargs are checked
//! for being non-empty, the driver registry does the rest. It never panics on file contents.

#![forbid(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod defaults;
mod error;
mod lcores;
mod load;
mod mac;
mod names;
mod parse;
mod schema;
mod validate;

pub use error::ConfigError;
pub use lcores::{CoreList, LCORE_MAX};
pub use mac::{EthPeer, MacAddr};
pub use names::{ForwardMode, HugepageMode, PortTopology};
pub use parse::ParseError;
pub use schema::{Config, ForwardingConfig, MempoolConfig, PortConfig, RunConfig, StatsConfig};
pub use validate::{
    BURST_MAX, DATA_ROOM_MIN, DESCRIPTORS, MBUF_BUF_LEN_MAX, MBUF_CACHE_MAX, QUEUES_MAX,
    TXPKTS_FIRST_MIN, TXPKTS_SEGMENT, TXPKTS_TOTAL_MAX,
};
