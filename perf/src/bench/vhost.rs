//! `vhost-vs-dpdk`: vpmd's vhost PMD against DPDK's `net_vhost`, with the same peer.
//!
//! Peer: dpdk-testpmd with `net_virtio_user0` (main lcore CPU 1, forwarding lcore CPU 0).
//! Backend, alternately: (a) vpmd-fwd with `net_vpmd_vhost0` or (b) dpdk-testpmd with
//! `net_vhost0` (main lcore CPU 0, forwarding lcore CPU 1). One forwarding core each.
//! Scenarios:
//! - guest->host: peer txonly, backend rxonly; Mpps the backend receives;
//! - host->guest: backend txonly, peer rxonly; Mpps the peer receives;
//! - loop: both io with `--tx-first`; Mpps the backend receives.
//!
//! Every scenario also reports the backend's busy cycles per packet (PERF-NOTES: the
//! saturation rate is bistable here; cycles per packet is the steadier figure).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::harness::alternate;
use crate::report::{Better, Figure};
use crate::testpmd::{
    active_median_mpps, cycles_per_packet, remove_runtime_dir, spawn, testpmd, virtio_user_peer,
    vpmd_fwd,
};

/// EAL file prefix of the dpdk-testpmd back-end.
pub(crate) const BACKEND_PREFIX: &str = "vpmdbk";
const PEER_PREFIX: &str = "vpmdpeer";

/// One traffic pattern.
#[derive(Debug, Clone, Copy)]
pub struct Scenario {
    /// Short name, used in figure names.
    pub name: &'static str,
    /// Backend forwarding mode.
    pub backend: &'static str,
    /// Peer forwarding mode.
    pub peer: &'static str,
    /// Whether the peer (not the backend) counts the packets.
    pub measure_peer: bool,
}

/// The three patterns of the issue.
pub const SCENARIOS: [Scenario; 3] = [
    Scenario {
        name: "guest2host",
        backend: "rxonly",
        peer: "txonly",
        measure_peer: false,
    },
    Scenario {
        name: "host2guest",
        backend: "txonly",
        peer: "rxonly",
        measure_peer: true,
    },
    Scenario {
        name: "loop",
        backend: "io",
        peer: "io",
        measure_peer: false,
    },
];

/// Traffic shape shared by both sides.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Frame length.
    pub pkt_len: u16,
    /// Queue pairs.
    pub queues: u16,
}

/// vpmd-fwd/testpmd application flags: one forwarding core, port 0 looped to itself,
/// stats every second.
pub(crate) fn fwd_args(mode: &str, shape: Shape, io_tx_first: bool) -> Vec<String> {
    let q = shape.queues.to_string();
    let mut a: Vec<String> = vec![
        format!("--forward-mode={mode}"),
        "--port-topology=loop".into(),
        format!("--rxq={q}"),
        format!("--txq={q}"),
        "--nb-cores=1".into(),
        "--stats-period=1".into(),
        format!("--txpkts={}", shape.pkt_len),
    ];
    if io_tx_first && mode == "io" {
        a.push("--tx-first".into());
    }
    a
}

/// vpmd-fwd with `net_vpmd_vhost0` on `sock`, port 0 looped to itself in `mode` (main
/// lcore CPU 0, forwarding CPU 1), stats every second.
pub(crate) fn backend_ours(
    bin: &Path,
    sock: &Path,
    mode: &str,
    shape: Shape,
    tx_first: bool,
) -> Command {
    let mut c = Command::new(bin);
    c.args(["-l", "0,1", "--vdev"]);
    c.arg(format!(
        "net_vpmd_vhost0,iface={},queues={}",
        sock.display(),
        shape.queues
    ));
    c.args(fwd_args(mode, shape, tx_first));
    c.env("VPMD_LOG", "warn");
    c
}

