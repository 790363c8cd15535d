//! `Port`: one device behind the ethdev state machine, and the queue handles it gives out.
//!
//! The state rules live here once for every driver: configure, then set up each queue,
//! then start; stop before reconfiguring; close last. Queue handles ([`PortRx`],
//! [`PortTx`]) check one word per burst, written by the control thread, to learn whether
//! their port is started and whether they still belong to its current configuration: no
//! lock and no extra call on the fast path.
//!
//! Everything here is generic over the pool (and so the buffers) the queues use; the
//! defaults are vpmd's own [`Mempool`] and [`Mbuf`], so native code writes `Port`,
//! `PortRx`, `PortTx`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use vpmd_mempool::{Burst, Mbuf, Mempool, PktBuf, PktPool};

use crate::dev::{DevInfo, EthDev, Link, PortConf};
use crate::devargs::Devargs;
use crate::error::PmdError;
use crate::offload;
use crate::queue::{RxQueue, TxQueue};
use crate::stats::{PortStats, RxCounters, TxCounters};

/// Where a port is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortState {
    /// Created from devargs, not configured.
    Probed,
    /// Configured; queues may be set up.
    Configured,
    /// Forwarding.
    Started,
    /// Stopped; may be started again or reconfigured.
    Stopped,
    /// Closed; only dropping is left.
    Closed,
}

impl PortState {
    fn name(self) -> &'static str {
        match self {
            PortState::Probed => "not configured",
            PortState::Configured => "configured",
            PortState::Started => "started",
            PortState::Stopped => "stopped",
            PortState::Closed => "closed",
        }
    }
}

/// The word queue handles watch: `epoch << 1 | started`. A handle is live only while the
/// word equals the value it was born with plus the started bit.
#[derive(Debug, Default)]
struct Gate(AtomicU64);

impl Gate {
    fn live_word(epoch: u64) -> u64 {
        epoch << 1 | 1
    }
    /// Release: everything the driver did to start happens before a queue sees "live".
    fn publish(&self, epoch: u64, started: bool) {
        self.0.store(epoch << 1 | started as u64, Ordering::Release);
    }
    /// Acquire pairs with `publish`.
    #[inline]
    fn is(&self, live: u64) -> bool {
        self.0.load(Ordering::Acquire) == live
    }
}

/// A device with its ethdev state, statistics and queue bookkeeping, its queues filled
/// from pools of type `P`.
pub struct Port<P: PktPool = Mempool> {
    id: u16,
    devargs: Devargs,
    dev: Box<dyn EthDev<P>>,
    state: PortState,
    conf: PortConf,
    epoch: u64,
    gate: Arc<Gate>,
    rxq: Vec<Option<Arc<RxCounters>>>,
    txq: Vec<Option<Arc<TxCounters>>>,
    baseline: PortStats,
    xbaseline: Vec<(String, u64)>,
}

impl<P: PktPool> std::fmt::Debug for Port<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Port")
            .field("id", &self.id)
            .field("devargs", &self.devargs.to_string())
            .field("state", &self.state)
            .finish()
    }
}

impl<P: PktPool> Port<P> {
    /// Wraps a probed device.
    pub fn new(id: u16, devargs: Devargs, dev: Box<dyn EthDev<P>>) -> Self {
        Self {
            id,
            devargs,
            dev,
            state: PortState::Probed,
            conf: PortConf::default(),
            epoch: 0,
            gate: Arc::default(),
            rxq: Vec::new(),
            txq: Vec::new(),
            baseline: PortStats::default(),
            xbaseline: Vec::new(),
        }
    }

    /// The port id.
    pub fn id(&self) -> u16 {
        self.id
    }

    /// The devargs the port was created from.
    pub fn devargs(&self) -> &Devargs {
        &self.devargs
    }

    /// The current state.
    pub fn state(&self) -> PortState {
        self.state
    }

    /// Capabilities and limits.
    pub fn info(&self) -> DevInfo {
        self.dev.info()
    }

    /// Link state.
    pub fn link(&self) -> Link {
        self.dev.link()
    }

    /// Number of configured rx and tx queues.
    pub fn nb_queues(&self) -> (u16, u16) {
        (self.rxq.len() as u16, self.txq.len() as u16)
    }

    fn require(&self, op: &'static str, allowed: &[PortState]) -> Result<(), PmdError> {
        if allowed.contains(&self.state) {
            Ok(())
        } else {
            Err(PmdError::State {
                port: self.id,
                op,
                state: self.state.name(),
            })
        }
    }

