//! `net_vpmd_xen`: the ethdev glue of the Xen PMD (like DPDK's `rte_eth_vhost.c` for
//! vhost): devargs, queues, link state, statistics. No ring code here; the rings are
//! [`backend`](crate::backend).
//!
//! Devargs: `domid=N` (the frontend's domain) and `devid=M` (the vif, default 0)
//! name the vif; without `domid=` the port serves the vifs the toolstack creates
//! under its own domain's `backend/vif` (as netback finds its vifs,
//! [`discover`](crate::backend::discover)), with device id M if `devid=` is given:
//! probe returns at once, the port is down until a vif is waiting, binds the first
//! one no other backend took, and when the toolstack removes it (`xl destroy`) binds
//! the next ([`VifSlot`]). `mac=` (the port's own address, default
//! `02:76:70:6d:<port>`; the guest's is the vif's `mac` key),
//! `queues=K` (`multi-queue-max-queues`, 1..=8, default 1), `split-evtchn=0|1`
//! (offer `feature-split-event-channels`, default 1), `sim=DIR` (the platform: the sim
//! host's socket directory; without it the port runs on the real Xen domain it is in,
//! [`LinuxPlatform`] through `/dev/xen/gntdev`, `/dev/xen/evtchn` and xenstored's
//! socket, as a dom0 backend with the kernel's xen-netback not loaded),
//! `rate=BYTES/USEC` (guest tx credit per queue: BYTES every USEC microseconds; the
//! vif's xenstore `rate` key, if the toolstack wrote one, takes precedence and is
//! followed live),
//! `rx-drain-ms=N` and `rx-stall-ms=N` (the guest rx ring's drain and stall timeouts,
//! 1..=3600000, default 10000 and 60000, as netback's).
//! `copy-threshold=B` (0..=4096, default 0): guest tx fragments of at least B bytes
//! are grant-mapped and handed on as external buffers instead of copied (zero copy, as
//! netback maps fragments); the first 128 bytes of every frame are still copied. A
//! mapped fragment's request is answered when the last mbuf pointing at it is freed, so
//! an application holding such mbufs holds guest ring slots. 0 copies everything.
//!
//! The vif must exist in xenstore when `domid=` names it (the toolstack's job: `xl
//! create`, or in the sim [`create_vif`](crate::platform::sim::create_vif)). The backend writes `hotplug-status=connected`
//! once the vif is set up (xl waits for it) and removes it on close. A control thread per port serves
//! the frontend's xenbus events and its control ring (the hash settings are xstats; a
//! native application reads the guest's mapping table with
//! `Netback::ctrl().queue_for_hash`); rings reach the lcores through the handovers
//! [`Netback`] makes. Packets sent while the vif is not connected are dropped and
//! counted as errors, as on a link that is down.
//!
//! Must never: hold the control mutex on the data path (queues own their handover
//! readers), or block a burst.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use vpmd_fastpath::Reader;
use vpmd_mempool::{Burst, Mempool, PktBuf, PktPool};
use vpmd_pmd::{
    offload, DevInfo, Devargs, DevargsReader, Driver, DriverFor, EthDev, Link, PmdError, PortConf,
    RxCounters, RxQueue, TxCounters, TxQueue,
};

use crate::backend::rx_stall::{DRAIN_DEFAULT, STALL_DEFAULT};
use crate::backend::tx::drop_all;
use crate::backend::xenbus::MAX_QUEUES;
use crate::backend::{
    BackendConfig, Clock, CtrlSide, GuestRxRing, GuestTxRing, Netback, QueueCounters, Rate, VifSlot,
};
use crate::platform::linux::{LinuxPaths, LinuxPlatform};
use crate::platform::sim::{SimPaths, SimPlatform};
use crate::platform::xenstore::COALESCE_AT;
use crate::platform::{Platform, XenStore};
use crate::wire::defs::XEN_PAGE_SIZE;
use crate::wire::grant::DomId;
use crate::wire::xenbus::XenbusState;

const NAME: &str = "net_vpmd_xen";
const KEYS: &[&str] = &[
    "domid",
    "devid",
    "queues",
    "split-evtchn",
    "sim",
    "rate",
    "rx-drain-ms",
    "rx-stall-ms",
    "copy-threshold",
    "mac",
];

/// The `net_vpmd_xen` driver.
#[derive(Debug, Default)]
pub struct XenDriver;

