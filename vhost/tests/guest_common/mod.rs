//! What the vhost data-path tests share: a test bed (a mock guest and the two device
//! queues over its rings), pools, frame builders and an independent checksum.

#![allow(dead_code)]

use std::sync::Arc;

use vpmd_mempool::{Burst, HugepagePolicy, Mbuf, Mempool, PktBuf, PoolConfig};
use vpmd_vhost::driver::{memfd, GuestMemory, NetGuest};
use vpmd_vhost::net::{rx, tx, NetHdr};
use vpmd_vhost::stats::VringCounters;
use vpmd_vhost::virtio::{self, bit};
use vpmd_vhost::virtqueue::SplitQueue;

/// Virtio 1.0 with any layout: 12-byte header, no mergeable buffers.
pub const BASE: u64 = bit(virtio::F_VERSION_1) | bit(virtio::F_ANY_LAYOUT);
/// Mergeable rx buffers.
pub const MRG: u64 = bit(virtio::NET_F_MRG_RXBUF);
/// Indirect descriptors.
pub const INDIRECT: u64 = bit(virtio::RING_F_INDIRECT_DESC);
/// EVENT_IDX.
pub const EVENT_IDX: u64 = bit(virtio::RING_F_EVENT_IDX);
/// Every checksum and segmentation offload, both directions.
pub const OFFLOADS: u64 = bit(virtio::NET_F_CSUM)
    | bit(virtio::NET_F_GUEST_CSUM)
    | bit(virtio::NET_F_HOST_TSO4)
    | bit(virtio::NET_F_HOST_TSO6)
    | bit(virtio::NET_F_HOST_UFO)
    | bit(virtio::NET_F_GUEST_TSO4)
    | bit(virtio::NET_F_GUEST_TSO6)
    | bit(virtio::NET_F_GUEST_UFO);

/// A pool of `size` buffers with `data_room` bytes each, normal pages, debug checks on.
pub fn pool(size: u32, data_room: u16) -> Mempool {
    Mempool::new(
        "vhost-test",
        &PoolConfig {
            size,
            cache_size: 0,
            data_room,
            hugepages: HugepagePolicy::Never,
            debug: true,
            ..PoolConfig::default()
        },
    )
    .expect("test pool")
}

/// A mock guest, the device queues over its rings, their counters and a pool.
pub struct Bed {
    pub guest: NetGuest,
    /// vpmd's rx queue: the guest's tx ring.
    pub rx: SplitQueue,
    /// vpmd's tx queue: the guest's rx ring.
    pub tx: SplitQueue,
    pub rxc: VringCounters,
    pub txc: VringCounters,
    pub pool: Mempool,
    /// The call eventfd stand-in of the guest's rx ring: a file that grows 8 bytes per
    /// interrupt.
    pub call_rx: Arc<std::fs::File>,
    /// The same for the guest's tx ring.
    pub call_tx: Arc<std::fs::File>,
}

impl Bed {
    /// Queues of 256, a 2048-byte pool, indexes from 0.
    pub fn new(features: u64) -> Self {
        Self::with(features, 256, 2048, 0)
    }

    pub fn with(features: u64, size: u16, data_room: u16, start: u16) -> Self {
        let mem = GuestMemory::new(48 << 20).expect("guest memory");
        Self::in_mem(features, size, data_room, start, mem)
    }

    pub fn in_mem(
        features: u64,
        size: u16,
        data_room: u16,
        start: u16,
        mem: Arc<GuestMemory>,
    ) -> Self {
        let guest = NetGuest::with(features, size, mem, start).expect("guest");
        let call_rx = Arc::new(memfd(0).unwrap());
        let call_tx = Arc::new(memfd(0).unwrap());
        let rx = SplitQueue::new(guest.tx_config(Some(Arc::clone(&call_tx)))).unwrap();
        let tx = SplitQueue::new(guest.rx_config(Some(Arc::clone(&call_rx)))).unwrap();
        Self {
            guest,
            rx,
            tx,
            rxc: VringCounters::default(),
            txc: VringCounters::default(),
            pool: pool(4096, data_room),
            call_rx,
            call_tx,
        }
    }

