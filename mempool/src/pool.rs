//! `Mempool`: fixed-size packet buffer objects in one region, per-lcore caches in front
//! of a shared lock-free free list (`crossbeam_queue::ArrayQueue`).
//!
//! Allocation never blocks and never panics: an empty pool is [`NoBufs`], which the
//! caller counts (`rx_nombuf`). Bulk calls are all-or-nothing, like
//! `rte_pktmbuf_alloc_bulk`. In debug mode the pool poisons freed buffers and checks the
//! poison and the object state on every allocation and free, so a double free or a write
//! after free is reported with the object's index.

use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crossbeam_queue::ArrayQueue;

use crate::cache::{CacheOutcome, CacheSlots};
use crate::hugepage::{HugepagePolicy, PageKind, Region, RegionError};
use crate::mbuf::{Mbuf, MbufHdr, ObjState, HEADER_SIZE};
use crate::{Burst, MAX_LCORES};

/// Byte written over freed data in debug mode (as the kernel's `POISON_FREE`).
const POISON: u8 = 0x6b;

/// How to build a pool. `Default` is DPDK's `rte_pktmbuf_pool_create` defaults.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// Number of objects.
    pub size: u32,
    /// Objects each lcore may keep for itself (0 disables caches), at most 512.
    pub cache_size: u32,
    /// Bytes reserved in front of the data (`RTE_PKTMBUF_HEADROOM`).
    pub headroom: u16,
    /// Bytes of data room after the headroom.
    pub data_room: u16,
    /// Whether to use hugepages.
    pub hugepages: HugepagePolicy,
    /// Check for double free and use after free (slow; for tests).
    pub debug: bool,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            size: 8191,
            cache_size: 256,
            headroom: 128,
            data_room: 2048,
            hugepages: HugepagePolicy::Auto,
            debug: false,
        }
    }
}

/// The pool is empty: the caller drops the packet and counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("mempool exhausted")]
pub struct NoBufs;

/// Why a pool could not be created.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// A configuration value is out of range; names the field.
    #[error("mempool {name}: {field} = {value}: {reason}")]
    Config {
        /// The pool's name.
        name: String,
        /// The offending field.
        field: &'static str,
        /// Its value.
        value: u64,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The memory could not be mapped.
    #[error("mempool {name}: {source}")]
    Region {
        /// The pool's name.
        name: String,
        /// The mapping error.
        source: RegionError,
    },
}

/// Fixed facts about a pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolInfo {
    /// The pool's name.
    pub name: String,
    /// Number of objects.
    pub size: u32,
    /// Per-lcore cache size.
    pub cache_size: u32,
    /// Bytes per object (header + headroom + data room, cache-line rounded).
    pub obj_size: usize,
    /// Headroom of a fresh buffer.
    pub headroom: u16,
    /// Data room after the headroom.
    pub data_room: u16,
    /// What backs the region.
    pub pages: PageKind,
    /// Bytes mapped.
    pub region_len: usize,
    /// Debug checks on.
    pub debug: bool,
}

/// Live counters of a pool.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Objects held by callers.
    pub in_use: u64,
    /// Objects in the shared free list or in caches.
    pub free: u64,
    /// Of `free`, how many sit in per-lcore caches.
    pub cached: u64,
    /// Cache operations served without touching the shared list.
    pub cache_hits: u64,
    /// Cache operations that refilled from or flushed to the shared list.
    pub cache_misses: u64,
    /// Allocations refused because the pool was empty.
    pub alloc_failures: u64,
}

/// A handle to a pool; clones share it. The pool lives while any handle does, and also
/// while any of its buffers is out (it is then kept, not freed, when the last handle goes).
#[derive(Clone)]
pub struct Mempool(Arc<PoolShared>);

impl std::fmt::Debug for Mempool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mempool")
            .field("info", &self.0.info)
            .finish()
    }
}

pub(crate) struct PoolShared {
    info: PoolInfo,
    base: NonNull<u8>,
    region: Region,
    free: ArrayQueue<u32>,
    caches: CacheSlots,
    flush_threshold: usize,
    alloc_failures: AtomicU64,
}

