//! Shared test pieces: a `VringSink` that records what the control plane hands over and
//! checks the start/stop alternation, socket paths, waiting helpers, and a standard
//! device with its front-end handshake.

#![allow(dead_code)] // each test crate uses a different subset

use std::collections::HashMap;
use std::fs::File;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use vpmd_vhost::device::{DeviceConfig, LinkInfo, VringSink, OFFERED_PROTOCOL_FEATURES};
use vpmd_vhost::frontend::{eventfd, Frontend, GuestMemory, VringLayout};
use vpmd_vhost::virtio::{self, bit};
use vpmd_vhost::vring::VringConfig;

/// What the sink saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ev {
    Start {
        index: u16,
        size: u16,
        last_avail: u16,
        last_used: u16,
        has_call: bool,
    },
    Stop {
        index: u16,
        pos: (u16, u16),
    },
    Link {
        up: bool,
        info: LinkInfo,
    },
    Rarp([u8; 6]),
}

#[derive(Default)]
struct State {
    events: Vec<Ev>,
    running: HashMap<u16, (VringConfig, (u16, u16))>,
    violations: Vec<String>,
}

/// A sink that records and plays the data path: `advance` moves a running ring's
/// position, which `stop` then reports.
#[derive(Default)]
pub struct RecordingSink {
    state: Mutex<State>,
    cond: Condvar,
}

impl VringSink for RecordingSink {
    fn start(&self, cfg: VringConfig) {
        let mut s = self.state.lock().unwrap();
        let ev = Ev::Start {
            index: cfg.index,
            size: cfg.size,
            last_avail: cfg.last_avail_idx,
            last_used: cfg.last_used_idx,
            has_call: cfg.call.is_some(),
        };
        let pos = (cfg.last_avail_idx, cfg.last_used_idx);
        if s.running.insert(cfg.index, (cfg, pos)).is_some() {
            s.violations.push(format!("{ev:?} while running"));
        }
        s.events.push(ev);
        self.cond.notify_all();
    }

    fn stop(&self, index: u16) -> (u16, u16) {
        let mut s = self.state.lock().unwrap();
        let pos = match s.running.remove(&index) {
            Some((_, pos)) => pos,
            None => {
                s.violations.push(format!("stop {index} while not running"));
                (0, 0)
            }
        };
        s.events.push(Ev::Stop { index, pos });
        self.cond.notify_all();
        pos
    }

    fn link(&self, up: bool, info: &LinkInfo) {
        let mut s = self.state.lock().unwrap();
        s.events.push(Ev::Link {
            up,
            info: info.clone(),
        });
        self.cond.notify_all();
    }

    fn send_rarp(&self, mac: [u8; 6]) {
        self.state.lock().unwrap().events.push(Ev::Rarp(mac));
        self.cond.notify_all();
    }
}

impl RecordingSink {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Pretends the data path consumed `n` buffers of ring `index`.
    pub fn advance(&self, index: u16, n: u16) {
        let mut s = self.state.lock().unwrap();
        let (_, pos) = s.running.get_mut(&index).expect("ring not running");
        pos.0 = pos.0.wrapping_add(n);
        pos.1 = pos.1.wrapping_add(n);
    }

    /// The config of a running ring.
    pub fn config(&self, index: u16) -> Option<VringConfig> {
        let s = self.state.lock().unwrap();
        s.running.get(&index).map(|(c, _)| c.clone())
    }

    pub fn running(&self) -> Vec<u16> {
        let s = self.state.lock().unwrap();
        let mut v: Vec<u16> = s.running.keys().copied().collect();
        v.sort_unstable();
        v
    }

    pub fn events(&self) -> Vec<Ev> {
        self.state.lock().unwrap().events.clone()
    }

    pub fn take_events(&self) -> Vec<Ev> {
        std::mem::take(&mut self.state.lock().unwrap().events)
    }

    pub fn violations(&self) -> Vec<String> {
        self.state.lock().unwrap().violations.clone()
    }

    /// Waits until `f(events)` holds (up to 5 s).
    pub fn wait_for(&self, f: impl Fn(&[Ev]) -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut s = self.state.lock().unwrap();
        while !f(&s.events) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            s = self.cond.wait_timeout(s, left).unwrap().0;
        }
        true
    }

    /// The last link event, if any.
    pub fn last_link(&self) -> Option<(bool, LinkInfo)> {
        self.events().into_iter().rev().find_map(|e| match e {
            Ev::Link { up, info } => Some((up, info)),
            _ => None,
        })
    }
}

/// Polls `f` until it holds (up to 5 s).
pub fn wait_until(mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    f()
}

/// A socket path unique to this test.
pub fn sock_path(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("vpmd-vhost-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(format!("{name}-{n}.sock"));
    let _ = std::fs::remove_file(&p);
    p
}

pub const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];

/// The virtio features the standard device offers.
pub fn net_features() -> u64 {
    bit(virtio::F_VERSION_1)
        | bit(virtio::NET_F_MRG_RXBUF)
        | bit(virtio::NET_F_MQ)
        | bit(virtio::NET_F_MTU)
        | bit(virtio::NET_F_MAC)
        | bit(virtio::NET_F_STATUS)
        | bit(virtio::RING_F_EVENT_IDX)
}

/// A two-queue-pair device.
pub fn net_config() -> DeviceConfig {
    DeviceConfig {
        queue_pairs: 2,
        features: net_features(),
        mtu: Some(9000),
        mac: Some(MAC),
    }
}

/// Guest memory with room for four rings of 256 entries at 0x10000 apart.
pub const RING_SIZE: u16 = 256;

pub fn guest_memory() -> GuestMemory {
    GuestMemory::new(0, 1 << 20).unwrap()
}

pub fn ring(index: u16) -> VringLayout {
    VringLayout::at(index, RING_SIZE, 0x10000 * (u64::from(index) + 1))
}

/// Eventfds of one vring.
pub struct RingFds {
    pub kick: File,
    pub call: File,
}

impl RingFds {
    pub fn new() -> Self {
        Self {
            kick: eventfd().unwrap(),
            call: eventfd().unwrap(),
        }
    }
}

/// Negotiates everything the device offers, with `REPLY_ACK`.
pub fn negotiate_all(fe: &mut Frontend) {
    let (f, p) = fe
        .negotiate(net_features(), OFFERED_PROTOCOL_FEATURES)
        .unwrap();
    assert_eq!(
        f,
        net_features() | bit(virtio::VHOST_USER_F_PROTOCOL_FEATURES)
    );
    assert_eq!(p, OFFERED_PROTOCOL_FEATURES);
}

/// Starts vrings `indexes` on `mem` at base `base`, returning their eventfds.
pub fn start_rings(
    fe: &mut Frontend,
    mem: &GuestMemory,
    indexes: &[u16],
    base: u16,
) -> Vec<RingFds> {
    indexes
        .iter()
        .map(|&i| {
            let fds = RingFds::new();
            fe.start_vring(
                mem,
                &ring(i),
                base,
                Some(fds.kick.as_fd()),
                Some(fds.call.as_fd()),
            )
            .unwrap();
            fds
        })
        .collect()
}
