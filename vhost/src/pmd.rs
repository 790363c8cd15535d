//! `net_vpmd_vhost`: the ethdev glue of the vhost-user PMD, like DPDK's
//! `rte_eth_vhost.c`: devargs, queues, statistics, link state. No ring code here; the
//! rings are `virtqueue`/`net`, the protocol is `device`/`socket`.
//!
//! Devargs (DPDK net_vhost's where they apply): `iface=PATH` (required), `queues=N` (queue
//! pairs, 1..=128, default 1), `client=0|1` (connect to the front-end and reconnect with
//! back-off instead of listening), `tso=0|1` (offer HOST_TSO4/6, default 0 as DPDK),
//! `linear-buffer=0|1` (never hand out multi-segment packets: a frame larger than one
//! mbuf is dropped and counted), `mrg-rxbuf=0|1` (offer mergeable rx buffers, default 1),
//! `in-order=0|1` (offer VIRTIO_F_IN_ORDER, default 1 as DPDK's vhost library does),
//! `mac=XX:XX:XX:XX:XX:XX` (the port's MAC, also served in the virtio config space).
//!
//! Queue pair q is vring 2q+1 (the guest's tx: vpmd receives) and vring 2q (the guest's
//! rx: vpmd transmits). Each vring's data-path state reaches the polling lcore through a
//! [`Handover`]: the control thread starts and stops rings without a lock on the fast
//! path and waits for the lcore to leave a ring before `GET_VRING_BASE` replies.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use vpmd_fastpath::{handover, Handover, Reader};
use vpmd_mempool::{Burst, Mempool, PktBuf, PktPool};
use vpmd_pmd::{
    offload, DevInfo, Devargs, Driver, DriverFor, EthDev, Link, PmdError, PortConf, RxCounters,
    RxQueue, TxCounters, TxQueue,
};

use crate::device::{DeviceConfig, LinkInfo, VringSink, MAX_QUEUE_PAIRS};
use crate::net::{rx::dequeue_burst, tx::enqueue_burst};
use crate::socket::{Handle, VhostSocket};
use crate::stats::VringCounters;
use crate::virtio::{self, bit};
use crate::virtqueue::SplitQueue;
use crate::vring::{pack_position, unpack_position, VringConfig};

const NAME: &str = "net_vpmd_vhost";
const KEYS: &[&str] = &[
    "iface",
    "queues",
    "client",
    "tso",
    "linear-buffer",
    "mrg-rxbuf",
    "in-order",
    "mac",
];

/// The `net_vpmd_vhost` driver.
#[derive(Debug, Default)]
pub struct VhostDriver;

#[derive(Debug, Clone)]
struct VhostArgs {
    iface: PathBuf,
    queues: u16,
    client: bool,
    tso: bool,
    linear: bool,
    mrg_rxbuf: bool,
    in_order: bool,
    mac: [u8; 6],
}

impl VhostArgs {
    fn parse(args: &Devargs, port_id: u16) -> Result<Self, PmdError> {
        let r = args.reader(KEYS)?;
        let iface = r.require("iface")?;
        if iface.is_empty() {
            return Err(r.bad("iface", iface, "expected a unix socket path").into());
        }
        let mac = r.port_mac("mac", port_id)?;
        Ok(Self {
            iface: PathBuf::from(iface),
            queues: r.uint("queues", 1..=MAX_QUEUE_PAIRS, 1)?,
            client: r.flag("client", false)?,
            tso: r.flag("tso", false)?,
            linear: r.flag("linear-buffer", false)?,
            mrg_rxbuf: r.flag("mrg-rxbuf", true)?,
            in_order: r.flag("in-order", true)?,
            mac,
        })
    }

