//! The prompt's `show` layouts that `stats.rs` does not already have: `show port info`,
//! `show port xstats`, `show config fwd|cores` (testpmd's) and `show lcore stats`
//! (OVS `pmd-stats-show`'s).

use std::fmt::Write as _;

use vpmd_config::{ForwardMode, MacAddr};
use vpmd_fastpath::LcoreStats;
use vpmd_pmd::Port;

/// One stream of the forwarding configuration: rx port/queue -> tx port/queue, on a
/// forwarding lcore.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StreamPlan {
    pub(crate) rx: (u16, u16),
    pub(crate) tx: (u16, u16),
    /// Lcore id of the forwarding lcore (under `--pipeline`, the one polling rx).
    pub(crate) lcore: u32,
    /// Under `--pipeline`, the lcore running the engine and tx.
    pub(crate) worker: Option<u32>,
    /// Destination MAC the `mac` engine writes.
    pub(crate) peer: [u8; 6],
}

fn speed(mbps: u32) -> String {
    match mbps {
        0 => "None".into(),
        m if m % 1000 == 0 => format!("{} Gbps", m / 1000),
        m => format!("{m} Mbps"),
    }
}

/// `show port info N` (testpmd's `port_infos_display`, the fields vpmd has).
pub(crate) fn port_info(port: &Port) -> String {
    let info = port.info();
    let link = port.link();
    let (rxq, txq) = port.nb_queues();
    let id = port.id();
    let mut o = String::new();
    let _ = writeln!(
        o,
        "\n********************* Infos for port {id:<2} *********************"
    );
    let _ = writeln!(o, "MAC address: {}", MacAddr::new(info.mac));
    let _ = writeln!(o, "Device name: {}", port.devargs().name());
    let _ = writeln!(o, "Driver name: {}", info.driver);
    let _ = writeln!(o, "Devargs: {}", port.devargs());
    let _ = writeln!(o, "Port state: {:?}", port.state());
    let _ = writeln!(o, "Link status: {}", if link.up { "up" } else { "down" });
    let _ = writeln!(o, "Link speed: {}", speed(link.speed_mbps));
    let _ = writeln!(
        o,
        "Link duplex: {}",
        if link.full_duplex {
            "full-duplex"
        } else {
            "half-duplex"
        }
    );
    let _ = writeln!(o, "MTU: {}", info.mtu);
    let _ = writeln!(
        o,
        "Maximum configurable length of RX packet: {}",
        info.max_rx_pktlen
    );
    for (dir, cur, max) in [
        ("RX", rxq, info.max_rx_queues),
        ("TX", txq, info.max_tx_queues),
    ] {
        let d = &dir[..1];
        let _ = writeln!(o, "Current number of {dir} queues: {cur}");
        let _ = writeln!(o, "Max possible {dir} queues: {max}");
        let _ = writeln!(
            o,
            "Max possible number of {d}XDs per queue: {}",
            info.max_desc
        );
        let _ = writeln!(
            o,
            "Min possible number of {d}XDs per queue: {}",
            info.min_desc
        );
    }
    o
}

/// `show port xstats N`.
pub(crate) fn xstats(id: u16, x: &[(String, u64)]) -> String {
    let mut o = format!("###### NIC extended statistics for port {id:<2}\n");
    for (k, v) in x {
        let _ = writeln!(o, "{k}: {v}");
    }
    o
}

/// `show config fwd` (testpmd's `pkt_fwd_config_display`, without NUMA sockets).
pub(crate) fn config_fwd(
    mode: ForwardMode,
    nb_ports: usize,
    lcores: &[u32],
    streams: &[StreamPlan],
) -> String {
    let mut o = format!(
        "{mode} packet forwarding - ports={nb_ports} - cores={} - streams={}\n",
        lcores.len(),
        streams.len()
    );
    for &lc in lcores {
        let mine: Vec<&StreamPlan> = streams
            .iter()
            .filter(|s| s.lcore == lc || s.worker == Some(lc))
            .collect();
        let _ = write!(
            o,
            "Logical Core {lc} forwards packets on {} streams:",
            mine.len()
        );
        for s in mine {
            let _ = write!(
                o,
                "\n  RX P={}/Q={} -> TX P={}/Q={} ",
                s.rx.0, s.rx.1, s.tx.0, s.tx.1
            );
            if mode != ForwardMode::RxOnly {
                let _ = write!(o, "peer={}", MacAddr::new(s.peer));
            }
            if let Some(w) = s.worker {
                let _ = write!(
                    o,
                    " (pipeline: rx on lcore {}, worker on lcore {w})",
                    s.lcore
                );
            }
        }
        o.push('\n');
    }
    o
}

