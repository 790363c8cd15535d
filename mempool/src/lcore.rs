//! Lcore ids: which per-lcore cache slot the current thread owns.
//!
//! DPDK keeps the lcore id in a thread-local set by EAL; vpmd does the same here, at the
//! bottom of the dependency graph, so pools can find the caller's cache without a lookup
//! table. A thread that has not claimed an id (a control thread) uses the shared free list,
//! as DPDK's non-EAL threads do. Ids are unique among live threads: that uniqueness is
//! what makes the unsynchronised per-lcore cache sound.

use std::cell::Cell;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};

/// `RTE_MAX_LCORE` as Debian builds DPDK.
pub const MAX_LCORES: usize = 128;

const NO_LCORE: u32 = u32::MAX;

/// Bit `i` is set while some thread holds lcore id `i`.
static CLAIMED: [AtomicU64; MAX_LCORES / 64] = [AtomicU64::new(0), AtomicU64::new(0)];

thread_local! {
    static CURRENT: Cell<u32> = const { Cell::new(NO_LCORE) };
}

/// Proof that the current thread owns lcore id [`LcoreGuard::id`]; released on drop.
///
/// Not `Send`: the id belongs to the thread that claimed it.
#[derive(Debug)]
pub struct LcoreGuard {
    id: u32,
    _not_send: PhantomData<*const ()>,
}

/// Why an lcore id could not be claimed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ClaimError {
    /// The id is at or above [`MAX_LCORES`].
    #[error("lcore id {0} is out of range (max {max})", max = MAX_LCORES - 1)]
    OutOfRange(u32),
    /// Another live thread holds the id.
    #[error("lcore id {0} is already in use by another thread")]
    InUse(u32),
    /// This thread already holds an id.
    #[error("this thread already holds lcore id {0}")]
    AlreadyClaimed(u32),
}

impl LcoreGuard {
    /// Claims lcore id `id` for the calling thread.
    pub fn claim(id: u32) -> Result<Self, ClaimError> {
        if let Some(held) = current() {
            return Err(ClaimError::AlreadyClaimed(held));
        }
        if id as usize >= MAX_LCORES {
            return Err(ClaimError::OutOfRange(id));
        }
        let (word, bit) = (id as usize / 64, 1u64 << (id % 64));
        // AcqRel pairs with the Release in `drop`: whatever the previous owner did with
        // this id's caches happens before we touch them.
        if CLAIMED[word].fetch_or(bit, Ordering::AcqRel) & bit != 0 {
            return Err(ClaimError::InUse(id));
        }
        CURRENT.with(|c| c.set(id));
        Ok(Self {
            id,
            _not_send: PhantomData,
        })
    }

    /// Claims the lowest free lcore id.
    pub fn claim_any() -> Result<Self, ClaimError> {
        let mut last = ClaimError::InUse(0);
        for id in 0..MAX_LCORES as u32 {
            match Self::claim(id) {
                Ok(g) => return Ok(g),
                Err(e @ ClaimError::AlreadyClaimed(_)) => return Err(e),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// The claimed id.
    pub fn id(&self) -> u32 {
        self.id
    }
}

impl Drop for LcoreGuard {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(NO_LCORE));
        let (word, bit) = (self.id as usize / 64, 1u64 << (self.id % 64));
        CLAIMED[word].fetch_and(!bit, Ordering::Release);
    }
}

/// The calling thread's lcore id, if it claimed one.
#[inline]
pub fn current() -> Option<u32> {
    let id = CURRENT.with(Cell::get);
    (id != NO_LCORE).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_released() {
        let g = LcoreGuard::claim(77).unwrap();
        assert_eq!(current(), Some(77));
        assert_eq!(
            LcoreGuard::claim(3).unwrap_err(),
            ClaimError::AlreadyClaimed(77)
        );
        std::thread::spawn(|| {
            assert_eq!(LcoreGuard::claim(77).unwrap_err(), ClaimError::InUse(77));
            assert_eq!(current(), None);
        })
        .join()
        .unwrap();
        drop(g);
        assert_eq!(current(), None);
        std::thread::spawn(|| {
            let g = LcoreGuard::claim(77).unwrap();
            assert_eq!(g.id(), 77);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn out_of_range_is_refused() {
        assert_eq!(
            LcoreGuard::claim(MAX_LCORES as u32).unwrap_err(),
            ClaimError::OutOfRange(MAX_LCORES as u32)
        );
    }
}
