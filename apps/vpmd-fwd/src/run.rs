//! Setting up and running a forwarding session: the pool, the ports, the streams spread
//! over forwarding lcores, periodic statistics, and the `stop` report.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use vpmd_config::{Config, ForwardMode, ForwardingConfig, HugepageMode, PortTopology};
use vpmd_fastpath::lcore::DEFAULT_WEIGHT;
use vpmd_fastpath::{online_cpus, Lcore, LcoreConfig, LcoreHandle, LcoreStats, PollTask};
use vpmd_mempool::{HugepagePolicy, Mempool, PoolConfig};
use vpmd_pmd::{Port, PortConf, PortRx, PortStats, PortTx, Registry};

use crate::engine::{
    Csum, FiveTupleSwap, FlowGen, IcmpEcho, Io, Mac, MacSwap, RxOnly, StreamCtx, TxOnly,
};
use crate::homing::Homing;
use crate::pipeline::RxStage;
use crate::stats::{self, FwdStats, LcoreJson, MbufsInUse, PortJson, RunJson, StreamCounts};
use crate::stream::{Source, Stream, StreamStats, StreamTask};

/// What a finished run measured.
#[derive(Debug)]
pub struct RunReport {
    /// Per port: NIC statistics over the run.
    pub ports: Vec<PortStats>,
    /// Per port: forwarding figures.
    pub forward: Vec<FwdStats>,
    /// Per forwarding lcore.
    pub lcores: Vec<LcoreStats>,
    /// How long forwarding ran.
    pub elapsed: Duration,
    /// Mbufs out of the pool before forwarding and after it stopped.
    pub mbufs: MbufsInUse,
}

/// Where each port's packets go under a topology (testpmd's `fwd_topology_tx_port_get`):
/// under `paired`, the last of an odd number of ports sends back out of itself.
pub fn tx_port(topology: PortTopology, rx: usize, nb_ports: usize) -> usize {
    match topology {
        PortTopology::Paired if rx ^ 1 < nb_ports => rx ^ 1,
        PortTopology::Paired => rx,
        PortTopology::Chained => (rx + 1) % nb_ports,
        PortTopology::Loop => rx,
    }
}

pub(crate) fn pool_config(c: &Config) -> PoolConfig {
    PoolConfig {
        size: c.mempool.mbufs,
        cache_size: c.mempool.cache,
        // Validated to fit u16 by the config (headroom + data room <= 65535).
        headroom: c.mempool.headroom as u16,
        data_room: c.mempool.data_room as u16,
        hugepages: match c.mempool.hugepages {
            HugepageMode::Auto => HugepagePolicy::Auto,
            HugepageMode::Never => HugepagePolicy::Never,
            HugepageMode::Require => HugepagePolicy::Require,
        },
        debug: false,
    }
}

/// A port ready to forward, with the queue handles streams will take.
pub(crate) struct ReadyPort {
    pub(crate) port: Port,
    pub(crate) rx: Vec<Option<PortRx>>,
    pub(crate) tx: Vec<Option<PortTx>>,
}

/// Creates port `id` from `devargs`, sets up its queues and starts it.
pub(crate) fn open_port(
    f: &ForwardingConfig,
    registry: &Registry,
    pool: &Mempool,
    devargs: &str,
    id: u16,
) -> Result<ReadyPort> {
    let mut port = registry.create_port(devargs, id)?;
    port.configure(f.rxq as u16, f.txq as u16, PortConf::default())?;
    let rx = (0..f.rxq as u16)
        .map(|q| port.rx_queue_setup(q, f.rxd as u16, pool).map(Some))
        .collect::<Result<_, _>>()?;
    let tx = (0..f.txq as u16)
        .map(|q| port.tx_queue_setup(q, f.txd as u16).map(Some))
        .collect::<Result<_, _>>()?;
    port.start()?;
    let info = port.info();
    log::info!(
        "port {id}: {devargs} ({}), MAC {}",
        info.driver,
        vpmd_config::MacAddr::new(info.mac)
    );
    Ok(ReadyPort { port, rx, tx })
}

fn open_ports(c: &Config, registry: &Registry, pool: &Mempool) -> Result<Vec<ReadyPort>> {
    c.ports
        .iter()
        .enumerate()
        .map(|(i, p)| open_port(&c.forwarding, registry, pool, &p.devargs, i as u16))
        .collect()
}

