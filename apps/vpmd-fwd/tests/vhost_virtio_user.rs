//! vpmd's vhost PMD against a peer nobody here wrote: DPDK's virtio_user in
//! dpdk-testpmd (`net_virtio_user0,path=SOCK`), over a real vhost-user socket.
//!
//! Layout on the 2 cores: vpmd-fwd main lcore CPU 0, forwarding lcore CPU 1; the peer
//! testpmd main lcore CPU 1, forwarding lcore CPU 0. Tests run one at a time.

mod common;

use common::field;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use vpmd_perf::testpmd::{remove_runtime_dir, spawn, virtio_user_peer, Running};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
const PREFIX: &str = "vpmdtest";

struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Self {
        let d = std::env::temp_dir().join(format!("vpmd-vu-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }
    fn sock(&self) -> PathBuf {
        self.0.join("vhost.sock")
    }
    fn json(&self) -> PathBuf {
        self.0.join("stats.json")
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// vpmd-fwd with one vhost port, looping it to itself.
fn vpmd(devargs: &str, mode: &str, secs: u32, json: &Path, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_vpmd-fwd"))
        .args(["-l", "0,1", "--vdev", devargs, "--port-topology", "loop"])
        .args(["--forward-mode", mode, "--stats-period", "0"])
        .args([
            "--duration",
            &secs.to_string(),
            "--stats-json",
            json.to_str().unwrap(),
        ])
        .args(extra)
        .env("VPMD_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vpmd-fwd starts")
}

/// dpdk-testpmd with a virtio_user port on `vdev_args`.
fn peer(vdev_args: &str, mode: &str, extra: &[&str]) -> Running {
    let mut c = virtio_user_peer(PREFIX, vdev_args);
    c.arg(format!("--forward-mode={mode}"));
    c.args(extra);
    spawn(c).expect("dpdk-testpmd starts")
}

fn stop_peer(p: Running) -> String {
    let out = p.stop().expect("dpdk-testpmd stops");
    remove_runtime_dir(PREFIX);
    out
}

fn wait_for(path: &Path) {
    let t = Instant::now();
    while !path.exists() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// vpmd-fwd's exit status and stdout/stderr, and its JSON stats of port 0.
/// Waits for vpmd-fwd; returns port 0's final stats and the virtio features the link
/// came up with (from its log).
fn finish(c: Child, json: &Path) -> (serde_json::Value, u64) {
    let o = c.wait_with_output().unwrap();
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "vpmd-fwd failed:\n{text}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    let features = text
        .split("net_vpmd_vhost: link up")
        .nth(1)
        .and_then(|l| l.split("features 0x").nth(1))
        .and_then(|f| f.split(|c: char| !c.is_ascii_hexdigit()).next())
        .and_then(|f| u64::from_str_radix(f, 16).ok())
        .unwrap_or_else(|| panic!("no link-up line with features in:\n{text}"));
    (v["ports"][0].clone(), features)
}

const VIRTIO_F_IN_ORDER: u64 = 1 << 35;

/// A figure from testpmd's final "Forward statistics for port 0" block.
fn peer_stat(out: &str, key: &str) -> u64 {
    let block = out
        .split("Forward statistics for port 0")
        .nth(1)
        .unwrap_or_else(|| panic!("no forward statistics in:\n{out}"));
    field(block, key)
}

fn u(v: &serde_json::Value, k: &str) -> u64 {
    v[k].as_u64().unwrap_or_else(|| panic!("no {k} in {v}"))
}

/// Guest tx -> vpmd rx: every packet the peer sent is received, none in error. Returns
/// the negotiated features.
fn guest_to_host(vhost_args: &str, peer_args: &str, extra: &[&str], txpkts: &str) -> u64 {
    let _g = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let d = Dir::new("g2h");
    let dev = format!("net_vpmd_vhost0,iface={}{vhost_args}", d.sock().display());
    let v = vpmd(&dev, "rxonly", 7, &d.json(), extra);
    wait_for(&d.sock());
    let txpkts = format!("--txpkts={txpkts}");
    let mut pextra = vec![txpkts.as_str()];
    pextra.extend_from_slice(extra);
    let p = peer(
        &format!("path={}{peer_args}", d.sock().display()),
        "txonly",
        &pextra,
    );
    std::thread::sleep(Duration::from_secs(3));
    let out = stop_peer(p);
    let (port, features) = finish(v, &d.json());
    let sent = peer_stat(&out, "TX-packets:");
    assert!(sent > 10_000, "the peer sent only {sent}:\n{out}");
    // Exact but for the last bursts: the peer's main thread runs on vpmd's forwarding CPU
    // while it stops, and what it queued but vpmd had not yet taken when it closed the
    // socket goes with the session (at most one ring).
    let got = u(&port, "ipackets");
    assert!(
        got <= sent && sent - got <= 256,
        "vpmd received what virtio_user sent: sent {sent}, received {got}: {port}"
    );
    let len: u64 = txpkts
        .trim_start_matches("--txpkts=")
        .split(',')
        .map(|s| s.parse::<u64>().unwrap())
        .sum();
    assert_eq!(u(&port, "ibytes"), got * len, "{port}");
    assert_eq!(u(&port, "ierrors"), 0, "{port}");
    assert_eq!(u(&port, "rx_nombuf"), 0, "{port}");
    features
}

/// vpmd tx -> guest rx: the peer receives what vpmd sent (less at most one ring that was
/// in flight when vpmd exited). Returns the negotiated features.
fn host_to_guest(vhost_args: &str, peer_args: &str, txpkts: &str) -> u64 {
    let _g = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let d = Dir::new("h2g");
    let dev = format!("net_vpmd_vhost0,iface={}{vhost_args}", d.sock().display());
    let v = vpmd(&dev, "txonly", 5, &d.json(), &["--txpkts", txpkts]);
    wait_for(&d.sock());
    let p = peer(
        &format!("path={}{peer_args}", d.sock().display()),
        "rxonly",
        &[],
    );
    let (port, features) = finish(v, &d.json());
    std::thread::sleep(Duration::from_millis(500));
    let out = stop_peer(p);
    let got = peer_stat(&out, "RX-packets:");
    let sent = u(&port, "opackets");
    assert!(got > 10_000, "the peer received only {got}:\n{out}");
    assert!(
        got <= sent && sent - got <= 1024,
        "sent {sent}, received {got}"
    );
    assert_eq!(u(&port, "oerrors"), 0, "{port}");
    features
}

#[test]
fn virtio_txonly_to_vpmd_rxonly() {
    guest_to_host("", "", &[], "64");
}

#[test]
fn virtio_txonly_multi_segment_to_vpmd_rxonly() {
    guest_to_host("", "", &[], "64,1400");
}

#[test]
fn vpmd_txonly_to_virtio_rxonly_with_and_without_mergeable_buffers() {
    host_to_guest("", "", "64");
    host_to_guest("", ",mrg_rxbuf=0", "64");
    host_to_guest("", ",mrg_rxbuf=1", "64,1400");
}

/// virtio_user asks for IN_ORDER by default and vpmd offers it; either side can decline.
#[test]
fn in_order_on_and_off_in_both_directions() {
    let on = guest_to_host("", ",in_order=1", &[], "64");
    assert_ne!(on & VIRTIO_F_IN_ORDER, 0, "features {on:#x}");
    for f in [
        guest_to_host("", ",in_order=0", &[], "64,1400"),
        guest_to_host(",in-order=0", "", &[], "64"),
        host_to_guest("", ",in_order=0", "64,1400"),
    ] {
        assert_eq!(f & VIRTIO_F_IN_ORDER, 0, "features {f:#x}");
    }
    let on = host_to_guest("", ",in_order=1,mrg_rxbuf=0", "64");
    assert_ne!(on & VIRTIO_F_IN_ORDER, 0, "features {on:#x}");
}

#[test]
fn io_loop_both_sides_two_queue_pairs() {
    let _g = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let d = Dir::new("loop");
    let q2 = ["--rxq", "2", "--txq", "2"];
    let dev = format!("net_vpmd_vhost0,iface={},queues=2", d.sock().display());
    let v = vpmd(
        &dev,
        "io",
        6,
        &d.json(),
        &[&q2[..], &["--tx-first"]].concat(),
    );
    wait_for(&d.sock());
    let p = peer(
        &format!("path={},queues=2", d.sock().display()),
        "io",
        &["--rxq=2", "--txq=2", "--tx-first"],
    );
    std::thread::sleep(Duration::from_secs(3));
    let out = stop_peer(p);
    let (port, _) = finish(v, &d.json());
    let (rx, tx) = (u(&port, "ipackets"), u(&port, "opackets"));
    assert!(rx > 10_000 && tx > 10_000, "{port}\n{out}");
    for q in 0..2 {
        assert!(
            port["rxq"][q]["packets"].as_u64().unwrap() > 0,
            "queue {q} idle: {port}"
        );
    }
    assert_eq!(u(&port, "ierrors") + u(&port, "oerrors"), 0, "{port}");
    assert!(peer_stat(&out, "RX-packets:") > 10_000, "{out}");
}

#[test]
fn vpmd_client_reconnects_when_the_virtio_server_restarts() {
    let _g = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let d = Dir::new("client");
    let dev = format!("net_vpmd_vhost0,iface={},client=1", d.sock().display());
    let v = vpmd(&dev, "rxonly", 12, &d.json(), &[]);
    let mut sent = 0;
    for _ in 0..2 {
        let _ = std::fs::remove_file(d.sock());
        let p = peer(
            &format!("path={},server=1", d.sock().display()),
            "txonly",
            &["--txpkts=64"],
        );
        std::thread::sleep(Duration::from_secs(4));
        let out = stop_peer(p);
        let n = peer_stat(&out, "TX-packets:");
        assert!(n > 10_000, "no traffic after (re)connect:\n{out}");
        sent += n;
    }
    let (port, _) = finish(v, &d.json());
    // A session ends when the peer exits: what it had queued but vpmd had not yet
    // taken (at most one ring per session) goes with it.
    let got = u(&port, "ipackets");
    assert!(
        got <= sent && sent - got <= 2 * 1024,
        "sent {sent}, received {got}: {port}"
    );
    assert_eq!(u(&port, "ierrors"), 0, "{port}");
}
