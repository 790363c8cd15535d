//! One split virtqueue, driver side, as a fast path: every chain is one descriptor over a
//! buffer of its own (descriptor `i` always describes buffer `i`, written once at set-up),
//! so a send or a repost only writes a 2-byte available entry, and a burst ends with one
//! Release store of `avail.idx`.
//!
//! Free heads wait in a FIFO, so with `VIRTIO_F_IN_ORDER` they go out in ring order as the
//! spec requires. Completions: with IN_ORDER, the head used at position `p` is the one
//! posted at `p`, and the used ring is read only for lengths (a device may report a batch
//! of the guest's tx ring by its last element alone, as vpmd does; DPDK's virtio PMD reads
//! the receive lengths element by element the same way); without it, each element's id is
//! checked against the heads out with the device, and a bad one is counted and skipped.
//!
//! Must never: form a reference to guest memory (all access is copies and the atomic index
//! accessors), trust a used id or index beyond what is out with the device, or block (the
//! kick eventfd is non-blocking).

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{fence, Ordering};
use std::sync::Arc;

use crate::frontend::{GuestMemory, VringLayout};
use crate::virtio::{VRING_AVAIL_F_NO_INTERRUPT, VRING_DESC_F_WRITE, VRING_USED_F_NO_NOTIFY};

/// Why a ring or buffer access cannot fail: `Vuser` sizes guest memory from their layout.
pub(crate) const INSIDE: &str = "rings and buffers lie inside guest memory";

/// A ring's buffers: `len` bytes each, `stride` apart from `base` (guest addresses);
/// descriptor `i` always describes buffer `i`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bufs {
    pub(crate) base: u64,
    pub(crate) stride: u64,
    pub(crate) len: u32,
}

impl Bufs {
    /// Guest address of buffer `head`.
    #[inline]
    pub(crate) fn at(&self, head: u16) -> u64 {
        self.base + u64::from(head) * self.stride
    }
}

/// Heads free to post, oldest first.
#[derive(Debug)]
struct Fifo {
    slots: Box<[u16]>,
    at: u16,
    len: u16,
}

impl Fifo {
    fn pop(&mut self, mask: u16) -> Option<u16> {
        if self.len == 0 {
            return None;
        }
        let h = self.slots[(self.at & mask) as usize];
        self.at = self.at.wrapping_add(1);
        self.len -= 1;
        Some(h)
    }

    fn push(&mut self, mask: u16, head: u16) {
        self.slots[(self.at.wrapping_add(self.len) & mask) as usize] = head;
        self.len += 1;
    }
}

/// A ring's counters.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RingStats {
    /// Kicks sent (the device had not set `VRING_USED_F_NO_NOTIFY`).
    pub kicks: u64,
    /// Used elements ignored: an id not out with the device, or `used.idx` beyond what
    /// was made available.
    pub bad_used: u64,
}

/// One split ring of single-descriptor chains, driver side.
#[derive(Debug)]
pub(crate) struct Ring {
    mem: Arc<GuestMemory>,
    layout: VringLayout,
    bufs: Bufs,
    mask: u16,
    in_order: bool,
    kick: File,
    free: Fifo,
    /// The head put at each available position.
    posted: Box<[u16]>,
    /// Whether each head is out with the device.
    out: Box<[bool]>,
    next_avail: u16,
    last_used: u16,
    stats: RingStats,
}

impl Ring {
    /// A ring at `layout` (power-of-two size, zeroed) over `bufs`, device-writable when
    /// `writable`; every head free, interrupts off (the driver polls).
    pub(crate) fn new(
        mem: Arc<GuestMemory>,
        layout: VringLayout,
        bufs: Bufs,
        in_order: bool,
        writable: bool,
    ) -> std::io::Result<Self> {
        let n = layout.size;
        for i in 0..n {
            let mut d = [0u8; 16];
            d[..8].copy_from_slice(&bufs.at(i).to_le_bytes());
            d[8..12].copy_from_slice(&bufs.len.to_le_bytes());
            let flags = if writable { VRING_DESC_F_WRITE } else { 0 };
            d[12..14].copy_from_slice(&flags.to_le_bytes());
            mem.write(layout.desc + 16 * u64::from(i), &d)
                .expect(INSIDE);
        }
        mem.store_u16(layout.avail, VRING_AVAIL_F_NO_INTERRUPT, Ordering::Relaxed)
            .expect(INSIDE);
        Ok(Self {
            mem,
            layout,
            bufs,
            mask: n - 1,
            in_order,
            kick: crate::sys::eventfd(true)?,
            free: Fifo {
                slots: (0..n).collect(),
                at: 0,
                len: n,
            },
            posted: vec![0; n as usize].into(),
            out: vec![false; n as usize].into(),
            next_avail: 0,
            last_used: 0,
            stats: RingStats::default(),
        })
    }