    /// The virtio features offered to the front-end.
    fn features(&self) -> u64 {
        let mut f = bit(virtio::F_VERSION_1)
            | bit(virtio::F_ANY_LAYOUT)
            | bit(virtio::RING_F_INDIRECT_DESC)
            | bit(virtio::RING_F_EVENT_IDX)
            | bit(virtio::NET_F_MQ)
            | bit(virtio::NET_F_CSUM)
            | bit(virtio::NET_F_GUEST_CSUM)
            | bit(virtio::NET_F_GUEST_TSO4)
            | bit(virtio::NET_F_GUEST_TSO6)
            | bit(virtio::NET_F_MAC)
            | bit(virtio::NET_F_STATUS);
        if self.mrg_rxbuf {
            f |= bit(virtio::NET_F_MRG_RXBUF);
        }
        if self.tso {
            f |= bit(virtio::NET_F_HOST_TSO4) | bit(virtio::NET_F_HOST_TSO6);
        }
        // Both bursts use buffers in ring order; the guest's tx ring then needs one used
        // element per burst (see `net::rx`).
        if self.in_order {
            f |= bit(virtio::F_IN_ORDER);
        }
        f
    }
}

/// One vring's slot: the handover the lcore reads, the last start (to rebuild the ring
/// when its queue is set up again), and its counters.
struct VringSlot {
    handover: Arc<Handover<SplitQueue>>,
    reader: Option<Reader<SplitQueue>>,
    started: Option<VringConfig>,
    counters: Arc<VringCounters>,
}

/// What the control thread (as [`VringSink`]) and the ethdev side share.
struct Shared {
    slots: Mutex<Vec<VringSlot>>,
    /// The port has no rx checksum offload enabled: complete partial checksums of
    /// guest frames in software, as DPDK's net_vhost does.
    rx_sw_csum: AtomicBool,
    link_up: AtomicBool,
    rarp: Mutex<Option<[u8; 6]>>,
    rarp_pending: AtomicBool,
}

impl Shared {
    fn new(vrings: usize) -> Self {
        let slots = (0..vrings)
            .map(|_| {
                let (handover, reader) = handover();
                VringSlot {
                    handover,
                    reader: Some(reader),
                    started: None,
                    counters: Arc::default(),
                }
            })
            .collect();
        Self {
            slots: Mutex::new(slots),
            rx_sw_csum: AtomicBool::new(true),
            link_up: AtomicBool::new(false),
            rarp: Mutex::new(None),
            rarp_pending: AtomicBool::new(false),
        }
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, Vec<VringSlot>> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The reader of vring `index` for a newly set-up queue. A second setup of the same
    /// queue gets a fresh handover; a ring running on the old one moves over.
    fn take_reader(&self, index: u16) -> (Reader<SplitQueue>, Arc<VringCounters>) {
        let mut slots = self.slots();
        let slot = &mut slots[index as usize];
        if let Some(r) = slot.reader.take() {
            return (r, Arc::clone(&slot.counters));
        }
        let (fresh, reader) = handover();
        let old = std::mem::replace(&mut slot.handover, fresh);
        let pos = old.stop();
        if let Some(mut cfg) = slot.started.clone() {
            (cfg.last_avail_idx, cfg.last_used_idx) = unpack_position(pos);
            start_ring(slot, cfg, self.rx_sw_csum.load(Ordering::Relaxed));
        }
        (reader, Arc::clone(&slot.counters))
    }
}

/// Builds the data-path state of `cfg` and hands it to the slot's reader.
fn start_ring(slot: &mut VringSlot, cfg: VringConfig, rx_sw_csum: bool) {
    let report = pack_position(cfg.last_avail_idx, cfg.last_used_idx);
    let index = cfg.index;
    match SplitQueue::new(cfg.clone()) {
        Ok(mut q) => {
            // Odd vrings are the guest's tx: what vpmd receives.
            q.set_rx_sw_csum(index % 2 == 1 && rx_sw_csum);
            slot.handover.start(q, report);
            slot.started = Some(cfg);
        }
        Err(e) => log::warn!("{NAME}: vring {index} not started: {e}"),
    }
}

impl VringSink for Shared {
    fn start(&self, cfg: VringConfig) {
        let mut slots = self.slots();
        match slots.get_mut(cfg.index as usize) {
            Some(slot) => start_ring(slot, cfg, self.rx_sw_csum.load(Ordering::Relaxed)),
            None => log::warn!("{NAME}: vring {} beyond the configured queues", cfg.index),
        }
    }

