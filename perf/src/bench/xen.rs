//! `xen`: vpmd's Xen netback PMD (`net_vpmd_xen`) serving a netfront guest on the sim
//! hypervisor, against (a) Linux netback's published single-queue figures and (b) vpmd's
//! vhost PMD with its own peer, measured alternately in the same run on the same cores.
//!
//! Cores: the peer runs on CPU 0, the back-end's forwarding lcore on CPU 1 (its main
//! lcore, which only prints statistics, on CPU 0).
//! - Xen: `vpmd-xen-sim` (the sim host and one guest netfront, every thread pinned to
//!   CPU 0 with `taskset`), vpmd-fwd with one `net_vpmd_xen0` port looped to itself.
//!   The peer is the separate binary, not the netfront library in this process, so that
//!   the hypervisor's threads (xenstore, event channels) share CPU 0 with the guest
//!   instead of floating, and no guest set-up code is duplicated here.
//! - vhost: vpmd's vhost-user front-end (vuser) on CPU 0 and vpmd-fwd with
//!   `net_vpmd_vhost0` (the generator of `vhost-latency`, and its sink).
//!
//! Grants, two ways: per use, as Linux's xen-netfront grants each buffer (what netback's
//! published figures measure), and staging grants (`vpmd-xen-sim --staging`: the guest
//! grants its pages once and the back-end keeps them mapped, Xen's
//! `netif-staging-grants`), which is how a fixed-buffer guest is served and what the
//! vhost comparison uses: vuser likewise writes its frames once into fixed buffers.
//! The netback goal is judged on per-use grants, the vhost goal on staging grants.
//!
//! Directions: guest TX (peer txonly, back-end rxonly; Mpps the back-end receives) and
//! guest RX (back-end txonly, peer rxonly; Mpps the guest receives, from its own
//! counters). 64-byte frames in Mpps, 1500-byte frames in Gbit/s (frame bytes, no FCS).
//! Also the back-end forwarding lcore's busy share and busy cycles per packet: a lcore
//! far from 100% busy means the peer, not the back-end, sets the rate.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::vhost::Backend;
use super::vhost::{fwd_args, Shape};
use super::vhost_latency::saturate_once;
use crate::harness::{alternate, median};
use crate::report::{Better, Figure};
use crate::testpmd::{
    active_median, active_median_mpps, busy_percent, cycles_per_packet, sibling_bin, spawn,
    vpmd_fwd,
};

/// Linux netback, one queue, 64 B, guest TX (published), Mpps.
const NETBACK_TX_MPPS: f64 = 0.68;
/// Linux netback, one queue, 64 B, guest RX (published), Mpps.
const NETBACK_RX_MPPS: f64 = 0.44;
const NETBACK: &str = "Linux netback, published, 1 queue";
const VHOST: &str = "vpmd vhost PMD + vuser, same cores";
/// Goal against Linux netback (ratio at least).
const GOAL_NETBACK: f64 = 10.0;
/// Goal against the vhost PMD (ratio at least).
const GOAL_VHOST: f64 = 0.9;
/// The guest's domain id.
const DOMID: u16 = 1;
/// How long the sim host may take to create its sockets.
const SIM_START: Duration = Duration::from_secs(10);
/// Below this forwarding-lcore busy share the back-end is waiting for the peer.
const SATURATED_BUSY: f64 = 90.0;

/// What to measure.
#[derive(Debug, Clone)]
pub struct Opts {
    /// Seconds of traffic per run.
    pub secs: u64,
    /// Frame lengths: 64 is reported in Mpps, others in Gbit/s.
    pub sizes: Vec<u16>,
    /// Where the sim host's and the vhost-user sockets are created.
    pub dir: PathBuf,
}

/// Traffic direction, seen from the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    Tx,
    Rx,
}

impl Dir {
    fn name(self) -> &'static str {
        match self {
            Dir::Tx => "guest-tx",
            Dir::Rx => "guest-rx",
        }
    }
}

/// One run: Mpps, and the back-end's forwarding lcore busy % and busy cycles/packet.
#[derive(Debug, Clone, Copy)]
struct Sample {
    mpps: f64,
    busy: f64,
    cycles: f64,
}

impl Sample {
    fn from_backend(mpps: f64, out: &str) -> Self {
        Self {
            mpps,
            busy: busy_percent(out).unwrap_or(f64::NAN),
            cycles: cycles_per_packet(out).unwrap_or(f64::NAN),
        }
    }
}

