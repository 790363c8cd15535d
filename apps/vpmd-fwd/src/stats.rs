//! testpmd's statistics layouts (`show port stats`, the `stop` forward statistics) and
//! the JSON dump of the final figures.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;
use vpmd_config::{ForwardMode, ForwardingConfig};
use vpmd_fastpath::LcoreStats;
use vpmd_pmd::PortStats;

use crate::stream::StreamStats;

/// `show port stats`: one port's NIC statistics and the throughput since the last show.
pub fn nic_stats(port: u16, s: &PortStats, last: &PortStats, dt: Duration) -> String {
    let secs = dt.as_secs_f64().max(1e-9);
    let rate = |now: u64, before: u64| (now.saturating_sub(before) as f64 / secs) as u64;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "\n  ######################## NIC statistics for port {port:<2} ########################"
    );
    let _ = writeln!(
        o,
        "  RX-packets: {:<10} RX-missed: {:<10} RX-bytes:  {}",
        s.ipackets, s.imissed, s.ibytes
    );
    let _ = writeln!(o, "  RX-errors: {}", s.ierrors);
    let _ = writeln!(o, "  RX-nombuf:  {:<10}", s.rx_nombuf);
    let _ = writeln!(
        o,
        "  TX-packets: {:<10} TX-errors: {:<10} TX-bytes:  {}",
        s.opackets, s.oerrors, s.obytes
    );
    let _ = writeln!(o, "\n  Throughput (since last show)");
    let _ = writeln!(
        o,
        "  Rx-pps: {:>12}          Rx-bps: {:>12}",
        rate(s.ipackets, last.ipackets),
        rate(s.ibytes, last.ibytes) * 8
    );
    let _ = writeln!(
        o,
        "  Tx-pps: {:>12}          Tx-bps: {:>12}",
        rate(s.opackets, last.opackets),
        rate(s.obytes, last.obytes) * 8
    );
    let _ = writeln!(
        o,
        "  ############################################################################"
    );
    o
}

/// Forwarding figures of one port over a run, as testpmd's `stop` prints them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FwdStats {
    /// Packets received.
    pub rx_packets: u64,
    /// Packets the port missed (`imissed`).
    pub rx_dropped: u64,
    /// Packets sent.
    pub tx_packets: u64,
    /// Packets the tx queue refused, freed by the app.
    pub tx_dropped: u64,
    /// Received with a bad IPv4 header checksum; only in csum mode, as testpmd.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bad_ip_csum: Option<u64>,
    /// Received with a bad TCP/UDP checksum; only in csum mode, as testpmd.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bad_l4_csum: Option<u64>,
    /// Received but dropped because the stream's ring to its worker lcore was full; only
    /// with `--pipeline`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rx_ring_full: Option<u64>,
}

/// A stream as the `stop` report counts it: its ports and its counters.
#[derive(Debug, Clone, Copy)]
pub struct StreamCounts<'a> {
    /// Port it receives from.
    pub rx_port: u16,
    /// Port it sends to.
    pub tx_port: u16,
    /// Its counters.
    pub stats: &'a StreamStats,
}

