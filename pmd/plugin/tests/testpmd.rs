//! vpmd's PMDs inside stock dpdk-testpmd (`-d librte_net_vpmd.so`), against peers
//! nobody here wrote: DPDK's virtio_user for `net_vpmd_vhost`, and for `net_vpmd_xen`
//! the sim's netfront (the Xen guest this process plays). Tests run one at a time
//! (each pins CPUs 0 and 1).

mod common;

use std::sync::Arc;

use common::*;
use vpmd_xen::netfront::{Netfront, NetfrontConfig, TxPacket};
use vpmd_xen::platform::sim::{create_vif, DomainLayout, Guest, Host, SimPlatform, VifSpec};
use vpmd_xen::platform::Platform;
use vpmd_xen::wire::grant::DomId;

/// Our testpmd's forwarding statistics for `port` from a `stop`: (rx, tx).
fn fwd_stats(stop: &str, port: u16) -> (u64, u64) {
    let head = format!("Forward statistics for port {port}");
    let i = stop
        .find(&head)
        .unwrap_or_else(|| panic!("no {head:?}:\n{stop}"));
    let block = &stop[i..];
    (
        last_figure(&block[..block.find("TX-total").unwrap()], "RX-packets:"),
        last_figure(
            &block[..block.find("TX-total").unwrap() + 30],
            "TX-packets:",
        ),
    )
}

/// Test 1: `net_vpmd_vhost` in stock testpmd, DPDK's virtio_user as the guest: port
/// info, traffic both ways (io loop on each side, seeded by the peer's `--tx-first`),
/// xstats, stop/start, close, detach and attach again.
#[test]
fn vhost_port_in_stock_testpmd_with_a_virtio_user_peer() {
    let _one = one_at_a_time();
    let s = Scratch::new("vhost");
    let sock = s.path("vhost.sock");
    let vdev = format!("net_vpmd_vhost0,iface={}", sock.display());
    let mut ours = Testpmd::start(
        "vhost",
        &s,
        &["-l", "0,1", "--main-lcore", "0", "--vdev", &vdev],
        // testpmd drains its rx queues at every `start` unless told not to: that
        // would end the loop of packets the peer seeded once.
        &["--port-topology=loop", "--forward-mode=io", "--no-flush-rx"],
    );
    let info = ours.command("show port info 0");
    assert!(info.contains("Driver name: net_vpmd_vhost"), "{info}");
    assert!(info.contains("MAC address: 02:76:70:6D:00:00"), "{info}");
    wait_path(&sock);
    let peer = virtio_peer(
        "vhost",
        &format!("path={}", sock.display()),
        &["--forward-mode=io", "--tx-first"],
    );
    let stop = ours.forward_for(3);
    let (rx, tx) = fwd_stats(&stop, 0);
    assert!(rx > 1000 && tx > 1000, "rx {rx} tx {tx}:\n{stop}");
    let x = ours.command("show port xstats 0");
    for name in [
        "vhost_ctl_sessions: 1",
        "rx_q0_good_packets",
        "tx_q0_good_packets",
    ] {
        assert!(x.contains(name), "no {name} in:\n{x}");
    }
    assert!(last_figure(&x, "rx_q0_good_packets:") > 0, "{x}");

    // Stop and start the port: traffic resumes.
    ours.command("port stop 0");
    ours.command("port start 0");
    let (rx2, _) = fwd_stats(&ours.forward_for(2), 0);
    assert!(
        rx2 > 0,
        "no traffic after port stop/start:\n{}",
        ours.output()
    );

    // Detach (DPDK closes the port through the driver's remove), attach a new port
    // on another socket, start it, close it.
    let peer_out = peer.stop();
    assert!(peer_out.contains("RX-packets"), "{peer_out}");
    ours.command("port stop 0");
    let detached = ours.command("port detach 0");
    assert!(
        detached.contains("unregistered") && detached.contains("is detached"),
        "{detached}"
    );
    let sock2 = s.path("vhost2.sock");
    let attached = ours.command(&format!(
        "port attach net_vpmd_vhost1,iface={}",
        sock2.display()
    ));
    assert!(attached.contains("is attached"), "{attached}");
    let info = ours.command("show port info 0");
    assert!(info.contains("Driver name: net_vpmd_vhost"), "{info}");
    ours.command("port start 0");
    wait_path(&sock2);
    ours.command("port stop 0");
    let closed = ours.command("port close 0");
    assert!(closed.contains("unregistered"), "{closed}");
    let out = ours.quit();
    assert!(!out.contains("panic"), "{out}");
}

const LAYOUT: DomainLayout = DomainLayout {
    mem_pages: 1024,
    grant_frames: 2,
};

/// The sim host with one guest (domain `dom`) whose vif exists, its netfront probed.
fn xen_guest(s: &Scratch, dom: u16) -> (Host, Netfront) {
    let host = Host::start(&s.0).unwrap();
    let dom0 = SimPlatform::connect(host.paths(), DomId::DOM0).unwrap();
    let spec = VifSpec {
        backend: DomId::DOM0,
        frontend: DomId(dom),
        devid: 0,
        mac: [0, 0x16, 0x3e, 0, 0, dom as u8],
    };
    create_vif(dom0.store(), &spec).unwrap();
    let g = Arc::new(Guest::create(host.paths(), DomId(dom), LAYOUT).unwrap());
    let nf = Netfront::probe(g, host.paths(), NetfrontConfig::new(0)).unwrap();
    (host, nf)
}

fn pattern(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| seed.wrapping_add((i / 251) as u8).wrapping_add(i as u8))
        .collect()
}

