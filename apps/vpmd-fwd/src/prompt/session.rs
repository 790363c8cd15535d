//! The prompt's state: the ports by id (with holes after a detach, as ethdev port ids), the
//! forwarding run while one is going, and the queues its streams give back when they end.
//!
//! Streams are built at `start` from the queues the ports keep, and their queues come back
//! at `stop` ([`Homing`]), so rings keep their packets across stop/start as in testpmd.
//! Hot-plug works on the running lcores: an attached port's streams are added with
//! `add_task`, a detached port's streams removed with `remove_task`, both acknowledged by
//! the lcore before the port is touched; the other streams never stop.

use std::sync::atomic::AtomicBool;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use vpmd_config::Config;
use vpmd_fastpath::lcore::DEFAULT_WEIGHT;
use vpmd_fastpath::{online_cpus, Lcore, LcoreHandle, LcoreStats, PollTask};
use vpmd_mempool::Mempool;
use vpmd_pmd::{Port, PortState, PortStats, Registry};

use super::show::StreamPlan;
use crate::homing::Homing;
use crate::run::{self, ReadyPort};
use crate::stats::{self, FwdStats, StreamCounts};
use crate::stream::{Queues, Stream, StreamStats};

/// A port with its idle queues and what `show port stats` last showed.
pub(crate) struct Slot {
    ready: ReadyPort,
    shown: PortStats,
    shown_at: Instant,
}

impl Slot {
    fn new(ready: ReadyPort) -> Self {
        Self {
            ready,
            shown: PortStats::default(),
            shown_at: Instant::now(),
        }
    }

    pub(crate) fn port(&self) -> &Port {
        &self.ready.port
    }
}

/// A stream of the running forwarding configuration.
struct RunningStream {
    plan: StreamPlan,
    /// Its tasks as (lcore, task name), rx first (two under `--pipeline`).
    tasks: Vec<(u32, String)>,
    stats: Arc<StreamStats>,
}

impl RunningStream {
    fn counts(&self) -> StreamCounts<'_> {
        StreamCounts {
            rx_port: self.plan.rx.0,
            tx_port: self.plan.tx.0,
            stats: &self.stats,
        }
    }
}

/// A stream's tasks (rx first) and its counters, ready to place on lcores.
type Built = (Vec<Box<dyn PollTask>>, Arc<StreamStats>);

/// A forwarding run: its lcores, its streams, and the counters it started from.
struct Running {
    lcores: Vec<LcoreHandle>,
    streams: Vec<RunningStream>,
    port_base: Vec<(u16, PortStats)>,
    lcore_base: Vec<LcoreStats>,
    /// Lcore index the next hot-plugged task goes to (round robin).
    next_lcore: usize,
}

/// Everything the prompt commands act on.
pub(crate) struct Session<'a> {
    pub(crate) config: Config,
    registry: &'a Registry,
    pool: Mempool,
    ports: Vec<Option<Slot>>,
    running: Option<Running>,
    home: Sender<Queues>,
    docked: Receiver<Queues>,
    /// The last run's lcore counters, for `show lcore stats` once stopped.
    last_lcores: Vec<LcoreStats>,
    /// The CPUs this process may use, read before any lcore pinned itself.
    online: Vec<usize>,
}

impl<'a> Session<'a> {
    /// Creates the pool and opens the configured ports (ids 0..).
    pub(crate) fn open(config: Config, registry: &'a Registry, stop: &AtomicBool) -> Result<Self> {
        let online = online_cpus();
        let pool = Mempool::new("mbuf_pool", &run::pool_config(&config))
            .context("creating the mbuf pool")?;
        let mut ports = Vec::new();
        for (i, p) in config.ports.iter().enumerate() {
            let ready = run::open_port(&config.forwarding, registry, &pool, &p.devargs, i as u16)?;
            ports.push(Some(Slot::new(ready)));
        }
        if !config.forwarding.disable_link_check && !ports.is_empty() {
            let list: Vec<&Port> = ports.iter().flatten().map(Slot::port).collect();
            run::check_links(&list, stop);
        }
        let (home, docked) = mpsc::channel();
        Ok(Self {
            config,
            registry,
            pool,
            ports,
            running: None,
            home,
            docked,
            last_lcores: Vec::new(),
            online,
        })
    }

