//! What the netback tests share: a sim host, guests with vifs, both ends of a vif
//! connected, bursts on the backend's queues, packet builders.
//!
//! Waits block with a generous guard; nothing depends on timing.

#![allow(dead_code)]

pub use std::sync::Arc;
pub use std::time::{Duration, Instant};

pub use vpmd_mempool::{Burst, HugepagePolicy, Mbuf, Mempool, PktBuf, PoolConfig};
pub use vpmd_pmd::{RxCounters, TxCounters};
pub use vpmd_xen::backend::{BackendConfig, Clock, Netback, QueueEnds};
pub use vpmd_xen::netfront::{Netfront, NetfrontConfig, RxPacket, TxPacket};
pub use vpmd_xen::platform::sim::{
    create_vif, DomainLayout, Guest, SimPaths, SimPlatform, VifSpec,
};
pub use vpmd_xen::platform::{Platform, TxId, XenStore};
pub use vpmd_xen::wire::grant::DomId;
pub use vpmd_xen::wire::xenbus::XenbusState;

use crate::host_dir::HostDir;

/// A guest's vif with the backend's data path on queue 0.
pub fn connected_with(sim: &Sim, domid: u16, cfg: NetfrontConfig) -> Vif {
    connected_cfg(sim, backend_cfg(domid), cfg)
}

/// A vif connected with both ends' configurations.
pub fn connected_cfg(sim: &Sim, be: BackendConfig, fe: NetfrontConfig) -> Vif {
    let g = sim.guest(be.frontend.0);
    let (mut nb, ends) = probe_backend_with(sim, be);
    let mut nf = Netfront::probe(g, sim.paths(), fe).unwrap();
    handshake(&mut nb, &mut nf);
    Vif::new(nb, ends, nf)
}

/// Longest any test waits for something that must happen (a hang guard only).
pub const GUARD: Duration = Duration::from_secs(30);

/// Room for one netfront queue's pages and grants.
pub const LAYOUT: DomainLayout = DomainLayout {
    mem_pages: 1024,
    grant_frames: 2,
};

/// A sim host in its own directory, removed afterwards.
pub struct Sim(HostDir);

impl Sim {
    pub fn new(name: &str) -> Self {
        Self(HostDir::new("vpmd-nb", name))
    }

    pub fn paths(&self) -> &SimPaths {
        self.0.paths()
    }

    /// Creates guest `domid` and its vif 0 in xenstore.
    pub fn guest(&self, domid: u16) -> Arc<Guest> {
        self.guest_with(domid, LAYOUT)
    }

    /// As [`Sim::guest`], with `layout`.
    pub fn guest_with(&self, domid: u16, layout: DomainLayout) -> Arc<Guest> {
        let g = Guest::create(self.paths(), DomId(domid), layout).unwrap();
        let be = SimPlatform::connect(self.paths(), DomId::DOM0).unwrap();
        create_vif(be.store(), &spec(domid)).unwrap();
        Arc::new(g)
    }
}

pub fn spec(domid: u16) -> VifSpec {
    VifSpec {
        backend: DomId::DOM0,
        frontend: DomId(domid),
        devid: 0,
        mac: [0x00, 0x16, 0x3e, 0, 0, domid as u8],
    }
}

pub fn backend_cfg(domid: u16) -> BackendConfig {
    BackendConfig {
        frontend: DomId(domid),
        devid: 0,
        port: 0,
        max_queues: 1,
        split_evtchn: true,
        rate: None,
        rx_drain: Duration::from_secs(10),
        rx_stall: Duration::from_secs(60),
        clock: Clock::real(),
        copy_threshold: 0,
    }
}

/// A connected vif: both ends, and the data-path ends of its queue 0.
pub struct Vif {
    pub nb: Netback<SimPlatform>,
    pub ends: Vec<QueueEnds<SimPlatform>>,
    pub nf: Netfront,
    pub rxc: RxCounters,
    pub txc: TxCounters,
}

pub fn probe_backend(sim: &Sim, domid: u16) -> (Netback<SimPlatform>, Vec<QueueEnds<SimPlatform>>) {
    probe_backend_with(sim, backend_cfg(domid))
}

pub fn probe_backend_with(
    sim: &Sim,
    cfg: BackendConfig,
) -> (Netback<SimPlatform>, Vec<QueueEnds<SimPlatform>>) {
    let p = Arc::new(SimPlatform::connect(sim.paths(), DomId::DOM0).unwrap());
    Netback::probe(p, cfg).unwrap()
}

