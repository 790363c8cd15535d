//! The single-producer/single-consumer burst ring: the core-to-core hand-off.
//!
//! [`spsc()`] returns a [`Producer`] and a [`Consumer`]; one of each exists per ring, each is
//! `Send` (move it to the lcore that uses it) but not `Sync`, so "single" is enforced by the
//! types rather than by a comment. The capacity is a power of two and every slot is usable.
//!
//! Fast-path cost per burst: the items are moved one by one into (out of) consecutive
//! slots, the opposite index is reloaded (one Acquire load, usually a cache miss) only when
//! the cached view says there is not enough room (not enough items), and the burst is
//! published with one Release store. No per-element atomics, no allocation, no lock.
//! The index protocol and its orderings are documented next to the unsafe code that relies
//! on them, in `ring/slots.rs`.
//!
//! Must never: block, allocate after creation, lose or duplicate an item, or reorder items.

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;

use vpmd_mempool::Burst;

use super::slots::{self, ReadEnd, WriteEnd};
use super::{RingError, MAX_CAPACITY};

/// `PhantomData<Cell<()>>` is `Send` and `!Sync`: a handle may move to another thread but
/// never be shared by two.
type NotSync = PhantomData<Cell<()>>;

/// Creates an SPSC ring of `capacity` slots (a power of two, at least 2).
///
/// Items still in the ring when both handles are gone are dropped then (a packet buffer
/// goes back to its pool).
///
/// ```
/// use vpmd_fastpath::ring::spsc;
/// use vpmd_mempool::Burst;
///
/// let (mut tx, mut rx) = spsc::<u64>(1024).unwrap();
/// let mut burst = Burst::with_capacity(32);
/// for i in 0..32 {
///     burst.push(i).unwrap();
/// }
/// assert_eq!(tx.enqueue_burst(&mut burst), 32);
/// assert_eq!(rx.dequeue_burst(&mut burst, 8), 8);
/// assert_eq!(burst.as_slice(), [0, 1, 2, 3, 4, 5, 6, 7]);
/// assert!(spsc::<u64>(1000).is_err());
/// ```
///
/// The handles are not `Sync`:
///
/// ```compile_fail
/// fn shared_between_threads<T: Sync>() {}
/// shared_between_threads::<vpmd_fastpath::ring::Producer<u64>>();
/// ```
pub fn spsc<T: Send>(capacity: usize) -> Result<(Producer<T>, Consumer<T>), RingError> {
    if capacity < 2 {
        return Err(RingError::TooSmall { capacity, min: 2 });
    }
    if !capacity.is_power_of_two() {
        return Err(RingError::NotPowerOfTwo(capacity));
    }
    if capacity > MAX_CAPACITY {
        return Err(RingError::TooLarge(capacity));
    }
    let (write, read) = slots::pair(capacity);
    Ok((
        Producer {
            end: write,
            _not_sync: PhantomData,
        },
        Consumer {
            end: read,
            _not_sync: PhantomData,
        },
    ))
}

/// The writing side of an SPSC ring.
pub struct Producer<T> {
    end: WriteEnd<T>,
    _not_sync: NotSync,
}

impl<T> Producer<T> {
    /// Moves as many items as fit from the front of `items` into the ring and returns how
    /// many moved; the rest stay in `items`, in order (DPDK's `rte_ring_enqueue_burst`).
    #[inline]
    pub fn enqueue_burst(&mut self, items: &mut Burst<T>) -> usize {
        let n = self.end.vacant(items.len());
        if n == 0 {
            return 0;
        }
        // `take_front(n)` yields exactly the `n` items `vacant` found room for.
        self.end.fill(items.take_front(n))
    }

    /// Moves one item into the ring, or hands it back when the ring is full.
    #[inline]
    pub fn enqueue(&mut self, item: T) -> Result<(), T> {
        self.end.push(item)
    }

    /// Free slots right now (a snapshot: the consumer may free more at any moment).
    #[inline]
    pub fn free_space(&self) -> usize {
        self.end.free_now()
    }

