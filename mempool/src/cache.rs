//! Per-lcore object caches in front of a pool's shared free list.
//!
//! Slot `i` is touched only by the thread holding lcore id `i` ([`crate::lcore`]), which
//! is what makes the unsynchronised access sound. Counters are written by that owner
//! with plain relaxed stores and read by anyone for statistics.

use std::cell::UnsafeCell;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crossbeam_utils::CachePadded;

use crate::mbuf::MbufHdr;

/// One lcore's cache of free objects.
pub(crate) struct LcoreCache {
    objs: UnsafeCell<Vec<NonNull<MbufHdr>>>,
    len: AtomicU32,
    hits: AtomicU64,
    misses: AtomicU64,
}

// SAFETY: `objs` is accessed only through `CacheSlots::with`, which hands it to the thread
// owning the slot's lcore id; the other fields are atomics.
unsafe impl Sync for LcoreCache {}
// SAFETY: the cached pointers are free objects of the pool that owns this cache.
unsafe impl Send for LcoreCache {}

/// What a cache operation did, for the statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CacheOutcome {
    Hit,
    Miss,
}

/// The caches of one pool, one per possible lcore id.
pub(crate) struct CacheSlots {
    slots: Box<[CachePadded<LcoreCache>]>,
}

/// Totals over all slots.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct CacheTotals {
    pub(crate) len: u64,
    pub(crate) hits: u64,
    pub(crate) misses: u64,
}

impl CacheSlots {
    pub(crate) fn new(n: usize) -> Self {
        let slots = (0..n)
            .map(|_| {
                CachePadded::new(LcoreCache {
                    objs: UnsafeCell::new(Vec::new()),
                    len: AtomicU32::new(0),
                    hits: AtomicU64::new(0),
                    misses: AtomicU64::new(0),
                })
            })
            .collect();
        Self { slots }
    }

    /// Runs `f` on the calling lcore's cache, or returns `None` on a thread without an
    /// lcore id. `f` reports a hit or miss, which is counted.
    #[inline]
    pub(crate) fn with<R>(
        &self,
        f: impl FnOnce(&mut Vec<NonNull<MbufHdr>>) -> (R, CacheOutcome),
    ) -> Option<R> {
        let id = crate::lcore::current()? as usize;
        let slot = self.slots.get(id)?;
        // SAFETY: only the thread holding lcore id `id` reaches this slot (ids are unique
        // among live threads, and a released id is handed over with Release/Acquire), and
        // `f` cannot re-enter the pool's cache (it is given only the vector).
        let objs = unsafe { &mut *slot.objs.get() };
        let (r, outcome) = f(objs);
        slot.len.store(objs.len() as u32, Ordering::Relaxed);
        let ctr = match outcome {
            CacheOutcome::Hit => &slot.hits,
            CacheOutcome::Miss => &slot.misses,
        };
        ctr.store(ctr.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        Some(r)
    }

    pub(crate) fn totals(&self) -> CacheTotals {
        self.slots
            .iter()
            .fold(CacheTotals::default(), |t, s| CacheTotals {
                len: t.len + s.len.load(Ordering::Relaxed) as u64,
                hits: t.hits + s.hits.load(Ordering::Relaxed),
                misses: t.misses + s.misses.load(Ordering::Relaxed),
            })
    }
}
