//! The three shared areas of a split virtqueue (virtio 1.2 §2.7: descriptor table,
//! available ring, used ring) seen from the device, through the host pointers the control
//! plane translated once.
//!
//! This is the only unsafe code of the data path, and every access in it is one volatile
//! or atomic load or store of one ring field. Ring positions are masked here, so any `u16`
//! a caller passes, even one the guest wrote, stays inside the ring.
//!
//! Must never:
//! - form a reference or slice over ring memory (the one exception is `&AtomicU16` over an
//!   aligned index or flags field, which is what atomics are for);
//! - read a guest-written field twice for one decision: callers get copies ([`Desc`],
//!   plain `u16`s) and validate those;
//! - write anything but the used ring, `used.flags` and `avail_event`;
//! - outlive the mappings: [`Rings`] holds the [`MemTable`] `Arc` its pointers point into,
//!   and [`Rings::new`] checks that they do.
//!
//! Multi-byte fields are little-endian (virtio 1.0; legacy guests on little-endian hosts).

#![allow(unsafe_code)]

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;

use crate::memory::{HostPtr, MemTable};
use crate::sys::prefetch;
use crate::virtio::MAX_QUEUE_SIZE;
use crate::vring::VringConfig;

use super::VringError;

/// Bytes of one descriptor.
pub(crate) const DESC_SIZE: usize = 16;

/// `avail.flags`, `avail.idx`: the ring entries start after them.
const AVAIL_RING: usize = 4;
/// `used.flags`, `used.idx`: the used elements start after them.
const USED_RING: usize = 4;
/// Offset of `avail.idx` and of `used.idx`.
const IDX: usize = 2;
/// Bytes of one used element (`id: u32, len: u32`).
const USED_ELEM: usize = 8;

/// A descriptor, copied out of guest memory (virtio 1.2 §2.7.5).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Desc {
    pub(crate) addr: u64,
    pub(crate) len: u32,
    pub(crate) flags: u16,
    pub(crate) next: u16,
}

impl Desc {
    /// Decodes the 16 little-endian bytes of a descriptor (from an indirect table).
    #[inline]
    pub(crate) fn from_le_bytes(b: [u8; DESC_SIZE]) -> Self {
        let [a0, a1, a2, a3, a4, a5, a6, a7, l0, l1, l2, l3, f0, f1, n0, n1] = b;
        Self {
            addr: u64::from_le_bytes([a0, a1, a2, a3, a4, a5, a6, a7]),
            len: u32::from_le_bytes([l0, l1, l2, l3]),
            flags: u16::from_le_bytes([f0, f1]),
            next: u16::from_le_bytes([n0, n1]),
        }
    }

    #[inline]
    fn from_le_words(w: [u64; 2]) -> Self {
        let (addr, w1) = (u64::from_le(w[0]), u64::from_le(w[1]));
        Self {
            addr,
            len: w1 as u32,
            flags: (w1 >> 32) as u16,
            next: (w1 >> 48) as u16,
        }
    }
}

/// The rings of one split virtqueue, as host pointers into guest memory.
#[derive(Debug)]
pub(crate) struct Rings {
    desc: HostPtr,
    avail: HostPtr,
    used: HostPtr,
    size: u16,
    mask: u16,
    mem: Arc<MemTable>,
}

// SAFETY: the pointers point into mappings owned by `mem`, which is `Send + Sync`; a
// `Rings` is used by one thread at a time (the lcore polling its queue), and the guest is
// synchronised with through the ring protocol's atomics, not through Rust ownership.
unsafe impl Send for Rings {}

/// Checks one ring area: aligned, and `len` bytes wholly inside one mapping of `mem`.
fn check_area(
    mem: &MemTable,
    p: HostPtr,
    len: usize,
    align: usize,
    area: &'static str,
) -> Result<(), VringError> {
    if !(p.as_ptr() as usize).is_multiple_of(align) {
        return Err(VringError::Misaligned { area });
    }
    if !mem.contains_host(p, len) {
        return Err(VringError::OutsideMemory { area, len });
    }
    Ok(())
}

