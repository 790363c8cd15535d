//! The multi-producer/multi-consumer ring, over `crossbeam_queue::ArrayQueue`.
//!
//! Use it only where several producers (or consumers) are real: every element costs a CAS
//! and a per-slot stamp update (Vyukov's design), so a burst of 32 is 32 CASes. For one
//! producer and one consumer use [`spsc`](super::spsc()).
//!
//! Must never: block, allocate after creation, lose an item, or reorder the items of one
//! burst relative to each other (items of concurrent producers may interleave).

use std::fmt;

use crossbeam_queue::ArrayQueue;
use vpmd_mempool::Burst;

use super::{RingError, MAX_CAPACITY};

/// A bounded MPMC ring moving bursts; share it by reference (or `Arc`) between threads.
pub struct MpmcRing<T> {
    queue: ArrayQueue<T>,
}

impl<T> MpmcRing<T> {
    /// A ring of `capacity` slots (any capacity in `1..=MAX_CAPACITY`).
    pub fn new(capacity: usize) -> Result<Self, RingError> {
        if capacity == 0 {
            return Err(RingError::TooSmall { capacity, min: 1 });
        }
        if capacity > MAX_CAPACITY {
            return Err(RingError::TooLarge(capacity));
        }
        Ok(Self {
            queue: ArrayQueue::new(capacity),
        })
    }

    /// Moves items from the front of `items` into the ring until it is full, and returns
    /// how many moved; the rest stay in `items`, in order.
    #[inline]
    pub fn enqueue_burst(&self, items: &mut Burst<T>) -> usize {
        if items.is_empty() {
            return 0;
        }
        // `Burst` pops from the back, so reverse it to pop the front first; if the ring
        // fills up, put the refused item back and reverse again to restore the order.
        items.as_mut_slice().reverse();
        let mut moved = 0;
        while let Some(item) = items.pop() {
            if let Err(item) = self.queue.push(item) {
                // Cannot fail: the slot `pop` just emptied is free.
                let back = items.push(item);
                debug_assert!(back.is_ok());
                items.as_mut_slice().reverse();
                break;
            }
            moved += 1;
        }
        moved
    }

    /// Appends up to `min(max, out.room())` items to `out` and returns how many moved.
    #[inline]
    pub fn dequeue_burst(&self, out: &mut Burst<T>, max: usize) -> usize {
        let want = max.min(out.room());
        let mut moved = 0;
        while moved < want {
            let Some(item) = self.queue.pop() else { break };
            // Cannot fail: `want` <= `out.room()`.
            let pushed = out.push(item);
            debug_assert!(pushed.is_ok());
            moved += 1;
        }
        moved
    }

    /// Moves one item into the ring, or hands it back when the ring is full.
    #[inline]
    pub fn enqueue(&self, item: T) -> Result<(), T> {
        self.queue.push(item)
    }

    /// Moves one item out, or `None` when the ring is empty.
    #[inline]
    pub fn dequeue(&self) -> Option<T> {
        self.queue.pop()
    }

    /// Items in the ring right now (a snapshot).
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// True when the ring holds nothing right now.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// The ring's slot count.
    pub fn capacity(&self) -> usize {
        self.queue.capacity()
    }
}

impl<T> fmt::Debug for MpmcRing<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MpmcRing")
            .field("capacity", &self.capacity())
            .field("len", &self.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;

    #[test]
    fn capacity_errors() {
        assert_eq!(
            MpmcRing::<u8>::new(0).unwrap_err(),
            RingError::TooSmall {
                capacity: 0,
                min: 1
            }
        );
        assert_eq!(MpmcRing::<u8>::new(3).unwrap().capacity(), 3);
    }

    #[test]
    fn partial_enqueue_keeps_the_rest_in_order() {
        let ring = MpmcRing::new(5).unwrap();
        let mut b = Burst::with_capacity(8);
        for i in 0..8u32 {
            b.push(i).unwrap();
        }
        assert_eq!(ring.enqueue_burst(&mut b), 5);
        assert_eq!(b.as_slice(), [5, 6, 7]);
        let mut out = Burst::with_capacity(4);
        assert_eq!(ring.dequeue_burst(&mut out, 10), 4);
        assert_eq!(out.as_slice(), [0, 1, 2, 3]);
        assert_eq!(ring.enqueue_burst(&mut b), 3);
        assert!(b.is_empty());
        out.clear();
        assert_eq!(ring.dequeue_burst(&mut out, 3), 3);
        assert_eq!(out.as_slice(), [4, 5, 6]);
        assert_eq!(ring.dequeue(), Some(7));
        assert_eq!(ring.dequeue(), None);
        assert!(ring.is_empty());
    }

    #[test]
    fn queued_items_are_dropped_with_the_ring() {
        struct Counted(Arc<AtomicUsize>);
        impl Drop for Counted {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::Relaxed);
            }
        }
        let drops = Arc::new(AtomicUsize::new(0));
        let ring = MpmcRing::new(4).unwrap();
        for _ in 0..3 {
            ring.enqueue(Counted(drops.clone())).ok().unwrap();
        }
        drop(ring.dequeue());
        assert_eq!(drops.load(Ordering::Relaxed), 1);
        drop(ring);
        assert_eq!(drops.load(Ordering::Relaxed), 3);
    }
}
