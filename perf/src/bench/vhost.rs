//! `vhost-vs-dpdk` and `plugin`: vpmd's vhost PMD against DPDK's `net_vhost`, with the
//! same peer.
//!
//! Peer: dpdk-testpmd with `net_virtio_user0` (main lcore CPU 1, forwarding lcore CPU 0).
//! Back-ends ([`Backend`], main lcore CPU 0, forwarding lcore CPU 1, one forwarding core
//! each), taking turns against the same peer:
//! - vpmd-fwd with `net_vpmd_vhost0` (vpmd's native application);
//! - stock dpdk-testpmd loading vpmd's plugin `librte_net_vpmd.so` with `-d`, port
//!   `net_vpmd_vhost0` (the same PMD in DPDK's application, bursts into DPDK mbufs);
//! - dpdk-testpmd with DPDK's `net_vhost0` (the anchor).
//!
//! `vhost-vs-dpdk` compares vpmd-fwd with net_vhost; `plugin` runs all three in the same
//! run and compares the plugin with each of the other two (the goals: >= 0.95x
//! vpmd-fwd, >= 1.2x net_vhost).
//!
//! Scenarios:
//! - guest->host: peer txonly, backend rxonly; Mpps the backend receives;
//! - host->guest: backend txonly, peer rxonly; Mpps the peer receives;
//! - loop: both io with `--tx-first`; Mpps the backend receives.
//!
//! Every scenario also reports the backend's busy cycles per packet (PERF-NOTES: the
//! saturation rate is bistable here; cycles per packet is the steadier figure).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::harness::rotate;
use crate::report::{Better, Figure};
use crate::testpmd::{
    active_median_mpps, cycles_per_packet, load_plugin, plugin_dir, remove_runtime_dir, spawn,
    testpmd, virtio_user_peer, vpmd_fwd,
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

impl FromStr for Scenario {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        SCENARIOS.into_iter().find(|c| c.name == s).ok_or_else(|| {
            let names: Vec<_> = SCENARIOS.iter().map(|c| c.name).collect();
            format!("expected one of {}", names.join(", "))
        })
    }
}

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

/// A vhost-user back-end: one forwarding app with one vhost-user server port, port 0
/// looped to itself (main lcore CPU 0, forwarding lcore CPU 1), stats every second and
/// busy cycles per packet at stop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// vpmd-fwd (this binary) with `net_vpmd_vhost0`.
    VpmdFwd(PathBuf),
    /// Stock dpdk-testpmd loading `librte_net_vpmd.so` from this directory, with
    /// `net_vpmd_vhost0`.
    TestpmdPlugin(PathBuf),
    /// dpdk-testpmd with DPDK's `net_vhost0`.
    TestpmdNetVhost,
}

impl Backend {
    /// vpmd-fwd, found next to this binary.
    pub fn vpmd_fwd() -> Result<Self> {
        Ok(Self::VpmdFwd(vpmd_fwd()?))
    }

    /// dpdk-testpmd with vpmd's plugin, found next to this binary.
    pub fn testpmd_plugin() -> Result<Self> {
        Ok(Self::TestpmdPlugin(plugin_dir()?))
    }

    /// What it is, for reports.
    pub fn name(&self) -> &'static str {
        match self {
            Self::VpmdFwd(_) => "vpmd-fwd + net_vpmd_vhost",
            Self::TestpmdPlugin(_) => "dpdk-testpmd + librte_net_vpmd.so (net_vpmd_vhost)",
            Self::TestpmdNetVhost => "dpdk-testpmd + net_vhost",
        }
    }

    /// A short name, for progress lines and figure names.
    pub fn short(&self) -> &'static str {
        match self {
            Self::VpmdFwd(_) => "vpmd-fwd",
            Self::TestpmdPlugin(_) => "plugin",
            Self::TestpmdNetVhost => "net_vhost",
        }
    }

    /// The command serving `sock` in forwarding `mode` (`sock` absolute: the plugin run
    /// works in `/`).
    pub fn command(&self, sock: &Path, mode: &str, shape: Shape, tx_first: bool) -> Command {
        let vdev =
            |driver: &str| format!("{driver},iface={},queues={}", sock.display(), shape.queues);
        match self {
            Self::VpmdFwd(bin) => {
                let mut c = Command::new(bin);
                c.args(["-l", "0,1", "--vdev"]);
                c.arg(vdev("net_vpmd_vhost0"));
                c.args(fwd_args(mode, shape, tx_first));
                c.env("VPMD_LOG", "warn");
                c
            }
            Self::TestpmdPlugin(dir) => {
                backend_testpmd(Some(dir), &vdev("net_vpmd_vhost0"), mode, shape, tx_first)
            }
            Self::TestpmdNetVhost => {
                backend_testpmd(None, &vdev("net_vhost0"), mode, shape, tx_first)
            }
        }
    }
}