/// Which platform a port runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PlatformArg {
    /// The sim host whose sockets are in this directory (`sim=DIR`).
    Sim(PathBuf),
    /// The Xen domain this process runs in (no `sim=`).
    Linux,
}

impl PlatformArg {
    /// Names the Xen host: the process's searching ports on one host are
    /// [ordered](crate::backend::order).
    fn scope(&self) -> String {
        match self {
            PlatformArg::Sim(dir) => format!("sim:{}", dir.display()),
            PlatformArg::Linux => "xen".to_owned(),
        }
    }
}

/// Which vif a port serves.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pick {
    /// `cfg.frontend` and `cfg.devid` (`domid=`).
    Named,
    /// The first vif that appears, with this device id if given (no `domid=`).
    First(Option<u32>),
}

#[derive(Debug, Clone)]
struct XenArgs {
    cfg: BackendConfig,
    platform: PlatformArg,
    pick: Pick,
    mac: [u8; 6],
}

impl XenArgs {
    fn parse(args: &Devargs, port: u16) -> Result<Self, PmdError> {
        let r = args.reader(KEYS)?;
        let domid: u16 = r.uint("domid", 1..=0x7fef, 0)?;
        let devid = r.uint("devid", 0..=u32::MAX, 0)?;
        let pick = match (r.get("domid"), r.get("devid")) {
            (Some(_), _) => Pick::Named,
            (None, given) => Pick::First(given.map(|_| devid)),
        };
        let rate = match r.get("rate") {
            None => None,
            Some(v) => Some(
                Rate::parse(v, '/')
                    .ok_or_else(|| r.bad("rate", v, "expected BYTES/USEC, both positive"))?,
            ),
        };
        let platform = match r.get("sim") {
            None => PlatformArg::Linux,
            Some("") => {
                return Err(r
                    .bad("sim", "", "expected the sim host's socket directory")
                    .into())
            }
            Some(dir) => PlatformArg::Sim(PathBuf::from(dir)),
        };
        Ok(Self {
            // With `Pick::First`, the vif found sets the frontend and devid.
            cfg: BackendConfig {
                frontend: DomId(domid),
                devid,
                port,
                max_queues: r.uint("queues", 1..=MAX_QUEUES, 1)?,
                split_evtchn: r.flag("split-evtchn", true)?,
                rate,
                rx_drain: ms(&r, "rx-drain-ms", DRAIN_DEFAULT)?,
                rx_stall: ms(&r, "rx-stall-ms", STALL_DEFAULT)?,
                clock: Clock::real(),
                // A fragment never exceeds a page.
                copy_threshold: r.uint("copy-threshold", 0..=XEN_PAGE_SIZE as u16, 0)?,
            },
            platform,
            pick,
            mac: r.port_mac("mac", port)?,
        })
    }
}

/// A timeout devarg in milliseconds, at most an hour.
fn ms(r: &DevargsReader<'_>, key: &str, default: Duration) -> Result<Duration, PmdError> {
    let default = u64::try_from(default.as_millis()).unwrap_or(u64::MAX);
    Ok(Duration::from_millis(r.uint(
        key,
        1..=3_600_000,
        default,
    )?))
}

type Slot<P> = Arc<Mutex<VifSlot<P>>>;

struct XenDev<P: Platform + 'static> {
    port: u16,
    mac: [u8; 6],
    slot: Slot<P>,
    rx: Vec<Option<Reader<GuestTxRing<P>>>>,
    tx: Vec<Option<Reader<GuestRxRing<P>>>>,
    stats: Vec<Arc<QueueCounters>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    mtu: u16,
}

fn lock<P: Platform>(slot: &Slot<P>) -> std::sync::MutexGuard<'_, VifSlot<P>> {
    slot.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Driver for XenDriver {
    fn name(&self) -> &'static str {
        NAME
    }

    fn probe(&self, args: &Devargs, port: u16) -> Result<Box<dyn EthDev>, PmdError> {
        DriverFor::<Mempool>::probe_for(self, args, port)
    }
}

/// Devices over any pool: the DPDK plugin's `rte_mempool` gets the same queues.
impl<Pl: PktPool + Clone + 'static> DriverFor<Pl> for XenDriver {
    fn probe_for(&self, args: &Devargs, port: u16) -> Result<Box<dyn EthDev<Pl>>, PmdError> {
        let a = XenArgs::parse(args, port)?;
        let fail = |reason: String| PmdError::Driver {
            port,
            driver: NAME,
            reason,
        };
        match &a.platform {
            PlatformArg::Sim(dir) => {
                let p = SimPlatform::connect(&SimPaths::in_dir(dir), DomId::DOM0)
                    .map_err(|e| fail(format!("sim={}: {e}", dir.display())))?;
                start(p, &a, port)
            }
            PlatformArg::Linux => {
                let p = LinuxPlatform::open(&LinuxPaths::default())
                    .map_err(|e| fail(format!("Xen platform (no sim=): {e}")))?;
                start(p, &a, port)
            }
        }
    }
}

