//! The shape of `vpmd-fwd`'s TOML file: [`Config`] and one struct per `[section]`.
//!
//! Every section and key is optional (missing ones take the values in `defaults.rs`, so an
//! empty file is a valid config) and unknown keys are rejected (`deny_unknown_fields`). Field
//! names are the TOML keys, except [`Config::ports`], written `[[port]]`. Ranges are checked by
//! `validate.rs`, not here, so that values set from the command line get the same checks.
//!
//! ```toml
//! lcores = "0,1"
//!
//! [[port]]
//! devargs = "net_vpmd_ring0"
//!
//! [forwarding]
//! mode = "io"
//! eth_peer = { 0 = "02:00:00:00:00:01" }
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{CoreList, ForwardMode, HugepageMode, MacAddr, PortTopology};

/// The whole file. CLI flags are applied on top of it, field by field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `-l`: the cores to use; the first is the main lcore, the others forward.
    pub lcores: CoreList,
    /// `--vdev` (repeatable): `[[port]]` tables, in port-id order.
    #[serde(rename = "port", skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PortConfig>,
    /// `[forwarding]`.
    pub forwarding: ForwardingConfig,
    /// `[stats]`.
    pub stats: StatsConfig,
    /// `[run]`.
    pub run: RunConfig,
    /// `[mempool]`.
    pub mempool: MempoolConfig,
}

/// One `[[port]]`: a virtual device, probed in order (its index is its port id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortConfig {
    /// `--vdev`: driver name and arguments, e.g. `"net_vpmd_null0,size=64"`. Checked here only
    /// for being non-empty; the driver registry parses the rest.
    pub devargs: String,
}

/// `[forwarding]`: what the forwarding cores do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ForwardingConfig {
    /// `--forward-mode`.
    pub mode: ForwardMode,
    /// `--nb-cores`: forwarding cores, at most the `lcores` after the main one.
    pub nb_cores: u32,
    /// `--burst`: packets per rx/tx burst, 1..=512.
    pub burst: u32,
    /// `--txpkts`: segment lengths of each `txonly` packet, one mbuf per segment; `flowgen`
    /// sends one segment of their sum less the 4-byte FCS, as testpmd.
    pub txpkts: Vec<u32>,
    /// `--txonly-multi-flow`: vary the IPv4 source of each `txonly` packet (256 sources
    /// per lcore, as testpmd).
    pub txonly_multi_flow: bool,
    /// `--flowgen-flows`: destination addresses `flowgen` cycles through, at least 1.
    pub flowgen_flows: u32,
    /// `--port-topology`.
    pub port_topology: PortTopology,
    /// `--eth-peer` (repeatable): destination MAC per port id, for `mac` mode. Written as a table
    /// keyed by port id: `eth_peer = { 0 = "02:00:00:00:00:01" }`.
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "deserialize_eth_peer"
    )]
    pub eth_peer: BTreeMap<u16, MacAddr>,
    /// `--rxq`: rx queues per port, 1..=64.
    pub rxq: u32,
    /// `--txq`: tx queues per port, 1..=64.
    pub txq: u32,
    /// `--rxd`: descriptors per rx queue, a power of two in 64..=32768.
    pub rxd: u32,
    /// `--txd`: descriptors per tx queue, a power of two in 64..=32768.
    pub txd: u32,
    /// `--tx-first`: send one burst of txonly packets on every stream before forwarding.
    pub tx_first: bool,
    /// `--disable-link-check`: start forwarding without waiting (up to 9 s, as
    /// testpmd) for every port's link to come up.
    pub disable_link_check: bool,
    /// `--pipeline`: split each stream over two lcores, an rx lcore that hands bursts to
    /// a worker lcore through an SPSC ring; needs `nb_cores` of at least 2.
    pub pipeline: bool,
}

/// `[stats]`: periodic statistics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StatsConfig {
    /// `--stats-period`: seconds between stats tables; 0 = only at exit.
    pub period: u64,
    /// `--stats-json`: also write the stats as JSON to this file (relative to the working
    /// directory).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json: Option<PathBuf>,
}

impl StatsConfig {
    /// The stats period, or `None` when periodic stats are off.
    pub fn interval(&self) -> Option<Duration> {
        (self.period > 0).then(|| Duration::from_secs(self.period))
    }
}

/// `[run]`: how the app runs and for how long.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunConfig {
    /// `--duration`: seconds to forward, then stop; `None` = until Ctrl-C.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<u64>,
    /// `-i`: run testpmd's interactive prompt instead of forwarding at once.
    pub interactive: bool,
    /// `--auto-start`: with `interactive`, start forwarding as soon as the prompt is up;
    /// without it a no-op (forwarding starts at once anyway).
    pub auto_start: bool,
}

impl RunConfig {
    /// The run time limit, if any.
    pub fn limit(&self) -> Option<Duration> {
        self.duration.map(Duration::from_secs)
    }
}

/// `[mempool]`: the packet buffer pool shared by all ports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MempoolConfig {
    /// `--total-num-mbufs`: mbufs in the pool.
    pub mbufs: u32,
    /// `--mbcache`: per-lcore cache size, at most 512 and at most `mbufs / 1.5`.
    pub cache: u32,
    /// `--mbuf-size`: bytes of packet data per mbuf, after the headroom. (DPDK's `--mbuf-size`
    /// counts the headroom too: its 2176 is this 2048 plus a 128-byte headroom.)
    pub data_room: u32,
    /// Bytes reserved in front of the packet data, for prepending headers.
    pub headroom: u32,
    /// Whether to back the pool with hugepages.
    pub hugepages: HugepageMode,
}

/// Reads `eth_peer`'s string keys as port ids, naming the offending key on failure.
fn deserialize_eth_peer<'de, D>(d: D) -> Result<BTreeMap<u16, MacAddr>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let by_name = BTreeMap::<String, MacAddr>::deserialize(d)?;
    by_name
        .into_iter()
        .map(|(port, mac)| match port.parse::<u16>() {
            Ok(id) if !port.starts_with('+') => Ok((id, mac)),
            _ => Err(serde::de::Error::custom(format!(
                "invalid port id {port:?}: expected an integer between 0 and 65535"
            ))),
        })
        .collect()
}
