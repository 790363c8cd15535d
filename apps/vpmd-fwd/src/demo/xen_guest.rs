//! The demos' Xen guest: domain [`DOMID`] on the sim host with vif 0 (made as the
//! toolstack would) and a netfront. It probes before port 0 exists, so the backend finds
//! it when the port starts. In `xen-vhost` it busy-polls its rings, as a DPDK-style guest
//! does, sends 64-byte frames and counts what arrives; in `qemu` it is a host at
//! [`IP`] that answers ARP and ping (icmpecho's logic), waiting on its event channel as
//! Linux's netfront does.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use vpmd_xen::netfront::{Netfront, NetfrontConfig, NetfrontError, TxPacket};
use vpmd_xen::platform::sim::{create_vif, DomainLayout, Guest, Host, SimPlatform, VifSpec};
use vpmd_xen::platform::Platform;
use vpmd_xen::wire::grant::DomId;
use vpmd_xen::wire::xenbus::XenbusState;

use super::{Counts, GuestThread, BURST, PACE};

/// The guest's domain id.
pub(super) const DOMID: u16 = 1;
/// The guest's MAC (Xen's OUI).
const MAC: [u8; 6] = [0x00, 0x16, 0x3e, 0, 0, DOMID as u8];
/// The address the `qemu` demo's guest pings it at. It answers ARP for any address
/// (icmpecho does), so this is only a name agreed with the other guest.
pub(super) const IP: &str = "10.0.0.2";

/// Creates the guest and its vif, probes its netfront and starts its traffic thread.
pub(super) fn start(host: &Host) -> Result<GuestThread> {
    let nf = probe(host, true)?;
    GuestThread::spawn(
        format!("Xen guest (netfront, domid {DOMID}) on port 0"),
        Box::new(move |stop, counts| traffic(nf, stop, counts)),
    )
}

/// Like [`start`], but the guest answers ARP and ICMP echo requests instead.
pub(super) fn start_responder(host: &Host) -> Result<GuestThread> {
    let nf = probe(host, false)?;
    GuestThread::spawn(
        format!("Xen guest (netfront, domid {DOMID}, {IP}) on port 0"),
        Box::new(move |stop, counts| respond(nf, stop, counts)),
    )
}

fn probe(host: &Host, busy_poll: bool) -> Result<Netfront> {
    let dom0 =
        SimPlatform::connect(host.paths(), DomId::DOM0).context("joining the sim as dom0")?;
    let vif = VifSpec {
        backend: DomId::DOM0,
        frontend: DomId(DOMID),
        devid: 0,
        mac: MAC,
    };
    create_vif(dom0.store(), &vif).context("creating the Xen guest's vif")?;
    let cfg = NetfrontConfig {
        busy_poll,
        ..NetfrontConfig::new(0)
    };
    let layout = DomainLayout {
        mem_pages: cfg.pages(),
        grant_frames: 2,
    };
    let guest =
        Guest::create(host.paths(), DomId(DOMID), layout).context("creating the Xen guest")?;
    Netfront::probe(Arc::new(guest), host.paths(), cfg).context("probing the Xen guest's netfront")
}

/// Runs the xenbus handshake until both ends are connected (port 0 has started).
fn connect(nf: &mut Netfront, stop: &AtomicBool) -> Result<()> {
    while nf.state() != XenbusState::Connected || nf.backend_state() != XenbusState::Connected {
        if stop.load(Ordering::Relaxed) {
            bail!("never connected: port 0's backend did not come up");
        }
        nf.step(Duration::from_millis(20))?;
    }
    Ok(())
}

fn respond(mut nf: Netfront, stop: &AtomicBool, counts: &Counts) -> Result<()> {
    connect(&mut nf, stop)?;
    let mut got = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        got.clear();
        match nf.recv(0, &mut got, 1, Duration::from_millis(50)) {
            Ok(()) | Err(NetfrontError::Timeout(_)) => {}
            Err(e) => return Err(e.into()),
        }
        for p in &mut got {
            if crate::engine::answer_ping(&mut p.data, &MAC) {
                nf.send(0, &TxPacket::new(&p.data))?;
            }
        }
        counts.set(nf.tx_stats(0).okay, nf.rx_stats(0).packets);
    }
    Ok(())
}

fn traffic(mut nf: Netfront, stop: &AtomicBool, counts: &Counts) -> Result<()> {
    connect(&mut nf, stop)?;
    let mut frame = [[0xff; 6], MAC].concat();
    frame.extend_from_slice(&0x88b5u16.to_be_bytes()); // IEEE local experimental
    frame.resize(64, 0);
    let mut tx = TxPacket::new(&frame);
    // The frame is written into every tx page once; sending only posts requests.
    nf.fill_tx_pages(0, tx.offset, &frame)?;
    tx.prewritten = true;
    // Received frames are counted, not copied out.
    nf.set_rx_sink(0, true)?;
    let mut got = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        got.clear();
        nf.poll(0, &mut got)?;
        nf.send_burst(0, (0..BURST).map(|_| tx))?;
        counts.set(nf.tx_stats(0).okay, nf.rx_stats(0).packets);
        std::thread::sleep(PACE);
    }
    Ok(())
}