    pub(crate) fn is_forwarding(&self) -> bool {
        self.running.is_some()
    }

    /// The ids of the attached ports, ascending.
    pub(crate) fn port_ids(&self) -> Vec<u16> {
        (0..self.ports.len() as u16)
            .filter(|&i| self.ports[i as usize].is_some())
            .collect()
    }

    pub(crate) fn slot(&self, id: u16) -> Result<&Slot> {
        self.ports
            .get(id as usize)
            .and_then(Option::as_ref)
            .ok_or_else(|| anyhow!("invalid port {id} (ports: {:?})", self.port_ids()))
    }

    fn slot_mut(&mut self, id: u16) -> Result<&mut Slot> {
        let ids = self.port_ids();
        self.ports
            .get_mut(id as usize)
            .and_then(Option::as_mut)
            .ok_or_else(|| anyhow!("invalid port {id} (ports: {ids:?})"))
    }

    /// The forwarding lcores a run uses for `nb_streams` streams.
    pub(crate) fn fwd_lcores(&self, nb_streams: usize) -> Vec<u32> {
        let f = &self.config.forwarding;
        let workers = self.config.lcores.workers();
        let nb_tasks = nb_streams * run::tasks_per_stream(f);
        let n = (f.nb_cores as usize).min(nb_tasks).min(workers.len());
        workers[..n].to_vec()
    }

    fn peer(&self, tx: u16) -> [u8; 6] {
        let mac = self.slot(tx).map_or([0; 6], |s| s.port().info().mac);
        run::stream_ctx(&self.config.forwarding, &self.pool, 0, tx, mac).peer_mac
    }

    /// The streams: those running, or those `start` would build (testpmd's topology over
    /// the attached ports; rx queue q feeds tx queue q; task j on lcore j % lcores, as the
    /// non-interactive run places them).
    pub(crate) fn plan(&self) -> Vec<StreamPlan> {
        if let Some(r) = &self.running {
            return r.streams.iter().map(|s| s.plan).collect();
        }
        let f = &self.config.forwarding;
        let ids = self.port_ids();
        let mut pairs = Vec::new();
        for (i, &p) in ids.iter().enumerate() {
            let t = ids[run::tx_port(f.port_topology, i, ids.len())];
            pairs.extend((0..f.rxq as u16).map(|q| ((p, q), (t, q))));
        }
        let lcores = self.fwd_lcores(pairs.len());
        if lcores.is_empty() {
            return Vec::new();
        }
        let k = run::tasks_per_stream(f);
        let on = |j: usize| lcores[j % lcores.len()];
        pairs
            .into_iter()
            .enumerate()
            .map(|(i, (rx, tx))| StreamPlan {
                rx,
                tx,
                lcore: on(k * i),
                worker: f.pipeline.then(|| on(k * i + 1)),
                peer: self.peer(tx.0),
            })
            .collect()
    }

    /// Builds the tasks for `plan` (rx first) from the ports' idle queues, after `bursts`
    /// tx-first bursts.
    fn build(&mut self, plan: &StreamPlan, bursts: u32) -> Result<Built> {
        let (p, t) = (plan.rx.0, plan.tx.0);
        let rx = self.slot_mut(p)?.ready.rx[plan.rx.1 as usize]
            .take()
            .ok_or_else(|| anyhow!("port {p} rx queue {} is in use", plan.rx.1))?;
        let Some(mut tx) = self.slot_mut(t)?.ready.tx[plan.tx.1 as usize].take() else {
            self.slot_mut(p)?.ready.rx[plan.rx.1 as usize] = Some(rx);
            bail!("port {t} tx queue {} is in use", plan.tx.1);
        };
        let mac = self.slot(t)?.port().info().mac;
        let ctx = run::stream_ctx(&self.config.forwarding, &self.pool, p, t, mac);
        let stats = Arc::new(StreamStats::default());
        for _ in 0..bursts {
            Stream::send_one_burst(&mut tx, &ctx, &stats);
        }
        let tasks = run::stream_tasks(&self.config.forwarding, rx, tx, ctx, Arc::clone(&stats))?;
        let tasks = tasks
            .into_iter()
            .map(|t| Homing::boxed(t, self.home.clone()))
            .collect();
        Ok((tasks, stats))
    }

