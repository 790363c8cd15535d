//! Runs the QEMU guest harness (`harness/qemu/`) from Rust: the two-guest scenario,
//! `two-guests.sh`, from cargo tests, and one guest, `run-guest.sh`, beside a backend.
//!
//! The script starts a vhost-user switch (a command owning two server sockets,
//! `SOCK0` and `SOCK1`), boots two Linux guests on them, pings and bulk-transfers
//! between them, tears everything down and prints one line:
//!
//! ```text
//! QEMU-TWO-GUESTS PASS accel=tcg ping_loss=0% rtt_avg=2.3ms bulk_bytes=16777216 bulk_kbps=56158 secs=21.0
//! ```
//!
//! This crate runs it and parses that line:
//!
//! ```no_run
//! use vpmd_qemu_harness::{TwoGuests, TESTPMD_SWITCH};
//!
//! let run = TwoGuests::new(TESTPMD_SWITCH).run().expect("harness ran");
//! assert!(run.summary.pass, "{}", run.log());
//! ```
//!
//! Testing vpmd's own vhost-user PMD is the same call with another switch, e.g.
//! `format!("{} -l 0,1 --vdev net_vpmd_vhost0,iface=SOCK0 --vdev net_vpmd_vhost1,iface=SOCK1",
//! env!("CARGO_BIN_EXE_vpmd-fwd"))`.
//!
//! [`RunGuest`] boots one guest (`run-guest.sh`) in the background beside a backend the
//! caller runs itself, as `vpmd-fwd --demo qemu` does.

mod guest;

pub use guest::{detect_accel, run_guest_script, Finished, Guest, RunGuest, Verdict};

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

/// DPDK's own switch: `dpdk-testpmd` with two `net_vhost` ports in io forwarding, the
/// reference the harness was proven with. Main lcore on CPU 0, forwarding on CPU 1.
pub const TESTPMD_SWITCH: &str = "dpdk-testpmd -l 0,1 --no-pci --in-memory \
     --vdev net_vhost0,iface=SOCK0 --vdev net_vhost1,iface=SOCK1 \
     -- --forward-mode=io --auto-start";

/// The scenario script.
pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("two-guests.sh")
}

/// What this machine lacks to boot the guests (`./setup.sh` installs all of it), or
/// `None`. Lets a test skip with a message instead of failing on a bare machine.
pub fn missing_prerequisites() -> Option<String> {
    let mut missing = Vec::new();
    if !on_path("qemu-system-x86_64") {
        missing.push("qemu-system-x86_64 (qemu-system-x86)");
    }
    let kernel = std::fs::read_dir("/boot")
        .map(|d| {
            d.flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("vmlinuz-"))
        })
        .unwrap_or(false);
    if !kernel {
        missing.push("a kernel in /boot (linux-image-amd64)");
    }
    if !Path::new("/bin/busybox").exists() {
        missing.push("/bin/busybox (busybox-static)");
    }
    if missing.is_empty() {
        None
    } else {
        Some(format!("missing {}: run ./setup.sh", missing.join(", ")))
    }
}

fn on_path(exe: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(exe).is_file()))
        .unwrap_or(false)
}

/// One run of the scenario; options map to the script's flags.
#[derive(Debug, Clone)]
pub struct TwoGuests {
    switch: String,
    args: Vec<String>,
}

impl TwoGuests {
    /// `switch` is a shell command; the words `SOCK0` and `SOCK1` in it become the
    /// paths of the two vhost-user sockets it must create (as their server).
    pub fn new(switch: impl Into<String>) -> Self {
        Self {
            switch: switch.into(),
            args: Vec::new(),
        }
    }

    fn flag(mut self, name: &str, value: impl ToString) -> Self {
        self.args.push(name.to_owned());
        self.args.push(value.to_string());
        self
    }

    /// Echo requests of the measured ping (script default 10).
    pub fn count(self, n: u32) -> Self {
        self.flag("--count", n)
    }

    /// Bytes of the bulk TCP transfer (script default 16 MiB).
    pub fn bytes(self, n: u64) -> Self {
        self.flag("--bytes", n)
    }

    /// Client guest's limit from QEMU start to verdict (script default 90 s).
    pub fn timeout_secs(self, s: u32) -> Self {
        self.flag("--timeout", s)
    }

    /// Where the logs go (script default `target/qemu/two-guests`).
    pub fn out_dir(self, dir: impl AsRef<Path>) -> Self {
        self.flag("--out", dir.as_ref().display())
    }

    /// Any other flag of the script, e.g. `.arg("--accel").arg("tcg")`.
    pub fn arg(mut self, a: impl Into<String>) -> Self {
        self.args.push(a.into());
        self
    }

    /// Runs the script to completion. `Ok` whenever it produced its summary line,
    /// PASS or FAIL; `Err` when the harness itself could not run.
    pub fn run(&self) -> Result<Run, Error> {
        let out = Command::new("bash")
            .arg(script())
            .arg("--switch")
            .arg(&self.switch)
            .args(&self.args)
            .output()
            .map_err(Error::Spawn)?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        match Summary::parse(&stdout) {
            // Exit status and summary must agree: 0 is PASS, 1 is FAIL.
            Some(summary) if out.status.success() == summary.pass => Ok(Run {
                summary,
                status: out.status,
                stdout,
                stderr,
            }),
            _ => Err(Error::NoSummary {
                status: out.status,
                stdout,
                stderr,
            }),
        }
    }
}

/// A finished run: its summary and everything the script printed.
#[derive(Debug, Clone)]
pub struct Run {
    pub summary: Summary,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Both streams, for an assertion message.
    pub fn log(&self) -> String {
        format!("{}\n{}", self.stderr, self.stdout)
    }
}