/// testpmd's link check: waits up to 9 s (polling every 100 ms) for every port's link,
/// then says where each stands and goes on either way. A tx-first burst sent before a
/// vhost front-end has connected would be lost.
pub(crate) fn check_links(ports: &[&Port], stop: &AtomicBool) {
    const TRIES: u32 = 90;
    println!("Checking link statuses...");
    for _ in 0..TRIES {
        if ports.iter().all(|p| p.link().up) || stop.load(Ordering::Relaxed) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    for p in ports {
        let l = p.link();
        if l.up {
            println!("Port {}: link up, {} Mbps", p.id(), l.speed_mbps);
        } else {
            println!("Port {}: link down", p.id());
        }
    }
}

/// What the engine of a stream from port `rx` to port `tx` (MAC `tx_mac`) knows.
pub(crate) fn stream_ctx(
    f: &ForwardingConfig,
    pool: &Mempool,
    rx: u16,
    tx: u16,
    tx_mac: [u8; 6],
) -> StreamCtx {
    StreamCtx {
        rx_port: rx,
        tx_port: tx,
        tx_mac,
        peer_mac: f
            .eth_peer
            .get(&tx)
            .map_or([2, 0, 0, 0, 0, tx as u8], |m| m.octets()),
        pool: pool.clone(),
        txpkts: f.txpkts.iter().map(|&l| l as u16).collect(),
        burst: f.burst as usize,
        txonly_multi_flow: f.txonly_multi_flow,
        flowgen_flows: f.flowgen_flows,
    }
}

fn stream_task<S: Source>(
    mode: ForwardMode,
    rx: S,
    tx: PortTx,
    ctx: StreamCtx,
    stats: Arc<StreamStats>,
) -> Box<dyn StreamTask> {
    match mode {
        ForwardMode::Io => Box::new(Stream::<Io, S>::new(rx, tx, ctx, stats)),
        ForwardMode::Mac => Box::new(Stream::<Mac, S>::new(rx, tx, ctx, stats)),
        ForwardMode::MacSwap => Box::new(Stream::<MacSwap, S>::new(rx, tx, ctx, stats)),
        ForwardMode::RxOnly => Box::new(Stream::<RxOnly, S>::new(rx, tx, ctx, stats)),
        ForwardMode::TxOnly => Box::new(Stream::<TxOnly, S>::new(rx, tx, ctx, stats)),
        ForwardMode::FiveTupleSwap => Box::new(Stream::<FiveTupleSwap, S>::new(rx, tx, ctx, stats)),
        ForwardMode::FlowGen => Box::new(Stream::<FlowGen, S>::new(rx, tx, ctx, stats)),
        ForwardMode::Csum => Box::new(Stream::<Csum, S>::new(rx, tx, ctx, stats)),
        ForwardMode::IcmpEcho => Box::new(Stream::<IcmpEcho, S>::new(rx, tx, ctx, stats)),
    }
}

/// The tasks of one stream, in placement order: the stream itself, or under
/// `--pipeline` its rx stage then its worker (whose ring holds as many packets as an rx
/// queue has descriptors).
pub(crate) fn stream_tasks(
    f: &ForwardingConfig,
    rx: PortRx,
    tx: PortTx,
    ctx: StreamCtx,
    stats: Arc<StreamStats>,
) -> Result<Vec<Box<dyn StreamTask>>> {
    if !f.pipeline {
        return Ok(vec![stream_task(f.mode, rx, tx, ctx, stats)]);
    }
    let (stage, ring) = RxStage::new(rx, f.rxd as usize, ctx.burst, Arc::clone(&stats))?;
    Ok(vec![
        Box::new(stage),
        stream_task(f.mode, ring, tx, ctx, stats),
    ])
}

/// Lcore tasks per stream: 2 under `--pipeline` (rx, worker), else 1. Task `j` of a run,
/// counted over its streams in order, goes to forwarding lcore `j % lcores`.
pub(crate) fn tasks_per_stream(f: &ForwardingConfig) -> usize {
    if f.pipeline {
        2
    } else {
        1
    }
}

/// A stream's ports and counters, kept by the control thread for the report.
struct StreamInfo {
    rx_port: u16,
    tx_port: u16,
    stats: Arc<StreamStats>,
}

impl StreamInfo {
    fn counts(&self) -> StreamCounts<'_> {
        StreamCounts {
            rx_port: self.rx_port,
            tx_port: self.tx_port,
            stats: &self.stats,
        }
    }
}