/// Binds the named vif on `platform`, or starts searching for one, and starts the
/// port's control thread.
fn start<P: Platform + 'static, Pl: PktPool + Clone + 'static>(
    platform: P,
    a: &XenArgs,
    port: u16,
) -> Result<Box<dyn EthDev<Pl>>, PmdError> {
    let fail = |reason: String| PmdError::Driver {
        port,
        driver: NAME,
        reason,
    };
    let platform = Arc::new(platform);
    let (slot, ends) = match a.pick {
        Pick::Named => {
            VifSlot::named(Arc::clone(&platform), a.cfg.clone()).map_err(|e| fail(e.to_string()))?
        }
        Pick::First(devid) => VifSlot::searching(
            Arc::clone(&platform),
            a.cfg.clone(),
            devid,
            &a.platform.scope(),
        )
        .map_err(|e| fail(format!("watching for vifs: {e}")))?,
    };
    let stats = slot.queue_stats();
    let slot = Arc::new(Mutex::new(slot));
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let (slot, stop) = (Arc::clone(&slot), Arc::clone(&stop));
        std::thread::Builder::new()
            .name(format!("xen-ctl-{port}"))
            .spawn(move || control_loop::<P>(&platform, &slot, &stop, port))
            .map_err(|e| fail(e.to_string()))?
    };
    let (rx, tx) = ends.into_iter().map(|e| (Some(e.rx), Some(e.tx))).unzip();
    Ok(Box::new(XenDev {
        port,
        mac: a.mac,
        slot,
        rx,
        tx,
        stats,
        stop,
        thread: Some(thread),
        mtu: 1500,
    }))
}

/// Serves the vif's xenbus events, control ring and event channels (and, while the
/// port has no vif, the search for one) until `stop`. Events that queued up are
/// handled once (the keys are re-read), so a guest rewriting its keys costs one pass
/// per loop, not one per write.
fn control_loop<P: Platform>(platform: &P, slot: &Slot<P>, stop: &AtomicBool, port: u16) {
    let st = platform.store();
    while !stop.load(Ordering::Relaxed) {
        let wait = match lock(slot).netback_mut() {
            Some(nb) => {
                nb.ctrl_mut().serve();
                // The control ring is polled: look again soon while there is one.
                if nb.ctrl().has_ring() {
                    Duration::from_millis(5)
                } else {
                    Duration::from_millis(50)
                }
            }
            None => Duration::from_millis(50),
        };
        let fired = st.read_watch(Some(wait)).and_then(|e| {
            // Bounded: a guest writing as fast as we read must not keep us here.
            for _ in 0..COALESCE_AT {
                if e.is_none() || st.read_watch(Some(Duration::ZERO))?.is_none() {
                    break;
                }
            }
            Ok(e.is_some())
        });
        let mut slot = lock(slot);
        match fired {
            Ok(fired) if fired || slot.deferred() => {
                if let Err(e) = slot.changed() {
                    log::error!("port {port}: xenbus: {e}");
                }
            }
            Ok(_) => {}
            Err(e) => {
                log::error!("port {port}: xenstore connection lost: {e}");
                return;
            }
        }
        if let Some(nb) = slot.netback_mut() {
            nb.service_events();
        }
    }
}

impl<P: Platform + 'static> XenDev<P> {
    fn err(&self, reason: impl Into<String>) -> PmdError {
        PmdError::Driver {
            port: self.port,
            driver: NAME,
            reason: reason.into(),
        }
    }

    /// Stops the control thread and closes the vif.
    fn shut(&mut self) -> Result<(), PmdError> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        lock(&self.slot)
            .close()
            .map_err(|e| self.err(e.to_string()))
    }
}