    fn stop(&self, index: u16) -> (u16, u16) {
        let mut slots = self.slots();
        match slots.get_mut(index as usize) {
            Some(slot) => {
                slot.started = None;
                unpack_position(slot.handover.stop())
            }
            None => (0, 0),
        }
    }

    fn link(&self, up: bool, info: &LinkInfo) {
        log::info!(
            "{NAME}: link {} ({} of {} queue pairs, features {:#x}, mtu {})",
            if up { "up" } else { "down" },
            info.queue_pairs,
            info.max_queue_pairs,
            info.features,
            info.mtu
        );
        self.link_up.store(up, Ordering::Release);
    }

    fn send_rarp(&self, mac: [u8; 6]) {
        *self.rarp.lock().unwrap_or_else(PoisonError::into_inner) = Some(mac);
        self.rarp_pending.store(true, Ordering::Release);
    }
}

struct VhostDev {
    args: VhostArgs,
    port_id: u16,
    mtu: u16,
    shared: Arc<Shared>,
    socket: Option<Handle>,
}

impl Driver for VhostDriver {
    fn name(&self) -> &'static str {
        NAME
    }

    fn probe(&self, args: &Devargs, port_id: u16) -> Result<Box<dyn EthDev>, PmdError> {
        DriverFor::<Mempool>::probe_for(self, args, port_id)
    }
}

/// Devices over any pool: the DPDK plugin's `rte_mempool` gets the same queues.
impl<P: PktPool + Clone + 'static> DriverFor<P> for VhostDriver {
    fn probe_for(&self, args: &Devargs, port_id: u16) -> Result<Box<dyn EthDev<P>>, PmdError> {
        let args = VhostArgs::parse(args, port_id)?;
        let vrings = 2 * args.queues as usize;
        Ok(Box::new(VhostDev {
            args,
            port_id,
            mtu: 1500,
            shared: Arc::new(Shared::new(vrings)),
            socket: None,
        }))
    }
}

impl VhostDev {
    fn err(&self, reason: String) -> PmdError {
        PmdError::Driver {
            port: self.port_id,
            driver: NAME,
            reason,
        }
    }

    /// Closes the socket (the device's only resource), once.
    fn unregister(&mut self) {
        if let Some(h) = self.socket.take() {
            h.unregister();
        }
    }
}

