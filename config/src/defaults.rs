//! Default values: what an empty file means. They match testpmd's where testpmd has one, and
//! always pass [`Config::validate`].

use std::collections::BTreeMap;

use crate::{
    Config, CoreList, ForwardMode, ForwardingConfig, HugepageMode, MempoolConfig, PortTopology,
    RunConfig, StatsConfig,
};

impl Default for Config {
    /// Main lcore 0, one forwarding core (1), no ports, `io` forwarding, stats every second.
    fn default() -> Self {
        Self {
            lcores: CoreList::default(),
            ports: Vec::new(),
            forwarding: ForwardingConfig::default(),
            stats: StatsConfig::default(),
            run: RunConfig::default(),
            mempool: MempoolConfig::default(),
        }
    }
}

impl Default for CoreList {
    /// `"0,1"`: the main lcore and one forwarding core.
    fn default() -> Self {
        Self::from_ids_unchecked(vec![0, 1])
    }
}

impl Default for ForwardingConfig {
    fn default() -> Self {
        Self {
            mode: ForwardMode::default(),
            nb_cores: 1,
            burst: 32,
            txpkts: vec![64],
            txonly_multi_flow: false,
            // testpmd's `nb_flows_flowgen`.
            flowgen_flows: 1024,
            port_topology: PortTopology::default(),
            eth_peer: BTreeMap::new(),
            rxq: 1,
            txq: 1,
            rxd: 1024,
            txd: 1024,
            tx_first: false,
            disable_link_check: false,
            pipeline: false,
        }
    }
}

impl Default for StatsConfig {
    fn default() -> Self {
        Self {
            period: 1,
            json: None,
        }
    }
}

impl Default for RunConfig {
    /// Forward at once, until Ctrl-C.
    fn default() -> Self {
        Self {
            duration: None,
            interactive: false,
            auto_start: false,
        }
    }
}

impl Default for MempoolConfig {
    fn default() -> Self {
        Self {
            mbufs: 16384,
            cache: 256,
            data_room: 2048,
            headroom: 128,
            hugepages: HugepageMode::default(),
        }
    }
}

#[allow(clippy::derivable_impls, reason = "every default lives in this file")]
impl Default for ForwardMode {
    fn default() -> Self {
        Self::Io
    }
}

#[allow(clippy::derivable_impls, reason = "every default lives in this file")]
impl Default for PortTopology {
    fn default() -> Self {
        Self::Paired
    }
}

#[allow(clippy::derivable_impls, reason = "every default lives in this file")]
impl Default for HugepageMode {
    fn default() -> Self {
        Self::Auto
    }
}
