//! `--demo qemu`: the Xen guest of [`xen_guest`] on port 0 as a host that answers ping,
//! and a real Linux guest in QEMU on port 1 that pings it. The QEMU side is the project's
//! harness (`harness/qemu/run-guest.sh` via `vpmd-qemu-harness`): a Debian kernel and a
//! busybox initramfs, cached under `target/qemu/`, with virtio-net-pci on vhost-user,
//! QEMU connecting to port 1's socket; its `ping` role sends [`COUNT`] echo requests and
//! reports on the serial console. vpmd-fwd forwards (io) and prints its statistics every
//! second until the guest's verdict, then the summary; the guest's PASS is the exit
//! status.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use vpmd_pmd::Registry;
use vpmd_qemu_harness::{detect_accel, missing_prerequisites, Finished, RunGuest};
use vpmd_xen::platform::sim::Host;

use super::{config, xen_guest, TempDir};

/// The Linux guest's address, in the Xen guest's subnet.
const GUEST_IP: &str = "10.0.0.1/24";
/// Echo requests of the guest's measured ping, 0.2 s apart: two seconds, so the
/// per-second statistics show it.
const COUNT: u32 = 10;
/// QEMU start to the guest's verdict, at most (a TCG boot takes a few seconds).
const TIMEOUT_SECS: u32 = 60;

pub(super) fn run(registry: &Registry, stop: &AtomicBool) -> Result<()> {
    if let Some(why) = missing_prerequisites() {
        bail!("--demo qemu cannot boot its guest: {why}");
    }
    let accel = detect_accel().context("choosing QEMU's accelerator")?;
    // Dropped in reverse order: the Xen guest, the host, then the directory.
    let dir = TempDir::create()?;
    let host = Host::start(&dir.0).context("starting the sim Xen host")?;
    let xen = xen_guest::start_responder(&host)?;
    let sock = dir.0.join("vhost1.sock");
    // Until the guest's verdict: the watcher below stops forwarding.
    let mut c = config([
        format!(
            "net_vpmd_xen0,domid={},sim={}",
            xen_guest::DOMID,
            dir.0.display()
        ),
        format!("net_vpmd_vhost1,iface={}", sock.display()),
    ]);
    c.run.duration = None;
    println!(
        "vpmd-fwd: running the QEMU demo (io forwarding until the guest's verdict; sim host, \
         socket and guest log in {}):\n  \
         port 0: a simulated Xen guest (netfront, domid {}) at {}, answering ARP and ping\n  \
         port 1: a QEMU Linux guest (virtio-net-pci over vhost-user) at {GUEST_IP}, \
         pinging it {COUNT} times\n  {}",
        dir.0.display(),
        xen_guest::DOMID,
        xen_guest::IP,
        accel_note(&accel),
    );
    let guest = RunGuest::new(&sock, "ping")
        .flag("--ip", GUEST_IP)
        .flag("--peer", xen_guest::IP)
        .flag("--count", COUNT)
        .flag("--timeout", TIMEOUT_SECS)
        .flag("--accel", &accel)
        // Beside the main lcore, which mostly sleeps, not on the busy-polling one.
        .flag("--cpus", c.lcores.main())
        .flag("--log", dir.0.join("guest.serial.log").display())
        // The socket appears once port 1 starts, after the guest may have been built.
        .flag("--sock-wait", 30)
        .spawn()
        .context("starting harness/qemu/run-guest.sh")?;

    let fwd_stop = AtomicBool::new(false);
    let (report, done) = std::thread::scope(|s| {
        let watcher = s.spawn(|| watch(guest, stop, &fwd_stop));
        let report = crate::run::run(&c, registry, &fwd_stop);
        fwd_stop.store(true, Ordering::Relaxed);
        let done = watcher
            .join()
            .map_err(|_| anyhow!("the guest watcher panicked"))
            .and_then(|r| r);
        (report, done)
    });
    let xen = xen.finish();
    let done = done?;
    print!("{}", indent(&done.stdout));
    match &xen {
        Ok(line) => println!("{line}"),
        Err(e) => eprintln!("vpmd-fwd: error: {e:#}"),
    }
    let report = report?;
    let port = |i: usize, name: &str| {
        let f = &report.forward[i];
        format!("port {i} ({name}) rx {} tx {}", f.rx_packets, f.tx_packets)
    };
    println!(
        "frames: {}, {}",
        port(0, "Xen guest"),
        port(1, "QEMU guest")
    );
    if stop.load(Ordering::Relaxed) {
        bail!("interrupted before the QEMU guest's verdict");
    }
    verdict(&done)?;
    xen.map(drop)
}

/// Waits for the guest's run to end by itself, or stops it when forwarding ended first
/// (an error) or on Ctrl-C; either way forwarding stops with it.
fn watch(
    mut guest: vpmd_qemu_harness::Guest,
    stop: &AtomicBool,
    fwd_stop: &AtomicBool,
) -> Result<Finished> {
    let ended: std::io::Result<Option<Finished>> = (|| {
        while !stop.load(Ordering::Relaxed) && !fwd_stop.load(Ordering::Relaxed) {
            if let Some(done) = guest.try_finish()? {
                return Ok(Some(done));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(None)
    })();
    fwd_stop.store(true, Ordering::Relaxed);
    match ended? {
        Some(done) => Ok(done),
        None => Ok(guest.stop()?),
    }
}

/// What the user should expect from the accelerator the harness chose.
fn accel_note(accel: &str) -> String {
    if accel == "kvm" {
        "QEMU runs under KVM".into()
    } else {
        format!(
            "QEMU runs under TCG (software emulation: /dev/kvm is missing, not usable or \
             kvm_pvm, which cannot boot a stock kernel); the boot takes a few seconds, \
             {TIMEOUT_SECS} s at most"
        )
    }
}

/// The script's output, set off from vpmd-fwd's own.
fn indent(out: &str) -> String {
    out.lines().map(|l| format!("  guest: {l}\n")).collect()
}

/// Ok on PASS; otherwise why not.
fn verdict(done: &Finished) -> Result<()> {
    match &done.verdict {
        Some(v) if v.pass => {
            println!(
                "vpmd-fwd: the QEMU guest pinged the Xen guest through vpmd: PASS ({}, {:.1} s)",
                v.accel,
                v.secs.unwrap_or_default()
            );
            Ok(())
        }
        Some(v) => bail!(
            "the QEMU guest's ping failed ({}); its last serial lines are above",
            v.reason.as_deref().unwrap_or("no reason given")
        ),
        None => bail!(
            "harness/qemu/run-guest.sh could not run the guest ({}); its message is above",
            done.status
        ),
    }
}
