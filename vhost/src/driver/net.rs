//! A mock virtio-net guest (virtio 1.2 §5.1): a receive queue (vring 0, the device writes
//! into it) and a transmit queue (vring 1, the device reads from it) in one guest memory.
//!
//! It sends frames behind a `virtio_net_hdr` in the descriptor layout a test asks for
//! ([`TxLayout`]), posts receive buffers of a chosen size and shape, and reassembles what
//! the device wrote, following `num_buffers` when mergeable buffers are negotiated.

use std::fs::File;
use std::io;
use std::sync::Arc;

use crate::net::NetHdr;
use crate::vring::VringConfig;

use super::mem::GuestMemory;
use super::queue::{Buf, DriverQueue};

/// `VIRTIO_NET_F_MRG_RXBUF`.
const F_MRG_RXBUF: u64 = 1 << 15;
/// `VIRTIO_F_VERSION_1`.
const F_VERSION_1: u64 = 1 << 32;
/// `VIRTIO_RING_F_EVENT_IDX`.
const F_EVENT_IDX: u64 = 1 << 29;
/// `VIRTIO_F_IN_ORDER`.
const F_IN_ORDER: u64 = 1 << 35;

/// How a frame is laid out in descriptors on the guest's tx ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxLayout {
    /// Header and frame in one buffer (ANY_LAYOUT / VERSION_1).
    Joined,
    /// The header in its own buffer, the frame in a second (the legacy layout).
    Split,
    /// Header and frame cut into buffers of at most `n` bytes (the header may straddle).
    Pieces(u32),
    /// As [`TxLayout::Split`], through an indirect table.
    Indirect,
    /// As [`TxLayout::Pieces`], through an indirect table.
    IndirectPieces(u32),
}

/// What the guest received for one packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RxFrame {
    /// The header the device wrote (default when the buffer came back too short).
    pub hdr: NetHdr,
    /// The frame.
    pub data: Vec<u8>,
    /// Used elements the packet took.
    pub buffers: u16,
    /// Length the device reported in the first used element.
    pub used_len: u32,
}

/// A mock virtio-net guest.
#[derive(Debug)]
pub struct NetGuest {
    mem: Arc<GuestMemory>,
    /// The guest's receive queue (vring 0).
    pub rxq: DriverQueue,
    /// The guest's transmit queue (vring 1).
    pub txq: DriverQueue,
    features: u64,
    hdr_len: usize,
    /// Per tx head: the allocation holding header and frame.
    tx_bufs: Vec<Option<(u64, u64)>>,
    /// Per rx head: the allocation posted.
    rx_bufs: Vec<Option<(u64, u64)>>,
}

impl NetGuest {
    /// A guest with `features`, two `size`-entry queues, 32 MiB of memory, indexes at 0.
    pub fn new(features: u64, size: u16) -> io::Result<Self> {
        Self::with(features, size, GuestMemory::new(32 << 20)?, 0)
    }

    /// A guest in `mem` whose queues start at index `start`.
    pub fn with(features: u64, size: u16, mem: Arc<GuestMemory>, start: u16) -> io::Result<Self> {
        let no_mem = || io::Error::other("guest memory too small for the rings");
        let mut rxq = DriverQueue::new(Arc::clone(&mem), size, start).ok_or_else(no_mem)?;
        let mut txq = DriverQueue::new(Arc::clone(&mem), size, start).ok_or_else(no_mem)?;
        if features & F_IN_ORDER != 0 {
            rxq.use_in_order();
            txq.use_in_order();
        }
        let hdr_len = if features & (F_MRG_RXBUF | F_VERSION_1) != 0 {
            12
        } else {
            10
        };
        Ok(Self {
            mem,
            rxq,
            txq,
            features,
            hdr_len,
            tx_bufs: vec![None; size as usize],
            rx_bufs: vec![None; size as usize],
        })
    }

    /// The guest memory.
    pub fn mem(&self) -> &Arc<GuestMemory> {
        &self.mem
    }

    /// The negotiated features.
    pub fn features(&self) -> u64 {
        self.features
    }

    /// Header length the guest uses.
    pub fn hdr_len(&self) -> usize {
        self.hdr_len
    }

    /// The back-end's configuration of the guest's rx queue (vring 0).
    pub fn rx_config(&self, call: Option<Arc<File>>) -> VringConfig {
        self.rxq.config(0, self.features, call)
    }

    /// The back-end's configuration of the guest's tx queue (vring 1).
    pub fn tx_config(&self, call: Option<Arc<File>>) -> VringConfig {
        self.txq.config(1, self.features, call)
    }

    fn event_idx(&self) -> bool {
        self.features & F_EVENT_IDX != 0
    }

    /// Queues one frame behind `hdr` with `layout` and publishes it; returns the head, or
    /// `None` when descriptors or memory ran out.
    pub fn send(&mut self, hdr: &NetHdr, frame: &[u8], layout: TxLayout) -> Option<u16> {
        let head = self.queue_frame(hdr, frame, layout)?;
        self.txq.publish(self.event_idx());
        Some(head)
    }

