//! The embedded demos, what `vpmd-fwd` runs with no arguments or with `--demo [KIND]`.
//!
//! `xen-vhost` (the default) shows the product on one machine: a sim Xen host in a
//! private temp dir with one guest whose netfront is served by port 0 (`net_vpmd_xen0`),
//! and a vhost-user guest (vpmd's own front-end, `vuser`) on a socket in the same dir,
//! served by port 1 (`net_vpmd_vhost1`). Both guests run on threads of this process,
//! send and count what they receive; vpmd forwards between the ports (io, paired) and
//! prints its usual statistics, then one line per guest. The guests, the sim host and
//! the temp dir are torn down when the demo ends, by error or Ctrl-C too. The guests are
//! paced; one that is not scheduled for a while (a loaded machine) misses frames, which
//! its port counts as TX-dropped, as it would for a slow real guest.
//!
//! `qemu` puts a real Linux guest on port 1 instead: QEMU (KVM, or TCG where KVM cannot
//! boot it) with virtio-net-pci on port 1's vhost-user socket, booted by the project's
//! QEMU harness, pings the Xen guest, which answers as icmpecho does; the guest's ping
//! verdict is the demo's exit status (see `demo/qemu.rs`). Without QEMU or the guest's
//! kernel and busybox it says what is missing: `./setup.sh` installs them.
//!
//! `null` is the first demo: two null ports, no guests.

mod qemu;
mod vhost_guest;
mod xen_guest;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{anyhow, ensure, Context, Result};
use vpmd_config::{Config, PortConfig, RunConfig, StatsConfig};
use vpmd_pmd::Registry;
use vpmd_xen::platform::sim::Host;

/// Which demo to run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum DemoKind {
    /// A simulated Xen guest and a vhost-user guest, forwarded through vpmd.
    #[default]
    XenVhost,
    /// Two null ports.
    Null,
    /// A QEMU Linux guest on the vhost-user port pinging the simulated Xen guest.
    Qemu,
}

/// How long a demo forwards.
const SECONDS: u64 = 5;
/// Frames a guest offers per round.
const BURST: u16 = 32;
/// A guest's pause between rounds: paced (about 200,000 frames a second each), the
/// guests leave the machine's CPUs to the app.
const PACE: Duration = Duration::from_micros(100);

/// Runs demo `kind` until it ends or `stop` is set.
pub fn run(kind: DemoKind, registry: &Registry, stop: &AtomicBool) -> Result<()> {
    match kind {
        DemoKind::Null => {
            println!("vpmd-fwd: running the demo (two null ports, io forwarding, {SECONDS} s)");
            crate::run::run(
                &config(["net_vpmd_null0", "net_vpmd_null1"].map(String::from)),
                registry,
                stop,
            )
            .map(drop)
        }
        DemoKind::XenVhost => xen_vhost(registry, stop),
        DemoKind::Qemu => qemu::run(registry, stop),
    }
}

/// The demo's settings: the defaults (io, paired, lcores 0,1) with `ports`, statistics
/// every second, [`SECONDS`] long.
fn config(ports: impl IntoIterator<Item = String>) -> Config {
    let d = Config::default();
    Config {
        ports: ports
            .into_iter()
            .map(|devargs| PortConfig { devargs })
            .collect(),
        stats: StatsConfig {
            period: 1,
            ..d.stats
        },
        run: RunConfig {
            duration: Some(SECONDS),
            ..d.run
        },
        ..d
    }
}

fn xen_vhost(registry: &Registry, stop: &AtomicBool) -> Result<()> {
    // Dropped in reverse order: guests first, then the host (its shutdown needs the
    // sockets), then the directory.
    let dir = TempDir::create()?;
    let host = Host::start(&dir.0).context("starting the sim Xen host")?;
    let xen = xen_guest::start(&host)?;
    let sock = dir.0.join("vhost1.sock");
    let vhost = vhost_guest::start(sock.clone())?;
    println!(
        "vpmd-fwd: running the demo (io forwarding, {SECONDS} s; sim host and socket in {}):\n  \
         port 0: a simulated Xen guest (netfront, domid {})\n  \
         port 1: a vhost-user guest (vpmd's vuser front-end)\n  \
         both guests send and count what they receive; vpmd-fwd --help shows the rest",
        dir.0.display(),
        xen_guest::DOMID,
    );
    let c = config([
        format!(
            "net_vpmd_xen0,domid={},sim={}",
            xen_guest::DOMID,
            dir.0.display()
        ),
        format!("net_vpmd_vhost1,iface={}", sock.display()),
    ]);
    let report = crate::run::run(&c, registry, stop);
    let mut failed = 0;
    for r in [xen.finish(), vhost.finish()] {
        match r {
            Ok(line) => println!("{line}"),
            Err(e) => {
                eprintln!("vpmd-fwd: error: {e:#}");
                failed += 1;
            }
        }
    }
    report?;
    ensure!(failed == 0, "{failed} demo guest(s) failed");
    Ok(())
}

/// The frames one guest has sent (taken by its backend) and received, kept current by
/// its thread.
#[derive(Debug, Default)]
struct Counts {
    sent: AtomicU64,
    received: AtomicU64,
}

impl Counts {
    fn set(&self, sent: u64, received: u64) {
        self.sent.store(sent, Ordering::Relaxed);
        self.received.store(received, Ordering::Relaxed);
    }
}

/// What a guest thread runs: until the flag is set, updating the counts.
type GuestLoop = Box<dyn FnOnce(&AtomicBool, &Counts) -> Result<()> + Send>;

/// A guest on its own thread; stopped and joined when finished or dropped.
struct GuestThread {
    name: String,
    stop: Arc<AtomicBool>,
    counts: Arc<Counts>,
    thread: Option<JoinHandle<Result<()>>>,
}

impl GuestThread {
    fn spawn(name: String, body: GuestLoop) -> Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let counts = Arc::new(Counts::default());
        let (s, c) = (Arc::clone(&stop), Arc::clone(&counts));
        let thread = std::thread::Builder::new()
            .name("demo-guest".into())
            .spawn(move || body(&s, &c))
            .with_context(|| format!("starting the {name}"))?;
        Ok(Self {
            name,
            stop,
            counts,
            thread: Some(thread),
        })
    }

    /// Stops the guest; its summary line, or why it failed.
    fn finish(mut self) -> Result<String> {
        self.join().with_context(|| self.name.clone())?;
        Ok(format!(
            "{}: sent {} frames, received {} frames",
            self.name,
            self.counts.sent.load(Ordering::Relaxed),
            self.counts.received.load(Ordering::Relaxed)
        ))
    }

    fn join(&mut self) -> Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.take() {
            Some(t) => t.join().map_err(|_| anyhow!("the guest thread panicked"))?,
            None => Ok(()),
        }
    }
}

impl Drop for GuestThread {
    fn drop(&mut self) {
        let _ = self.join();
    }
}

/// The demo's private directory (sim host sockets, the vhost-user socket), removed on
/// drop.
struct TempDir(PathBuf);

impl TempDir {
    fn create() -> Result<Self> {
        let dir = std::env::temp_dir().join(format!("vpmd-fwd-demo-{}", std::process::id()));
        // Left over by an earlier process with this pid that was killed.
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Self(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
