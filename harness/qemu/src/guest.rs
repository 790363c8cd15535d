//! One guest booted by `run-guest.sh`, in the background: for a caller that has its own
//! work to do while the guest runs (`vpmd-fwd --demo qemu` forwards for it).
//!
//! ```no_run
//! use vpmd_qemu_harness::RunGuest;
//!
//! let mut guest = RunGuest::new("/tmp/x/vhost1.sock", "ping")
//!     .flag("--peer", "10.0.0.2")
//!     .spawn()
//!     .expect("run-guest.sh starts");
//! // ... serve the socket until `guest.try_finish()` has the verdict ...
//! let done = guest.stop().expect("stopped");
//! println!("{}", done.stdout);
//! ```

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::Tagged;

/// How long [`Guest::stop`] gives the script to stop QEMU (it allows QEMU 3 s) before
/// killing it.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// The one-guest script.
pub fn run_guest_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("run-guest.sh")
}

/// The accelerator `run-guest.sh --accel auto` picks on this machine, `kvm` or `tcg`
/// (lib.sh's `detect_accel`), so a caller can say which before the guest boots.
pub fn detect_accel() -> io::Result<String> {
    let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join("lib.sh");
    let out = Command::new("bash")
        .args([
            "-c",
            r#"PROG=detect-accel; source "$1" && detect_accel"#,
            "bash",
        ])
        .arg(lib)
        .stderr(Stdio::inherit())
        .output()?;
    let accel = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if out.status.success() && !accel.is_empty() {
        Ok(accel)
    } else {
        Err(io::Error::other(format!(
            "detect_accel failed ({})",
            out.status
        )))
    }
}

/// A `run-guest.sh` command line: `--sock` and `--role`, then any of its flags.
#[derive(Debug, Clone)]
pub struct RunGuest {
    args: Vec<String>,
}

impl RunGuest {
    /// A guest on vhost-user socket `sock` (QEMU connects; the backend listens) running
    /// `role` (`ping`, `bulk`, `server` or a comma list).
    pub fn new(sock: impl AsRef<Path>, role: &str) -> Self {
        Self { args: Vec::new() }
            .flag("--sock", sock.as_ref().display())
            .flag("--role", role)
    }

    /// Flag `name` with `value`, e.g. `.flag("--count", 5)`; `run-guest.sh --help`
    /// lists them.
    pub fn flag(mut self, name: &str, value: impl ToString) -> Self {
        self.args.push(name.to_owned());
        self.args.push(value.to_string());
        self
    }

    /// Starts the script. Its stdout (the guest's `VPMD-*` lines and the `RUN-GUEST`
    /// verdict) is collected for [`Finished`]; its stderr (building the guest, setup
    /// errors) goes to ours.
    pub fn spawn(&self) -> io::Result<Guest> {
        let mut child = Command::new("bash")
            .arg(run_guest_script())
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let mut pipe = child.stdout.take().expect("stdout is piped");
        let out = std::thread::Builder::new()
            .name("run-guest-out".into())
            .spawn(move || {
                let mut s = String::new();
                let _ = pipe.read_to_string(&mut s);
                s
            });
        match out {
            Ok(out) => Ok(Guest {
                child,
                out: Some(out),
            }),
            Err(e) => {
                // Not left running without anyone to stop it.
                let _ = child.kill();
                let _ = child.wait();
                Err(e)
            }
        }
    }
}

/// A running `run-guest.sh`; stopped (and QEMU with it) when dropped.
#[derive(Debug)]
pub struct Guest {
    child: Child,
    out: Option<JoinHandle<String>>,
}

impl Guest {
    /// What the script gave once it has ended by itself, `None` while it runs.
    pub fn try_finish(&mut self) -> io::Result<Option<Finished>> {
        match self.child.try_wait()? {
            Some(status) => Ok(Some(self.finished(status))),
            None => Ok(None),
        }
    }