    /// Puts the queues of ended streams back in their ports (dropping those of a port
    /// being detached).
    fn dock(&mut self) {
        while let Ok((rx, tx)) = self.docked.try_recv() {
            if let Some(rx) = rx {
                if let Some(Some(s)) = self.ports.get_mut(rx.port() as usize) {
                    let q = rx.queue() as usize;
                    s.ready.rx[q] = Some(rx);
                }
            }
            if let Some(tx) = tx {
                if let Some(Some(s)) = self.ports.get_mut(tx.port() as usize) {
                    let q = tx.queue() as usize;
                    s.ready.tx[q] = Some(tx);
                }
            }
        }
    }

    /// `start [tx_first [n]]`.
    pub(crate) fn start(&mut self, tx_first: u32) -> Result<()> {
        if self.running.is_some() {
            bail!("packet forwarding already started");
        }
        let attached = self.ports.iter().flatten().map(Slot::port);
        if let Some(p) = attached.clone().find(|p| p.state() != PortState::Started) {
            let id = p.id();
            bail!("port {id} is not started (port start {id}, or port detach {id})");
        }
        let port_base: Vec<(u16, PortStats)> = attached.map(|p| (p.id(), p.stats())).collect();
        if port_base.is_empty() {
            bail!("no ports to forward on: port attach DEVARGS first");
        }
        if self.config.lcores.workers().is_empty() {
            bail!("no forwarding lcore: -l lists only the main lcore");
        }
        let plans = self.plan();
        let lcores = self.fwd_lcores(plans.len());
        print!(
            "{}",
            super::show::config_fwd(
                self.config.forwarding.mode,
                self.port_ids().len(),
                &lcores,
                &plans
            )
        );
        let mut lists: Vec<Vec<(Box<dyn PollTask>, u32)>> =
            lcores.iter().map(|_| Vec::new()).collect();
        let mut streams = Vec::new();
        for plan in &plans {
            match self.build(plan, tx_first) {
                Ok((tasks, stats)) => {
                    let places = std::iter::once(plan.lcore).chain(plan.worker);
                    let mut named = Vec::new();
                    for (task, lc) in tasks.into_iter().zip(places) {
                        let at = lcores.iter().position(|&l| l == lc).unwrap_or(0);
                        named.push((lc, task.name().to_owned()));
                        lists[at].push((task, DEFAULT_WEIGHT));
                    }
                    streams.push(RunningStream {
                        plan: *plan,
                        tasks: named,
                        stats,
                    });
                }
                Err(e) => {
                    drop(lists);
                    self.dock();
                    return Err(e);
                }
            }
        }
        let mut handles = Vec::new();
        for (&lc, list) in lcores.iter().zip(lists) {
            match Lcore::spawn(run::lcore_config(lc, &self.online), list) {
                Ok(h) => handles.push(h),
                Err(e) => {
                    for h in handles {
                        let _ = h.stop();
                    }
                    self.dock();
                    return Err(e).context(format!("starting forwarding lcore {lc}"));
                }
            }
        }
        let lcore_base = handles.iter().map(LcoreHandle::stats).collect();
        self.running = Some(Running {
            lcores: handles,
            streams,
            port_base,
            lcore_base,
            next_lcore: 0,
        });
        Ok(())
    }

