//! One split virtqueue, driver side (virtio 1.2 §2.7 from the driver's point of view):
//! writes descriptor chains and available entries, publishes `avail.idx` with Release,
//! reads used elements after an Acquire load of `used.idx`.
//!
//! Besides the well-behaved operations it offers raw ones for tests that play a hostile
//! guest: any descriptor content at any index ([`DriverQueue::write_desc`]), any head in
//! the available ring ([`DriverQueue::push_head`]), any available index
//! ([`DriverQueue::set_avail_idx`]).

use std::collections::VecDeque;
use std::fs::File;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::vring::VringConfig;

use super::mem::GuestMemory;

/// `VRING_DESC_F_NEXT` (spec value, kept separate from the device's constants).
const F_NEXT: u16 = 1;
/// `VRING_DESC_F_WRITE`.
const F_WRITE: u16 = 2;
/// `VRING_DESC_F_INDIRECT`.
const F_INDIRECT: u16 = 4;
/// `VRING_AVAIL_F_NO_INTERRUPT`.
const AVAIL_F_NO_INTERRUPT: u16 = 1;
/// `VRING_USED_F_NO_NOTIFY`.
const USED_F_NO_NOTIFY: u16 = 1;

/// A descriptor exactly as the driver writes it (virtio 1.2 §2.7.5).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RawDesc {
    /// Guest physical address of the buffer (or of an indirect table).
    pub addr: u64,
    /// Its length.
    pub len: u32,
    /// `VRING_DESC_F_*`.
    pub flags: u16,
    /// Next descriptor when `NEXT` is set.
    pub next: u16,
}

impl RawDesc {
    /// `NEXT`.
    pub const NEXT: u16 = F_NEXT;
    /// `WRITE` (device-writable).
    pub const WRITE: u16 = F_WRITE;
    /// `INDIRECT`.
    pub const INDIRECT: u16 = F_INDIRECT;

    /// The descriptor's 16 bytes.
    pub fn to_bytes(&self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[0..8].copy_from_slice(&self.addr.to_le_bytes());
        b[8..12].copy_from_slice(&self.len.to_le_bytes());
        b[12..14].copy_from_slice(&self.flags.to_le_bytes());
        b[14..16].copy_from_slice(&self.next.to_le_bytes());
        b
    }
}

/// One buffer of a chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buf {
    /// Guest physical address.
    pub gpa: u64,
    /// Length.
    pub len: u32,
    /// Device-writable (a receive buffer).
    pub writable: bool,
}

/// A used element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Used {
    /// Head descriptor index.
    pub id: u32,
    /// Bytes the device wrote.
    pub len: u32,
}

/// What the driver remembers about a chain it made available.
#[derive(Debug, Clone, Default)]
struct Outstanding {
    descs: Vec<u16>,
    table: Option<(u64, u64)>,
}

/// A split virtqueue, driver side.
#[derive(Debug)]
pub struct DriverQueue {
    mem: Arc<GuestMemory>,
    size: u16,
    desc: u64,
    avail: u64,
    used: u64,
    free: Vec<u16>,
    outstanding: Vec<Option<Outstanding>>,
    /// Next available index to write (published or not).
    avail_idx: u16,
    /// `avail.idx` as last published.
    published: u16,
    /// Next used index to read.
    last_used: u16,
    /// With `VIRTIO_F_IN_ORDER`: the heads made available, oldest first. The device may
    /// then report a batch by its last used element only.
    in_order: Option<VecDeque<u16>>,
}

impl DriverQueue {
    /// Allocates the three ring areas of a `size`-entry queue in `mem` (zeroed), with
    /// both indexes at `start` (tests of 16-bit wrap-around start near 65535).
    pub fn new(mem: Arc<GuestMemory>, size: u16, start: u16) -> Option<Self> {
        let n = size as u64;
        let desc = mem.alloc(16 * n)?;
        let avail = mem.alloc(6 + 2 * n)?;
        let used = mem.alloc(6 + 8 * n)?;
        for (gpa, len) in [(desc, 16 * n), (avail, 6 + 2 * n), (used, 6 + 8 * n)] {
            mem.write(gpa, &vec![0; len as usize]).ok()?;
        }
        mem.store_u16(avail + 2, start, Ordering::Relaxed)?;
        mem.store_u16(used + 2, start, Ordering::Relaxed)?;
        Some(Self {
            mem,
            size,
            desc,
            avail,
            used,
            free: (0..size).rev().collect(),
            outstanding: vec![None; size as usize],
            avail_idx: start,
            published: start,
            last_used: start,
            in_order: None,
        })
    }