// SAFETY: `base` points into `region`, which the pool owns; objects are handed between
// threads through the lock-free queue or a thread's own cache slot.
unsafe impl Send for PoolShared {}
// SAFETY: as above; all shared mutable state is atomic or per-lcore (see `cache`).
unsafe impl Sync for PoolShared {}

impl Mempool {
    /// Creates a pool named `name` (the name appears in logs and errors).
    pub fn new(name: &str, cfg: &PoolConfig) -> Result<Self, PoolError> {
        let bad = |field, value: u64, reason| PoolError::Config {
            name: name.to_string(),
            field,
            value,
            reason,
        };
        if cfg.size == 0 {
            return Err(bad("size", 0, "a pool needs at least one object"));
        }
        if cfg.cache_size > 512 {
            return Err(bad(
                "cache_size",
                cfg.cache_size.into(),
                "must be at most 512",
            ));
        }
        let buf_len = cfg.headroom as u32 + cfg.data_room as u32;
        if cfg.data_room == 0 || buf_len > u16::MAX as u32 {
            return Err(bad(
                "data_room",
                cfg.data_room.into(),
                "headroom + data room must be 1..=65535 bytes",
            ));
        }
        let obj_size = (HEADER_SIZE + buf_len as usize).next_multiple_of(64);
        let region = Region::map(obj_size * cfg.size as usize, cfg.hugepages).map_err(|e| {
            PoolError::Region {
                name: name.to_string(),
                source: e,
            }
        })?;
        let info = PoolInfo {
            name: name.to_string(),
            size: cfg.size,
            cache_size: cfg.cache_size,
            obj_size,
            headroom: cfg.headroom,
            data_room: cfg.data_room,
            pages: region.kind(),
            region_len: region.len(),
            debug: cfg.debug,
        };
        log::info!(
            "mempool {name}: {} objects of {obj_size} B in {} MiB of {}",
            cfg.size,
            region.len() >> 20,
            region.kind()
        );
        let shared = Arc::new(PoolShared {
            base: region.base(),
            region,
            free: ArrayQueue::new(cfg.size as usize),
            caches: CacheSlots::new(if cfg.cache_size == 0 { 0 } else { MAX_LCORES }),
            flush_threshold: cfg.cache_size as usize * 3 / 2,
            alloc_failures: AtomicU64::new(0),
            info,
        });
        shared.populate(Arc::as_ptr(&shared));
        Ok(Mempool(shared))
    }

    /// Fixed facts: sizes, page kind.
    pub fn info(&self) -> &PoolInfo {
        &self.0.info
    }

    /// Live counters.
    pub fn stats(&self) -> PoolStats {
        self.0.stats()
    }

    /// One buffer, reset (`rte_pktmbuf_alloc`).
    #[inline]
    pub fn alloc(&self) -> Result<Mbuf, NoBufs> {
        let mut one = One(None);
        self.0.get_bulk(1, &mut one)?;
        one.0.ok_or(NoBufs)
    }

    /// Appends `n` reset buffers to `out`, or none (`rte_pktmbuf_alloc_bulk`). Asking for
    /// more than `out` has room for is refused the same way.
    #[inline]
    pub fn alloc_bulk(&self, out: &mut Burst<Mbuf>, n: usize) -> Result<(), NoBufs> {
        if n > out.room() {
            return Err(NoBufs);
        }
        // `n <= room` was checked, so the burst stays within its bound.
        self.0.get_bulk(n, out.items_mut())
    }
}

/// Where [`Mempool::alloc`] has `get_bulk` put its one buffer.
struct One(Option<Mbuf>);

impl Extend<Mbuf> for One {
    fn extend<I: IntoIterator<Item = Mbuf>>(&mut self, it: I) {
        self.0 = it.into_iter().last();
    }
}