pub fn probe_frontend(sim: &Sim, g: Arc<Guest>) -> Netfront {
    let cfg = NetfrontConfig {
        split_evtchn: true,
        ..NetfrontConfig::new(0)
    };
    Netfront::probe(g, sim.paths(), cfg).unwrap()
}

/// Runs both control planes until both ends are Connected.
pub fn handshake(nb: &mut Netback<SimPlatform>, nf: &mut Netfront) {
    pump(nb, nf, |nb, nf| {
        nb.state() == XenbusState::Connected
            && nf.state() == XenbusState::Connected
            && nf.backend_state() == XenbusState::Connected
    });
}

/// Runs both control planes until `done`.
pub fn pump(
    nb: &mut Netback<SimPlatform>,
    nf: &mut Netfront,
    done: impl Fn(&Netback<SimPlatform>, &Netfront) -> bool,
) {
    let end = Instant::now() + GUARD;
    while !done(nb, nf) {
        assert!(
            Instant::now() < end,
            "hang: backend {:?}, frontend {nf:?}",
            nb.state()
        );
        nb.poll_events(Duration::from_millis(2)).unwrap();
        nf.step(Duration::from_millis(2)).unwrap();
    }
}

/// A guest with a connected vif (backend probed first).
pub fn connected(sim: &Sim, domid: u16) -> Vif {
    let g = sim.guest(domid);
    let (mut nb, ends) = probe_backend(sim, domid);
    let mut nf = probe_frontend(sim, g);
    handshake(&mut nb, &mut nf);
    Vif::new(nb, ends, nf)
}

pub fn pool() -> Mempool {
    Mempool::new(
        "xen-test",
        &PoolConfig {
            size: 4096,
            cache_size: 0,
            hugepages: HugepagePolicy::Never,
            debug: true,
            ..PoolConfig::default()
        },
    )
    .unwrap()
}

impl Vif {
    pub fn new(nb: Netback<SimPlatform>, ends: Vec<QueueEnds<SimPlatform>>, nf: Netfront) -> Self {
        Self {
            nb,
            ends,
            nf,
            rxc: RxCounters::default(),
            txc: TxCounters::default(),
        }
    }

    /// One rx burst of queue 0.
    pub fn rx_once(&mut self, pool: &Mempool, out: &mut Burst<Mbuf>) -> usize {
        let mut bufs = Vec::new();
        let e = &mut self.ends[0];
        let n = match e.rx.enter() {
            Some(r) => r.rx_burst(pool, out, 32, &self.rxc, &mut bufs),
            None => 0,
        };
        e.rx.exit(0);
        n
    }

    /// Receives until `n` packets arrived (the guard fails the test otherwise).
    pub fn rx(&mut self, pool: &Mempool, n: usize) -> Vec<Mbuf> {
        let mut got = Vec::new();
        let end = Instant::now() + GUARD;
        while got.len() < n {
            assert!(Instant::now() < end, "received {} of {n}", got.len());
            let mut b = Burst::with_capacity(32);
            self.rx_once(pool, &mut b);
            got.extend(b.drain());
            // Collect tx responses so slots come back.
            let mut sink = Vec::new();
            self.nf.poll(0, &mut sink).unwrap();
            assert!(sink.is_empty());
        }
        got
    }

    /// One tx burst of queue 0; how many were taken.
    pub fn tx_once(&mut self, pkts: &mut Burst<Mbuf>) -> usize {
        let e = &mut self.ends[0];
        let n = match e.tx.enter() {
            Some(t) => t.tx_burst(pkts, &self.txc),
            None => 0,
        };
        e.tx.exit(0);
        n
    }

    /// Sends every packet, the frontend receiving as it goes; returns what it got.
    pub fn tx_all(&mut self, mut pkts: Vec<Mbuf>) -> Vec<RxPacket> {
        let n = pkts.len();
        let mut got = Vec::new();
        let end = Instant::now() + GUARD;
        pkts.reverse();
        while got.len() < n {
            assert!(Instant::now() < end, "guest received {} of {n}", got.len());
            let mut b = Burst::with_capacity(32);
            while b.room() > 0 {
                match pkts.pop() {
                    Some(m) => b.push(m).unwrap(),
                    None => break,
                }
            }
            self.tx_once(&mut b);
            // Put back what was not taken, in order.
            let left: Vec<Mbuf> = b.drain().collect();
            pkts.extend(left.into_iter().rev());
            self.nf.poll(0, &mut got).unwrap();
        }
        got
    }