impl<P: Platform + 'static, Pl: PktPool + Clone + 'static> EthDev<Pl> for XenDev<P> {
    fn info(&self) -> DevInfo {
        let q = self.rx.len() as u16;
        DevInfo {
            driver: NAME,
            max_rx_queues: q,
            max_tx_queues: q,
            min_desc: 1,
            // The rings are the frontend's (256 slots); descriptors mean nothing here.
            max_desc: 32768,
            mtu: self.mtu,
            min_mtu: 68,
            max_mtu: 65535 - 14,
            max_rx_pktlen: 65535,
            rx_offload_capa: offload::RX_TCP_LRO | offload::RX_TCP_CKSUM | offload::RX_UDP_CKSUM,
            tx_offload_capa: offload::TX_MULTI_SEGS
                | offload::TX_TCP_TSO
                | offload::TX_TCP_CKSUM
                | offload::TX_UDP_CKSUM,
            mac: self.mac,
        }
    }

    fn configure(&mut self, _nb_rxq: u16, _nb_txq: u16, conf: &PortConf) -> Result<(), PmdError> {
        self.mtu = conf.mtu.unwrap_or(self.mtu);
        Ok(())
    }

    fn rx_queue_setup(
        &mut self,
        q: u16,
        _nb_desc: u16,
        pool: &Pl,
        counters: Arc<RxCounters>,
    ) -> Result<Box<dyn RxQueue<Pl::Buf>>, PmdError> {
        let reader = self.rx[usize::from(q)]
            .take()
            .ok_or_else(|| self.err(format!("rx queue {q} was already set up")))?;
        Ok(Box::new(XenRx {
            reader,
            pool: pool.clone(),
            port: self.port,
            counters,
            bufs: Vec::with_capacity(512),
        }))
    }

    fn tx_queue_setup(
        &mut self,
        q: u16,
        _nb_desc: u16,
        counters: Arc<TxCounters>,
    ) -> Result<Box<dyn TxQueue<Pl::Buf>>, PmdError> {
        let reader = self.tx[usize::from(q)]
            .take()
            .ok_or_else(|| self.err(format!("tx queue {q} was already set up")))?;
        Ok(Box::new(XenTx { reader, counters }))
    }

    fn close(&mut self) -> Result<(), PmdError> {
        self.shut()
    }

    fn link(&self) -> Link {
        Link {
            up: lock(&self.slot).netback().is_some_and(Netback::carrier),
            speed_mbps: 10_000,
            full_duplex: true,
        }
    }

    fn xstats(&self) -> Vec<(String, u64)> {
        let slot = lock(&self.slot);
        let unbound = CtrlSide::<P>::default();
        let nb = slot.netback();
        let fatal = nb.and_then(|nb| nb.vif().fatal());
        let mut x = vec![
            ("vif_binds".to_string(), slot.binds()),
            (
                "vif_domid".to_string(),
                nb.map_or(0, |nb| u64::from(nb.frontend().0)),
            ),
            (
                "xenbus_state".to_string(),
                nb.map_or(XenbusState::Unknown, Netback::state) as u64,
            ),
            ("fatal_error".to_string(), fatal.map_or(0, |r| r as u64)),
        ];
        if let Some(r) = fatal {
            x.push((format!("fatal_error_{}", r.name()), 1));
        }
        x.extend(nb.map_or(&unbound, Netback::ctrl).xstats());
        x.push((
            "mcast_addresses".to_string(),
            nb.map_or(0, |nb| nb.vif().mcast().len() as u64),
        ));
        x.push((
            "rate_key_invalid".to_string(),
            nb.map_or(0, Netback::rate_key_invalid),
        ));
        for (q, s) in self.stats.iter().enumerate() {
            x.extend(s.xstats(q as u16));
        }
        x
    }
}

impl<P: Platform + 'static> Drop for XenDev<P> {
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.shut();
        }
    }
}

/// Receive queue: the guest's tx ring, filling buffers from a `Pl`.
struct XenRx<P: Platform, Pl: PktPool> {
    reader: Reader<GuestTxRing<P>>,
    pool: Pl,
    port: u16,
    counters: Arc<RxCounters>,
    bufs: Vec<Pl::Buf>,
}

impl<P: Platform, Pl: PktPool> RxQueue<Pl::Buf> for XenRx<P, Pl> {
    fn rx_burst(&mut self, out: &mut Burst<Pl::Buf>, max: usize) -> usize {
        let start = out.len();
        match self.reader.enter() {
            Some(r) => {
                r.rx_burst(&self.pool, out, max, &self.counters, &mut self.bufs);
                self.reader.exit(0);
            }
            None => self.reader.exit_idle(),
        }
        for m in &mut out.as_mut_slice()[start..] {
            m.set_port(self.port);
        }
        out.len() - start
    }
}

