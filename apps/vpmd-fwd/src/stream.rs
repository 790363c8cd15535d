//! A forwarding stream: one rx queue to one tx queue through an engine, polled as a task
//! by a forwarding lcore. Under `--pipeline` the same stream reads a ring an rx lcore
//! fills instead of the rx queue (`pipeline.rs`): a [`Source`] is either.

use std::sync::Arc;

use vpmd_fastpath::{Consumer, PollTask};
use vpmd_mempool::{Burst, Mbuf};
use vpmd_pmd::{Counter, PortRx, PortTx};

use crate::engine::{Engine, StreamCtx, TxOnly};

/// A stream's forwarding counters (each with a single writer: the lcore polling it).
#[derive(Debug, Default)]
pub struct StreamStats {
    /// Packets received.
    pub rx: Counter,
    /// Packets sent.
    pub tx: Counter,
    /// Packets the tx queue did not take, freed (testpmd's `fwd_dropped`).
    pub dropped: Counter,
    /// Received packets with a bad IPv4 header checksum (csum mode; `rx_bad_ip_csum`).
    pub bad_ip_csum: Counter,
    /// Received packets with a bad TCP/UDP checksum (csum mode; `rx_bad_l4_csum`).
    pub bad_l4_csum: Counter,
    /// Received packets dropped because the ring to the worker lcore was full
    /// (`--pipeline`; written by the rx lcore, the others by the worker).
    pub ring_full: Counter,
}

/// Where a stream's packets come from: its rx queue, or the ring an rx lcore fills.
pub trait Source: Send + 'static {
    /// Appends up to `max` packets to `pkts`; returns how many.
    fn recv(&mut self, pkts: &mut Burst<Mbuf>, max: usize) -> usize;
    /// Received packets still waiting that stopping must forward (a ring's; a port queue
    /// keeps its packets for the next start).
    fn pending(&self) -> usize;
    /// How the stream's name shows the source.
    fn label(&self) -> String;
    /// The rx queue to give back when the stream ends, if the source is one.
    fn into_rx(self) -> Option<PortRx>;
}

impl Source for PortRx {
    #[inline]
    fn recv(&mut self, pkts: &mut Burst<Mbuf>, max: usize) -> usize {
        self.rx_burst(pkts, max)
    }

    fn pending(&self) -> usize {
        0
    }

    fn label(&self) -> String {
        format!("RX P={}/Q={}", self.port(), self.queue())
    }

    fn into_rx(self) -> Option<PortRx> {
        Some(self)
    }
}

/// The worker's end of a `--pipeline` ring, named after the rx queue feeding it.
pub struct RingRx {
    /// The ring.
    pub ring: Consumer<Mbuf>,
    /// Port and queue the rx lcore polls into the ring.
    pub from: (u16, u16),
}

impl Source for RingRx {
    #[inline]
    fn recv(&mut self, pkts: &mut Burst<Mbuf>, max: usize) -> usize {
        self.ring.dequeue_burst(pkts, max)
    }

    fn pending(&self) -> usize {
        self.ring.len()
    }

    fn label(&self) -> String {
        format!("ring from RX P={}/Q={}", self.from.0, self.from.1)
    }

    fn into_rx(self) -> Option<PortRx> {
        None
    }
}

/// A source -> engine -> tx queue pipeline.
pub struct Stream<E: Engine, S: Source = PortRx> {
    name: String,
    rx: S,
    tx: PortTx,
    ctx: StreamCtx,
    engine: E,
    pkts: Burst<Mbuf>,
    stats: Arc<StreamStats>,
}

impl<E: Engine, S: Source> Stream<E, S> {
    /// A stream from `rx` to `tx`.
    pub fn new(rx: S, tx: PortTx, ctx: StreamCtx, stats: Arc<StreamStats>) -> Self {
        let name = format!(
            "{} {} -> TX P={}/Q={}",
            E::NAME,
            rx.label(),
            tx.port(),
            tx.queue()
        );
        Self {
            name,
            engine: E::new(&ctx),
            pkts: Burst::with_capacity(ctx.burst),
            rx,
            tx,
            ctx,
            stats,
        }
    }

    /// One burst: receive (if the engine does), process, transmit, free the rest.
    #[inline]
    fn burst(&mut self) -> (usize, usize) {
        let n = if E::RECEIVES {
            let n = self.rx.recv(&mut self.pkts, self.ctx.burst);
            if n == 0 && !E::GENERATES {
                return (0, 0);
            }
            self.stats.rx.add(n as u64);
            n
        } else {
            0
        };
        self.engine.fwd(&mut self.pkts, &self.ctx, &self.stats);
        let offered = self.pkts.len();
        let sent = transmit(&mut self.tx, &mut self.pkts, &self.stats);
        self.engine.sent(offered, sent);
        (n, sent)
    }

    /// Forwards what the source still holds, bounded by what it held when called (the
    /// lcore filling it has stopped by then; the bound only guards against one that has not).
    fn drain(&mut self) {
        if !E::RECEIVES {
            return;
        }
        let mut left = self.rx.pending();
        while left > 0 {
            let (n, _) = self.burst();
            if n == 0 {
                break;
            }
            left = left.saturating_sub(n);
        }
    }
}

/// The queues a task gives back when it ends: a stream has both, a `--pipeline` rx
/// stage only the rx queue, its worker only the tx queue.
pub type Queues = (Option<PortRx>, Option<PortTx>);

/// A stream as a task that can end and give its queues back, so a stopped session keeps
/// them (and what is in their rings) for the next start.
pub trait StreamTask: PollTask {
    /// Ends the task (forwarding what its source still holds), returning its queues.
    fn into_queues(self: Box<Self>) -> Queues;
}

impl<E: Engine, S: Source> StreamTask for Stream<E, S> {
    fn into_queues(mut self: Box<Self>) -> Queues {
        self.drain();
        (self.rx.into_rx(), Some(self.tx))
    }
}

impl Stream<TxOnly> {
    /// testpmd's `--tx-first`: one txonly burst on `tx` before forwarding starts (ring
    /// ports start empty, so io forwarding has nothing to move without it).
    pub fn send_one_burst(tx: &mut PortTx, ctx: &StreamCtx, stats: &StreamStats) {
        let mut pkts = Burst::with_capacity(ctx.burst);
        TxOnly::new(ctx).fwd(&mut pkts, ctx, stats);
        transmit(tx, &mut pkts, stats);
    }
}

/// Sends `pkts`, frees and counts what the queue refused; returns how many were sent.
#[inline]
fn transmit(tx: &mut PortTx, pkts: &mut Burst<Mbuf>, stats: &StreamStats) -> usize {
    if pkts.is_empty() {
        return 0;
    }
    let offered = pkts.len();
    let sent = tx.tx_burst(pkts);
    stats.tx.add(sent as u64);
    if sent < offered {
        stats.dropped.add((offered - sent) as u64);
        Mbuf::free_bulk(pkts);
    }
    sent
}

impl<E: Engine, S: Source> PollTask for Stream<E, S> {
    fn name(&self) -> &str {
        &self.name
    }

    #[inline]
    fn poll(&mut self, budget: u32) -> u32 {
        let mut done = 0usize;
        loop {
            let (rx, tx) = self.burst();
            let work = rx.max(tx);
            done += work;
            // A short burst means the queue is drained for now: let the next task run.
            if work < self.ctx.burst || done >= budget as usize {
                return done as u32;
            }
        }
    }
}