impl<P: PktPool + Clone + 'static> EthDev<P> for VhostDev {
    fn info(&self) -> DevInfo {
        DevInfo {
            driver: NAME,
            max_rx_queues: self.args.queues,
            max_tx_queues: self.args.queues,
            min_desc: 1,
            max_desc: u16::MAX,
            mtu: self.mtu,
            min_mtu: 68,
            max_mtu: 9000,
            max_rx_pktlen: u32::MAX,
            rx_offload_capa: offload::RX_TCP_CKSUM | offload::RX_UDP_CKSUM,
            tx_offload_capa: offload::TX_MULTI_SEGS
                | offload::TX_TCP_CKSUM
                | offload::TX_UDP_CKSUM
                | offload::TX_TCP_TSO,
            mac: self.args.mac,
        }
    }

    fn configure(&mut self, _rxq: u16, _txq: u16, conf: &PortConf) -> Result<(), PmdError> {
        self.mtu = conf.mtu.unwrap_or(self.mtu);
        let hw = offload::RX_TCP_CKSUM | offload::RX_UDP_CKSUM;
        self.shared
            .rx_sw_csum
            .store(conf.rx_offloads & hw != hw, Ordering::Relaxed);
        Ok(())
    }

    fn rx_queue_setup(
        &mut self,
        q: u16,
        _nb_desc: u16,
        pool: &P,
        counters: Arc<RxCounters>,
    ) -> Result<Box<dyn RxQueue<P::Buf>>, PmdError> {
        let (reader, vring) = self.shared.take_reader(2 * q + 1);
        Ok(Box::new(VhostRx {
            reader,
            pool: pool.clone(),
            port: self.port_id,
            linear: self.args.linear,
            rarp: (q == 0).then(|| Arc::clone(&self.shared)),
            vring,
            counters,
        }))
    }

    fn tx_queue_setup(
        &mut self,
        q: u16,
        _nb_desc: u16,
        counters: Arc<TxCounters>,
    ) -> Result<Box<dyn TxQueue<P::Buf>>, PmdError> {
        let (reader, vring) = self.shared.take_reader(2 * q);
        Ok(Box::new(VhostTx {
            reader,
            vring,
            counters,
        }))
    }

    fn start(&mut self) -> Result<(), PmdError> {
        if self.socket.is_none() {
            let cfg = DeviceConfig {
                queue_pairs: self.args.queues,
                features: self.args.features(),
                mtu: None,
                mac: Some(self.args.mac),
            };
            let sink: Arc<dyn VringSink> = self.shared.clone();
            let handle = VhostSocket::register(&self.args.iface, self.args.client, cfg, sink)
                .map_err(|e| self.err(format!("iface={}: {e}", self.args.iface.display())))?;
            self.socket = Some(handle);
        }
        Ok(())
    }

    fn close(&mut self) -> Result<(), PmdError> {
        self.unregister();
        Ok(())
    }

    fn link(&self) -> Link {
        Link {
            up: self.shared.link_up.load(Ordering::Acquire),
            speed_mbps: 10_000,
            full_duplex: true,
        }
    }

    fn xstats(&self) -> Vec<(String, u64)> {
        let slots = self.shared.slots();
        let mut x = Vec::new();
        for (i, s) in slots.iter().enumerate() {
            let dir = if i % 2 == 1 { "rx" } else { "tx" };
            x.extend(s.counters.xstats(&format!("{dir}_q{}", i / 2)));
        }
        if let Some(h) = &self.socket {
            x.extend(h.stats().xstats().iter().map(|(k, v)| (k.to_string(), *v)));
        }
        x
    }
}

impl Drop for VhostDev {
    fn drop(&mut self) {
        self.unregister();
    }
}

/// A RARP frame announcing `mac` (what QEMU sends after a migration): broadcast,
/// ethertype 0x8035, reverse request, padded to the 60-byte minimum.
fn rarp_frame(mac: &[u8; 6]) -> [u8; 60] {
    let mut f = [0u8; 60];
    f[..6].fill(0xff);
    f[6..12].copy_from_slice(mac);
    f[12..14].copy_from_slice(&0x8035u16.to_be_bytes());
    f[14..22].copy_from_slice(&[0, 1, 0x08, 0x00, 6, 4, 0, 3]);
    f[22..28].copy_from_slice(mac);
    f[32..38].copy_from_slice(mac);
    f
}

/// Receive queue: the guest's tx vring, filling buffers from a `P`.
struct VhostRx<P> {
    reader: Reader<SplitQueue>,
    pool: P,
    port: u16,
    linear: bool,
    /// Queue 0 announces the guest's MAC after `SEND_RARP`, as DPDK does.
    rarp: Option<Arc<Shared>>,
    vring: Arc<VringCounters>,
    counters: Arc<RxCounters>,
}

impl<P: PktPool> VhostRx<P> {
    #[cold]
    fn inject_rarp(&self, shared: &Shared, out: &mut Burst<P::Buf>) {
        shared.rarp_pending.store(false, Ordering::Relaxed);
        let mac = *shared.rarp.lock().unwrap_or_else(PoisonError::into_inner);
        if let (Some(mac), Ok(mut m)) = (mac, self.pool.alloc()) {
            if let Some(d) = m.append(60) {
                d.copy_from_slice(&rarp_frame(&mac));
                m.set_port(self.port);
                let _ = out.push(m);
            }
        }
    }
}