    /// The kick eventfd, for `SET_VRING_KICK`.
    pub(crate) fn kick_fd(&self) -> BorrowedFd<'_> {
        self.kick.as_fd()
    }

    /// Where the ring lives.
    pub(crate) fn layout(&self) -> &VringLayout {
        &self.layout
    }

    /// The ring's buffers.
    pub(crate) fn bufs(&self) -> Bufs {
        self.bufs
    }

    /// Heads free to post.
    pub(crate) fn free(&self) -> u16 {
        self.free.len
    }

    /// Counters.
    pub(crate) fn stats(&self) -> RingStats {
        self.stats
    }

    /// Puts a free head into the next available slot (the device sees it at the next
    /// [`publish`](Self::publish)); `None` when every head is out.
    #[inline]
    pub(crate) fn take(&mut self) -> Option<u16> {
        let head = self.free.pop(self.mask)?;
        let pos = self.next_avail & self.mask;
        let slot = self.layout.avail + 4 + 2 * u64::from(pos);
        self.mem.write(slot, &head.to_le_bytes()).expect(INSIDE);
        self.posted[pos as usize] = head;
        self.out[head as usize] = true;
        self.next_avail = self.next_avail.wrapping_add(1);
        Some(head)
    }

    /// Makes the slots taken so far visible with one Release store of `avail.idx`, and
    /// kicks the device unless it polls (`VRING_USED_F_NO_NOTIFY`).
    #[inline]
    pub(crate) fn publish(&mut self) {
        self.mem
            .store_u16(self.layout.avail + 2, self.next_avail, Ordering::Release)
            .expect(INSIDE);
        // The index store must be visible before the flag is read, or a device that
        // just turned notifications on could miss both (virtio 1.2 §2.7.13.3.1).
        fence(Ordering::SeqCst);
        let flags = self
            .mem
            .load_u16(self.layout.used, Ordering::Relaxed)
            .expect(INSIDE);
        if flags & VRING_USED_F_NO_NOTIFY == 0 && (&self.kick).write(&1u64.to_ne_bytes()).is_ok() {
            self.stats.kicks += 1;
        }
    }

    /// Takes back the chains the device used since the last call, oldest first, calling
    /// `f(head, used length)` for each (the length is 0 unless `want_len`, which costs a
    /// read of the used element on in-order rings). Returns how many came back.
    #[inline]
    pub(crate) fn reclaim(&mut self, want_len: bool, mut f: impl FnMut(u16, u32)) -> u16 {
        let idx = self
            .mem
            .load_u16(self.layout.used + 2, Ordering::Acquire)
            .expect(INSIDE);
        let n = idx.wrapping_sub(self.last_used);
        let outstanding = self.mask + 1 - self.free.len;
        let mut back = 0;
        for k in 0..n {
            let pos = self.last_used.wrapping_add(k) & self.mask;
            if k >= outstanding {
                self.stats.bad_used += 1;
                continue;
            }
            let (head, len) = if self.in_order {
                let head = self.posted[pos as usize];
                (head, if want_len { self.used_elem(pos).1 } else { 0 })
            } else {
                let (id, len) = self.used_elem(pos);
                match u16::try_from(id) {
                    Ok(h) if h <= self.mask && self.out[h as usize] => (h, len),
                    _ => {
                        self.stats.bad_used += 1;
                        continue;
                    }
                }
            };
            self.give_back(head);
            back += 1;
            f(head, len);
        }
        self.last_used = idx;
        back
    }

    fn give_back(&mut self, head: u16) {
        self.out[head as usize] = false;
        self.free.push(self.mask, head);
    }

    /// The used element at ring position `pos`: (id, len).
    #[inline]
    fn used_elem(&self, pos: u16) -> (u32, u32) {
        let mut e = [0u8; 8];
        self.mem
            .read(self.layout.used + 4 + 8 * u64::from(pos), &mut e)
            .expect(INSIDE);
        let [a, b, c, d, w, x, y, z] = e;
        (
            u32::from_le_bytes([a, b, c, d]),
            u32::from_le_bytes([w, x, y, z]),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const N: u16 = 8;

    /// A ring in fresh memory, and the device's hand: writes used elements and the index.
    struct Bed {
        mem: Arc<GuestMemory>,
        ring: Ring,
        used: u16,
    }

    impl Bed {
        fn new(in_order: bool) -> Self {
            let mem = Arc::new(GuestMemory::new(0, 1 << 16).unwrap());
            let layout = VringLayout::at(0, N, 0x1000);
            let bufs = Bufs {
                base: 0x8000,
                stride: 64,
                len: 60,
            };
            let ring = Ring::new(Arc::clone(&mem), layout, bufs, in_order, false).unwrap();
            Self { mem, ring, used: 0 }
        }

        /// The device uses `elems` (id, len) and publishes `count` positions.
        fn device_uses(&mut self, elems: &[(u32, u32)], count: u16) {
            for (k, (id, len)) in elems.iter().enumerate() {
                let pos = (self.used + k as u16) & (N - 1);
                let mut e = [0u8; 8];
                e[..4].copy_from_slice(&id.to_le_bytes());
                e[4..].copy_from_slice(&len.to_le_bytes());
                self.mem
                    .write(self.ring.layout.used + 4 + 8 * u64::from(pos), &e)
                    .unwrap();
            }
            self.used = self.used.wrapping_add(count);
            self.mem
                .store_u16(self.ring.layout.used + 2, self.used, Ordering::Release)
                .unwrap();
        }

        /// Makes `n` heads available.
        fn post(&mut self, n: u16) {
            for _ in 0..n {
                self.ring.take().unwrap();
            }
            self.ring.publish();
        }

        fn avail_entry(&self, pos: u16) -> u16 {
            let mut b = [0u8; 2];
            let at = self.ring.layout.avail + 4 + 2 * u64::from(pos & (N - 1));
            self.mem.read(at, &mut b).unwrap();
            u16::from_le_bytes(b)
        }

        fn reclaim(&mut self, want_len: bool) -> Vec<(u16, u32)> {
            let mut v = Vec::new();
            self.ring.reclaim(want_len, |h, l| v.push((h, l)));
            v
        }
    }

    #[test]
    fn descriptors_are_fixed_and_one_store_publishes_a_burst() {
        let mut b = Bed::new(true);
        let mut d = [0u8; 16];
        b.mem.read(0x1000 + 16 * 3, &mut d).unwrap();
        assert_eq!(
            u64::from_le_bytes(d[..8].try_into().unwrap()),
            0x8000 + 3 * 64
        );
        assert_eq!(u32::from_le_bytes(d[8..12].try_into().unwrap()), 60);
        for _ in 0..3 {
            b.ring.take().unwrap();
        }
        let avail_idx = |b: &Bed| b.mem.load_u16(b.ring.layout.avail + 2, Ordering::Acquire);
        assert_eq!(avail_idx(&b), Some(0), "not visible before publish");
        b.ring.publish();
        assert_eq!(avail_idx(&b), Some(3));
        assert_eq!(
            b.mem.load_u16(b.ring.layout.avail, Ordering::Relaxed),
            Some(VRING_AVAIL_F_NO_INTERRUPT)
        );
        assert_eq!(b.ring.stats().kicks, 1, "the device did not say it polls");
        b.mem
            .store_u16(
                b.ring.layout.used,
                VRING_USED_F_NO_NOTIFY,
                Ordering::Relaxed,
            )
            .unwrap();
        b.ring.take().unwrap();
        b.ring.publish();
        assert_eq!(b.ring.stats().kicks, 1);
    }

    #[test]
    fn in_order_completions_need_only_the_used_index() {
        let mut b = Bed::new(true);
        b.post(N);
        // A batch of five reported by its last element alone, as vpmd's guest-tx path does.
        b.device_uses(&[], 4);
        b.device_uses(&[(4, 0)], 1);
        assert_eq!(b.reclaim(false), [(0, 0), (1, 0), (2, 0), (3, 0), (4, 0)]);
        assert_eq!(b.ring.free(), 5);
        // Freed heads go out again in ring order.
        for pos in 8..13 {
            assert_eq!(b.ring.take(), Some(pos & (N - 1)));
            assert_eq!(b.avail_entry(pos), pos & (N - 1));
        }
        b.device_uses(&[(5, 70), (6, 80)], 2);
        assert_eq!(b.reclaim(true), [(5, 70), (6, 80)]);
        assert_eq!(b.ring.stats().bad_used, 0);
    }

    #[test]
    fn out_of_order_completions_free_the_heads_they_name() {
        let mut b = Bed::new(false);
        b.post(4);
        b.device_uses(&[(2, 10), (0, 20)], 2);
        assert_eq!(b.reclaim(true), [(2, 10), (0, 20)]);
        // Free heads 4..8 come first, then 2 and 0 in the order they came back.
        let next: Vec<u16> = (0..6).map(|_| b.ring.take().unwrap()).collect();
        assert_eq!(next, [4, 5, 6, 7, 2, 0]);
        assert_eq!(b.ring.take(), None, "every head is out");
    }

    #[test]
    fn bad_used_elements_are_counted_and_skipped() {
        let mut b = Bed::new(false);
        b.post(4);
        // Head 5 was never made available, 9 is out of range, 1 is used twice.
        b.device_uses(&[(5, 0), (9, 0), (1, 0), (1, 0)], 4);
        assert_eq!(b.reclaim(false), [(1, 0)]);
        assert_eq!(b.ring.stats().bad_used, 3);
        assert_eq!(b.ring.free(), N - 3);
        // An index beyond what was made available.
        let mut b = Bed::new(true);
        b.post(1);
        b.device_uses(&[], 3);
        assert_eq!(b.reclaim(false), [(0, 0)]);
        assert_eq!(b.ring.stats().bad_used, 2);
        assert_eq!(b.ring.free(), N);
    }
}