/// The guest's per-second received-frame rates from vpmd-xen-sim's cumulative counter
/// lines (`dom1 tx A rx B`, one a second).
fn sim_rx_rates(out: &str) -> Vec<f64> {
    let total: Vec<f64> = out
        .lines()
        .filter_map(|l| {
            let (_, rest) = l.split_once(" rx ")?;
            rest.split_whitespace().next()?.parse().ok()
        })
        .collect();
    total.windows(2).map(|w| w[1] - w[0]).collect()
}

/// Waits until the sim host has created its sockets in `dir`.
fn wait_for_sim(dir: &Path) -> Result<()> {
    let start = Instant::now();
    while std::fs::read_dir(dir)?.next().is_none() {
        if start.elapsed() > SIM_START {
            bail!(
                "vpmd-xen-sim created nothing in {} within {SIM_START:?}",
                dir.display()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// One Xen run in direction `d` with `len`-byte frames for `secs` seconds of traffic.
/// How the guest grants its buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grants {
    /// Per use, as Linux's netfront.
    PerUse,
    /// Staging grants.
    Staging,
}

impl Grants {
    fn name(self) -> &'static str {
        match self {
            Grants::PerUse => "per-use grants",
            Grants::Staging => "staging grants",
        }
    }
}

fn xen_once(
    fwd: &Path,
    sim: &Path,
    dir: &Path,
    (d, grants): (Dir, Grants),
    len: u16,
    secs: u64,
) -> Result<Sample> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let (guest, backend) = match d {
        Dir::Tx => ("txonly", "rxonly"),
        Dir::Rx => ("rxonly", "txonly"),
    };
    let mut s = Command::new("taskset");
    s.args(["-c", "0"]).arg(sim).arg(dir);
    s.arg(format!("{DOMID}:{guest}"));
    s.args([
        "--size",
        &len.to_string(),
        "--seconds",
        &(secs + 10).to_string(),
    ]);
    if grants == Grants::Staging {
        s.arg("--staging");
    }
    let peer = spawn(s)?;
    wait_for_sim(dir)?;
    let mut b = Command::new(fwd);
    b.args(["-l", "0,1", "--vdev"]);
    b.arg(format!("net_vpmd_xen0,domid={DOMID},sim={}", dir.display()));
    b.args(fwd_args(
        backend,
        Shape {
            pkt_len: len,
            queues: 1,
        },
        false,
    ));
    b.env("VPMD_LOG", "warn");
    let back = spawn(b)?;
    std::thread::sleep(Duration::from_secs(secs + 2));
    let out = back.stop()?;
    let peer_out = peer.stop()?;
    let _ = std::fs::remove_dir_all(dir);
    let mpps = match d {
        Dir::Tx => active_median_mpps(&out, 1).context("vpmd-fwd rxonly on net_vpmd_xen")?,
        Dir::Rx => {
            active_median(&sim_rx_rates(&peer_out))
                .with_context(|| format!("the guest received nothing:\n{peer_out}"))?
                / 1e6
        }
    };
    let s = Sample::from_backend(mpps, &out);
    eprintln!(
        "    xen {} {len} B ({}): {:.3} Mpps, back-end lcore busy {:.1}%, {:.1} busy cycles/packet",
        d.name(),
        grants.name(),
        s.mpps,
        s.busy,
        s.cycles
    );
    Ok(s)
}

/// One vhost run (vpmd-fwd + `net_vpmd_vhost`, vuser peer) in direction `d`.
fn vhost_once(fwd: &Path, sock: &Path, d: Dir, len: u16, secs: u64) -> Result<Sample> {
    let (mpps, out) = saturate_once(
        &Backend::VpmdFwd(fwd.to_path_buf()),
        sock,
        d == Dir::Tx,
        secs,
        len,
    )?;
    let s = Sample::from_backend(mpps, &out);
    eprintln!(
        "    vhost {} {len} B: back-end lcore busy {:.1}%, {:.1} busy cycles/packet",
        d.name(),
        s.busy,
        s.cycles
    );
    Ok(s)
}

/// Gbit/s of `len`-byte frames at `mpps`.
fn gbps(mpps: f64, len: u16) -> f64 {
    mpps * f64::from(len) * 8.0 / 1e3
}

/// Says whether `f` meets `goal` (its ratio at least `goal`).
fn goal_line(f: &Figure, goal: f64) -> String {
    let verdict = if f.ratio() >= goal { "met" } else { "NOT met" };
    format!(
        "goal: {} >= {goal}x {}: {:.2}x, {verdict}",
        f.name,
        f.anchor_name,
        f.ratio()
    )
}

/// Every direction and frame length, Xen and vhost alternating `pairs` times.
pub fn run(pairs: usize, o: &Opts) -> Result<Vec<Figure>> {
    let fwd = vpmd_fwd()?;
    let sim = sibling_bin("vpmd-xen-sim")?;
    std::fs::create_dir_all(&o.dir).with_context(|| format!("creating {}", o.dir.display()))?;
    let simdir = o.dir.join("xen-sim");
    let sock = o.dir.join("xen-vhost.sock");
    println!(
        "xen: net_vpmd_xen + netfront (vpmd-xen-sim) vs net_vpmd_vhost + vuser; one queue, {} s of traffic per run; \
         peer on cpu 0 (sim host and guest pinned there with taskset; vuser thread pinned), \
         back-end vpmd-fwd main lcore cpu 0, forwarding lcore cpu 1; \
         goals: >= {GOAL_NETBACK}x Linux netback's published {NETBACK_TX_MPPS} Mpps guest TX / {NETBACK_RX_MPPS} Mpps guest RX at 64 B \
         (guest granting per use, as Linux's netfront), \
         >= {GOAL_VHOST}x the vhost PMD (guest with staging grants: fixed buffers, as vuser)",
        o.secs
    );
    let (mut figs, mut goals, mut limits) = (Vec::new(), Vec::new(), Vec::new());
    for &len in &o.sizes {
        for d in [Dir::Tx, Dir::Rx] {
            eprintln!("  {} {len} B:", d.name());
            let (mut us, mut xs, mut vs) = (Vec::new(), Vec::new(), Vec::new());
            alternate(
                pairs,
                || {
                    let u = xen_once(&fwd, &sim, &simdir, (d, Grants::PerUse), len, o.secs)?;
                    us.push(u);
                    let s = xen_once(&fwd, &sim, &simdir, (d, Grants::Staging), len, o.secs)?;
                    xs.push(s);
                    Ok(s.mpps)
                },
                || {
                    let s = vhost_once(&fwd, &sock, d, len, o.secs)?;
                    vs.push(s);
                    Ok(s.mpps)
                },
            )?;
            let name = format!("xen-{}-{len}B", d.name());
            let (unit, scale): (&str, Box<dyn Fn(f64) -> f64>) = if len == 64 {
                ("Mpps", Box::new(|m| m))
            } else {
                ("Gbit/s", Box::new(move |m| gbps(m, len)))
            };
            let rate = |v: &[Sample]| v.iter().map(|s| scale(s.mpps)).collect::<Vec<_>>();
            let vs_vhost =
                Figure::compare(&name, unit, Better::Higher, VHOST, rate(&xs), rate(&vs));
            let per_use_vs_vhost = Figure::compare(
                format!("{name}-per-use-grants"),
                unit,
                Better::Higher,
                VHOST,
                rate(&us),
                rate(&vs),
            );
            if len == 64 {
                let published = match d {
                    Dir::Tx => NETBACK_TX_MPPS,
                    Dir::Rx => NETBACK_RX_MPPS,
                };
                let vs_netback = Figure::compare(
                    format!("{name}-vs-netback"),
                    unit,
                    Better::Higher,
                    NETBACK,
                    rate(&us),
                    vec![published; us.len()],
                );
                goals.push(goal_line(&vs_netback, GOAL_NETBACK));
                figs.push(vs_netback);
            }
            goals.push(goal_line(&vs_vhost, GOAL_VHOST));
            figs.push(vs_vhost);
            figs.push(per_use_vs_vhost);
            let field = |v: &[Sample], f: fn(&Sample) -> f64| v.iter().map(f).collect::<Vec<_>>();
            figs.push(Figure::compare(
                format!("{name}-backend-cycles"),
                "cycles/pkt",
                Better::Lower,
                VHOST,
                field(&xs, |s| s.cycles),
                field(&vs, |s| s.cycles),
            ));
            let busy = median(&field(&xs, |s| s.busy));
            limits.push(format!(
                "bottleneck {name} (staging grants): back-end forwarding lcore busy {busy:.1}% (vhost: {:.1}%) -> {}",
                median(&field(&vs, |s| s.busy)),
                if busy < SATURATED_BUSY {
                    "the netfront peer on cpu 0 sets the rate, not the back-end"
                } else {
                    "the back-end lcore is saturated"
                }
            ));
        }
    }
    for l in goals.iter().chain(&limits) {
        println!("{l}");
    }
    let _ = std::fs::remove_file(&sock);
    Ok(figs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sim_counters_become_per_second_rates() {
        let out = "dom1 tx 0 rx 0\ndom1 tx 0 rx 1000\ndom1 tx 0 rx 3500\ndom1 tx 0 rx 6000\n";
        assert_eq!(sim_rx_rates(out), [1000.0, 2500.0, 2500.0]);
        assert!(sim_rx_rates("").is_empty());
    }

    #[test]
    fn gbits_of_frames() {
        assert!((gbps(1.0, 1500) - 12.0).abs() < 1e-12);
    }
}