    /// The configuration a back-end gets for this queue after the vhost-user handshake.
    pub fn config(&self, index: u16, features: u64, call: Option<Arc<File>>) -> VringConfig {
        let t = self.mem.table();
        let n = self.size as u64;
        let host = |gpa, len| {
            t.gpa_to_host(gpa, len, &mut 0)
                .expect("ring areas are allocated inside guest memory")
        };
        VringConfig {
            index,
            size: self.size,
            desc: host(self.desc, 16 * n),
            avail: host(self.avail, 6 + 2 * n),
            used: host(self.used, 6 + 8 * n),
            mem: Arc::clone(t),
            features,
            last_avail_idx: self.published,
            last_used_idx: self.last_used,
            call,
        }
    }

    /// The guest memory the queue lives in.
    pub fn mem(&self) -> &Arc<GuestMemory> {
        &self.mem
    }

    /// Number of descriptors.
    pub fn size(&self) -> u16 {
        self.size
    }

    /// Free descriptors.
    pub fn free_descs(&self) -> usize {
        self.free.len()
    }

    /// Takes a free descriptor index out of the driver's bookkeeping, for raw use.
    pub fn take_desc(&mut self) -> Option<u16> {
        self.free.pop()
    }

    /// Writes descriptor `i` of the table, whatever it holds (`i` is masked).
    pub fn write_desc(&self, i: u16, d: RawDesc) {
        let at = self.desc + 16 * (i % self.size) as u64;
        self.mem
            .write(at, &d.to_bytes())
            .expect("the descriptor table is in guest memory");
    }

    /// Reads used elements as `VIRTIO_F_IN_ORDER` allows the device to write them: the
    /// buffers are used in the order they were made available, and of a batch only the
    /// last element need be written.
    pub fn use_in_order(&mut self) {
        self.in_order = Some(VecDeque::new());
    }

    /// Puts `head` into the next available slot (not published).
    pub fn push_head(&mut self, head: u16) {
        if let Some(order) = &mut self.in_order {
            order.push_back(head);
        }
        let slot = self.avail + 4 + 2 * (self.avail_idx % self.size) as u64;
        self.mem
            .write(slot, &head.to_le_bytes())
            .expect("the available ring is in guest memory");
        self.avail_idx = self.avail_idx.wrapping_add(1);
    }

    /// Writes `head` into available-ring position `pos` (masked), published or not: a
    /// guest rewriting an entry the device may be reading.
    pub fn write_avail_slot(&self, pos: u16, head: u16) {
        let slot = self.avail + 4 + 2 * (pos % self.size) as u64;
        self.mem
            .write(slot, &head.to_le_bytes())
            .expect("the available ring is in guest memory");
    }

    /// Makes a chain of `bufs` available (not published); `None` without enough free
    /// descriptors or with no buffers.
    pub fn add(&mut self, bufs: &[Buf]) -> Option<u16> {
        if bufs.is_empty() || bufs.len() > self.free.len() {
            return None;
        }
        let descs: Vec<u16> = (0..bufs.len()).filter_map(|_| self.free.pop()).collect();
        for (k, b) in bufs.iter().enumerate() {
            let last = k + 1 == bufs.len();
            self.write_desc(
                descs[k],
                RawDesc {
                    addr: b.gpa,
                    len: b.len,
                    flags: if b.writable { F_WRITE } else { 0 } | if last { 0 } else { F_NEXT },
                    next: if last { 0 } else { descs[k + 1] },
                },
            );
        }
        let head = descs[0];
        self.outstanding[head as usize] = Some(Outstanding { descs, table: None });
        self.push_head(head);
        Some(head)
    }

    /// Makes `bufs` available through one indirect table (one ring descriptor).
    pub fn add_indirect(&mut self, bufs: &[Buf]) -> Option<u16> {
        if bufs.is_empty() {
            return None;
        }
        let len = 16 * bufs.len() as u64;
        let table = self.mem.alloc(len)?;
        let mut bytes = Vec::with_capacity(len as usize);
        for (k, b) in bufs.iter().enumerate() {
            let last = k + 1 == bufs.len();
            let d = RawDesc {
                addr: b.gpa,
                len: b.len,
                flags: if b.writable { F_WRITE } else { 0 } | if last { 0 } else { F_NEXT },
                next: if last { 0 } else { k as u16 + 1 },
            };
            bytes.extend_from_slice(&d.to_bytes());
        }
        self.mem.write(table, &bytes).ok()?;
        let Some(head) = self.free.pop() else {
            self.mem.free(table, len);
            return None;
        };
        self.write_desc(
            head,
            RawDesc {
                addr: table,
                len: len as u32,
                flags: F_INDIRECT,
                next: 0,
            },
        );
        self.outstanding[head as usize] = Some(Outstanding {
            descs: vec![head],
            table: Some((table, len)),
        });
        self.push_head(head);
        Some(head)
    }