    /// One dequeue burst of up to `max` frames.
    pub fn rx_burst(&mut self, max: usize) -> Burst<Mbuf> {
        let mut out = Burst::with_capacity(64);
        rx::dequeue_burst(&mut self.rx, &self.pool, &mut out, max, 3, &self.rxc);
        out
    }

    /// Dequeues until the guest's tx ring is empty.
    pub fn rx_all(&mut self) -> Vec<Mbuf> {
        let mut all = Vec::new();
        loop {
            let mut b = self.rx_burst(32);
            if b.is_empty() {
                return all;
            }
            all.extend(b.drain());
        }
    }

    /// Dequeues until the guest's tx ring is empty, keeping only the bytes (buffers go
    /// back to the pool at once).
    pub fn rx_all_bytes(&mut self) -> Vec<Vec<u8>> {
        let mut all = Vec::new();
        loop {
            let mut b = self.rx_burst(32);
            if b.is_empty() {
                return all;
            }
            all.extend(b.drain().map(|m| bytes(&m)));
        }
    }

    /// One enqueue burst.
    pub fn tx_burst(&mut self, pkts: &mut Burst<Mbuf>) -> usize {
        tx::enqueue_burst(&mut self.tx, pkts, &self.txc)
    }

    /// Interrupts sent on the guest's rx ring so far.
    pub fn rx_interrupts(&self) -> u64 {
        self.call_rx.metadata().unwrap().len() / 8
    }

    /// Interrupts sent on the guest's tx ring so far.
    pub fn tx_interrupts(&self) -> u64 {
        self.call_tx.metadata().unwrap().len() / 8
    }

    /// Sends `frames` with `layout`, dequeues everything, and returns the buffers.
    pub fn guest_to_host(
        &mut self,
        frames: &[Vec<u8>],
        layout: vpmd_vhost::driver::TxLayout,
    ) -> Vec<Mbuf> {
        for f in frames {
            self.guest
                .send(&NetHdr::default(), f, layout)
                .expect("room in the guest's tx ring");
        }
        self.rx_all()
    }
}

/// A counter by xstat name (without prefix).
pub fn xstat(c: &VringCounters, name: &str) -> u64 {
    c.xstats("q")
        .into_iter()
        .find(|(n, _)| n == &format!("q_{name}"))
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no xstat {name}"))
}