    /// The ring's slot count.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.end.capacity()
    }

    /// True once the [`Consumer`] has been dropped: nothing will drain the ring any more.
    pub fn is_abandoned(&self) -> bool {
        self.end.is_abandoned()
    }
}

impl<T> fmt::Debug for Producer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Producer").field(&self.end).finish()
    }
}

/// The reading side of an SPSC ring.
pub struct Consumer<T> {
    end: ReadEnd<T>,
    _not_sync: NotSync,
}

impl<T> Consumer<T> {
    /// Appends up to `min(max, out.room())` items to `out`, oldest first, and returns how
    /// many moved (DPDK's `rte_ring_dequeue_burst`).
    #[inline]
    pub fn dequeue_burst(&mut self, out: &mut Burst<T>, max: usize) -> usize {
        let n = self.end.ready(max.min(out.room()));
        if n == 0 {
            return 0;
        }
        // `out` has room for all `n`; should it refuse one anyway, the item stays queued.
        self.end.drain_into(n, |item| out.push(item))
    }

    /// Moves the oldest item out, or `None` when the ring is empty.
    #[inline]
    pub fn dequeue(&mut self) -> Option<T> {
        self.end.pop()
    }

    /// Items in the ring right now (a snapshot: the producer may add more at any moment).
    #[inline]
    pub fn len(&self) -> usize {
        self.end.len_now()
    }

    /// True when the ring holds nothing right now.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The ring's slot count.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.end.capacity()
    }

    /// True once the [`Producer`] has been dropped: what is queued now is all there will be.
    pub fn is_abandoned(&self) -> bool {
        self.end.is_abandoned()
    }
}