    fn range(&self, what: &'static str, value: u32, max: u32) -> Result<(), PmdError> {
        if value > max {
            return Err(PmdError::Range {
                port: self.id,
                what,
                value,
                max,
            });
        }
        Ok(())
    }

    /// Sets the queue counts and offloads (`rte_eth_dev_configure`). Queue handles from an
    /// earlier configuration go dead.
    pub fn configure(&mut self, nb_rxq: u16, nb_txq: u16, conf: PortConf) -> Result<(), PmdError> {
        use PortState::*;
        self.require("configure", &[Probed, Configured, Stopped])?;
        let info = self.dev.info();
        self.range("nb_rxq", nb_rxq as u32, info.max_rx_queues as u32)?;
        self.range("nb_txq", nb_txq as u32, info.max_tx_queues as u32)?;
        for (rx, want, capa) in [
            (true, conf.rx_offloads, info.rx_offload_capa),
            (false, conf.tx_offloads, info.tx_offload_capa),
        ] {
            let missing = want & !capa;
            if missing != 0 {
                return Err(PmdError::Offload {
                    port: self.id,
                    dir: if rx { "rx" } else { "tx" },
                    name: offload::name(rx, 1 << missing.trailing_zeros()),
                    driver: info.driver,
                });
            }
        }
        if let Some(mtu) = conf.mtu {
            if mtu < info.min_mtu || mtu > info.max_mtu {
                return Err(PmdError::Range {
                    port: self.id,
                    what: "mtu",
                    value: mtu.into(),
                    max: info.max_mtu.into(),
                });
            }
        }
        self.dev.configure(nb_rxq, nb_txq, &conf)?;
        self.epoch += 1;
        self.gate.publish(self.epoch, false);
        self.conf = conf;
        self.rxq = vec![None; nb_rxq as usize];
        self.txq = vec![None; nb_txq as usize];
        self.baseline = PortStats::default();
        self.xbaseline.clear();
        self.state = Configured;
        Ok(())
    }

    /// Queue `q` exists among `configured` and `nb_desc` is within the driver's limits.
    fn check_queue(
        &self,
        what: &'static str,
        q: u16,
        configured: usize,
        nb_desc: u16,
    ) -> Result<(), PmdError> {
        if q as usize >= configured {
            return Err(PmdError::Range {
                port: self.id,
                what,
                value: q.into(),
                max: (configured as u32).saturating_sub(1),
            });
        }
        let info = self.dev.info();
        if nb_desc < info.min_desc || nb_desc > info.max_desc {
            return Err(PmdError::Range {
                port: self.id,
                what: "nb_desc",
                value: nb_desc.into(),
                max: info.max_desc.into(),
            });
        }
        Ok(())
    }

    /// Sets up rx queue `q` and returns its handle, to be moved to the polling lcore.
    pub fn rx_queue_setup(
        &mut self,
        q: u16,
        nb_desc: u16,
        pool: &P,
    ) -> Result<PortRx<P::Buf>, PmdError> {
        use PortState::*;
        self.require("set up an rx queue", &[Configured, Stopped])?;
        self.check_queue("rx queue", q, self.rxq.len(), nb_desc)?;
        let counters = Arc::new(RxCounters::default());
        let inner = self
            .dev
            .rx_queue_setup(q, nb_desc, pool, Arc::clone(&counters))?;
        self.rxq[q as usize] = Some(counters);
        Ok(PortRx {
            inner,
            gate: Arc::clone(&self.gate),
            live: Gate::live_word(self.epoch),
            port: self.id,
            queue: q,
        })
    }

    /// Sets up tx queue `q` and returns its handle.
    pub fn tx_queue_setup(&mut self, q: u16, nb_desc: u16) -> Result<PortTx<P::Buf>, PmdError> {
        use PortState::*;
        self.require("set up a tx queue", &[Configured, Stopped])?;
        self.check_queue("tx queue", q, self.txq.len(), nb_desc)?;
        let counters = Arc::new(TxCounters::default());
        let inner = self.dev.tx_queue_setup(q, nb_desc, Arc::clone(&counters))?;
        self.txq[q as usize] = Some(counters);
        Ok(PortTx {
            inner,
            gate: Arc::clone(&self.gate),
            live: Gate::live_word(self.epoch),
            port: self.id,
            queue: q,
        })
    }

