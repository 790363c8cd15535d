//! The demo's vhost-user guest: vpmd's own front-end (`vuser`, a virtio-net driver over
//! the vhost-user socket) with DPDK virtio_user's defaults. It connects as soon as
//! port 1 listens, then sends 64-byte frames and counts what arrives.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{anyhow, Result};
use vpmd_vhost::vuser::{self, Vuser};

use super::{Counts, GuestThread, BURST, PACE};

/// Starts the guest's thread; it connects to the back-end on `sock`.
pub(super) fn start(sock: PathBuf) -> Result<GuestThread> {
    GuestThread::spawn(
        "vhost-user guest (vuser) on port 1".into(),
        Box::new(move |stop, counts| traffic(&sock, stop, counts)),
    )
}

fn traffic(sock: &Path, stop: &AtomicBool, counts: &Counts) -> Result<()> {
    // Port 1 listens once it has started, after the guest thread is up.
    let mut v = loop {
        match Vuser::connect(sock, &vuser::Config::default()) {
            Ok(v) => break v,
            Err(e) if stop.load(Ordering::Relaxed) => {
                return Err(anyhow!(e).context("never connected to port 1"))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    };
    let (tx, rx) = v.queues();
    while !stop.load(Ordering::Relaxed) {
        rx.recv(|_| {});
        tx.send(BURST);
        counts.set(tx.stats().completed, rx.stats().packets);
        std::thread::sleep(PACE);
    }
    Ok(())
}