impl Drop for Mempool {
    fn drop(&mut self) {
        if Arc::strong_count(&self.0) == 1 {
            let in_use = self.0.stats().in_use;
            if in_use > 0 {
                // Buffers still point at the pool: keep it alive rather than free memory
                // under them.
                log::warn!(
                    "mempool {}: last handle dropped with {in_use} buffers in use; keeping it",
                    self.0.info.name
                );
                std::mem::forget(Arc::clone(&self.0));
            }
        }
    }
}

impl PoolShared {
    fn obj(&self, index: u32) -> NonNull<MbufHdr> {
        let off = index as usize * self.info.obj_size;
        debug_assert!(off + self.info.obj_size <= self.region.len());
        // SAFETY: `index < size`, so the object lies inside the region.
        unsafe { NonNull::new_unchecked(self.base.as_ptr().add(off).cast()) }
    }

    /// Address of the buffer that follows header `h`.
    pub(crate) fn own_buf_addr(h: *mut MbufHdr) -> *mut u8 {
        h.cast::<u8>().wrapping_add(HEADER_SIZE)
    }

    pub(crate) fn buf_len(&self) -> u16 {
        self.info.headroom + self.info.data_room
    }

    /// Writes every header and fills the free list.
    fn populate(&self, me: *const PoolShared) {
        for i in 0..self.info.size {
            let h = self.obj(i).as_ptr();
            // SAFETY: `h` is an object slot inside our fresh (zeroed) region, aligned to 64
            // (the region is page aligned and `obj_size` a multiple of 64); nothing else
            // references it yet.
            unsafe {
                h.write(MbufHdr {
                    buf_addr: Self::own_buf_addr(h),
                    pool: me,
                    data_off: self.info.headroom,
                    refcnt: 1.into(),
                    nb_segs: 1,
                    port: crate::mbuf::PORT_INVALID,
                    ol_flags: 0,
                    packet_type: 0,
                    pkt_len: 0,
                    data_len: 0,
                    vlan_tci: 0,
                    rss_hash: 0,
                    buf_len: self.buf_len(),
                    state: ObjState::Free,
                    index: i,
                    next: None,
                    direct: None,
                    tx_offload: Default::default(),
                    timestamp: 0,
                    finish: None,
                });
            }
            if self.info.debug {
                self.poison(h);
            }
            // The queue has exactly `size` slots.
            let _ = self.free.push(i);
        }
    }

    fn stats(&self) -> PoolStats {
        let c = self.caches.totals();
        let free = (self.free.len() as u64 + c.len).min(self.info.size as u64);
        PoolStats {
            in_use: self.info.size as u64 - free,
            free,
            cached: c.len,
            cache_hits: c.hits,
            cache_misses: c.misses,
            alloc_failures: self.alloc_failures.load(Ordering::Relaxed),
        }
    }

    /// Hands `n` reset buffers to `sink`, or none.
    #[inline]
    fn get_bulk(&self, n: usize, sink: &mut impl Extend<Mbuf>) -> Result<(), NoBufs> {
        let cache_size = self.info.cache_size as usize;
        let ok = self
            .caches
            .with(|cache| {
                let outcome = if cache.len() >= n {
                    CacheOutcome::Hit
                } else {
                    // Refill to the cache size plus this request, then serve.
                    let want = cache_size + n - cache.len();
                    for _ in 0..want {
                        match self.free.pop() {
                            Some(i) => cache.push(self.obj(i)),
                            None => break,
                        }
                    }
                    if cache.len() < n {
                        return (false, CacheOutcome::Miss);
                    }
                    CacheOutcome::Miss
                };
                // Most recently freed first (warmest in cache), all in one extend: the
                // sink reserves once and writes without a check per buffer.
                let taken = cache.drain(cache.len() - n..).rev();
                if self.info.debug {
                    sink.extend(taken.map(|h| self.take_checked(h)));
                } else {
                    sink.extend(taken.map(|h| self.take_object(h)));
                }
                (true, outcome)
            })
            .unwrap_or_else(|| self.get_shared(n, sink));
        if ok {
            Ok(())
        } else {
            self.alloc_failures.fetch_add(1, Ordering::Relaxed);
            Err(NoBufs)
        }
    }

