//! `--pipeline`: a stream split over two lcores, the product's shape. The rx stage polls
//! the rx queue and hands bursts to the worker through an SPSC ring; the worker is the
//! ordinary [`Stream`](crate::stream::Stream) reading the ring ([`RingRx`]) instead of
//! the queue, so every engine runs unchanged.
//!
//! A full ring drops what did not fit (counted as `ring_full`, shown as RX-ring-full):
//! the rx lcore must never wait for the worker. What is in the ring when forwarding stops
//! is forwarded by the worker as it ends ([`StreamTask::into_queues`]).

use std::sync::Arc;

use anyhow::{Context, Result};
use vpmd_fastpath::{spsc, PollTask, Producer};
use vpmd_mempool::{Burst, Mbuf};
use vpmd_pmd::PortRx;

use crate::stream::{Queues, RingRx, StreamStats, StreamTask};

/// The rx half of a pipelined stream: rx queue -> ring.
pub struct RxStage {
    name: String,
    rx: PortRx,
    ring: Producer<Mbuf>,
    pkts: Burst<Mbuf>,
    burst: usize,
    stats: Arc<StreamStats>,
}

impl RxStage {
    /// An rx stage on `rx` and the worker's end of its ring of `capacity` packets (a
    /// power of two).
    pub fn new(
        rx: PortRx,
        capacity: usize,
        burst: usize,
        stats: Arc<StreamStats>,
    ) -> Result<(Self, RingRx)> {
        let from = (rx.port(), rx.queue());
        let (ring, consumer) = spsc(capacity)
            .with_context(|| format!("creating the ring of RX P={}/Q={}", from.0, from.1))?;
        let stage = Self {
            name: format!("pipeline RX P={}/Q={} -> ring", from.0, from.1),
            rx,
            ring,
            pkts: Burst::with_capacity(burst),
            burst,
            stats,
        };
        Ok((
            stage,
            RingRx {
                ring: consumer,
                from,
            },
        ))
    }
}

impl PollTask for RxStage {
    fn name(&self) -> &str {
        &self.name
    }

    #[inline]
    fn poll(&mut self, budget: u32) -> u32 {
        let mut done = 0usize;
        loop {
            let n = self.rx.rx_burst(&mut self.pkts, self.burst);
            if n == 0 {
                return done as u32;
            }
            self.ring.enqueue_burst(&mut self.pkts);
            if !self.pkts.is_empty() {
                self.stats.ring_full.add(self.pkts.len() as u64);
                Mbuf::free_bulk(&mut self.pkts);
            }
            done += n;
            // A short burst means the queue is drained for now: let the next task run.
            if n < self.burst || done >= budget as usize {
                return done as u32;
            }
        }
    }
}

impl StreamTask for RxStage {
    fn into_queues(self: Box<Self>) -> Queues {
        (Some(self.rx), None)
    }
}