impl FwdStats {
    /// Port `id`'s figures over a run: its NIC statistics `s`, the tx drops of the streams
    /// sending to it and, counted on the rx port as testpmd does, the bad checksums (csum
    /// mode only) and ring-full drops (`--pipeline` only) of the streams receiving from it.
    /// The non-interactive run and the prompt's `stop` both report through this.
    pub fn of_port(
        id: u16,
        s: &PortStats,
        streams: &[StreamCounts<'_>],
        f: &ForwardingConfig,
    ) -> Self {
        let sum = |to: bool, count: fn(&StreamStats) -> u64| -> u64 {
            streams
                .iter()
                .filter(|c| if to { c.tx_port == id } else { c.rx_port == id })
                .map(|c| count(c.stats))
                .sum()
        };
        let csum = f.mode == ForwardMode::Csum;
        Self {
            rx_packets: s.ipackets,
            rx_dropped: s.imissed,
            tx_packets: s.opackets,
            tx_dropped: sum(true, |c| c.dropped.get()),
            bad_ip_csum: csum.then(|| sum(false, |c| c.bad_ip_csum.get())),
            bad_l4_csum: csum.then(|| sum(false, |c| c.bad_l4_csum.get())),
            rx_ring_full: f.pipeline.then(|| sum(false, |c| c.ring_full.get())),
        }
    }

    /// Adds another port's packet figures (for the accumulated lines, which testpmd prints
    /// without checksum counts; ring-full drops are packets, so they add up too).
    pub fn add(&mut self, o: &FwdStats) {
        self.rx_packets += o.rx_packets;
        self.rx_dropped += o.rx_dropped;
        self.tx_packets += o.tx_packets;
        self.tx_dropped += o.tx_dropped;
        if let Some(n) = o.rx_ring_full {
            *self.rx_ring_full.get_or_insert(0) += n;
        }
    }

    fn lines(&self) -> String {
        let mut o = format!(
            "  RX-packets: {:<14} RX-dropped: {:<14} RX-total: {}\n",
            self.rx_packets,
            self.rx_dropped,
            self.rx_packets + self.rx_dropped
        );
        if let Some(n) = self.rx_ring_full {
            let _ = writeln!(o, "  RX-ring-full: {n}");
        }
        if let (Some(ip), Some(l4)) = (self.bad_ip_csum, self.bad_l4_csum) {
            // testpmd's csum lines; vpmd parses no tunnels, so the outer counts are 0.
            let _ = write!(
                o,
                "  Bad-ipcsum: {ip:<14} Bad-l4csum: {l4:<14} Bad-outer-l4csum: 0\n  Bad-outer-ipcsum: 0\n"
            );
        }
        let _ = writeln!(
            o,
            "  TX-packets: {:<14} TX-dropped: {:<14} TX-total: {}",
            self.tx_packets,
            self.tx_dropped,
            self.tx_packets + self.tx_dropped
        );
        o
    }
}

/// The sum over ports.
pub fn accumulated(ports: &[FwdStats]) -> FwdStats {
    let mut total = FwdStats::default();
    for p in ports {
        total.add(p);
    }
    total
}

/// The `stop` report: per port (`ids[i]` is the id of `ports[i]`), then accumulated.
pub fn forward_report(ids: &[u16], ports: &[FwdStats]) -> String {
    let mut o = String::new();
    for (i, p) in ids.iter().zip(ports) {
        let _ = write!(
            o,
            "\n  ---------------------- Forward statistics for port {i:<2} ----------------------\n{}  ----------------------------------------------------------------------------\n",
            p.lines()
        );
    }
    let _ = write!(
        o,
        "\n  +++++++++++++++ Accumulated forward statistics for all ports+++++++++++++++\n{}  ++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++\n",
        accumulated(ports).lines()
    );
    o
}

/// `show lcore stats`, OVS `pmd-stats-show` style.
pub fn lcore_report(lcores: &[LcoreStats]) -> String {
    let mut o = String::new();
    for l in lcores {
        let _ = writeln!(
            o,
            "  lcore {}: packets {}, busy {:.1}%, cycles/packet {}, iterations {}",
            l.lcore_id,
            l.packets,
            l.busy_percent(),
            l.cycles_per_packet()
                .map_or_else(|| "-".to_string(), |c| format!("{c:.1}")),
            l.iterations
        );
    }
    o
}

/// One port in the JSON dump.
#[derive(Debug, Serialize)]
pub struct PortJson {
    /// Port id.
    pub port: u16,
    /// Devargs it was created from.
    pub devargs: String,
    /// NIC statistics over the run (`ipackets`, `opackets`, ... and per queue).
    #[serde(flatten)]
    pub stats: PortStats,
    /// Forwarding figures.
    pub forward: FwdStats,
}

/// One forwarding lcore in the JSON dump.
#[derive(Debug, Serialize)]
pub struct LcoreJson {
    /// Lcore id.
    pub lcore: u32,
    /// Packets moved.
    pub packets: u64,
    /// TSC cycles in iterations that moved packets.
    pub busy_cycles: u64,
    /// TSC cycles in empty iterations.
    pub idle_cycles: u64,
    /// Busy cycles per packet.
    pub cycles_per_packet: Option<f64>,
}

impl From<&LcoreStats> for LcoreJson {
    fn from(l: &LcoreStats) -> Self {
        Self {
            lcore: l.lcore_id,
            packets: l.packets,
            busy_cycles: l.busy_cycles,
            idle_cycles: l.idle_cycles,
            cycles_per_packet: l.cycles_per_packet(),
        }
    }
}

/// The whole JSON dump written by `--stats-json`.
#[derive(Debug, Serialize)]
pub struct RunJson {
    /// Forwarding mode.
    pub mode: String,
    /// Seconds forwarded.
    pub seconds: f64,
    /// Per port.
    pub ports: Vec<PortJson>,
    /// Sum over ports.
    pub accumulated: FwdStats,
    /// Per forwarding lcore.
    pub lcores: Vec<LcoreJson>,
    /// The pool's leak check.
    pub mbufs_in_use: MbufsInUse,
}

/// Mbufs held outside the pool (in port rings, queues, bursts) around a run: with ports
/// that keep no packets (null), both are equal unless packets leaked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MbufsInUse {
    /// Once the ports were set up, before forwarding and any `--tx-first` burst.
    pub before_start: u64,
    /// Once every lcore stopped and its streams ended (rings drained), before the ports
    /// close.
    pub after_stop: u64,
}