    /// Queues one frame without publishing it ([`NetGuest::publish_tx`] does).
    pub fn queue_frame(&mut self, hdr: &NetHdr, frame: &[u8], layout: TxLayout) -> Option<u16> {
        let mut bytes = hdr.emit()[..self.hdr_len].to_vec();
        bytes.extend_from_slice(frame);
        let total = bytes.len() as u64;
        let gpa = self.mem.alloc(total)?;
        self.mem.write(gpa, &bytes).ok()?;
        let piece = |off: u64, len: u64| Buf {
            gpa: gpa + off,
            len: len as u32,
            writable: false,
        };
        let cut = |n: u32| -> Vec<Buf> {
            let n = n.max(1) as u64;
            (0..total)
                .step_by(n as usize)
                .map(|off| piece(off, n.min(total - off)))
                .collect()
        };
        let h = self.hdr_len as u64;
        let split = if total > h {
            vec![piece(0, h), piece(h, total - h)]
        } else {
            vec![piece(0, total)]
        };
        let head = match layout {
            TxLayout::Joined => self.txq.add(&[piece(0, total)]),
            TxLayout::Split => self.txq.add(&split),
            TxLayout::Pieces(n) => self.txq.add(&cut(n)),
            TxLayout::Indirect => self.txq.add_indirect(&split),
            TxLayout::IndirectPieces(n) => self.txq.add_indirect(&cut(n)),
        };
        let Some(head) = head else {
            self.mem.free(gpa, total);
            return None;
        };
        self.tx_bufs[head as usize] = Some((gpa, total));
        Some(head)
    }

    /// Publishes queued frames; returns whether the guest would kick.
    pub fn publish_tx(&mut self) -> bool {
        self.txq.publish(self.event_idx())
    }

    /// Reclaims the tx buffers the device returned; returns the used elements.
    pub fn complete_tx(&mut self) -> Vec<super::Used> {
        let mut done = Vec::new();
        while let Some(u) = self.txq.pop_used() {
            if let Some((gpa, len)) = self.tx_bufs.get_mut(u.id as usize).and_then(Option::take) {
                self.mem.free(gpa, len);
            }
            done.push(u);
        }
        done
    }

    /// Posts `n` receive buffers of `len` bytes, each cut into `pieces` descriptors
    /// (through an indirect table when `indirect`), and publishes them. Returns how many
    /// were posted.
    pub fn post_rx(&mut self, n: usize, len: u32, pieces: u32, indirect: bool) -> usize {
        let mut posted = 0;
        for _ in 0..n {
            let Some(gpa) = self.mem.alloc(len as u64) else {
                break;
            };
            let pieces = pieces.clamp(1, len.max(1));
            let step = len.div_ceil(pieces);
            let bufs: Vec<Buf> = (0..len)
                .step_by(step as usize)
                .map(|off| Buf {
                    gpa: gpa + off as u64,
                    len: step.min(len - off),
                    writable: true,
                })
                .collect();
            let head = if indirect {
                self.rxq.add_indirect(&bufs)
            } else {
                self.rxq.add(&bufs)
            };
            let Some(head) = head else {
                self.mem.free(gpa, len as u64);
                break;
            };
            self.rx_bufs[head as usize] = Some((gpa, len as u64));
            posted += 1;
        }
        self.rxq.publish(self.event_idx());
        posted
    }

    /// Takes the next packet the device wrote into the receive queue, following
    /// `num_buffers` with mergeable buffers. A used element shorter than the header comes
    /// back as a frame with no data and `buffers == 0`.
    pub fn recv(&mut self) -> Option<RxFrame> {
        let u = self.rxq.pop_used()?;
        let (gpa, cap) = self.rx_bufs.get_mut(u.id as usize)?.take()?;
        let h = self.hdr_len;
        let mut frame = RxFrame {
            hdr: NetHdr::default(),
            data: Vec::new(),
            buffers: 0,
            used_len: u.len,
        };
        if (u.len as usize) >= h {
            let mut hb = [0u8; 12];
            self.mem.read(gpa, &mut hb[..h]).ok()?;
            frame.hdr = NetHdr::parse(&hb);
            frame.data = vec![0u8; u.len as usize - h];
            self.mem.read(gpa + h as u64, &mut frame.data).ok()?;
            frame.buffers = 1;
        }
        self.mem.free(gpa, cap);
        if frame.buffers == 1 && self.features & F_MRG_RXBUF != 0 {
            while frame.buffers < frame.hdr.num_buffers {
                let more = self.rxq.pop_used()?;
                let (g, cap) = self.rx_bufs.get_mut(more.id as usize)?.take()?;
                let at = frame.data.len();
                frame.data.resize(at + more.len as usize, 0);
                self.mem.read(g, &mut frame.data[at..]).ok()?;
                self.mem.free(g, cap);
                frame.buffers += 1;
            }
        }
        Some(frame)
    }
}