/// An Ethernet frame of `len` bytes to a unicast address, with a recognisable payload.
pub fn frame(len: usize, seed: u8) -> Vec<u8> {
    let mut f: Vec<u8> = (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect();
    let dst = [0x02, 0x00, 0x00, 0x00, 0x00, seed];
    let n = dst.len().min(len);
    f[..n].copy_from_slice(&dst[..n]);
    if len >= 14 {
        f[12..14].copy_from_slice(&0x88b5u16.to_be_bytes()); // local experimental
    }
    f
}

/// A packet buffer holding `bytes`, chained over as many buffers of `pool` as needed.
pub fn mbuf(pool: &Mempool, bytes: &[u8]) -> Mbuf {
    let room = pool.info().data_room as usize;
    let mut chunks = bytes.chunks(room.max(1));
    let fill = |c: &[u8]| {
        let mut m = pool.alloc().expect("pool has buffers");
        m.append(c.len() as u16).unwrap().copy_from_slice(c);
        m
    };
    let mut head = fill(chunks.next().unwrap_or(&[]));
    for c in chunks {
        let seg = fill(c);
        head.chain(seg).unwrap();
    }
    head
}

/// A burst of packet buffers holding `frames`.
pub fn burst(pool: &Mempool, frames: &[Vec<u8>]) -> Burst<Mbuf> {
    let mut b = Burst::with_capacity(frames.len().max(1));
    for f in frames {
        b.push(mbuf(pool, f)).unwrap();
    }
    b
}

/// Every byte of a packet, across segments.
pub fn bytes(m: &Mbuf) -> Vec<u8> {
    let mut v = vec![0; m.pkt_len() as usize];
    assert_eq!(m.read_into(&mut v), v.len());
    v
}

/// RFC 1071 checksum of `data` as a verifier computes it (independent of vpmd's).
pub fn inet_sum(data: &[u8]) -> u16 {
    let mut s: u32 = 0;
    for c in data.chunks(2) {
        let w = if c.len() == 2 {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from_be_bytes([c[0], 0])
        };
        s += w as u32;
    }
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

/// Which L4 protocol a test frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L4 {
    Tcp,
    Udp,
}

/// An Ethernet/IPv4 or IPv6/TCP or UDP frame with `payload` bytes. The L4 checksum field
/// holds the pseudo-header sum (what a sender leaves for checksum offload); the IPv4
/// header checksum is 0.
pub fn ip_frame(v4: bool, l4: L4, payload: usize) -> Vec<u8> {
    let l4_len = if l4 == L4::Tcp { 20 } else { 8 };
    let l3_len = if v4 { 20 } else { 40 };
    let mut f = vec![0u8; 14 + l3_len + l4_len + payload];
    f[..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 1]);
    f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 2]);
    let proto = if l4 == L4::Tcp { 6u8 } else { 17 };
    let l4_total = (l4_len + payload) as u16;
    let ip = 14;
    let mut pseudo = Vec::new();
    if v4 {
        f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
        f[ip] = 0x45;
        f[ip + 2..ip + 4].copy_from_slice(&((l3_len + l4_len + payload) as u16).to_be_bytes());
        f[ip + 8] = 64;
        f[ip + 9] = proto;
        f[ip + 12..ip + 16].copy_from_slice(&[10, 0, 0, 1]);
        f[ip + 16..ip + 20].copy_from_slice(&[10, 0, 0, 2]);
        pseudo.extend_from_slice(&f[ip + 12..ip + 20]);
    } else {
        f[12..14].copy_from_slice(&0x86ddu16.to_be_bytes());
        f[ip] = 0x60;
        f[ip + 4..ip + 6].copy_from_slice(&l4_total.to_be_bytes());
        f[ip + 6] = proto;
        f[ip + 7] = 64;
        f[ip + 8..ip + 24].copy_from_slice(&[0xfd; 16]);
        f[ip + 24..ip + 40].copy_from_slice(&[0xfe; 16]);
        pseudo.extend_from_slice(&f[ip + 8..ip + 40]);
    }
    let l4s = 14 + l3_len;
    f[l4s..l4s + 2].copy_from_slice(&1234u16.to_be_bytes());
    f[l4s + 2..l4s + 4].copy_from_slice(&80u16.to_be_bytes());
    if l4 == L4::Tcp {
        f[l4s + 12] = 5 << 4;
    } else {
        f[l4s + 4..l4s + 6].copy_from_slice(&l4_total.to_be_bytes());
    }
    for (i, b) in f[l4s + l4_len..].iter_mut().enumerate() {
        *b = (i * 7) as u8;
    }
    pseudo.extend_from_slice(&[0, proto]);
    pseudo.extend_from_slice(&l4_total.to_be_bytes());
    let field = l4s + if l4 == L4::Tcp { 16 } else { 6 };
    f[field..field + 2].copy_from_slice(&inet_sum(&pseudo).to_be_bytes());
    f
}

/// Whether the L4 checksum of an `ip_frame` verifies (the field must hold the full sum).
pub fn l4_checksum_ok(f: &[u8], v4: bool) -> bool {
    let l3_len = if v4 { 20 } else { 40 };
    let l4s = 14 + l3_len;
    let l4_total = (f.len() - l4s) as u16;
    let mut pseudo = Vec::new();
    if v4 {
        pseudo.extend_from_slice(&f[14 + 12..14 + 20]);
        pseudo.extend_from_slice(&[0, f[14 + 9]]);
    } else {
        pseudo.extend_from_slice(&f[14 + 8..14 + 40]);
        pseudo.extend_from_slice(&[0, f[14 + 6]]);
    }
    pseudo.extend_from_slice(&l4_total.to_be_bytes());
    pseudo.extend_from_slice(&f[l4s..]);
    inet_sum(&pseudo) == 0xffff
}