/// Transmit queue: the guest's rx ring.
struct XenTx<P: Platform> {
    reader: Reader<GuestRxRing<P>>,
    counters: Arc<TxCounters>,
}

impl<P: Platform, B: PktBuf> TxQueue<B> for XenTx<P> {
    fn tx_burst(&mut self, pkts: &mut Burst<B>) -> usize {
        match self.reader.enter() {
            Some(t) => {
                let n = t.tx_burst(pkts, &self.counters);
                self.reader.exit(0);
                n
            }
            None => {
                self.reader.exit_idle();
                drop_all(pkts, &self.counters)
            }
        }
    }
}

/// The test-only second pool (`Foreign`/`ForeignBuf`), shared with pmd's tests.
#[cfg(test)]
#[path = "../../pmd/tests/foreign/mod.rs"]
#[allow(unsafe_code)] // views an `Mbuf` chain as a `ForeignBuf` chain (repr(transparent))
mod foreign;

#[cfg(test)]
mod foreign_pool {
    use std::time::Instant;

    use vpmd_pmd::Port;

    use super::foreign::{Foreign, ForeignBuf};
    use super::*;
    use crate::netfront::{Netfront, NetfrontConfig, RxPacket, TxPacket};
    use crate::platform::sim::{create_vif, DomainLayout, Guest, Host, VifSpec};

    const GUARD: Duration = Duration::from_secs(30);