/// Test 2: `net_vpmd_xen` in stock testpmd, io forwarding on one port (loop): every
/// frame the guest sends comes back to it intact, from 60 bytes to 9000 (chained
/// mbufs of testpmd's pool).
#[test]
fn xen_port_in_stock_testpmd_loops_the_guests_frames() {
    let _one = one_at_a_time();
    let s = Scratch::new("xen");
    let (_host, mut nf) = xen_guest(&s, 3);
    let vdev = format!("net_vpmd_xen0,domid=3,sim={}", s.str());
    let mut ours = Testpmd::start(
        "xen",
        &s,
        &["-l", "0,1", "--main-lcore", "0", "--vdev", &vdev],
        &["--port-topology=loop", "--forward-mode=io"],
    );
    nf.wait_connected(GUARD).unwrap();
    let info = ours.command("show port info 0");
    assert!(info.contains("Driver name: net_vpmd_xen"), "{info}");
    ours.command("start");
    let frames: Vec<Vec<u8>> = [60usize, 128, 1514, 4000, 9000]
        .iter()
        .enumerate()
        .map(|(i, &n)| pattern(i as u8, n))
        .collect();
    for f in &frames {
        nf.send(0, &TxPacket::new(f)).unwrap();
        let mut got = Vec::new();
        nf.recv(0, &mut got, 1, GUARD).unwrap();
        assert!(got[0].data == *f, "{}-byte frame corrupted", f.len());
    }
    let (rx, tx) = fwd_stats(&ours.command("stop"), 0);
    assert_eq!((rx, tx), (frames.len() as u64, frames.len() as u64));
    let x = ours.command("show port xstats 0");
    assert!(x.contains("xenbus_state: 4"), "{x}");
    ours.quit();
}

/// Test 3: a Xen guest and a virtio guest exchange frames through stock testpmd, io
/// forwarding between a `net_vpmd_xen` port and a `net_vpmd_vhost` port.
#[test]
fn xen_and_vhost_guests_exchange_frames_through_stock_testpmd() {
    let _one = one_at_a_time();
    let s = Scratch::new("mixed");
    let (_host, mut nf) = xen_guest(&s, 4);
    let sock = s.path("mixed.sock");
    let xen = format!("net_vpmd_xen0,domid=4,sim={}", s.str());
    let vhost = format!("net_vpmd_vhost0,iface={}", sock.display());
    let mut ours = Testpmd::start(
        "mixed",
        &s,
        &[
            "-l",
            "0,1",
            "--main-lcore",
            "0",
            "--vdev",
            &xen,
            "--vdev",
            &vhost,
        ],
        &["--port-topology=paired", "--forward-mode=io"],
    );
    nf.wait_connected(GUARD).unwrap();
    wait_path(&sock);
    ours.command("start");

    // virtio guest -> Xen guest: the peer sends, the Xen guest receives.
    let path = format!("path={}", sock.display());
    let peer = virtio_peer("mixed-tx", &path, &["--forward-mode=txonly"]);
    let mut got = Vec::new();
    if let Err(e) = nf.recv(0, &mut got, 32, GUARD) {
        let stats = ours.command("show port stats all");
        panic!(
            "{e:?}: the Xen guest got nothing:\n{stats}\n{}",
            ours.output()
        );
    }
    assert!(
        got.iter().all(|f| f.data.len() == 64),
        "txonly frames are 64 bytes"
    );
    drop(peer.stop());

    // Xen guest -> virtio guest: the peer counts what it receives.
    let peer = virtio_peer("mixed-rx", &path, &["--forward-mode=rxonly"]);
    std::thread::sleep(std::time::Duration::from_secs(2));
    for i in 0..100u8 {
        nf.send(0, &TxPacket::new(&pattern(i, 60 + usize::from(i))))
            .unwrap();
        let mut sink = Vec::new();
        nf.poll(0, &mut sink).unwrap();
    }
    std::thread::sleep(std::time::Duration::from_secs(2));
    let out = peer.stop();
    assert!(last_figure(&out, "RX-packets:") >= 100, "{out}");
    let stop = ours.command("stop");
    let (xen_rx, _) = fwd_stats(&stop, 0);
    assert!(xen_rx >= 100, "{stop}");
    ours.quit();
}

/// Test 4: two forwarding lcores (sharing CPU 1 with nothing else busy but each
/// other), two queue pairs: both queues carry traffic both ways.
#[test]
fn two_lcores_two_queue_pairs() {
    let _one = one_at_a_time();
    let s = Scratch::new("mq");
    let sock = s.path("mq.sock");
    let vdev = format!("net_vpmd_vhost0,iface={},queues=2", sock.display());
    let mut ours = Testpmd::start(
        "mq",
        &s,
        &[
            "--lcores",
            "0@0,1@1,2@1",
            "--main-lcore",
            "0",
            "--vdev",
            &vdev,
        ],
        &[
            "--port-topology=loop",
            "--forward-mode=io",
            "--rxq=2",
            "--txq=2",
            "--nb-cores=2",
        ],
    );
    wait_path(&sock);
    let peer = virtio_peer(
        "mq",
        &format!("path={},queues=2", sock.display()),
        &["--forward-mode=io", "--tx-first", "--rxq=2", "--txq=2"],
    );
    let stop = ours.forward_for(3);
    for q in 0..2 {
        let head = format!("RX Port= 0/Queue= {q} -> TX Port= 0/Queue= {q}");
        let i = stop
            .find(&head)
            .unwrap_or_else(|| panic!("no {head}:\n{stop}"));
        let rx = last_figure(&stop[i..i + 200], "RX-packets:");
        assert!(rx > 0, "queue {q} idle:\n{stop}");
    }
    drop(peer.stop());
    ours.quit();
}