    /// Ends the run now: SIGTERM makes the script stop QEMU, remove what it made and
    /// print its verdict (FAIL, `reason=stopped`, unless the guest had finished); after
    /// 10 s it is killed.
    pub fn stop(&mut self) -> io::Result<Finished> {
        if let Some(done) = self.try_finish()? {
            return Ok(done);
        }
        // std can only SIGKILL, which would leave QEMU behind; kill(1) sends SIGTERM
        // without unsafe code.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .stderr(Stdio::null())
            .status();
        let end = Instant::now() + STOP_GRACE;
        while Instant::now() < end {
            if let Some(done) = self.try_finish()? {
                return Ok(done);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.child.kill()?;
        let status = self.child.wait()?;
        Ok(self.finished(status))
    }

    fn finished(&mut self, status: ExitStatus) -> Finished {
        let stdout = self
            .out
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default();
        Finished::new(status, stdout)
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        if self.out.is_some() {
            let _ = self.stop();
        }
    }
}

/// An ended `run-guest.sh`.
#[derive(Debug, Clone)]
pub struct Finished {
    /// The script's exit status: 0 PASS, 1 FAIL, 2 setup error.
    pub status: ExitStatus,
    /// Everything it printed on stdout.
    pub stdout: String,
    /// Its `RUN-GUEST` line; `None` after a setup error (exit 2, message on stderr).
    pub verdict: Option<Verdict>,
}

impl Finished {
    fn new(status: ExitStatus, stdout: String) -> Self {
        let verdict = Tagged::last(&stdout, "RUN-GUEST").map(|t| Verdict {
            pass: t.pass && status.success(),
            accel: t.get("accel").unwrap_or("unknown").to_owned(),
            secs: t.num("secs", ""),
            reason: t.get("reason").map(str::to_owned),
            line: t.line.to_owned(),
        });
        Self {
            status,
            stdout,
            verdict,
        }
    }

    /// Whether the guest passed.
    pub fn pass(&self) -> bool {
        self.verdict.as_ref().is_some_and(|v| v.pass)
    }

    /// The guest's `VPMD-RESULT ROLE ...` line, e.g. the ping's loss and rtt.
    pub fn result(&self, role: &str) -> Option<&str> {
        let tag = format!("VPMD-RESULT {role} ");
        self.stdout.lines().find(|l| l.starts_with(&tag))
    }
}

/// The `RUN-GUEST PASS|FAIL accel=.. role=.. secs=.. [reason=..]` line.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// PASS, and the exit status agrees.
    pub pass: bool,
    /// `tcg` or `kvm`.
    pub accel: String,
    /// QEMU start to verdict.
    pub secs: Option<f64>,
    /// Why it failed (`test-failed`, `timeout-60s`, `stopped`, ...).
    pub reason: Option<String>,
    /// The line itself.
    pub line: String,
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt;

    use super::*;

    const PASS: &str = "VPMD-NET eth0 driver=virtio_net\n\
        VPMD-RESULT ping PASS peer=10.0.0.2 sent=5 received=5 loss=0% rtt_avg=2.1ms\n\
        VPMD-VERDICT PASS\n\
        RUN-GUEST PASS accel=tcg role=ping secs=4.71 log=/tmp/x/guest.log\n";

    #[test]
    fn parses_a_pass() {
        let f = Finished::new(ExitStatus::from_raw(0), PASS.into());
        assert!(f.pass());
        let v = f.verdict.as_ref().unwrap();
        assert_eq!(
            (v.accel.as_str(), v.secs, v.reason.as_deref()),
            ("tcg", Some(4.71), None)
        );
        assert!(f.result("ping").unwrap().contains("received=5"));
        assert_eq!(f.result("bulk"), None);
    }

    #[test]
    fn a_fail_or_a_disagreeing_status_is_no_pass() {
        let line = "RUN-GUEST FAIL accel=tcg role=ping secs=60.1 reason=timeout-60s log=/x\n";
        let f = Finished::new(ExitStatus::from_raw(1 << 8), line.into());
        assert!(!f.pass());
        assert_eq!(f.verdict.unwrap().reason.as_deref(), Some("timeout-60s"));
        assert!(!Finished::new(ExitStatus::from_raw(1 << 8), PASS.into()).pass());
        assert!(Finished::new(ExitStatus::from_raw(2 << 8), String::new())
            .verdict
            .is_none());
    }

    #[test]
    fn scripts_are_next_to_the_crate() {
        assert!(run_guest_script().is_file());
        assert!(matches!(detect_accel().as_deref(), Ok("kvm" | "tcg")));
    }
}
