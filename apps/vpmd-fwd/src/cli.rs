//! The command line: testpmd's flags, applied on top of `--config` (or the defaults).
//!
//! testpmd splits EAL flags from app flags with `--`; vpmd-fwd takes both in one list
//! and ignores a lone `--`, so a testpmd command line works after the binary name.

use std::path::PathBuf;

use clap::Parser;
use vpmd_config::{
    Config, ConfigError, CoreList, EthPeer, ForwardMode, HugepageMode, PortConfig, PortTopology,
};

use crate::demo::DemoKind;

/// vpmd-fwd: forward packets between vpmd ports, the way dpdk-testpmd does.
#[derive(Debug, Parser)]
#[command(name = "vpmd-fwd", version, about, long_about = None)]
pub struct Cli {
    /// Run testpmd's interactive prompt (`testpmd> `) instead of forwarding at once.
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// With -i, start forwarding as soon as the prompt is up (testpmd's flag). Without
    /// -i it changes nothing: forwarding starts at once anyway.
    #[arg(long = "auto-start")]
    pub auto_start: bool,
    /// Cores to use, DPDK style ("0,1", "0-3"); the first is the main lcore.
    #[arg(short = 'l', value_name = "CORES")]
    pub lcores: Option<CoreList>,
    /// Add a port from devargs (repeatable), e.g. net_vpmd_null0,size=64.
    #[arg(long = "vdev", value_name = "DEVARGS")]
    pub vdev: Vec<String>,
    /// TOML configuration file; flags given here override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Forwarding mode.
    #[arg(long = "forward-mode", value_name = "MODE")]
    pub forward_mode: Option<ForwardMode>,
    /// Destination MAC of port N for mac/txonly modes: N,XX:XX:XX:XX:XX:XX (repeatable).
    #[arg(long = "eth-peer", value_name = "N,MAC")]
    pub eth_peer: Vec<EthPeer>,
    /// Number of forwarding cores.
    #[arg(long = "nb-cores", value_name = "N")]
    pub nb_cores: Option<u32>,
    /// Packets per burst.
    #[arg(long, value_name = "N")]
    pub burst: Option<u32>,
    /// Segment lengths of txonly packets, comma-separated.
    #[arg(long, value_name = "LEN[,LEN...]", value_delimiter = ',')]
    pub txpkts: Option<Vec<u32>>,
    /// txonly: vary the IPv4 source address per packet.
    #[arg(long = "txonly-multi-flow")]
    pub txonly_multi_flow: bool,
    /// flowgen: number of flows (destination addresses), at least 1.
    #[arg(long = "flowgen-flows", value_name = "N")]
    pub flowgen_flows: Option<u32>,
    /// How rx ports map to tx ports.
    #[arg(long = "port-topology", value_name = "TOPOLOGY")]
    pub port_topology: Option<PortTopology>,
    /// Rx queues per port.
    #[arg(long, value_name = "N")]
    pub rxq: Option<u32>,
    /// Tx queues per port.
    #[arg(long, value_name = "N")]
    pub txq: Option<u32>,
    /// Descriptors per rx queue.
    #[arg(long, value_name = "N")]
    pub rxd: Option<u32>,
    /// Descriptors per tx queue.
    #[arg(long, value_name = "N")]
    pub txd: Option<u32>,
    /// Send one txonly burst on every stream before forwarding starts.
    #[arg(long = "tx-first")]
    pub tx_first: bool,
    /// Split each stream over two lcores: rx lcore -> SPSC ring -> worker lcore running
    /// the engine and tx. Needs --nb-cores 2 or more.
    #[arg(long)]
    pub pipeline: bool,
    /// Start forwarding without waiting (up to 9 s) for every port's link to come up.
    #[arg(long = "disable-link-check")]
    pub disable_link_check: bool,
    /// Print port statistics every N seconds (0: only at the end).
    #[arg(long = "stats-period", value_name = "SECS")]
    pub stats_period: Option<u64>,
    /// Forward for this many seconds, then stop and print statistics.
    #[arg(long, value_name = "SECS")]
    pub duration: Option<u64>,
    /// Write the final statistics as JSON to FILE.
    #[arg(long = "stats-json", value_name = "FILE")]
    pub stats_json: Option<PathBuf>,
    /// Number of mbufs in the pool.
    #[arg(long = "total-num-mbufs", value_name = "N")]
    pub total_num_mbufs: Option<u32>,
    /// Per-lcore mbuf cache size.
    #[arg(long, value_name = "N")]
    pub mbcache: Option<u32>,
    /// Data room of each mbuf, after the headroom.
    #[arg(long = "mbuf-size", value_name = "N")]
    pub mbuf_size: Option<u32>,
    /// Hugepage use for the mbuf pool.
    #[arg(long, value_name = "auto|never|require")]
    pub hugepages: Option<HugepageMode>,
    /// Run a built-in demo (alone, no other flags): xen-vhost, the default and what no
    /// arguments run; qemu, a QEMU Linux guest pinging the Xen guest (./setup.sh installs
    /// QEMU); or null.
    #[arg(
        long,
        value_name = "KIND",
        num_args = 0..=1,
        default_missing_value = "xen-vhost",
        exclusive = true
    )]
    pub demo: Option<DemoKind>,
}