    /// Sends `data` from the guest and returns it as received by vpmd.
    pub fn guest_send(&mut self, pool: &Mempool, p: &TxPacket<'_>) -> Mbuf {
        self.nf.send(0, p).unwrap();
        self.rx(pool, 1).pop().unwrap()
    }
}

/// `len` bytes of a recognisable pattern.
pub fn pattern(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| {
            seed.wrapping_add((i / 251) as u8)
                .wrapping_add(i as u8)
                .wrapping_mul(31)
        })
        .collect()
}

/// The whole packet's bytes.
pub fn bytes(m: &Mbuf) -> Vec<u8> {
    let mut v = vec![0u8; m.pkt_len() as usize];
    assert_eq!(m.read_into(&mut v), v.len());
    v
}

/// A packet of `data`, in as many segments as the pool's buffers need.
pub fn mbuf(pool: &Mempool, data: &[u8]) -> Mbuf {
    let mut head: Option<Mbuf> = None;
    for chunk in data.chunks(2048) {
        let mut m = pool.alloc().unwrap();
        m.append(chunk.len() as u16).unwrap().copy_from_slice(chunk);
        match head.as_mut() {
            None => head = Some(m),
            Some(h) => h.chain(m).unwrap(),
        }
    }
    head.unwrap()
}

/// A frontend that writes its keys by hand and goes Connected, against a backend of
/// guest `domid` with the default configuration; the backend once it gave up
/// (Closing).
pub fn fake_frontend(sim: &Sim, domid: u16, keys: &[(&str, &str)]) -> Netback<SimPlatform> {
    fake_frontend_with(sim, backend_cfg(domid), keys)
}

/// As [`fake_frontend`], against a backend configured with `cfg`.
pub fn fake_frontend_with(
    sim: &Sim,
    cfg: BackendConfig,
    keys: &[(&str, &str)],
) -> Netback<SimPlatform> {
    let domid = cfg.frontend.0;
    sim.guest(domid);
    let (mut nb, _ends) = probe_backend_with(sim, cfg);
    let st = SimPlatform::connect(sim.paths(), DomId(domid)).unwrap();
    let fe = format!("/local/domain/{domid}/device/vif/0");
    for (k, v) in keys {
        st.store()
            .write(TxId::NONE, &format!("{fe}/{k}"), v.as_bytes())
            .unwrap();
    }
    st.store()
        .write(TxId::NONE, &format!("{fe}/state"), b"4")
        .unwrap();
    let end = Instant::now() + GUARD;
    while nb.state() != XenbusState::Closing {
        assert!(Instant::now() < end, "backend in {:?}", nb.state());
        nb.poll_events(Duration::from_millis(5)).unwrap();
    }
    nb
}

/// The `error` key the backend wrote.
pub fn error_key(sim: &Sim, nb: &Netback<SimPlatform>) -> String {
    let st = SimPlatform::connect(sim.paths(), DomId::DOM0).unwrap();
    String::from_utf8(
        st.store()
            .read(TxId::NONE, &format!("{}/error", nb.path()))
            .unwrap(),
    )
    .unwrap()
}

/// Guest `domid` with a vif of `queues` queues and a control ring, connected.
pub fn ctrl_vif(sim: &Sim, domid: u16, queues: u16) -> Vif {
    use vpmd_xen::netfront::{ctrl::CTRL_PAGES, PAGES_PER_QUEUE};
    let g = sim.guest_with(
        domid,
        DomainLayout {
            mem_pages: u32::from(queues) * PAGES_PER_QUEUE + CTRL_PAGES,
            grant_frames: 3,
        },
    );
    let be = BackendConfig {
        max_queues: queues,
        ..backend_cfg(domid)
    };
    let (mut nb, ends) = probe_backend_with(sim, be);
    let fe = NetfrontConfig {
        queues,
        split_evtchn: true,
        ctrl_ring: true,
        ..NetfrontConfig::new(0)
    };
    let mut nf = Netfront::probe(g, sim.paths(), fe).unwrap();
    handshake(&mut nb, &mut nf);
    assert!(nf.has_ctrl_ring() && nb.ctrl().has_ring());
    Vif::new(nb, ends, nf)
}

/// One control request, served by the backend: its response's status and data.
pub fn ctrl(v: &mut Vif, kind: u16, data: [u32; 3]) -> (u32, u32) {
    let id = v.nf.ctrl_send(kind, data).unwrap();
    assert_eq!(v.nb.ctrl_mut().serve(), 1);
    let r = v.nf.ctrl_wait(GUARD).unwrap();
    assert_eq!((r.id, r.kind), (id, kind));
    (r.status, r.data)
}