    /// Starts the port; every configured queue must have been set up.
    pub fn start(&mut self) -> Result<(), PmdError> {
        use PortState::*;
        self.require("start", &[Configured, Stopped])?;
        if let Some(q) = self.rxq.iter().position(Option::is_none) {
            return Err(self.not_set_up("rx", q));
        }
        if let Some(q) = self.txq.iter().position(Option::is_none) {
            return Err(self.not_set_up("tx", q));
        }
        self.dev.start()?;
        self.gate.publish(self.epoch, true);
        self.state = Started;
        Ok(())
    }

    fn not_set_up(&self, dir: &str, q: usize) -> PmdError {
        PmdError::Driver {
            port: self.id,
            driver: self.dev.info().driver,
            reason: format!("{dir} queue {q} was configured but never set up"),
        }
    }

    /// Stops the port: its queue handles return 0 from their next burst on.
    pub fn stop(&mut self) -> Result<(), PmdError> {
        self.require("stop", &[PortState::Started])?;
        self.gate.publish(self.epoch, false);
        self.dev.stop()?;
        self.state = PortState::Stopped;
        Ok(())
    }

    /// Closes the port (stopping it first if needed).
    pub fn close(&mut self) -> Result<(), PmdError> {
        if self.state == PortState::Started {
            self.stop()?;
        }
        self.require(
            "close",
            &[PortState::Probed, PortState::Configured, PortState::Stopped],
        )?;
        self.epoch += 1;
        self.gate.publish(self.epoch, false);
        self.dev.close()?;
        self.state = PortState::Closed;
        Ok(())
    }

    fn raw_stats(&self) -> PortStats {
        let rx: Vec<_> = self.rxq.iter().flatten().cloned().collect();
        let tx: Vec<_> = self.txq.iter().flatten().cloned().collect();
        PortStats::collect(&rx, &tx)
    }

    /// Statistics since the last reset (`rte_eth_stats_get`).
    pub fn stats(&self) -> PortStats {
        self.raw_stats().since(&self.baseline)
    }

    /// Generic then driver xstats since the last reset, DPDK-style names.
    pub fn xstats(&self) -> Vec<(String, u64)> {
        let mut x = self.stats().xstats();
        x.extend(self.dev.xstats().into_iter().map(|(k, v)| {
            let base = self
                .xbaseline
                .iter()
                .find(|(bk, _)| *bk == k)
                .map_or(0, |(_, b)| *b);
            (k, v.wrapping_sub(base))
        }));
        x
    }

    /// Resets statistics and xstats to zero (`rte_eth_stats_reset`).
    pub fn stats_reset(&mut self) {
        self.baseline = self.raw_stats();
        self.xbaseline = self.dev.xstats();
    }
}

/// An rx queue handle: `Send`, owned by the lcore that polls it.
pub struct PortRx<B: PktBuf = Mbuf> {
    inner: Box<dyn RxQueue<B>>,
    gate: Arc<Gate>,
    live: u64,
    port: u16,
    queue: u16,
}

impl<B: PktBuf> PortRx<B> {
    /// Receives up to `max` packets into `out` (DPDK's `rte_eth_rx_burst`); 0 while the
    /// port is stopped or this handle belongs to an old configuration.
    #[inline]
    pub fn rx_burst(&mut self, out: &mut Burst<B>, max: usize) -> usize {
        if !self.gate.is(self.live) {
            return 0;
        }
        self.inner.rx_burst(out, max)
    }

    /// The port id.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The queue index.
    pub fn queue(&self) -> u16 {
        self.queue
    }
}

/// A tx queue handle: `Send`, owned by the lcore that polls it.
pub struct PortTx<B: PktBuf = Mbuf> {
    inner: Box<dyn TxQueue<B>>,
    gate: Arc<Gate>,
    live: u64,
    port: u16,
    queue: u16,
}

impl<B: PktBuf> PortTx<B> {
    /// Sends from the front of `pkts` (DPDK's `rte_eth_tx_burst`); what is not taken stays.
    #[inline]
    pub fn tx_burst(&mut self, pkts: &mut Burst<B>) -> usize {
        if !self.gate.is(self.live) {
            return 0;
        }
        self.inner.tx_burst(pkts)
    }

    /// The port id.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The queue index.
    pub fn queue(&self) -> u16 {
        self.queue
    }
}
