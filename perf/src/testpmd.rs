//! Running a forwarding app for a fixed time and reading its periodic `show port stats`
//! blocks: dpdk-testpmd (the anchor) and vpmd-fwd print the same layout, so one parser
//! serves both.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::harness::median;

/// Which throughput line of a `show port stats` block a figure comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pps {
    /// `Rx-pps`: what a port received.
    Rx,
    /// `Tx-pps`: what a port sent.
    Tx,
}

impl Pps {
    /// The label as both apps print it.
    pub fn label(self) -> &'static str {
        match self {
            Pps::Rx => "Rx-pps",
            Pps::Tx => "Tx-pps",
        }
    }
}

/// The `rate` samples of `port` (0-based) out of `nb_ports` in a stats stream.
pub fn pps(output: &str, rate: Pps, port: usize, nb_ports: usize) -> Vec<f64> {
    output
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix(rate.label())?.strip_prefix(':'))
        .filter_map(|rest| rest.split_whitespace().next()?.parse::<f64>().ok())
        .skip(port)
        .step_by(nb_ports)
        .collect()
}

/// The busy cycles per packet a run printed at stop: testpmd's `CPU cycles/packet=X`
/// (`--record-core-cycles`) or vpmd-fwd's `cycles/packet X`; both divide the forwarding
/// lcores' busy TSC cycles by the packets received on all ports.
pub fn cycles_per_packet(output: &str) -> Option<f64> {
    output.lines().find_map(|l| {
        let (_, rest) = l.split_once("cycles/packet")?;
        let num: String = rest
            .trim_start_matches(['=', ' '])
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        num.parse().ok()
    })
}

/// The forwarding lcore's busy share in percent that vpmd-fwd printed at stop
/// (`lcore 1: packets N, busy X%, ...`).
pub fn busy_percent(output: &str) -> Option<f64> {
    output.lines().find_map(|l| {
        let (_, rest) = l.split_once(", busy ")?;
        rest.split_once('%')?.0.trim().parse().ok()
    })
}

/// Median Mpps (`rate`) of port 0 over the samples after the first (warm-up) one.
pub fn median_mpps(output: &str, rate: Pps, nb_ports: usize) -> Result<f64> {
    let s = pps(output, rate, 0, nb_ports);
    if s.len() < 2 {
        bail!(
            "fewer than two {} samples in the output:\n{output}",
            rate.label()
        );
    }
    Ok(median(&s[1..]) / 1e6)
}

/// Median Mpps of port 0 while traffic flowed (see [`active_median`]).
pub fn active_median_mpps(output: &str, nb_ports: usize) -> Result<f64> {
    let s = pps(output, Pps::Rx, 0, nb_ports);
    match active_median(&s) {
        Some(m) => Ok(m / 1e6),
        None => bail!("no traffic samples in the output:\n{output}"),
    }
}

/// The median of per-second rate samples while traffic flowed: leading and trailing
/// zero samples (the peer not yet connected, or gone), the first non-zero one (partial
/// second) and the last non-zero one (the peer stopping) are left out, unless that
/// leaves nothing (a very short run), in which case every non-zero sample counts. None
/// if every sample is zero.
pub fn active_median(s: &[f64]) -> Option<f64> {
    let first = s.iter().position(|&v| v > 0.0)?;
    let last = s.iter().rposition(|&v| v > 0.0)?;
    let mut active: Vec<f64> = s.get(first + 1..last).unwrap_or(&[]).to_vec();
    if active.is_empty() {
        active = s.iter().copied().filter(|&v| v > 0.0).collect();
    }
    Some(median(&active))
}

/// A forwarding app running in the background, its stdout collected by a thread into a
/// buffer that can be watched while it runs.
pub struct Running {
    child: Child,
    reader: std::thread::JoinHandle<()>,
    out: Arc<Mutex<String>>,
    prog: String,
}

/// Starts `cmd` with stdout captured.
pub fn spawn(mut cmd: Command) -> Result<Running> {
    let prog = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {prog}"))?;
    let mut pipe = BufReader::new(child.stdout.take().context("stdout")?);
    let out = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&out);
    let reader = std::thread::spawn(move || {
        let mut line = Vec::new();
        while matches!(pipe.read_until(b'\n', &mut line), Ok(n) if n > 0) {
            if let Ok(mut s) = sink.lock() {
                s.push_str(&String::from_utf8_lossy(&line));
            }
            line.clear();
        }
    });
    Ok(Running {
        child,
        reader,
        out,
        prog,
    })
}