    /// The path for threads without an lcore id: straight from the shared list.
    fn get_shared(&self, n: usize, sink: &mut impl Extend<Mbuf>) -> bool {
        let mut taken = Vec::with_capacity(n);
        while taken.len() < n {
            match self.free.pop() {
                Some(i) => taken.push(i),
                None => {
                    for i in taken {
                        let _ = self.free.push(i);
                    }
                    return false;
                }
            }
        }
        sink.extend(taken.into_iter().map(|i| self.take_checked(self.obj(i))));
        true
    }

    /// Turns a free object into a reset handle.
    #[inline]
    fn take_object(&self, h: NonNull<MbufHdr>) -> Mbuf {
        // SAFETY: `h` came off a free list, so nothing owns it.
        let mut m = unsafe { Mbuf::from_hdr(h) };
        m.reset(self.info.headroom);
        m
    }

    /// [`take_object`](Self::take_object), with the debug pool's free-object checks.
    fn take_checked(&self, h: NonNull<MbufHdr>) -> Mbuf {
        if self.info.debug {
            self.check_free_object(h);
            // SAFETY: `h` came off a free list, so nothing owns it.
            unsafe { (*h.as_ptr()).state = ObjState::InUse };
        }
        self.take_object(h)
    }

    /// Takes back objects whose last reference is gone, with one cache access.
    ///
    /// # Safety
    /// Each header is a live header of this pool that no handle or clone refers to any
    /// more, with `next` and `direct` empty.
    pub(crate) unsafe fn put_bulk(&self, objs: &[NonNull<MbufHdr>]) {
        if self.info.debug {
            for &h in objs {
                // SAFETY: per the contract the header is live and unowned.
                let (state, index) = unsafe { ((*h.as_ptr()).state, (*h.as_ptr()).index) };
                assert!(
                    state == ObjState::InUse,
                    "mempool {}: double free of object {index}",
                    self.info.name
                );
                self.poison(h.as_ptr());
                // SAFETY: as above; from here the object is free.
                unsafe { (*h.as_ptr()).state = ObjState::Free };
            }
        }
        let flush = self.flush_threshold.max(1);
        let keep = self.info.cache_size as usize;
        let cached = self.caches.with(|cache| {
            cache.extend_from_slice(objs);
            if cache.len() < flush {
                return ((), CacheOutcome::Hit);
            }
            for o in cache.drain(keep..) {
                self.push_shared(o);
            }
            ((), CacheOutcome::Miss)
        });
        if cached.is_none() {
            for &h in objs {
                self.push_shared(h);
            }
        }
    }

    fn push_shared(&self, h: NonNull<MbufHdr>) {
        // SAFETY: `h` is a free header of this pool.
        let index = unsafe { (*h.as_ptr()).index };
        // The queue holds every object, so it is never full when one is returned.
        let _ = self.free.push(index);
    }

    fn poison(&self, h: *mut MbufHdr) {
        let len = self.buf_len() as usize;
        // SAFETY: the object's own buffer follows its header inside the region; it is free,
        // so nobody else reads or writes it.
        unsafe { std::ptr::write_bytes(Self::own_buf_addr(h), POISON, len) };
    }

    fn check_free_object(&self, h: NonNull<MbufHdr>) {
        let hp = h.as_ptr();
        let len = self.buf_len() as usize;
        // SAFETY: the object is free (just taken off a free list) and ours alone.
        let (state, index, buf) = unsafe {
            (
                (*hp).state,
                (*hp).index,
                std::slice::from_raw_parts(Self::own_buf_addr(hp), len),
            )
        };
        assert!(
            state == ObjState::Free,
            "mempool {}: object {index} on the free list is marked in use",
            self.info.name
        );
        if let Some(at) = buf.iter().position(|&b| b != POISON) {
            panic!(
                "mempool {}: use after free: object {index} was written at byte {at} after it was freed",
                self.info.name
            );
        }
    }
}