/// True when the process was started with no arguments at all (the default demo).
pub fn no_arguments(args: &[String]) -> bool {
    args.len() <= 1
}

/// Drops a lone `--` (testpmd's EAL/app separator).
pub fn strip_separator(args: Vec<String>) -> Vec<String> {
    args.into_iter().filter(|a| a != "--").collect()
}

impl Cli {
    /// The configuration: the file (or defaults), then every flag given, then validation.
    pub fn into_config(self) -> Result<Config, ConfigError> {
        let mut c = match &self.config {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        let set = |dst: &mut u32, v: Option<u32>| {
            if let Some(v) = v {
                *dst = v;
            }
        };
        if let Some(l) = self.lcores {
            c.lcores = l;
        }
        c.ports
            .extend(self.vdev.into_iter().map(|devargs| PortConfig { devargs }));
        let f = &mut c.forwarding;
        if let Some(m) = self.forward_mode {
            f.mode = m;
        }
        for p in self.eth_peer {
            f.eth_peer.insert(p.port, p.mac);
        }
        set(&mut f.nb_cores, self.nb_cores);
        set(&mut f.burst, self.burst);
        if let Some(t) = self.txpkts {
            f.txpkts = t;
        }
        f.txonly_multi_flow |= self.txonly_multi_flow;
        set(&mut f.flowgen_flows, self.flowgen_flows);
        if let Some(t) = self.port_topology {
            f.port_topology = t;
        }
        set(&mut f.rxq, self.rxq);
        set(&mut f.txq, self.txq);
        set(&mut f.rxd, self.rxd);
        set(&mut f.txd, self.txd);
        f.tx_first |= self.tx_first;
        f.disable_link_check |= self.disable_link_check;
        f.pipeline |= self.pipeline;
        if let Some(p) = self.stats_period {
            c.stats.period = p;
        }
        if self.stats_json.is_some() {
            c.stats.json = self.stats_json;
        }
        if self.duration.is_some() {
            c.run.duration = self.duration;
        }
        c.run.interactive |= self.interactive;
        c.run.auto_start |= self.auto_start;
        set(&mut c.mempool.mbufs, self.total_num_mbufs);
        set(&mut c.mempool.cache, self.mbcache);
        set(&mut c.mempool.data_room, self.mbuf_size);
        if let Some(h) = self.hugepages {
            c.mempool.hugepages = h;
        }
        let origin = if self.config.is_some() {
            "configuration (file + command line)"
        } else {
            "command line"
        };
        c.validate().map_err(|e| e.with_origin(origin))?;
        Ok(c)
    }
}
