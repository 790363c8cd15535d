//! vpmd-pmd: the ethdev contract every vpmd driver implements.
//!
//! A [`Port`] is made from a DPDK-style devargs string by the [`Registry`]; it is
//! configured, its queues are set up and handed out as `Send` handles ([`PortRx`],
//! [`PortTx`]) that the polling lcore owns, then started. Statistics and xstats use
//! DPDK's names. Two drivers ship here: `net_vpmd_null` and `net_vpmd_ring`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod csum;
pub mod dev;
pub mod devargs;
pub mod drivers;
pub mod error;
pub mod inet;
pub mod offload;
pub mod port;
pub mod queue;
pub mod registry;
pub mod stats;

pub use dev::{DevInfo, EthDev, Link, PortConf};
pub use devargs::{parse_mac, Devargs, DevargsError, DevargsReader};
pub use error::PmdError;
pub use port::{Port, PortRx, PortState, PortTx};
pub use queue::{RxQueue, TxQueue};
pub use registry::{Driver, DriverFor, Registry};
pub use stats::{Counter, PortStats, QueueStats, RxCounters, TxCounters};
