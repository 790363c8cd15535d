//! vpmd's own front-end (`vuser`) against vpmd's vhost PMD in this process, over a real
//! vhost-user socket, the port looped to itself by an io loop on a second thread: every
//! probe frame comes back once and in order, past the 16-bit index wrap, with IN_ORDER
//! negotiated or not, with and without mergeable buffers, and spread over several
//! receive buffers when they are small.

mod common;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::sock_path;
use vpmd_mempool::{Burst, HugepagePolicy, Mempool, PoolConfig};
use vpmd_pmd::{Port, PortConf, Registry};
use vpmd_vhost::vuser::{Config, Vuser};

/// Frames per test: more than 65536, so both rings' indexes wrap.
const N: u64 = 70_000;

/// A `net_vpmd_vhost` port whose rx is sent back out of its tx by a thread.
struct Loopback {
    port: Port,
    stop: Arc<AtomicBool>,
    fwd: Option<JoinHandle<()>>,
    sock: PathBuf,
    _pool: Mempool,
}

impl Loopback {
    fn new(name: &str, devargs: &str) -> Self {
        let sock = sock_path(name);
        let mut reg = Registry::with_builtin();
        reg.register(Box::new(vpmd_vhost::VhostDriver));
        let pool = Mempool::new(
            "vuser-test",
            &PoolConfig {
                size: 4096,
                cache_size: 0,
                hugepages: HugepagePolicy::Never,
                ..PoolConfig::default()
            },
        )
        .unwrap();
        let args = format!("net_vpmd_vhost0,iface={}{devargs}", sock.display());
        let mut port = reg.create_port(&args, 0).unwrap();
        port.configure(1, 1, PortConf::default()).unwrap();
        let mut rx = port.rx_queue_setup(0, 512, &pool).unwrap();
        let mut tx = port.tx_queue_setup(0, 512).unwrap();
        port.start().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let s = Arc::clone(&stop);
        let fwd = std::thread::spawn(move || {
            let mut b = Burst::with_capacity(32);
            while !s.load(Ordering::Relaxed) {
                rx.rx_burst(&mut b, 32);
                tx.tx_burst(&mut b);
                b.clear();
            }
        });
        Self {
            port,
            stop,
            fwd: Some(fwd),
            sock,
            _pool: pool,
        }
    }
}

impl Drop for Loopback {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.fwd.take() {
            let _ = t.join();
        }
        let _ = self.port.stop();
    }
}

/// Sends `N` probe frames, keeping at most `window` in flight so the loop never finds the
/// receive ring full, and checks each comes back once, in order, with its stamp.
fn round_trip(v: &mut Vuser, window: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let (tx, rx) = v.queues();
    let (mut sent, mut next) = (0u64, 0u64);
    while next < N {
        assert!(Instant::now() < deadline, "stuck: {sent} sent, {next} back");
        let room = (N - sent).min(window - (sent - next)).min(32) as u16;
        sent += u64::from(tx.send_stamped(room, |seq| seq * 3));
        rx.recv(|r| {
            let s = r.stamp.expect("a probe frame");
            assert_eq!((s.seq, s.tsc), (next, next * 3), "order or stamp");
            next += 1;
        });
    }
    assert_eq!(sent, N);
    let t = tx.stats();
    let r = rx.stats();
    assert_eq!((r.packets, r.foreign, r.short), (N, 0, 0));
    assert_eq!(t.ring.bad_used + r.ring.bad_used, 0);
    while tx.reclaim() < 256 {
        assert!(Instant::now() < deadline, "tx ring not returned");
    }
    assert_eq!(tx.stats().completed, N);
    // The back-end consumed exactly what was sent: its next avail index on the tx ring.
    assert_eq!(v.frontend().get_vring_base(1).unwrap(), N as u16);
}

#[test]
fn probe_frames_come_back_in_order_with_in_order() {
    let lb = Loopback::new("inorder", "");
    let mut v = Vuser::connect(&lb.sock, &Config::default()).unwrap();
    assert!(v.in_order(), "vpmd offers IN_ORDER by default");
    round_trip(&mut v, 256);
    assert_eq!(v.queues().1.stats().multi_buffer, 0);
}

#[test]
fn probe_frames_come_back_in_order_without_in_order() {
    let lb = Loopback::new("outoforder", "");
    let cfg = Config {
        in_order: false,
        ..Config::default()
    };
    let mut v = Vuser::connect(&lb.sock, &cfg).unwrap();
    assert!(!v.in_order());
    round_trip(&mut v, 256);
}

#[test]
fn probe_frames_come_back_without_mergeable_buffers() {
    let lb = Loopback::new("nomrg", ",mrg-rxbuf=0,in-order=0");
    let mut v = Vuser::connect(&lb.sock, &Config::default()).unwrap();
    let mrg = vpmd_vhost::virtio::bit(vpmd_vhost::virtio::NET_F_MRG_RXBUF);
    assert_eq!(v.features() & mrg, 0);
    assert!(!v.in_order());
    round_trip(&mut v, 256);
}

#[test]
fn frames_larger_than_a_receive_buffer_span_several() {
    let lb = Loopback::new("multi", "");
    let cfg = Config {
        frame_len: 200,
        rx_buf_len: 64,
        ..Config::default()
    };
    let mut v = Vuser::connect(&lb.sock, &cfg).unwrap();
    // 12 + 200 bytes take four 64-byte buffers.
    round_trip(&mut v, 256 / 4);
    let r = v.queues().1.stats();
    assert_eq!((r.multi_buffer, r.bytes), (N, N * 200));
}