impl<T> fmt::Debug for Consumer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Consumer").field(&self.end).finish()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;

    fn burst_of(range: std::ops::Range<u64>) -> Burst<u64> {
        let mut b = Burst::with_capacity(range.clone().count().max(1));
        for i in range {
            b.push(i).unwrap();
        }
        b
    }

    #[test]
    fn handles_are_send() {
        fn is_send<T: Send>() {}
        is_send::<Producer<Box<u8>>>();
        is_send::<Consumer<Box<u8>>>();
    }

    #[test]
    fn capacity_errors_name_the_value() {
        assert_eq!(
            spsc::<u8>(0).unwrap_err(),
            RingError::TooSmall {
                capacity: 0,
                min: 2
            }
        );
        assert_eq!(
            spsc::<u8>(1).unwrap_err(),
            RingError::TooSmall {
                capacity: 1,
                min: 2
            }
        );
        assert_eq!(spsc::<u8>(6).unwrap_err(), RingError::NotPowerOfTwo(6));
        assert!(spsc::<u8>(6).unwrap_err().to_string().contains('6'));
        assert_eq!(
            spsc::<u8>(MAX_CAPACITY * 2).unwrap_err(),
            RingError::TooLarge(MAX_CAPACITY * 2)
        );
        let (p, c) = spsc::<u8>(2).unwrap();
        assert_eq!((p.capacity(), c.capacity()), (2, 2));
    }

    #[test]
    fn partial_enqueue_leaves_the_rest_in_front_order() {
        let (mut tx, mut rx) = spsc::<u64>(8).unwrap();
        let mut b = burst_of(0..12);
        assert_eq!(tx.enqueue_burst(&mut b), 8);
        assert_eq!(b.as_slice(), [8, 9, 10, 11]);
        assert_eq!(tx.enqueue_burst(&mut b), 0);
        assert_eq!(tx.free_space(), 0);
        assert_eq!(tx.enqueue(99), Err(99));
        assert_eq!(rx.len(), 8);
        let mut out = Burst::with_capacity(3);
        assert_eq!(rx.dequeue_burst(&mut out, 10), 3, "bounded by out.room()");
        assert_eq!(rx.dequeue_burst(&mut out, 10), 0, "out is full");
        assert_eq!(out.as_slice(), [0, 1, 2]);
        assert_eq!(tx.enqueue_burst(&mut b), 3);
        assert_eq!(b.as_slice(), [11]);
        let mut out = Burst::with_capacity(64);
        assert_eq!(rx.dequeue_burst(&mut out, 2), 2, "bounded by max");
        assert_eq!(rx.dequeue_burst(&mut out, 64), 6);
        assert_eq!(out.as_slice(), [3, 4, 5, 6, 7, 8, 9, 10]);
        assert_eq!(rx.dequeue(), None);
        assert!(rx.is_empty());
    }

    #[test]
    fn tiny_ring_wraps_many_times_in_order() {
        let (mut tx, mut rx) = spsc::<u64>(2).unwrap();
        let mut next_in = 0u64;
        let mut next_out = 0u64;
        let mut out = Burst::with_capacity(4);
        for round in 0..10_000u64 {
            let k = round % 3 + 1;
            let mut b = burst_of(next_in..next_in + k);
            let n = tx.enqueue_burst(&mut b) as u64;
            next_in += n;
            if round % 2 == 0 && tx.enqueue(next_in).is_ok() {
                next_in += 1;
            }
            rx.dequeue_burst(&mut out, (round % 2 + 1) as usize);
            for v in out.drain() {
                assert_eq!(v, next_out);
                next_out += 1;
            }
            if let Some(v) = rx.dequeue() {
                assert_eq!(v, next_out);
                next_out += 1;
            }
        }
        while let Some(v) = rx.dequeue() {
            assert_eq!(v, next_out);
            next_out += 1;
        }
        assert_eq!(next_in, next_out);
        assert!(next_out > 10_000);
    }

    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn queued_items_are_dropped_with_the_ring() {
        let drops = Arc::new(AtomicUsize::new(0));
        let (mut tx, mut rx) = spsc::<Counted>(4).unwrap();
        // Wrap once so the queued range straddles the end of the slot array.
        for _ in 0..3 {
            tx.enqueue(Counted(drops.clone())).ok().unwrap();
        }
        drop(rx.dequeue());
        drop(rx.dequeue());
        assert_eq!(drops.load(Ordering::Relaxed), 2);
        for _ in 0..3 {
            tx.enqueue(Counted(drops.clone())).ok().unwrap();
        }
        assert_eq!(rx.len(), 4);
        assert!(!tx.is_abandoned());
        drop(rx);
        assert!(tx.is_abandoned());
        assert_eq!(
            drops.load(Ordering::Relaxed),
            2,
            "the producer still holds the ring"
        );
        drop(tx);
        assert_eq!(drops.load(Ordering::Relaxed), 6);
    }

    /// Heap-owning items across two threads: under Miri this checks for data races,
    /// double drops and leaks (`cargo +nightly miri test -p vpmd-fastpath --lib ring::`).
    #[test]
    fn two_threads_move_owned_items() {
        let n: usize = if cfg!(miri) { 300 } else { 100_000 };
        let (mut tx, mut rx) = spsc::<String>(8).unwrap();
        let producer = std::thread::spawn(move || {
            let mut b = Burst::with_capacity(5);
            let mut next = 0;
            while next < n || !b.is_empty() {
                while b.room() > 0 && next < n {
                    b.push(next.to_string()).unwrap();
                    next += 1;
                }
                if tx.enqueue_burst(&mut b) == 0 {
                    std::thread::yield_now();
                }
            }
        });
        let mut out = Burst::with_capacity(3);
        let mut expect = 0;
        while expect < n {
            if rx.dequeue_burst(&mut out, 3) == 0 {
                std::thread::yield_now();
            }
            for s in out.drain() {
                assert_eq!(s, expect.to_string());
                expect += 1;
            }
        }
        producer.join().unwrap();
    }

    #[test]
    fn zero_sized_items_are_counted() {
        let (mut tx, mut rx) = spsc::<()>(4).unwrap();
        for _ in 0..4 {
            tx.enqueue(()).unwrap();
        }
        assert_eq!(tx.enqueue(()), Err(()));
        assert_eq!(rx.len(), 4);
        let mut out = Burst::with_capacity(8);
        assert_eq!(rx.dequeue_burst(&mut out, 8), 4);
    }
}