    /// `stop`: stops the lcores, takes the queues back, prints testpmd's forward
    /// statistics since `start`.
    pub(crate) fn stop(&mut self) -> Result<()> {
        let Some(r) = self.running.take() else {
            bail!("packet forwarding not started");
        };
        println!("Telling cores to stop...\nWaiting for lcores to finish...");
        self.last_lcores = self.lcore_stats_of(&r);
        let mut failed = None;
        let mut ended = Vec::new();
        for h in r.lcores {
            let id = h.lcore_id();
            match h.stop() {
                Ok(tasks) => ended.push(tasks),
                Err(e) => {
                    failed = Some(anyhow!(e).context(format!("stopping forwarding lcore {id}")))
                }
            }
        }
        // Every lcore has stopped: dropping the tasks ends them (pipeline workers forward
        // what their rings hold) and sends their queues home.
        drop(ended);
        self.dock();
        let counts: Vec<StreamCounts<'_>> = r.streams.iter().map(RunningStream::counts).collect();
        let mut ids = Vec::new();
        let mut forward = Vec::new();
        for (id, base) in &r.port_base {
            let Ok(slot) = self.slot(*id) else { continue };
            let s = slot.port().stats().since(base);
            ids.push(*id);
            forward.push(FwdStats::of_port(*id, &s, &counts, &self.config.forwarding));
        }
        print!("{}", stats::forward_report(&ids, &forward));
        print!("{}", stats::lcore_report(&self.last_lcores));
        println!("\nDone.");
        failed.map_or(Ok(()), Err)
    }

    fn lcore_stats_of(&self, r: &Running) -> Vec<LcoreStats> {
        r.lcores
            .iter()
            .zip(&r.lcore_base)
            .map(|(h, b)| h.stats().since(b))
            .collect()
    }

    /// `show lcore stats`: the running lcores since `start`, else the last run's.
    pub(crate) fn lcore_stats(&self) -> Vec<LcoreStats> {
        self.running
            .as_ref()
            .map_or_else(|| self.last_lcores.clone(), |r| self.lcore_stats_of(r))
    }

    /// `show port stats N`: NIC statistics and the throughput since the last show.
    pub(crate) fn show_stats(&mut self, id: u16) -> Result<String> {
        let slot = self.slot_mut(id)?;
        let s = slot.port().stats();
        let text = stats::nic_stats(id, &s, &slot.shown, slot.shown_at.elapsed());
        slot.shown = s;
        slot.shown_at = Instant::now();
        Ok(text)
    }

    /// `clear port stats N`.
    pub(crate) fn clear_stats(&mut self, id: u16) -> Result<()> {
        let slot = self.slot_mut(id)?;
        slot.ready.port.stats_reset();
        slot.shown = PortStats::default();
        slot.shown_at = Instant::now();
        Ok(())
    }

    fn in_streams(&self, id: u16) -> bool {
        self.running.as_ref().is_some_and(|r| {
            r.streams
                .iter()
                .any(|s| s.plan.rx.0 == id || s.plan.tx.0 == id)
        })
    }

    /// `port start|stop|close N`: refused for a port that is forwarding, as testpmd does.
    pub(crate) fn port_op(&mut self, op: &str, id: u16, stop: &AtomicBool) -> Result<()> {
        if op != "start" && self.in_streams(id) {
            bail!("port {id} is forwarding: stop forwarding first, or port detach {id}");
        }
        let slot = self.slot_mut(id)?;
        let port = &mut slot.ready.port;
        match op {
            "start" => {
                port.start()?;
                run::check_links(&[&*port], stop);
            }
            "stop" => port.stop()?,
            _ => {
                port.close()?;
                println!("Port {id} is closed");
            }
        }
        Ok(())
    }

    /// `port attach DEVARGS`: probes, sets up and starts the port in the first free id;
    /// while forwarding, its streams (rx queue q -> its own tx queue q, so no running
    /// stream changes) join the running lcores.
    pub(crate) fn attach(&mut self, devargs: &str) -> Result<u16> {
        let id = self
            .ports
            .iter()
            .position(Option::is_none)
            .unwrap_or(self.ports.len());
        let ready = run::open_port(
            &self.config.forwarding,
            self.registry,
            &self.pool,
            devargs,
            id as u16,
        )?;
        let stats = ready.port.stats();
        if id == self.ports.len() {
            self.ports.push(None);
        }
        self.ports[id] = Some(Slot::new(ready));
        let id = id as u16;
        if self.running.is_some() {
            if let Err(e) = self.join_running(id, stats) {
                let _ = self.detach(id);
                return Err(e);
            }
        }
        Ok(id)
    }