impl Rings {
    /// Takes the ring areas of `cfg`, after checking what the accesses below rely on: a
    /// power-of-two size no larger than 32768, the spec's alignments (16, 2, 4), and each
    /// area inside one mapping of `cfg.mem` with its full length.
    pub(crate) fn new(cfg: &VringConfig) -> Result<Self, VringError> {
        let size = cfg.size;
        if size == 0 || !size.is_power_of_two() || size > MAX_QUEUE_SIZE {
            return Err(VringError::BadSize(size));
        }
        let n = size as usize;
        let mem = &cfg.mem;
        check_area(mem, cfg.desc, DESC_SIZE * n, 16, "descriptor table")?;
        check_area(mem, cfg.avail, AVAIL_RING + 2 * n + 2, 2, "available ring")?;
        check_area(mem, cfg.used, USED_RING + USED_ELEM * n + 2, 4, "used ring")?;
        Ok(Self {
            desc: cfg.desc,
            avail: cfg.avail,
            used: cfg.used,
            size,
            mask: size - 1,
            mem: Arc::clone(&cfg.mem),
        })
    }

    /// The memory table the rings (and the buffers) live in.
    #[inline]
    pub(crate) fn mem(&self) -> &MemTable {
        &self.mem
    }

    /// The `u16` field `off` bytes into the area at `base`.
    ///
    /// Callers pass only the offsets of `idx`/`flags`/event fields computed from `size`,
    /// all inside the areas `new` checked and all even (the areas are 2-aligned).
    #[inline]
    fn field(&self, base: HostPtr, off: usize) -> &AtomicU16 {
        debug_assert!(off <= USED_RING + USED_ELEM * self.size as usize && off.is_multiple_of(2));
        // SAFETY: `base + off` is a 2-aligned u16 inside a checked ring area (see above),
        // mapped for as long as `self.mem` lives, which outlives the returned reference.
        // Only atomic accesses are made through it; the guest's accesses to the same
        // field are atomic or volatile too.
        unsafe { AtomicU16::from_ptr(base.as_ptr().add(off).cast()) }
    }

    /// `avail.idx`, with Acquire: the ring entries and descriptors the guest wrote before
    /// publishing it are visible after this load (pairs with the guest's write barrier
    /// before its idx store).
    #[inline]
    pub(crate) fn avail_idx(&self) -> u16 {
        u16::from_le(self.field(self.avail, IDX).load(Ordering::Acquire))
    }

    /// `avail.flags`.
    #[inline]
    pub(crate) fn avail_flags(&self) -> u16 {
        u16::from_le(self.field(self.avail, 0).load(Ordering::Relaxed))
    }

    /// The head index in available ring position `pos` (masked), copied once.
    #[inline]
    pub(crate) fn avail_entry(&self, pos: u16) -> u16 {
        let off = AVAIL_RING + 2 * (pos & self.mask) as usize;
        u16::from_le(self.field(self.avail, off).load(Ordering::Relaxed))
    }

    /// `used_event` (the trailing field of the available ring, with EVENT_IDX).
    #[inline]
    pub(crate) fn used_event(&self) -> u16 {
        let off = AVAIL_RING + 2 * self.size as usize;
        u16::from_le(self.field(self.avail, off).load(Ordering::Relaxed))
    }

    /// Hints the CPU to fetch the cache line of available ring position `pos` (masked):
    /// the guest wrote it on another core, and the miss is the cost of the burst.
    #[inline]
    pub(crate) fn prefetch_avail(&self, pos: u16) {
        let off = AVAIL_RING + 2 * (pos & self.mask) as usize;
        prefetch::read(self.avail.as_ptr().wrapping_add(off));
    }

    /// Hints the CPU to fetch descriptor `i` (masked).
    #[inline]
    pub(crate) fn prefetch_desc(&self, i: u16) {
        prefetch::read(
            self.desc
                .as_ptr()
                .wrapping_add(DESC_SIZE * (i & self.mask) as usize),
        );
    }