/// dpdk-testpmd serving `vdev`, with vpmd's plugin from `plugin` if given.
fn backend_testpmd(
    plugin: Option<&PathBuf>,
    vdev: &str,
    mode: &str,
    shape: Shape,
    tx_first: bool,
) -> Command {
    let mut c = testpmd(BACKEND_PREFIX, 0);
    if let Some(dir) = plugin {
        load_plugin(&mut c, dir);
    }
    c.args(["--in-memory", "-m", "256", "--vdev", vdev, "--"]);
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

/// How long a back-end may take to create its socket.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs one backend against the peer for `secs`; returns (Mpps, backend cycles/packet).
fn run_once(
    backend: Command,
    sock: &Path,
    s: Scenario,
    shape: Shape,
    secs: u64,
) -> Result<(f64, f64)> {
    let _ = std::fs::remove_file(sock);
    let b = spawn(backend)?;
    // The backend listens; give it time to create the socket (and to start forwarding)
    // before the peer connects.
    std::thread::sleep(Duration::from_millis(1500));
    let start = Instant::now();
    while !sock.exists() && start.elapsed() < LISTEN_TIMEOUT {
        std::thread::sleep(Duration::from_millis(50));
    }
    let p = spawn(peer(sock, s.peer, shape))?;
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

/// What to run.
#[derive(Debug, Clone)]
pub struct Opts {
    /// Seconds of traffic per run.
    pub secs: u64,
    /// Frame length and queue pairs.
    pub shape: Shape,
    /// The scenarios, in order.
    pub scenarios: Vec<Scenario>,
    /// Where the vhost-user socket is created.
    pub dir: PathBuf,
}

/// One back-end's samples in one scenario, in run order.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    /// Mpps of each run.
    pub mpps: Vec<f64>,
    /// The backend's busy cycles per packet of each run.
    pub cycles: Vec<f64>,
}

/// Runs every scenario with each of `backends` in turn (A B C A B C ...) `rounds` times;
/// returns per scenario each backend's samples, in the order of `backends`.
pub fn measure(rounds: usize, o: &Opts, backends: &[Backend]) -> Result<Vec<Vec<Samples>>> {
    std::fs::create_dir_all(&o.dir)?;
    // Absolute: the plugin's testpmd runs in `/`.
    let dir =
        std::fs::canonicalize(&o.dir).with_context(|| format!("resolving {}", o.dir.display()))?;
    let sock = dir.join("vhost-bench.sock");
    let names: Vec<&str> = backends.iter().map(Backend::short).collect();
    let unit = if backends.len() == 2 { "pair" } else { "round" };
    let mut all = Vec::new();
    for &s in &o.scenarios {
        eprintln!("{}: {}", s.name, names.join(" / "));
        let mut samples = vec![Samples::default(); backends.len()];
        rotate(rounds, &names, unit, |k| {
            let cmd = backends[k].command(&sock, s.backend, o.shape, true);
            let (m, c) = run_once(cmd, &sock, s, o.shape, o.secs)?;
            samples[k].mpps.push(m);
            samples[k].cycles.push(c);
            Ok(m)
        })?;
        all.push(samples);
    }
    let _ = std::fs::remove_file(&sock);
    Ok(all)
}

/// `name-cycles` (cycles/packet) and `name` (Mpps) of `ours` against `anchor`.
fn compare(name: &str, ours: &Samples, anchor: &Samples, anchor_name: &str) -> [Figure; 2] {
    [
        Figure::compare(
            format!("{name}-cycles"),
            "cycles/pkt",
            Better::Lower,
            anchor_name,
            ours.cycles.clone(),
            anchor.cycles.clone(),
        ),
        Figure::compare(
            name,
            "Mpps",
            Better::Higher,
            anchor_name,
            ours.mpps.clone(),
            anchor.mpps.clone(),
        ),
    ]
}

fn describe(what: &str, o: &Opts) {
    println!(
        "{what}: {} B frames, {} queue pair(s), {} s per run; peer dpdk-testpmd virtio_user \
         (main cpu 1, forwarding cpu 0), backend main cpu 0, forwarding cpu 1",
        o.shape.pkt_len, o.shape.queues, o.secs
    );
}

/// `vhost-vs-dpdk`: vpmd-fwd against dpdk-testpmd + net_vhost, alternating `pairs` times.
pub fn run(pairs: usize, o: &Opts) -> Result<Vec<Figure>> {
    let backends = [Backend::vpmd_fwd()?, Backend::TestpmdNetVhost];
    describe("vhost-vs-dpdk", o);
    let measured = measure(pairs, o, &backends)?;
    let mut figures = Vec::new();
    for (s, m) in o.scenarios.iter().zip(&measured) {
        let tag = format!("vhost-{}-{}B-{}q", s.name, o.shape.pkt_len, o.shape.queues);
        figures.extend(compare(&tag, &m[0], &m[1], backends[1].name()));
    }
    Ok(figures)
}

/// `plugin`: (a) dpdk-testpmd + vpmd's plugin, (b) vpmd-fwd, (c) dpdk-testpmd +
/// net_vhost, in turn `rounds` times; figures of (a) against (b) and against (c).
pub fn run_plugin(rounds: usize, o: &Opts) -> Result<Vec<Figure>> {
    let backends = [
        Backend::testpmd_plugin()?,
        Backend::vpmd_fwd()?,
        Backend::TestpmdNetVhost,
    ];
    describe("plugin", o);
    for (tag, b) in ["(a)", "(b)", "(c)"].iter().zip(&backends) {
        println!("  {tag} {}", b.name());
    }
    println!("  goals: (a) >= 0.95x (b), (a) >= 1.2x (c) in Mpps");
    let measured = measure(rounds, o, &backends)?;
    let mut figures = Vec::new();
    for (s, m) in o.scenarios.iter().zip(&measured) {
        let tag = format!("plugin-{}-{}B-{}q", s.name, o.shape.pkt_len, o.shape.queues);
        for k in [1, 2] {
            let name = format!("{tag}-vs-{}", backends[k].short());
            figures.extend(compare(&name, &m[0], &m[k], backends[k].name()));
        }
    }
    Ok(figures)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(c: &Command) -> Vec<String> {
        c.get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn scenarios_parse_by_name() {
        assert_eq!("loop".parse::<Scenario>().unwrap().backend, "io");
        let e = "sideways".parse::<Scenario>().unwrap_err();
        assert!(e.contains("guest2host, host2guest, loop"), "{e}");
    }

    #[test]
    fn backends_differ_only_in_the_app_and_the_port() {
        let sock = Path::new("/run/x/vhost-bench.sock");
        let shape = Shape {
            pkt_len: 64,
            queues: 2,
        };
        let dir = PathBuf::from("/opt/vpmd/target/release");
        let plugin = Backend::TestpmdPlugin(dir.clone()).command(sock, "rxonly", shape, true);
        let net_vhost = Backend::TestpmdNetVhost.command(sock, "rxonly", shape, true);
        let fwd = Backend::VpmdFwd("/bin/vpmd-fwd".into()).command(sock, "rxonly", shape, true);
        let (p, n, f) = (args(&plugin), args(&net_vhost), args(&fwd));
        // The plugin by bare name from LD_LIBRARY_PATH, run in `/` (EAL's -d path check).
        let d = p.iter().position(|a| a == "-d").unwrap();
        assert_eq!(p[d + 1], "librte_net_vpmd.so");
        assert!(d < p.iter().position(|a| a == "--").unwrap());
        assert_eq!(plugin.get_current_dir(), Some(Path::new("/")));
        assert!(plugin
            .get_envs()
            .any(|(k, v)| k == "LD_LIBRARY_PATH" && v == Some(dir.as_os_str())));
        let vdev = "net_vpmd_vhost0,iface=/run/x/vhost-bench.sock,queues=2";
        assert!(p.iter().any(|a| a == vdev) && f.iter().any(|a| a == vdev));
        assert!(n
            .iter()
            .any(|a| a == "net_vhost0,iface=/run/x/vhost-bench.sock,queues=2"));
        // Otherwise the two testpmd runs are the same command line.
        let strip = |v: &[String], from: usize, n: usize| {
            let mut v = v.to_vec();
            v.drain(from..from + n);
            v
        };
        let pv = p.iter().position(|a| a == vdev).unwrap();
        let nv = n.iter().position(|a| a.starts_with("net_vhost0")).unwrap();
        assert_eq!(strip(&strip(&p, pv, 1), d, 2), strip(&n, nv, 1));
        // The same application flags in all three.
        let app = fwd_args("rxonly", shape, true);
        for v in [&p, &n, &f] {
            assert!(v.windows(app.len()).any(|w| w == app.as_slice()), "{v:?}");
        }
    }
}