/// The `QEMU-TWO-GUESTS` line. Fields the run did not get to are `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub pass: bool,
    /// `tcg` or `kvm`.
    pub accel: String,
    pub ping_loss_pct: Option<f64>,
    pub rtt_avg_ms: Option<f64>,
    /// Bytes the server guest received intact (same count and md5 as sent).
    pub bulk_bytes: Option<u64>,
    pub bulk_kbps: Option<u64>,
    /// Wall time of the whole scenario.
    pub secs: Option<f64>,
    /// Why it failed (`client-test-failed`, `switch-exited`, ...).
    pub reason: Option<String>,
    /// The line itself.
    pub line: String,
}

impl Summary {
    /// The last `QEMU-TWO-GUESTS PASS|FAIL key=value...` line of `output`.
    pub fn parse(output: &str) -> Option<Self> {
        let t = Tagged::last(output, "QEMU-TWO-GUESTS")?;
        Some(Self {
            pass: t.pass,
            accel: t.get("accel").unwrap_or("unknown").to_owned(),
            ping_loss_pct: t.num("ping_loss", "%"),
            rtt_avg_ms: t.num("rtt_avg", "ms"),
            bulk_bytes: t.num("bulk_bytes", ""),
            bulk_kbps: t.num("bulk_kbps", ""),
            secs: t.num("secs", "s"),
            reason: t.get("reason").map(str::to_owned),
            line: t.line.to_owned(),
        })
    }
}

/// A verdict line of the scripts: `TAG PASS|FAIL key=value...`.
struct Tagged<'a> {
    line: &'a str,
    pass: bool,
    fields: Vec<(&'a str, &'a str)>,
}

impl<'a> Tagged<'a> {
    /// The last line of `output` tagged `tag`.
    fn last(output: &'a str, tag: &str) -> Option<Self> {
        let line = output
            .lines()
            .rev()
            .find(|l| l.strip_prefix(tag).is_some_and(|r| r.starts_with(' ')))?;
        let mut words = line.split_whitespace().skip(1);
        let pass = match words.next()? {
            "PASS" => true,
            "FAIL" => false,
            _ => return None,
        };
        let fields = words.filter_map(|w| w.split_once('=')).collect();
        Some(Self { line, pass, fields })
    }

    /// Field `k`; `None` when absent, empty or `-` (not measured).
    fn get(&self, k: &str) -> Option<&'a str> {
        self.fields
            .iter()
            .find(|(key, _)| *key == k)
            .map(|(_, v)| *v)
            .filter(|v| *v != "-" && !v.is_empty())
    }

    /// Field `k` as a number, `unit` (e.g. `ms`) stripped.
    fn num<T: std::str::FromStr>(&self, k: &str, unit: &str) -> Option<T> {
        self.get(k)
            .and_then(|v| v.strip_suffix(unit).unwrap_or(v).parse().ok())
    }
}

/// The harness could not give a verdict.
#[derive(Debug)]
pub enum Error {
    /// bash or the script could not be started.
    Spawn(std::io::Error),
    /// It ended without a consistent summary line: a usage or setup error (exit 2,
    /// e.g. QEMU not installed) or a crash of the script.
    NoSummary {
        status: ExitStatus,
        stdout: String,
        stderr: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Spawn(e) => write!(f, "cannot run {}: {e}", script().display()),
            Error::NoSummary {
                status,
                stdout,
                stderr,
            } => write!(
                f,
                "{} ended ({status}) without a consistent QEMU-TWO-GUESTS line\n{stderr}\n{stdout}",
                script().display()
            ),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_pass_line() {
        let out = "client: VPMD-VERDICT PASS\n\
            QEMU-TWO-GUESTS PASS accel=tcg ping_loss=0% rtt_avg=2.563ms \
            bulk_bytes=16777216 bulk_kbps=56158 secs=20.98\n";
        let s = Summary::parse(out).unwrap();
        assert!(s.pass);
        assert_eq!(s.accel, "tcg");
        assert_eq!(s.ping_loss_pct, Some(0.0));
        assert_eq!(s.rtt_avg_ms, Some(2.563));
        assert_eq!(s.bulk_bytes, Some(16_777_216));
        assert_eq!(s.bulk_kbps, Some(56_158));
        assert_eq!(s.secs, Some(20.98));
        assert_eq!(s.reason, None);
    }

    #[test]
    fn parses_a_fail_line_with_missing_fields() {
        let out = "QEMU-TWO-GUESTS FAIL accel=tcg ping_loss=- rtt_avg=- bulk_bytes=0 \
            bulk_kbps=- secs=45.38 reason=client-test-failed logs=/x\n";
        let s = Summary::parse(out).unwrap();
        assert!(!s.pass);
        assert_eq!(s.ping_loss_pct, None);
        assert_eq!(s.rtt_avg_ms, None);
        assert_eq!(s.bulk_bytes, Some(0));
        assert_eq!(s.reason.as_deref(), Some("client-test-failed"));
    }

    #[test]
    fn early_failure_has_only_a_reason() {
        let s =
            Summary::parse("QEMU-TWO-GUESTS FAIL accel=tcg reason=switch-exited secs=0.09 logs=/x")
                .unwrap();
        assert!(!s.pass);
        assert_eq!(s.reason.as_deref(), Some("switch-exited"));
        assert_eq!(s.bulk_kbps, None);
    }

    #[test]
    fn no_summary_line() {
        assert_eq!(
            Summary::parse("two-guests: error: --switch is required\n"),
            None
        );
        assert_eq!(Summary::parse("QEMU-TWO-GUESTS MAYBE\n"), None);
    }

    #[test]
    fn script_is_next_to_the_crate() {
        assert!(script().is_file(), "{}", script().display());
    }
}
