//! A forwarding stream: one rx queue to one tx queue through an engine, polled as a task
//! by a forwarding lcore.

use std::sync::Arc;

use vpmd_fastpath::PollTask;
use vpmd_mempool::{Burst, Mbuf};
use vpmd_pmd::{Counter, PortRx, PortTx};

use crate::engine::{Engine, StreamCtx, TxOnly};

/// A stream's forwarding counters (single writer: the lcore polling it).
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
}

/// An rx queue -> engine -> tx queue pipeline.
pub struct Stream<E: Engine> {
    name: String,
    rx: PortRx,
    tx: PortTx,
    ctx: StreamCtx,
    engine: E,
    pkts: Burst<Mbuf>,
    stats: Arc<StreamStats>,
}

impl<E: Engine> Stream<E> {
    /// A stream from `rx` to `tx`.
    pub fn new(rx: PortRx, tx: PortTx, ctx: StreamCtx, stats: Arc<StreamStats>) -> Self {
        let name = format!(
            "{} RX P={}/Q={} -> TX P={}/Q={}",
            E::NAME,
            rx.port(),
            rx.queue(),
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
            let n = self.rx.rx_burst(&mut self.pkts, self.ctx.burst);
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
}

/// A stream as a task that can end and give its queues back, so a stopped session keeps
/// them (and what is in their rings) for the next start.
pub trait StreamTask: PollTask {
    /// Ends the stream, returning its rx and tx queues.
    fn into_queues(self: Box<Self>) -> (PortRx, PortTx);
}

impl<E: Engine> StreamTask for Stream<E> {
    fn into_queues(self: Box<Self>) -> (PortRx, PortTx) {
        (self.rx, self.tx)
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

impl<E: Engine> PollTask for Stream<E> {
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