    fn join_running(&mut self, id: u16, base: PortStats) -> Result<()> {
        if let Some(r) = self.running.as_mut() {
            r.port_base.push((id, base));
        }
        let peer = self.peer(id);
        let pipeline = self.config.forwarding.pipeline;
        for q in 0..self.config.forwarding.rxq as u16 {
            let Some(r) = self.running.as_mut() else {
                return Ok(());
            };
            let mut next = || {
                let at = r.next_lcore % r.lcores.len();
                r.next_lcore += 1;
                r.lcores[at].lcore_id()
            };
            let lcore = next();
            let worker = pipeline.then(next);
            let plan = StreamPlan {
                rx: (id, q),
                tx: (id, q),
                lcore,
                worker,
                peer,
            };
            let (tasks, stats) = self.build(&plan, 0)?;
            let Some(r) = self.running.as_mut() else {
                return Ok(());
            };
            let named = std::iter::once(lcore).chain(worker);
            let named = named.zip(tasks.iter().map(|t| t.name().to_owned()));
            r.streams.push(RunningStream {
                plan,
                tasks: named.collect(),
                stats,
            });
            // Rx first: a worker added alone would only find its ring empty.
            for (task, lc) in tasks.into_iter().zip(std::iter::once(lcore).chain(worker)) {
                let h = r.lcores.iter().find(|h| h.lcore_id() == lc);
                // On failure `attach` detaches the port, taking its streams off again.
                h.context("stream on an unknown lcore")?
                    .add_task(task, DEFAULT_WEIGHT)
                    .with_context(|| format!("adding port {id}'s stream to lcore {lc}"))?;
            }
        }
        Ok(())
    }

    /// `port detach N`: takes the port's streams (both ways) off the running lcores, then
    /// stops and closes it and frees its id.
    pub(crate) fn detach(&mut self, id: u16) -> Result<()> {
        self.slot(id)?;
        if let Some(r) = self.running.as_mut() {
            let (mine, others): (Vec<_>, Vec<_>) = r
                .streams
                .drain(..)
                .partition(|s| s.plan.rx.0 == id || s.plan.tx.0 == id);
            r.streams = others;
            r.port_base.retain(|(p, _)| *p != id);
            for (lc, task) in mine.iter().flat_map(|s| &s.tasks) {
                let h = r.lcores.iter().find(|h| h.lcore_id() == *lc);
                let h = h.context("stream on an unknown lcore")?;
                // Dropping the removed task sends its queues home; the lcore no longer
                // polls them once `remove_task` returns. Rx stages go first, so a
                // pipeline worker forwards all its ring will ever hold as it ends.
                h.remove_task(task)
                    .with_context(|| format!("removing stream {task:?} from lcore {lc}"))?;
            }
        }
        self.dock();
        let mut slot = self.ports[id as usize].take().expect("checked above");
        // Closing kills the port's queue handles; they are dropped with the slot.
        slot.ready.port.close()?;
        Ok(())
    }

    /// `quit`: stops forwarding if it runs, closes every port.
    pub(crate) fn quit(&mut self) -> Result<()> {
        let stopped = if self.running.is_some() {
            self.stop()
        } else {
            Ok(())
        };
        println!("Closing ports...");
        for port in self.ports.iter_mut().flatten().map(|s| &mut s.ready.port) {
            let id = port.id();
            if port.state() != PortState::Closed {
                match port.close() {
                    Ok(()) => println!("Port {id} is closed"),
                    Err(e) => eprintln!("vpmd-fwd: closing port {id}: {e}"),
                }
            }
        }
        println!("Done\n\nBye...");
        stopped
    }

    /// Number of attached ports.
    pub(crate) fn nb_ports(&self) -> usize {
        self.port_ids().len()
    }
}