    /// A `net_vpmd_xen` port over a pool that is not `Mempool` (as the DPDK plugin makes
    /// one) on the sim, against vpmd's netfront: multi-slot guest frames arrive as
    /// buffer chains of the foreign type and go back to the guest whole. The pool cannot
    /// attach external buffers, so `copy-threshold=` falls back to copying.
    #[test]
    fn xen_port_over_a_foreign_pool_echoes_guest_frames() {
        const N: usize = 40;
        let dir = std::env::temp_dir().join(format!("vpmd-xen-foreign-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let host = Host::start(&dir).unwrap();
        let paths = host.paths().clone();
        let layout = DomainLayout {
            mem_pages: 1024,
            grant_frames: 2,
        };
        let g = Arc::new(Guest::create(&paths, DomId(3), layout).unwrap());
        let be = SimPlatform::connect(&paths, DomId::DOM0).unwrap();
        let mac = [0x00, 0x16, 0x3e, 0, 0, 3];
        let spec = VifSpec {
            backend: DomId::DOM0,
            frontend: DomId(3),
            devid: 0,
            mac,
        };
        create_vif(be.store(), &spec).unwrap();

        let pool = Foreign::new("xen-foreign", 4096);
        let args: Devargs = format!(
            "net_vpmd_xen0,domid=3,sim={},copy-threshold=256",
            dir.display()
        )
        .parse()
        .unwrap();
        let dev = DriverFor::<Foreign>::probe_for(&XenDriver, &args, 5).unwrap();
        let mut port: Port<Foreign> = Port::new(5, args, dev);
        port.configure(1, 1, PortConf::default()).unwrap();
        let mut rx = port.rx_queue_setup(0, 512, &pool).unwrap();
        let mut tx = port.tx_queue_setup(0, 512).unwrap();
        port.start().unwrap();
        let mut nf = Netfront::probe(g, &paths, NetfrontConfig::new(0)).unwrap();
        nf.wait_connected(GUARD).unwrap();

        // 3000-byte unicast frames to the guest, sent in 1000-byte slots.
        let frames: Vec<Vec<u8>> = (0..N)
            .map(|i| {
                let mut f = vec![i as u8; 3000];
                f[..6].copy_from_slice(&mac);
                f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 9]);
                f[12..14].copy_from_slice(&0x88b5u16.to_be_bytes());
                f
            })
            .collect();
        for f in &frames {
            let p = TxPacket {
                chunk: 1000,
                ..TxPacket::new(f)
            };
            nf.send(0, &p).unwrap();
        }
        let mut b: Burst<ForeignBuf> = Burst::with_capacity(64);
        let end = Instant::now() + GUARD;
        while b.len() < N {
            assert!(
                Instant::now() < end,
                "only {} of {N} frames arrived",
                b.len()
            );
            let mut seen = Vec::new();
            nf.poll(0, &mut seen).unwrap();
            rx.rx_burst(&mut b, 64);
        }
        let mut flat = vec![0u8; 4000];
        for (m, f) in b.as_slice().iter().zip(&frames) {
            assert!(
                m.nb_segs() > 1,
                "3000 bytes do not fit one 2048-byte buffer"
            );
            assert_eq!(m.read_into(&mut flat), 3000);
            assert_eq!(&flat[..3000], &f[..]);
            assert_eq!(m.0.port(), 5);
        }
        assert_eq!(tx.tx_burst(&mut b), N);
        let mut back: Vec<RxPacket> = Vec::new();
        nf.recv(0, &mut back, N, GUARD).unwrap();
        assert_eq!(back.len(), N);
        for (p, f) in back.iter().zip(&frames) {
            assert_eq!(p.data, *f);
        }
        let s = port.stats();
        assert_eq!(
            (s.ipackets, s.opackets, s.ierrors, s.oerrors),
            (N as u64, N as u64, 0, 0)
        );
        assert_eq!(pool.in_use(), 0, "every foreign buffer went back");
        port.close().unwrap();
        drop(nf);
        drop(host);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<XenArgs, PmdError> {
        XenArgs::parse(&s.parse::<Devargs>().unwrap(), 3)
    }

    #[test]
    fn devargs_errors_name_the_key() {
        let a = parse("net_vpmd_xen0,domid=5,devid=1,queues=2,sim=/tmp/x").unwrap();
        assert_eq!(
            (a.cfg.frontend, a.cfg.devid, a.cfg.max_queues, a.cfg.rate),
            (DomId(5), 1, 2, None)
        );
        assert_eq!(
            (a.cfg.rx_drain, a.cfg.rx_stall),
            (Duration::from_secs(10), Duration::from_secs(60))
        );
        assert_eq!(a.cfg.copy_threshold, 0);
        let a = parse("net_vpmd_xen0,domid=5,sim=/x,rate=125000/1000,rx-stall-ms=5").unwrap();
        assert_eq!(a.cfg.rx_stall, Duration::from_millis(5));
        assert_eq!(
            a.cfg.rate,
            Some(Rate {
                bytes: 125_000,
                usec: 1000
            })
        );
        assert_eq!(a.platform, PlatformArg::Sim(PathBuf::from("/x")));
        assert_eq!(
            parse("net_vpmd_xen0,domid=5").unwrap().platform,
            PlatformArg::Linux
        );
        assert_eq!(a.pick, Pick::Named);
        // No domid: the first vif, filtered by devid if given.
        assert_eq!(
            parse("net_vpmd_xen0,sim=/x").unwrap().pick,
            Pick::First(None)
        );
        assert_eq!(
            parse("net_vpmd_xen0,devid=0,sim=/x").unwrap().pick,
            Pick::First(Some(0))
        );
        let a = parse("net_vpmd_xen0,domid=5,sim=/x,copy-threshold=4096").unwrap();
        assert_eq!(a.cfg.copy_threshold, 4096);
        for (s, key) in [
            ("net_vpmd_xen0,domid=0,sim=/x", "domid"),
            ("net_vpmd_xen0,domid=x,sim=/x", "domid"),
            ("net_vpmd_xen0,domid=5,sim=", "sim"),
            ("net_vpmd_xen0,domid=5,sim=/x,queues=9", "queues"),
            (
                "net_vpmd_xen0,domid=5,sim=/x,rate=100",
                "'100' for key 'rate'",
            ),
            (
                "net_vpmd_xen0,domid=5,sim=/x,rate=0/1000",
                "'0/1000' for key 'rate'",
            ),
            (
                "net_vpmd_xen0,domid=5,sim=/x,rate=1/x",
                "'1/x' for key 'rate'",
            ),
            (
                "net_vpmd_xen0,domid=5,sim=/x,copy-threshold=4097",
                "copy-threshold",
            ),
            (
                "net_vpmd_xen0,domid=5,sim=/x,copy-threshold=-1",
                "copy-threshold",
            ),
            ("net_vpmd_xen0,domid=5,sim=/x,colour=red", "colour"),
        ] {
            let e = parse(s).unwrap_err().to_string();
            assert!(e.contains(key), "{s}: {e}");
        }
    }

    #[test]
    fn without_sim_the_port_runs_on_xen_and_names_what_is_missing() {
        if std::path::Path::new("/dev/xen/gntdev").exists() {
            return; // a real Xen domain: probing would talk to its xenstored
        }
        let args = "net_vpmd_xen0,domid=5".parse::<Devargs>().unwrap();
        let e = XenDriver.probe(&args, 0).err().unwrap().to_string();
        assert!(e.contains("/dev/xen/gntdev"), "{e}");
    }
}