    /// Publishes the available entries added so far (Release store of `avail.idx`) and
    /// says whether the driver would kick now (virtio 1.2 §2.7.10: with EVENT_IDX, when
    /// the index crossed `avail_event`; otherwise unless the device set NO_NOTIFY).
    pub fn publish(&mut self, event_idx: bool) -> bool {
        let old = self.published;
        self.set_avail_idx(self.avail_idx);
        std::sync::atomic::fence(Ordering::SeqCst);
        if event_idx {
            let ev = self.avail_event();
            self.avail_idx.wrapping_sub(ev).wrapping_sub(1) < self.avail_idx.wrapping_sub(old)
        } else {
            self.used_flags() & USED_F_NO_NOTIFY == 0
        }
    }

    /// Stores `avail.idx` as given (Release), whatever it is.
    pub fn set_avail_idx(&mut self, idx: u16) {
        self.mem
            .store_u16(self.avail + 2, idx, Ordering::Release)
            .expect("the available ring is in guest memory");
        self.published = idx;
        self.avail_idx = idx;
    }

    /// The next available index the driver will write (published or not).
    pub fn next_avail(&self) -> u16 {
        self.avail_idx
    }

    /// Takes the next used element, if the device published one, and frees its chain.
    /// In order, the chain is the oldest one outstanding; the element returned is the one
    /// the device wrote when it is the last published (the end of a batch: its id should
    /// be that chain's), else that chain's head with the length found in the slot.
    pub fn pop_used(&mut self) -> Option<Used> {
        let idx = self.used_idx();
        if idx == self.last_used {
            return None;
        }
        let mut used = self.used_elem(self.last_used);
        let batch_end = self.last_used.wrapping_add(1) == idx;
        self.last_used = self.last_used.wrapping_add(1);
        let chain = match &mut self.in_order {
            Some(order) => {
                let head = order.pop_front()? as u32;
                if !batch_end {
                    used.id = head;
                }
                head
            }
            None => used.id,
        };
        if let Some(o) = self
            .outstanding
            .get_mut(chain as usize)
            .and_then(Option::take)
        {
            self.free.extend(o.descs.iter().rev());
            if let Some((gpa, len)) = o.table {
                self.mem.free(gpa, len);
            }
        }
        Some(used)
    }

    /// The used element in ring position `pos` (masked), as it is in memory.
    pub fn used_elem(&self, pos: u16) -> Used {
        let at = self.used + 4 + 8 * (pos % self.size) as u64;
        let mut b = [0u8; 8];
        self.mem
            .read(at, &mut b)
            .expect("the used ring is in guest memory");
        Used {
            id: u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            len: u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        }
    }

    /// `used.idx` (Acquire: the elements before it are visible).
    pub fn used_idx(&self) -> u16 {
        self.mem
            .load_u16(self.used + 2, Ordering::Acquire)
            .expect("the used ring is in guest memory")
    }

    /// `avail.idx` as last published.
    pub fn published_idx(&self) -> u16 {
        self.published
    }

    /// `used.flags` (the device's NO_NOTIFY).
    pub fn used_flags(&self) -> u16 {
        self.mem
            .load_u16(self.used, Ordering::Relaxed)
            .expect("the used ring is in guest memory")
    }

    /// `avail_event` (EVENT_IDX: the device wants a kick when `avail.idx` passes it).
    pub fn avail_event(&self) -> u16 {
        let at = self.used + 4 + 8 * self.size as u64;
        self.mem
            .load_u16(at, Ordering::Relaxed)
            .expect("the used ring is in guest memory")
    }

    /// Sets or clears `VRING_AVAIL_F_NO_INTERRUPT`.
    pub fn set_no_interrupt(&self, on: bool) {
        let v = if on { AVAIL_F_NO_INTERRUPT } else { 0 };
        self.mem
            .store_u16(self.avail, v, Ordering::Relaxed)
            .expect("the available ring is in guest memory");
    }

    /// Sets `used_event` (EVENT_IDX: interrupt me when `used.idx` passes it).
    pub fn set_used_event(&self, v: u16) {
        let at = self.avail + 4 + 2 * self.size as u64;
        self.mem
            .store_u16(at, v, Ordering::Relaxed)
            .expect("the available ring is in guest memory");
    }

    /// The next used index the driver will read.
    pub fn last_used(&self) -> u16 {
        self.last_used
    }
}