impl<P: PktPool> RxQueue<P::Buf> for VhostRx<P> {
    #[inline]
    fn rx_burst(&mut self, out: &mut Burst<P::Buf>, max: usize) -> usize {
        let start = out.len();
        if let Some(shared) = &self.rarp {
            if shared.rarp_pending.load(Ordering::Relaxed) && out.room() > 0 {
                self.inject_rarp(shared, out);
            }
        }
        let (drops0, nobuf0) = (self.vring.dropped(), self.vring.mbuf_alloc_failed.get());
        match self.reader.enter() {
            Some(q) => {
                let room = max.saturating_sub(out.len() - start);
                dequeue_burst(q, &self.pool, out, room, self.port, &self.vring);
                let (a, u) = q.position();
                self.reader.exit(pack_position(a, u));
            }
            None => self.reader.exit_idle(),
        }
        if self.linear {
            let before = out.len();
            let mut i = 0;
            out.retain_mut(|m| {
                i += 1;
                i <= start || m.nb_segs() == 1
            });
            self.counters.errors.add((before - out.len()) as u64);
        }
        let n = out.len() - start;
        self.counters.count(&out.as_slice()[start..]);
        self.counters.errors.add(self.vring.dropped() - drops0);
        self.counters
            .nombuf
            .add(self.vring.mbuf_alloc_failed.get() - nobuf0);
        n
    }
}

/// Transmit queue: the guest's rx vring.
struct VhostTx {
    reader: Reader<SplitQueue>,
    vring: Arc<VringCounters>,
    counters: Arc<TxCounters>,
}

impl<B: PktBuf> TxQueue<B> for VhostTx {
    #[inline]
    fn tx_burst(&mut self, pkts: &mut Burst<B>) -> usize {
        let (good0, bytes0, drops0) = (
            self.vring.good_packets.get(),
            self.vring.good_bytes.get(),
            self.vring.dropped(),
        );
        let taken = match self.reader.enter() {
            Some(q) => {
                let n = enqueue_burst(q, pkts, &self.vring);
                let (a, u) = q.position();
                self.reader.exit(pack_position(a, u));
                n
            }
            None => {
                self.reader.exit_idle();
                0
            }
        };
        self.counters
            .packets
            .add(self.vring.good_packets.get() - good0);
        self.counters
            .bytes
            .add(self.vring.good_bytes.get() - bytes0);
        self.counters.errors.add(self.vring.dropped() - drops0);
        taken
    }
}

/// The test-only second pool (`Foreign`/`ForeignBuf`), shared with pmd's tests.
#[cfg(test)]
#[path = "../../pmd/tests/foreign/mod.rs"]
mod foreign;

#[cfg(test)]
mod foreign_pool {
    use std::sync::atomic::AtomicBool;
    use std::time::{Duration, Instant};

    use vpmd_pmd::Port;

    use super::foreign::{Foreign, ForeignBuf};
    use super::*;
    use crate::vuser::{Config, Vuser};

