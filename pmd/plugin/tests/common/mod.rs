//! Stock dpdk-testpmd with vpmd's plugin loaded (`-d librte_net_vpmd.so`), driven at
//! its interactive prompt, and the peers nobody here wrote (DPDK's virtio_user).
//!
//! The plugin is passed by bare file name with `LD_LIBRARY_PATH` and the working
//! directory `/`: EAL refuses `-d` paths under a world-writable directory (a fresh
//! clone under /tmp), and a bare name skips that check (PLUGIN-FEASIBILITY P1).
//! Cores: testpmd's main lcore on CPU 0, its forwarding lcore on CPU 1; the peer the
//! other way round, so no two busy pollers share a CPU.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use vpmd_perf::testpmd::{remove_runtime_dir, spawn, virtio_user_peer, Running};

pub const GUARD: Duration = Duration::from_secs(30);

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Held for a whole test: two testpmd pairs would share CPUs 0 and 1.
pub fn one_at_a_time() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The directory holding the built plugin (cargo puts the cdylib next to the tests).
pub fn plugin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    for d in [deps, deps.parent().unwrap()] {
        if d.join("librte_net_vpmd.so").exists() {
            return d.to_path_buf();
        }
    }
    panic!("librte_net_vpmd.so not built next to {}", exe.display());
}

/// A scratch directory, removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Self {
        let d = std::env::temp_dir().join(format!("vpmd-plugin-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Self(d)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    pub fn str(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Stock dpdk-testpmd with the plugin, at its prompt; killed on drop.
pub struct Testpmd {
    child: Child,
    stdin: ChildStdin,
    out: PathBuf,
    prefix: String,
    /// Where the next `command` output starts.
    mark: usize,
}

impl Testpmd {
    /// Starts testpmd with `eal` EAL arguments (the `--vdev`s) and `app` application
    /// arguments, interactive; waits for the prompt.
    pub fn start(tag: &str, scratch: &Scratch, eal: &[&str], app: &[&str]) -> Self {
        let prefix = format!("vpmd-plugin-{tag}-{}", std::process::id());
        let out = scratch.path(&format!("{tag}.out"));
        let file = std::fs::File::create(&out).unwrap();
        // Unbuffered: testpmd's printf output must reach the file before the prompt
        // its command line library writes directly.
        let mut child = Command::new("stdbuf")
            .args(["-o0", "-e0", "dpdk-testpmd"])
            .current_dir("/")
            .env("LD_LIBRARY_PATH", plugin_dir())
            .args(["--no-pci", "--no-telemetry", "--in-memory"])
            .args(["--file-prefix", &prefix, "--log-level", "lib.eal:error"])
            .args(["-d", "librte_net_vpmd.so"])
            .args(eal)
            .args(["--", "-i", "--total-num-mbufs=8192"])
            .args(app)
            .stdin(Stdio::piped())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .expect("dpdk-testpmd starts");
        let stdin = child.stdin.take().unwrap();
        let mut t = Self {
            child,
            stdin,
            out,
            prefix,
            mark: 0,
        };
        t.wait_for("testpmd> ");
        t
    }

    /// Everything testpmd printed so far.
    pub fn output(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.out).unwrap_or_default()).into_owned()
    }

    /// Waits until `marker` appears after the last command.
    pub fn wait_for(&mut self, marker: &str) -> String {
        let end = Instant::now() + GUARD;
        loop {
            let all = self.output();
            if let Some(i) = all[self.mark.min(all.len())..].find(marker) {
                return all[self.mark..self.mark + i + marker.len()].to_string();
            }
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!("testpmd exited ({st}) waiting for {marker:?}:\n{all}");
            }
            assert!(Instant::now() < end, "no {marker:?} from testpmd:\n{all}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Runs `cmd` at the prompt and returns what it printed up to the next prompt.
    pub fn command(&mut self, cmd: &str) -> String {
        self.mark = self.output().len();
        writeln!(self.stdin, "{cmd}").unwrap();
        let text = self.wait_for("testpmd> ");
        self.mark += text.len();
        text
    }

    /// `start`, `secs` of forwarding, `stop`; returns the statistics `stop` printed.
    pub fn forward_for(&mut self, secs: u64) -> String {
        self.command("start");
        std::thread::sleep(Duration::from_secs(secs));
        self.command("stop")
    }

    /// `quit`; returns the whole output after a clean exit.
    pub fn quit(mut self) -> String {
        writeln!(self.stdin, "quit").unwrap();
        let end = Instant::now() + GUARD;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                let out = self.output();
                assert!(st.success(), "testpmd exit {st}:\n{out}");
                return out;
            }
            assert!(
                Instant::now() < end,
                "testpmd did not quit:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Testpmd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        remove_runtime_dir(&self.prefix);
    }
}

/// A figure after `key` in testpmd's output, the last one printed.
pub fn last_figure(text: &str, key: &str) -> u64 {
    text.rmatch_indices(key)
        .next()
        .and_then(|(i, _)| {
            text[i + key.len()..]
                .split_whitespace()
                .next()
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or_else(|| panic!("no {key:?} in:\n{text}"))
}

/// Waits until `path` exists (a server socket).
pub fn wait_path(path: &Path) {
    let end = Instant::now() + GUARD;
    while !path.exists() {
        assert!(Instant::now() < end, "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A virtio_user testpmd peer, stopped on drop (a failed test leaves no busy poller).
pub struct Peer(Option<Running>);

impl Peer {
    /// Stops the peer (SIGINT) and returns its output.
    pub fn stop(mut self) -> String {
        self.0.take().unwrap().stop().expect("the peer stops")
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Some(r) = self.0.take() {
            let _ = r.stop();
        }
    }
}

/// A virtio_user testpmd peer (a client of our server socket) with `vdev_args` and
/// `extra` application flags.
pub fn virtio_peer(tag: &str, vdev_args: &str, extra: &[&str]) -> Peer {
    let prefix = format!("vpmd-plugin-peer-{tag}-{}", std::process::id());
    let mut c = virtio_user_peer(&prefix, vdev_args);
    c.args(extra);
    Peer(Some(spawn(c).expect("the virtio_user peer starts")))
}