/// testpmd's clear-screen and cursor-home, sent before each periodic stats block when
/// stdout is a terminal so the block redraws in place.
const CLEAR_SCREEN: &str = "\x1b[2J\x1b[1;1H";

/// Where forwarding lcore `id` runs: on CPU `id` when this process may use it (`online`,
/// from [`online_cpus`] before any lcore pins itself), else sharing an allowed CPU, so
/// that `-l 0,1,2 --nb-cores 2` also works on a 2-CPU machine (DPDK spells that
/// `--lcores 2@0`); the lcores then take turns, which costs speed, not packets.
pub(crate) fn lcore_config(id: u32, online: &[usize]) -> LcoreConfig {
    let own = id as usize;
    let cpu = if online.is_empty() || online.contains(&own) {
        own
    } else {
        let shared = online[own % online.len()];
        log::warn!("lcore {id}: CPU {id} is not available to this process; sharing CPU {shared}");
        shared
    };
    LcoreConfig::new(cpu, id)
}

/// Runs one forwarding session until `duration` elapses or `stop` is set.
pub fn run(c: &Config, registry: &Registry, stop: &AtomicBool) -> Result<RunReport> {
    let f = &c.forwarding;
    let nb_ports = c.ports.len();
    if nb_ports == 0 {
        bail!("no ports: add --vdev DEVARGS or [[port]] tables in --config");
    }
    let online = online_cpus();
    let pool = Mempool::new("mbuf_pool", &pool_config(c)).context("creating the mbuf pool")?;
    let info = pool.info();
    println!(
        "mbuf pool: {} mbufs of {} B ({} B data room), {}",
        info.size, info.obj_size, info.data_room, info.pages
    );
    let mut ports = open_ports(c, registry, &pool)?;
    if f.port_topology == PortTopology::Paired && nb_ports % 2 == 1 {
        bail!(
            "--port-topology paired needs an even number of ports, got {nb_ports}; use chained or loop"
        );
    }
    if !f.disable_link_check {
        check_links(&ports.iter().map(|p| &p.port).collect::<Vec<_>>(), stop);
    }
    let in_use_before = pool.stats().in_use;
    let macs: Vec<[u8; 6]> = ports.iter().map(|p| p.port.info().mac).collect();
    for p in &mut ports {
        p.port.stats_reset();
    }

    // One stream per (rx port, queue): rx queue q of port p -> tx queue q of its tx port.
    let mut plans = Vec::new();
    let mut infos = Vec::new();
    for p in 0..nb_ports {
        let t = tx_port(f.port_topology, p, nb_ports);
        for q in 0..f.rxq as usize {
            let rx = ports[p].rx[q]
                .take()
                .expect("each rx queue feeds one stream");
            let tx = ports[t].tx[q]
                .take()
                .expect("each tx queue serves one stream");
            let ctx = stream_ctx(f, &pool, p as u16, t as u16, macs[t]);
            let stats = Arc::new(StreamStats::default());
            infos.push(StreamInfo {
                rx_port: p as u16,
                tx_port: t as u16,
                stats: Arc::clone(&stats),
            });
            plans.push((rx, tx, ctx, stats));
        }
    }

    // Nobody takes the queues of ended tasks back: the run closes the ports after.
    let (home, _) = mpsc::channel();
    let mut tasks: Vec<Box<dyn PollTask>> = Vec::new();
    for (rx, mut tx, ctx, stats) in plans {
        if f.tx_first {
            Stream::<TxOnly>::send_one_burst(&mut tx, &ctx, &stats);
        }
        for t in stream_tasks(f, rx, tx, ctx, stats)? {
            tasks.push(Homing::boxed(t, home.clone()));
        }
    }

    let workers = c.lcores.workers();
    let nb_lcores = (f.nb_cores as usize).min(tasks.len()).min(workers.len());
    let mut per_lcore: Vec<Vec<(Box<dyn PollTask>, u32)>> =
        (0..nb_lcores).map(|_| Vec::new()).collect();
    for (i, t) in tasks.into_iter().enumerate() {
        per_lcore[i % nb_lcores].push((t, DEFAULT_WEIGHT));
    }
    println!(
        "{} packet forwarding - ports={nb_ports} - cores={nb_lcores} - streams={} - burst={}",
        f.mode,
        infos.len(),
        f.burst
    );
    let mut lcores: Vec<LcoreHandle> = Vec::new();
    for (i, list) in per_lcore.into_iter().enumerate() {
        for (t, _) in &list {
            println!("  lcore {}: {}", workers[i], t.name());
        }
        let id = workers[i];
        let h = Lcore::spawn(lcore_config(id, &online), list)
            .with_context(|| format!("starting forwarding lcore {id}"))?;
        lcores.push(h);
    }

    let started = Instant::now();
    let lcore_base: Vec<LcoreStats> = lcores.iter().map(LcoreHandle::stats).collect();
    let mut last: Vec<PortStats> = ports.iter().map(|p| p.port.stats()).collect();
    let mut last_show = started;
    let limit = c.run.limit();
    let period = c.stats.interval();
    let tty = std::io::stdout().is_terminal();
    while !stop.load(Ordering::Relaxed) && limit.is_none_or(|l| started.elapsed() < l) {
        std::thread::sleep(Duration::from_millis(20));
        if period.is_some_and(|p| last_show.elapsed() >= p) {
            let dt = last_show.elapsed();
            last_show = Instant::now();
            if tty {
                print!("{CLEAR_SCREEN}");
            }
            for (i, p) in ports.iter().enumerate() {
                let s = p.port.stats();
                print!("{}", stats::nic_stats(i as u16, &s, &last[i], dt));
                last[i] = s;
            }
        }
    }

    println!("Telling cores to stop...\nWaiting for lcores to finish...");
    let lcore_stats: Vec<LcoreStats> = lcores
        .iter()
        .zip(&lcore_base)
        .map(|(h, b)| h.stats().since(b))
        .collect();
    let mut ended = Vec::new();
    for h in lcores {
        let id = h.lcore_id();
        ended.push(
            h.stop()
                .with_context(|| format!("stopping forwarding lcore {id}"))?,
        );
    }
    // Every lcore has stopped: the tasks end now, pipeline workers forwarding what their
    // rings still hold, and free their bursts.
    drop(ended);
    let elapsed = started.elapsed();
    let mbufs = MbufsInUse {
        before_start: in_use_before,
        after_stop: pool.stats().in_use,
    };
    let port_stats: Vec<PortStats> = ports.iter().map(|p| p.port.stats()).collect();
    let counts: Vec<StreamCounts<'_>> = infos.iter().map(StreamInfo::counts).collect();
    let forward: Vec<FwdStats> = port_stats
        .iter()
        .enumerate()
        .map(|(i, s)| FwdStats::of_port(i as u16, s, &counts, f))
        .collect();
    let ids: Vec<u16> = (0..nb_ports as u16).collect();
    print!("{}", stats::forward_report(&ids, &forward));
    print!("{}", stats::lcore_report(&lcore_stats));
    for p in &mut ports {
        p.port.close()?;
    }
    println!("Done.");
    let report = RunReport {
        ports: port_stats,
        forward,
        lcores: lcore_stats,
        elapsed,
        mbufs,
    };
    if let Some(path) = &c.stats.json {
        write_json(c, &report, path)?;
    }
    Ok(report)
}

fn write_json(c: &Config, r: &RunReport, path: &std::path::Path) -> Result<()> {
    let json = RunJson {
        mode: c.forwarding.mode.to_string(),
        seconds: r.elapsed.as_secs_f64(),
        ports: r
            .ports
            .iter()
            .zip(&r.forward)
            .zip(&c.ports)
            .enumerate()
            .map(|(i, ((s, f), p))| PortJson {
                port: i as u16,
                devargs: p.devargs.clone(),
                stats: s.clone(),
                forward: *f,
            })
            .collect(),
        accumulated: stats::accumulated(&r.forward),
        lcores: r.lcores.iter().map(LcoreJson::from).collect(),
        mbufs_in_use: r.mbufs,
    };
    let text = serde_json::to_string_pretty(&json)?;
    std::fs::write(path, text + "\n")
        .with_context(|| format!("writing --stats-json {}", path.display()))
}