    /// A `net_vpmd_vhost` port over a pool that is not `Mempool` (as the DPDK plugin
    /// makes one), looped to itself, against vpmd's own front-end: frames larger than a
    /// buffer come back whole and in order, through the same dequeue/enqueue code.
    #[test]
    fn vhost_port_over_a_foreign_pool_loops_frames_back() {
        const N: u64 = 3000;
        let dir = std::env::temp_dir().join(format!("vpmd-vhost-foreign-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sock = dir.join("loop.sock");
        let _ = std::fs::remove_file(&sock);
        let pool = Foreign::new("vhost-foreign", 4096);
        let args: Devargs = format!("net_vpmd_vhost0,iface={}", sock.display())
            .parse()
            .unwrap();
        let dev = DriverFor::<Foreign>::probe_for(&VhostDriver, &args, 0).unwrap();
        let mut port: Port<Foreign> = Port::new(0, args, dev);
        port.configure(1, 1, PortConf::default()).unwrap();
        let mut rx = port.rx_queue_setup(0, 512, &pool).unwrap();
        let mut tx = port.tx_queue_setup(0, 512).unwrap();
        port.start().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let fwd = {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut b: Burst<ForeignBuf> = Burst::with_capacity(32);
                let mut multi = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    rx.rx_burst(&mut b, 32);
                    multi += b.as_slice().iter().filter(|m| m.nb_segs() > 1).count() as u64;
                    tx.tx_burst(&mut b);
                    b.clear();
                }
                multi
            })
        };
        // 3000-byte frames: two mbufs each on receive, two guest buffers on transmit.
        let cfg = Config {
            frame_len: 3000,
            ..Config::default()
        };
        let mut v = Vuser::connect(&sock, &cfg).unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        let (vtx, vrx) = v.queues();
        let (mut sent, mut next) = (0u64, 0u64);
        while next < N {
            assert!(Instant::now() < deadline, "stuck: {sent} sent, {next} back");
            let room = (N - sent).min(64 - (sent - next)).min(32) as u16;
            sent += u64::from(vtx.send_stamped(room, |seq| seq * 3));
            vrx.recv(|r| {
                let s = r.stamp.expect("a probe frame");
                assert_eq!((s.seq, s.tsc), (next, next * 3), "order or stamp");
                next += 1;
            });
        }
        assert_eq!(vrx.stats().bytes, N * 3000);
        stop.store(true, Ordering::Relaxed);
        let multi = fwd.join().unwrap();
        assert_eq!(multi, N, "every frame was a two-segment ForeignBuf chain");
        let s = port.stats();
        assert_eq!((s.ipackets, s.opackets, s.ierrors, s.oerrors), (N, N, 0, 0));
        assert_eq!(pool.in_use(), 0, "every foreign buffer went back");
        port.close().unwrap();
        drop(v);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Result<VhostArgs, PmdError> {
        VhostArgs::parse(&s.parse::<Devargs>().unwrap(), 3)
    }

    #[test]
    fn devargs_defaults_and_errors() {
        let a = args("net_vpmd_vhost0,iface=/tmp/x.sock").unwrap();
        assert_eq!(
            (a.queues, a.client, a.tso, a.mrg_rxbuf),
            (1, false, false, true)
        );
        assert_eq!(a.mac, [0x02, 0x76, 0x70, 0x6d, 0, 3]);
        assert!(virtio::has(a.features(), virtio::NET_F_MRG_RXBUF));
        assert!(virtio::has(a.features(), virtio::F_IN_ORDER));
        assert!(!virtio::has(a.features(), virtio::NET_F_HOST_TSO4));
        let a = args(
            "net_vpmd_vhost0,iface=/x,queues=2,client=1,tso=1,mrg-rxbuf=0,in-order=0,mac=02:00:00:00:00:0a",
        )
        .unwrap();
        assert_eq!(a.mac, [2, 0, 0, 0, 0, 10]);
        assert!(virtio::has(a.features(), virtio::NET_F_HOST_TSO6));
        assert!(!virtio::has(a.features(), virtio::NET_F_MRG_RXBUF));
        assert!(!virtio::has(a.features(), virtio::F_IN_ORDER));
        let e = |s: &str| args(s).unwrap_err().to_string();
        assert_eq!(
            e("net_vpmd_vhost0"),
            "device net_vpmd_vhost0: missing required key 'iface'"
        );
        assert!(e("net_vpmd_vhost0,iface=/x,queues=0").contains("bad value '0' for key 'queues'"));
        assert!(e("net_vpmd_vhost0,iface=/x,queues=129").contains("'129'"));
        assert!(e("net_vpmd_vhost0,iface=/x,mac=zz").contains("bad value 'zz' for key 'mac'"));
        assert!(e("net_vpmd_vhost0,iface=/x,in-order=2").contains("'in-order'"));
        assert!(e("net_vpmd_vhost0,iface=/x,dequeue-zero-copy=1")
            .contains("unknown key 'dequeue-zero-copy'"));
    }

    #[test]
    fn rarp_frame_layout() {
        let f = rarp_frame(&[2, 0, 0, 0, 0, 1]);
        assert_eq!(&f[..6], &[0xff; 6]);
        assert_eq!(&f[12..14], &[0x80, 0x35]);
        assert_eq!(f[21], 3, "reverse request");
        assert_eq!(&f[32..38], &[2, 0, 0, 0, 0, 1]);
    }
}