/// dpdk-testpmd with DPDK's `net_vhost0` on `sock`, as [`backend_ours`].
pub(crate) fn backend_dpdk(sock: &Path, mode: &str, shape: Shape, tx_first: bool) -> Command {
    let mut c = testpmd(BACKEND_PREFIX, 0);
    c.args(["--in-memory", "-m", "256", "--vdev"]);
    c.arg(format!(
        "net_vhost0,iface={},queues={}",
        sock.display(),
        shape.queues
    ));
    c.arg("--");
    c.args(fwd_args(mode, shape, tx_first));
    // The same pool size as vpmd-fwd's default, so both fit the hugepages set-up reserves.
    c.args([
        "--auto-start",
        "--record-core-cycles",
        "--total-num-mbufs=16384",
    ]);
    c
}

fn peer(sock: &Path, mode: &str, shape: Shape) -> Command {
    let mut c = virtio_user_peer(
        PEER_PREFIX,
        &format!("path={},queues={}", sock.display(), shape.queues),
    );
    c.args(fwd_args(mode, shape, true));
    c
}

/// Runs one backend against the peer for `secs`; returns (Mpps, backend cycles/packet).
fn run_once(backend: Command, peer_cmd: Command, s: Scenario, secs: u64) -> Result<(f64, f64)> {
    let b = spawn(backend)?;
    // The backend listens; give it time to create the socket before the peer connects.
    std::thread::sleep(Duration::from_millis(1500));
    let p = spawn(peer_cmd)?;
    std::thread::sleep(Duration::from_secs(secs));
    let peer_out = p.stop()?;
    let back_out = b.stop()?;
    remove_runtime_dir(BACKEND_PREFIX);
    remove_runtime_dir(PEER_PREFIX);
    let measured = if s.measure_peer { &peer_out } else { &back_out };
    let mpps = active_median_mpps(measured, 1).with_context(|| {
        format!(
            "{} ({})",
            s.name,
            if s.measure_peer { "peer" } else { "backend" }
        )
    })?;
    let cpp = cycles_per_packet(&back_out)
        .with_context(|| format!("{}: backend printed no cycles/packet", s.name))?;
    Ok((mpps, cpp))
}

/// Runs every scenario for `shape`, alternating vpmd and DPDK `pairs` times.
pub fn run(pairs: usize, secs: u64, shape: Shape, dir: &Path) -> Result<Vec<Figure>> {
    let bin = vpmd_fwd()?;
    std::fs::create_dir_all(dir)?;
    let sock = dir.join("vhost-bench.sock");
    println!(
        "vhost-vs-dpdk: {} B frames, {} queue pair(s), {secs} s per run; peer dpdk-testpmd virtio_user \
         (main cpu 1, forwarding cpu 0), backend main cpu 0, forwarding cpu 1",
        shape.pkt_len, shape.queues
    );
    let mut figures = Vec::new();
    for s in SCENARIOS {
        let mut cycles = (Vec::new(), Vec::new());
        let (a, b) = alternate(
            pairs,
            || {
                let _ = std::fs::remove_file(&sock);
                let (m, c) = run_once(
                    backend_ours(&bin, &sock, s.backend, shape, true),
                    peer(&sock, s.peer, shape),
                    s,
                    secs,
                )?;
                cycles.0.push(c);
                Ok(m)
            },
            || {
                let _ = std::fs::remove_file(&sock);
                let (m, c) = run_once(
                    backend_dpdk(&sock, s.backend, shape, true),
                    peer(&sock, s.peer, shape),
                    s,
                    secs,
                )?;
                cycles.1.push(c);
                Ok(m)
            },
        )?;
        let tag = format!("vhost-{}-{}B-{}q", s.name, shape.pkt_len, shape.queues);
        figures.push(Figure::compare(
            format!("{tag}-cycles"),
            "cycles/pkt",
            Better::Lower,
            "dpdk-testpmd + net_vhost",
            cycles.0,
            cycles.1,
        ));
        figures.push(Figure::compare(
            tag,
            "Mpps",
            Better::Higher,
            "dpdk-testpmd + net_vhost",
            a,
            b,
        ));
    }
    let _ = std::fs::remove_file(&sock);
    Ok(figures)
}