/// `show config cores` (testpmd's `fwd_lcores_config_display`).
pub(crate) fn config_cores(lcores: &[u32]) -> String {
    let mut o = String::from("List of forwarding lcores:");
    for lc in lcores {
        let _ = write!(o, " {lc:>2}");
    }
    o.push('\n');
    o
}

/// `show lcore stats`, laid out as OVS's `dpif-netdev/pmd-stats-show`.
pub(crate) fn lcore_stats(lcores: &[LcoreStats]) -> String {
    let mut o = String::new();
    for l in lcores {
        let total = l.total_cycles().max(1) as f64;
        let share = |c: u64| c as f64 * 100.0 / total;
        let _ = writeln!(o, "lcore {}:", l.lcore_id);
        let _ = writeln!(o, "  packets: {}", l.packets);
        let _ = writeln!(o, "  iterations: {}", l.iterations);
        let _ = writeln!(
            o,
            "  idle cycles: {} ({:.2}%)",
            l.idle_cycles,
            share(l.idle_cycles)
        );
        let _ = writeln!(
            o,
            "  processing cycles: {} ({:.2}%)",
            l.busy_cycles,
            share(l.busy_cycles)
        );
        match l.cycles_per_packet() {
            Some(c) => {
                let _ = writeln!(
                    o,
                    "  avg processing cycles per packet: {c:.2}\n  packets per busy cycle: {:.4}",
                    1.0 / c.max(f64::MIN_POSITIVE)
                );
            }
            None => o.push_str("  avg processing cycles per packet: -\n"),
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_fwd_lists_streams_per_lcore() {
        let s = |rx, tx, lcore| StreamPlan {
            rx: (rx, 0),
            tx: (tx, 0),
            lcore,
            worker: None,
            peer: [2, 0, 0, 0, 0, tx as u8],
        };
        let text = config_fwd(ForwardMode::Io, 2, &[1, 2], &[s(0, 1, 1), s(1, 0, 2)]);
        assert_eq!(
            text,
            "io packet forwarding - ports=2 - cores=2 - streams=2\n\
             Logical Core 1 forwards packets on 1 streams:\n  RX P=0/Q=0 -> TX P=1/Q=0 peer=02:00:00:00:00:01\n\
             Logical Core 2 forwards packets on 1 streams:\n  RX P=1/Q=0 -> TX P=0/Q=0 peer=02:00:00:00:00:00\n"
        );
        assert_eq!(config_cores(&[1, 2]), "List of forwarding lcores:  1  2\n");
    }

    #[test]
    fn config_fwd_shows_the_rx_and_worker_lcores_of_a_pipeline() {
        let s = StreamPlan {
            rx: (0, 0),
            tx: (0, 0),
            lcore: 1,
            worker: Some(2),
            peer: [2, 0, 0, 0, 0, 0],
        };
        let text = config_fwd(ForwardMode::Io, 1, &[1, 2], &[s]);
        let line = "  RX P=0/Q=0 -> TX P=0/Q=0 peer=02:00:00:00:00:00 \
                    (pipeline: rx on lcore 1, worker on lcore 2)";
        assert_eq!(
            text,
            format!(
                "io packet forwarding - ports=1 - cores=2 - streams=1\n\
                 Logical Core 1 forwards packets on 1 streams:\n{line}\n\
                 Logical Core 2 forwards packets on 1 streams:\n{line}\n"
            )
        );
    }
}
