//! Port and queue statistics, DPDK's `rte_eth_stats` and generic xstats names.
//!
//! Each queue has one writer, the lcore that polls it, so counters are bumped with a
//! relaxed load and store (no read-modify-write on the fast path) and read by anyone.
//! Resetting never writes a counter: the port keeps a baseline and reports the
//! difference, so a reset cannot race with the writer.

use std::sync::atomic::{AtomicU64, Ordering};

/// A monotonically increasing counter with a single writer.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds `n`. Only the queue's owning lcore calls this.
    #[inline]
    pub fn add(&self, n: u64) {
        self.0.store(
            self.0.load(Ordering::Relaxed).wrapping_add(n),
            Ordering::Relaxed,
        );
    }

    /// The current value.
    #[inline]
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// What an rx queue counts. Drivers count every field.
#[derive(Debug, Default)]
pub struct RxCounters {
    /// Packets handed to the caller.
    pub packets: Counter,
    /// Bytes handed to the caller.
    pub bytes: Counter,
    /// Packets dropped because of an error in what the peer sent.
    pub errors: Counter,
    /// Packets the peer offered that vpmd could not take (`imissed`).
    pub missed: Counter,
    /// Buffer allocation failures (`rx_nombuf`).
    pub nombuf: Counter,
}

impl RxCounters {
    /// Counts `pkts` (just received) as delivered packets and bytes.
    #[inline]
    pub fn count<B: vpmd_mempool::PktBuf>(&self, pkts: &[B]) {
        let bytes: u64 = pkts.iter().map(|m| m.pkt_len() as u64).sum();
        self.packets.add(pkts.len() as u64);
        self.bytes.add(bytes);
    }
}

/// What a tx queue counts. Drivers count every field.
#[derive(Debug, Default)]
pub struct TxCounters {
    /// Packets sent.
    pub packets: Counter,
    /// Bytes sent.
    pub bytes: Counter,
    /// Packets taken from the caller but dropped by the driver.
    pub errors: Counter,
}

/// Per-queue figures inside [`PortStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct QueueStats {
    /// Packets.
    pub packets: u64,
    /// Bytes.
    pub bytes: u64,
    /// Errors.
    pub errors: u64,
}

impl QueueStats {
    fn read(packets: &Counter, bytes: &Counter, errors: &Counter) -> Self {
        Self {
            packets: packets.get(),
            bytes: bytes.get(),
            errors: errors.get(),
        }
    }
}

/// A port's statistics (`rte_eth_stats`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct PortStats {
    /// Received packets.
    pub ipackets: u64,
    /// Sent packets.
    pub opackets: u64,
    /// Received bytes.
    pub ibytes: u64,
    /// Sent bytes.
    pub obytes: u64,
    /// Packets the peer offered that were not taken.
    pub imissed: u64,
    /// Receive errors.
    pub ierrors: u64,
    /// Transmit errors.
    pub oerrors: u64,
    /// Buffer allocation failures.
    pub rx_nombuf: u64,
    /// Per rx queue.
    pub rxq: Vec<QueueStats>,
    /// Per tx queue.
    pub txq: Vec<QueueStats>,
}

impl PortStats {
    /// Sums the counters of a port's queues.
    pub fn collect(rx: &[std::sync::Arc<RxCounters>], tx: &[std::sync::Arc<TxCounters>]) -> Self {
        let mut s = PortStats::default();
        for q in rx {
            let qs = QueueStats::read(&q.packets, &q.bytes, &q.errors);
            s.ipackets += qs.packets;
            s.ibytes += qs.bytes;
            s.ierrors += qs.errors;
            s.imissed += q.missed.get();
            s.rx_nombuf += q.nombuf.get();
            s.rxq.push(qs);
        }
        for q in tx {
            let qs = QueueStats::read(&q.packets, &q.bytes, &q.errors);
            s.opackets += qs.packets;
            s.obytes += qs.bytes;
            s.oerrors += qs.errors;
            s.txq.push(qs);
        }
        s
    }

    /// DPDK's generic xstats for these figures, in DPDK's order and names.
    pub fn xstats(&self) -> Vec<(String, u64)> {
        let mut x: Vec<(String, u64)> = [
            ("rx_good_packets", self.ipackets),
            ("tx_good_packets", self.opackets),
            ("rx_good_bytes", self.ibytes),
            ("tx_good_bytes", self.obytes),
            ("rx_missed_errors", self.imissed),
            ("rx_errors", self.ierrors),
            ("tx_errors", self.oerrors),
            ("rx_mbuf_allocation_errors", self.rx_nombuf),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        for (i, q) in self.rxq.iter().enumerate() {
            x.push((format!("rx_q{i}_packets"), q.packets));
            x.push((format!("rx_q{i}_bytes"), q.bytes));
            x.push((format!("rx_q{i}_errors"), q.errors));
        }
        for (i, q) in self.txq.iter().enumerate() {
            x.push((format!("tx_q{i}_packets"), q.packets));
            x.push((format!("tx_q{i}_bytes"), q.bytes));
        }
        x
    }

    /// `self - base`, field by field (counters only grow, so this is the count since
    /// `base` was taken).
    pub fn since(&self, base: &PortStats) -> PortStats {
        let q = |a: &[QueueStats], b: &[QueueStats]| {
            a.iter()
                .enumerate()
                .map(|(i, x)| {
                    let y = b.get(i).copied().unwrap_or_default();
                    QueueStats {
                        packets: x.packets.wrapping_sub(y.packets),
                        bytes: x.bytes.wrapping_sub(y.bytes),
                        errors: x.errors.wrapping_sub(y.errors),
                    }
                })
                .collect()
        };
        PortStats {
            ipackets: self.ipackets.wrapping_sub(base.ipackets),
            opackets: self.opackets.wrapping_sub(base.opackets),
            ibytes: self.ibytes.wrapping_sub(base.ibytes),
            obytes: self.obytes.wrapping_sub(base.obytes),
            imissed: self.imissed.wrapping_sub(base.imissed),
            ierrors: self.ierrors.wrapping_sub(base.ierrors),
            oerrors: self.oerrors.wrapping_sub(base.oerrors),
            rx_nombuf: self.rx_nombuf.wrapping_sub(base.rx_nombuf),
            rxq: q(&self.rxq, &base.rxq),
            txq: q(&self.txq, &base.txq),
        }
    }
}