impl Running {
    /// Waits up to `timeout` until the output so far contains `marker`.
    pub fn wait_for(&mut self, marker: &str, timeout: Duration) -> Result<()> {
        let start = Instant::now();
        loop {
            if self.out.lock().is_ok_and(|s| s.contains(marker)) {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                bail!("{} exited ({status}) before printing {marker:?}", self.prog);
            }
            if start.elapsed() > timeout {
                bail!("{} printed no {marker:?} in {timeout:?}", self.prog);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGINT (as Ctrl-C), waits, and returns everything it printed.
    pub fn stop(mut self) -> Result<String> {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let status = self.child.wait()?;
        let _ = self.reader.join();
        let out = std::mem::take(&mut *self.out.lock().unwrap_or_else(|e| e.into_inner()));
        if !status.success() && out.is_empty() {
            bail!("{} failed: {status}", self.prog);
        }
        Ok(out)
    }
}

/// Runs `cmd` (stats every second) until `secs` samples after its first one, then stops it
/// and returns its stdout. Timing from the first sample, not from the start, keeps start-up
/// (seconds for DPDK's EAL on a loaded machine) out of the run, so short runs still measure.
pub fn run_sampled(cmd: Command, secs: u64) -> Result<String> {
    let mut r = spawn(cmd)?;
    let started = r.wait_for(Pps::Tx.label(), Duration::from_secs(60));
    if let Err(e) = started {
        let out = r.stop().unwrap_or_default();
        return Err(e.context(out));
    }
    // Half a period of slack so the last sample is printed before the stop.
    std::thread::sleep(Duration::from_millis(secs * 1000 + 500));
    r.stop()
}

/// The vpmd-fwd binary next to this one (both are built by `cargo build --release`).
pub fn vpmd_fwd() -> Result<PathBuf> {
    sibling_bin("vpmd-fwd")
}

/// The workspace binary `name` next to this one (built by `cargo build --release
/// --workspace`).
pub fn sibling_bin(name: &str) -> Result<PathBuf> {
    let p = std::env::current_exe()?.with_file_name(name);
    anyhow::ensure!(
        p.exists(),
        "{} not found: build it with `cargo build --release --workspace`",
        p.display()
    );
    Ok(p)
}

/// vpmd's DPDK plugin (crate pmd/plugin), as cargo names the built cdylib.
pub const PLUGIN: &str = "librte_net_vpmd.so";

/// The directory holding [`PLUGIN`]: this binary's own (`target/release`), or for a test
/// binary in `target/release/deps`, that or its parent.
pub fn plugin_dir() -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .context("the running binary has no directory")?;
    let mut candidates = vec![dir];
    if dir.ends_with("deps") {
        candidates.extend(dir.parent());
    }
    match candidates.iter().find(|d| d.join(PLUGIN).exists()) {
        Some(d) => Ok(d.to_path_buf()),
        None => bail!(
            "{PLUGIN} not found in {}: build it with `cargo build --release -p vpmd-dpdk-plugin`",
            dir.display()
        ),
    }
}

/// Makes the DPDK application `c` load vpmd's plugin from `dir`: a bare `-d` name, found
/// through `LD_LIBRARY_PATH`, with the working directory `/`, because EAL refuses `-d`
/// paths under a world-writable directory (a clone under /tmp; PLUGIN-FEASIBILITY P1).
/// Call it among the EAL arguments (before `--`); paths in later arguments must be
/// absolute.
pub fn load_plugin(c: &mut Command, dir: &std::path::Path) {
    c.current_dir("/")
        .env("LD_LIBRARY_PATH", dir)
        .args(["-d", PLUGIN]);
}

/// The EAL file prefix of anchor runs; `--in-memory` and `--no-shconf` leave only an
/// empty runtime directory under this name, removed by [`cleanup`].
const PREFIX: &str = "vpmdbench";

/// 2 MiB hugepages free now (0 if unknown).
pub fn hugepages_free() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("HugePages_Free:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Hugepages an anchor run needs: testpmd's default mbuf pools take about 300.
pub const ANCHOR_HUGEPAGES: u64 = 320;

/// A dpdk-testpmd command with the EAL arguments every vpmd run uses: CPUs 0 and 1
/// with `main_lcore` as the main lcore (the other forwards), no PCI, no telemetry, an own
/// file prefix, in memory on hugepages (no files left behind). Callers add `--vdev`s,
/// `--` and the application flags.
pub fn testpmd(prefix: &str, main_lcore: u32) -> Command {
    let mut c = Command::new("dpdk-testpmd");
    c.args(["-l", "0,1", "--main-lcore", &main_lcore.to_string()]);
    c.args(["--no-pci", "--no-telemetry", "--file-prefix", prefix]);
    c.args(["--log-level", "lib.eal:error"]);
    c
}

/// The virtio_user peer (a vhost-user front-end nobody here wrote): main lcore CPU 1,
/// forwarding on CPU 0, one `net_virtio_user0` with `vdev_args` (`path=...` and any
/// virtio_user options), one port looping to itself, stats every second. Callers add
/// the forwarding mode and other application flags.
pub fn virtio_user_peer(prefix: &str, vdev_args: &str) -> Command {
    let mut c = testpmd(prefix, 1);
    c.args([
        "--in-memory",
        "--single-file-segments",
        "-m",
        "512",
        "--vdev",
    ]);
    c.arg(format!("net_virtio_user0,{vdev_args}"));
    c.args(["--", "--port-topology=loop", "--nb-cores=1", "--auto-start"]);
    c.args(["--stats-period", "1"]);
    c
}

/// dpdk-testpmd with two `net_null` ports, main lcore 0, forwarding lcore 1, starting at
/// once and recording core cycles. With `huge`, in memory on hugepages (no files left
/// behind); without, on normal pages with a pool small enough for them. Callers add the
/// forwarding mode and other application flags.
pub fn testpmd_null(huge: bool) -> Command {
    let mut c = testpmd(PREFIX, 0);
    if huge {
        c.arg("--in-memory");
    } else {
        c.args(["--no-huge", "--no-shconf", "-m", "1024"]);
    }
    c.args(["--vdev", "net_null0", "--vdev", "net_null1", "--"]);
    c.args(["--auto-start", "--record-core-cycles"]);
    if !huge {
        c.arg("--total-num-mbufs=16384");
    }
    c
}

/// Removes the empty runtime directory an anchor run leaves.
pub fn cleanup() {
    remove_runtime_dir(PREFIX);
}

/// Removes the (empty) runtime directory of an in-memory DPDK process.
pub fn remove_runtime_dir(prefix: &str) {
    let _ = std::fs::remove_dir(format!("/var/run/dpdk/{prefix}"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_port_samples_in_order() {
        let out = "  Rx-pps:     34531268          Rx-bps:            0\n\
                   \x20 Rx-pps:     34531320          Rx-bps:            0\n\
                   \x20 Rx-pps:     27922989          Rx-bps:            0\n\
                   \x20 Rx-pps:     27922985          Rx-bps:            0\n";
        assert_eq!(pps(out, Pps::Rx, 0, 2), [34531268.0, 27922989.0]);
        assert_eq!(pps(out, Pps::Rx, 1, 2), [34531320.0, 27922985.0]);
        assert!((median_mpps(out, Pps::Rx, 2).unwrap() - 27.922989).abs() < 1e-9);
        assert!(median_mpps(out, Pps::Tx, 2).is_err());
    }

    #[test]
    fn parses_tx_samples_apart_from_rx() {
        let out = "  Rx-pps:            0          Rx-bps:            0\n\
                   \x20 Tx-pps:      1755066          Tx-bps:            0\n\
                   \x20 Rx-pps:            0          Rx-bps:            0\n\
                   \x20 Tx-pps:      1754808          Tx-bps:            0\n";
        assert_eq!(pps(out, Pps::Tx, 0, 1), [1755066.0, 1754808.0]);
        assert_eq!(pps(out, Pps::Rx, 0, 1), [0.0, 0.0]);
    }

    #[test]
    fn active_samples_skip_the_idle_start_and_the_edges() {
        let out: String = [0, 0, 5, 10, 12, 11, 3]
            .iter()
            .map(|v| format!("  Rx-pps: {}          Rx-bps: 0\n", v * 1_000_000))
            .collect();
        assert_eq!(active_median_mpps(&out, 1).unwrap(), 11.0);
        let short = "  Rx-pps: 0   Rx-bps: 0\n  Rx-pps: 7000000   Rx-bps: 0\n";
        assert_eq!(active_median_mpps(short, 1).unwrap(), 7.0);
        assert!(active_median_mpps("  Rx-pps: 0   Rx-bps: 0\n", 1).is_err());
        assert_eq!(
            active_median(&[0.0, 4.0, 6.0, 7.0, 5.0, 2.0, 0.0, 0.0]),
            Some(6.0)
        );
    }

    #[test]
    fn a_sampled_run_starts_at_the_first_sample() {
        let mut c = Command::new("sh");
        let script = "sleep 0.3; while :; do echo '  Tx-pps: 7'; sleep 0.2; done";
        c.args(["-c", script]);
        let out = run_sampled(c, 1).unwrap();
        // Start-up (0.3 s) is not part of the second measured after the first sample.
        assert!(pps(&out, Pps::Tx, 0, 1).len() >= 6, "{out}");
        let mut quits = spawn(Command::new("true")).unwrap();
        let e = quits
            .wait_for("Tx-pps", Duration::from_secs(5))
            .unwrap_err();
        assert!(e.to_string().contains("exited"), "{e}");
    }

    #[test]
    fn parses_cycles_per_packet_of_both_apps() {
        let dpdk = "  CPU cycles/packet=23.57 (total cycles=25310170514 / total io packets=1073677888) at 2700 MHz Clock";
        assert_eq!(cycles_per_packet(dpdk), Some(23.57));
        let ours =
            "  lcore 1: packets 483984896, busy 100.0%, cycles/packet 22.3, iterations 3781132";
        assert_eq!(cycles_per_packet(ours), Some(22.3));
        assert_eq!(busy_percent(ours), Some(100.0));
        assert_eq!(busy_percent(dpdk), None);
        assert_eq!(cycles_per_packet("nothing"), None);
    }
}