    /// Copies descriptor `i` (masked) out of the table.
    #[inline]
    pub(crate) fn desc(&self, i: u16) -> Desc {
        let off = DESC_SIZE * (i & self.mask) as usize;
        // SAFETY: `off + 16 <= 16 * size`, the table's checked length; the table is
        // 16-aligned, so the `[u64; 2]` read is aligned. A volatile read copies the
        // descriptor once; the guest may be writing it, and a torn copy is just another
        // hostile value that the caller validates.
        let w = unsafe { std::ptr::read_volatile(self.desc.as_ptr().add(off).cast::<[u64; 2]>()) };
        Desc::from_le_words(w)
    }

    /// Sets `used.flags` (only `VRING_USED_F_NO_NOTIFY` is defined).
    #[inline]
    pub(crate) fn set_used_flags(&self, flags: u16) {
        self.field(self.used, 0)
            .store(flags.to_le(), Ordering::Relaxed);
    }

    /// Sets `avail_event` (the trailing field of the used ring, with EVENT_IDX).
    #[inline]
    pub(crate) fn set_avail_event(&self, v: u16) {
        let off = USED_RING + USED_ELEM * self.size as usize;
        self.field(self.used, off)
            .store(v.to_le(), Ordering::Relaxed);
    }

    /// Writes the used element at position `pos` (masked). Invisible to the guest until
    /// [`Rings::publish_used`] moves `used.idx` past it.
    #[inline]
    pub(crate) fn write_used(&self, pos: u16, id: u32, len: u32) {
        let off = USED_RING + USED_ELEM * (pos & self.mask) as usize;
        // SAFETY: `off + 8 <= 4 + 8 * size`, inside the checked used ring, and 4-aligned
        // (the ring is 4-aligned), so both u32 writes are aligned and in bounds. Volatile:
        // the guest reads these bytes once it sees the index move.
        unsafe {
            let p = self.used.as_ptr().add(off).cast::<u32>();
            std::ptr::write_volatile(p, id.to_le());
            std::ptr::write_volatile(p.add(1), len.to_le());
        }
    }

    /// Stores `used.idx` with Release: every used element and every byte copied into
    /// guest buffers before this store is visible to a guest that reads the new index
    /// (pairs with the guest's read barrier after loading it).
    #[inline]
    pub(crate) fn publish_used(&self, idx: u16) {
        self.field(self.used, IDX)
            .store(idx.to_le(), Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pointer that is never dereferenced.
    fn dangling() -> HostPtr {
        std::ptr::NonNull::dangling()
    }

    #[test]
    fn descriptors_decode_the_same_from_words_and_bytes() {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&0x1122_3344_5566_7788u64.to_le_bytes());
        b[8..12].copy_from_slice(&0xdead_beefu32.to_le_bytes());
        b[12..14].copy_from_slice(&0x0005u16.to_le_bytes());
        b[14..].copy_from_slice(&0xabcdu16.to_le_bytes());
        let d = Desc::from_le_bytes(b);
        assert_eq!(
            d,
            Desc {
                addr: 0x1122_3344_5566_7788,
                len: 0xdead_beef,
                flags: 5,
                next: 0xabcd
            }
        );
        let w = [
            u64::from_le_bytes(b[..8].try_into().unwrap()),
            u64::from_le_bytes(b[8..].try_into().unwrap()),
        ];
        assert_eq!(Desc::from_le_words(w), d);
    }

    #[test]
    fn ring_areas_outside_memory_or_misaligned_are_refused() {
        let cfg = VringConfig {
            index: 0,
            size: 256,
            desc: dangling(),
            avail: dangling(),
            used: dangling(),
            mem: Arc::new(MemTable::default()),
            features: 0,
            last_avail_idx: 0,
            last_used_idx: 0,
            call: None,
        };
        assert!(matches!(
            Rings::new(&cfg),
            Err(VringError::OutsideMemory { .. }) | Err(VringError::Misaligned { .. })
        ));
        for size in [0, 3, 1000] {
            let c = VringConfig {
                size,
                ..cfg.clone()
            };
            assert_eq!(Rings::new(&c).unwrap_err(), VringError::BadSize(size));
        }
    }
}
