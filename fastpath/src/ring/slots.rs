//! The SPSC ring's shared memory: the slot array, the two free-running positions, and the
//! index protocol that decides which end may touch which slot.
//!
//! This is the ring's only module with `unsafe`. The raw slot accesses and the rules that
//! make them sound live side by side so they can be reviewed together; [`super::spsc`] wraps
//! the two ends in the public `Producer`/`Consumer` handles and adds the `Burst` glue.
//!
//! # Invariants
//!
//! Positions are free-running `usize`s compared with wrapping arithmetic; a position `p`
//! names slot `p & mask`. With `head` (the consumer's position) and `tail` (the producer's):
//!
//! 1. `tail - head <= cap`; the slots of `[head, tail)` hold initialised values and all
//!    others are uninitialised. Full and empty differ without a wasted slot.
//! 2. There is exactly one [`WriteEnd`] and one [`ReadEnd`] per ring (only [`pair`] makes
//!    them, and neither is `Clone`). Only the write end writes slots of `[tail, head + cap)`
//!    and moves `tail`; only the read end reads slots of `[head, tail)` and moves `head`.
//! 3. Each end moves its position with one Release store *after* it is done with the slots
//!    the move covers, and loads the other end's position with Acquire *before* it touches
//!    the slots that load hands it. A cached copy of the other position is never ahead of
//!    the real one, so acting on a stale cache is safe (it only under-reports).
//!
//! # Orderings (the edges)
//!
//! - **R1 → A2**: the producer's Release store of `tail` pairs with the consumer's Acquire
//!   load of `tail`: the slot writes before R1 are visible to the reads after A2.
//! - **R2 → A1**: the consumer's Release store of `head` pairs with the producer's Acquire
//!   load of `head`: the consumer's reads (moves out) of a slot happen before the producer
//!   overwrites it.
//!
//! Must never: hand out a reference into a slot, touch a slot outside its end's range,
//! publish a position before the slots it covers are written or read, or read a slot
//! twice, even when a caller's closure or iterator unwinds mid-burst (the consumer
//! publishes its progress on unwind; a producer-side unwind only leaks the unpublished
//! items, it never exposes them).

use std::cell::UnsafeCell;
use std::fmt;
use std::mem::{self, MaybeUninit};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crossbeam_utils::CachePadded;

type Slot<T> = UnsafeCell<MaybeUninit<T>>;

/// What both ends share. `repr(C)` keeps the read-only header apart from the two
/// padded positions, so the producer's and the consumer's hot lines never meet.
#[repr(C)]
struct Shared<T> {
    /// `capacity - 1`; read-only after creation.
    mask: usize,
    /// The slot storage; the box itself is read-only after creation.
    slots: Box<[Slot<T>]>,
    /// The next position the producer writes. Stored only by the [`WriteEnd`].
    tail: CachePadded<AtomicUsize>,
    /// The next position the consumer reads. Stored only by the [`ReadEnd`].
    head: CachePadded<AtomicUsize>,
}

// SAFETY: values of `T` cross threads through the slots, hence `T: Send`. The slots behind
// the `UnsafeCell`s are only reached through the one `WriteEnd` and the one `ReadEnd`
// (invariant 2), which use disjoint ranges whose hand-over is ordered by the R1→A2 and
// R2→A1 edges (invariant 3); so two threads sharing `&Shared<T>` never race on a slot.
unsafe impl<T: Send> Sync for Shared<T> {}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        if !mem::needs_drop::<T>() {
            return;
        }
        // Both ends are gone (we hold `&mut`), and each published its position before its
        // last operation returned, so the atomics are exact; `Arc`'s final decrement
        // synchronised with the other end's drop.
        let head = *self.head.get_mut();
        let tail = *self.tail.get_mut();
        let mut pos = head;
        while pos != tail {
            let slot = self.slots[pos & self.mask].get_mut();
            // SAFETY: `[head, tail)` holds initialised values (invariant 1); each position is
            // visited once, and nothing reads the slots after this.
            unsafe { slot.assume_init_drop() };
            pos = pos.wrapping_add(1);
        }
    }
}

/// Makes the two ends of a new ring of `capacity` slots.
///
/// The caller has checked that `capacity` is a power of two in `2..=MAX_CAPACITY`.
pub(super) fn pair<T>(capacity: usize) -> (WriteEnd<T>, ReadEnd<T>) {
    debug_assert!(capacity.is_power_of_two() && capacity >= 2);
    let slots: Box<[Slot<T>]> = (0..capacity)
        .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
        .collect();
    let shared = Arc::new(Shared {
        mask: capacity - 1,
        slots,
        tail: CachePadded::new(AtomicUsize::new(0)),
        head: CachePadded::new(AtomicUsize::new(0)),
    });
    let write = WriteEnd {
        shared: Arc::clone(&shared),
        tail: 0,
        cached_head: 0,
        cap: capacity,
    };
    let read = ReadEnd {
        shared,
        head: 0,
        cached_tail: 0,
        cap: capacity,
    };
    (write, read)
}

/// Moves items of `items` into consecutive slots of `seg` until either runs out.
/// Returns how many moved. Pulls no item it has no slot for.
#[inline(always)]
fn write_seg<T>(seg: &[Slot<T>], items: &mut impl Iterator<Item = T>) -> usize {
    let mut n = 0;
    // `zip` asks `seg` first, so no item is taken out of `items` without a slot for it.
    for (slot, item) in seg.iter().zip(items) {
        // SAFETY: the caller (`WriteEnd::fill`) passes only slots of `[tail, head + cap)`,
        // which are uninitialised and touched by no one else (invariants 1 and 2);
        // overwriting `MaybeUninit` drops nothing.
        unsafe { slot.get().write(MaybeUninit::new(item)) };
        n += 1;
    }
    n
}

/// The consumer's progress through one `drain_into`, published when dropped: normally
/// at the end of the burst, and also if `sink` unwinds, so that a slot whose value has
/// been moved out is never read again (which would duplicate the value).
struct Progress<'a> {
    head: &'a mut usize,
    shared_head: &'a AtomicUsize,
    taken: usize,
}

impl Drop for Progress<'_> {
    #[inline]
    fn drop(&mut self) {
        if self.taken > 0 {
            *self.head = self.head.wrapping_add(self.taken);
            // R2: pairs with the producer's Acquire load of `head` (A1): our moves out of
            // these slots happen before the producer reuses them. One store per burst.
            self.shared_head.store(*self.head, Ordering::Release);
        }
    }
}

/// Moves the values of consecutive slots of `seg` into `sink` until `sink` refuses one
/// (which goes back into its slot), counting them in `progress`. Returns false if refused.
#[inline(always)]
fn read_seg<T>(
    seg: &[Slot<T>],
    progress: &mut Progress<'_>,
    sink: &mut impl FnMut(T) -> Result<(), T>,
) -> bool {
    for slot in seg {
        // SAFETY: the caller (`ReadEnd::drain_into`) passes only slots of
        // `[head, cached_tail)` ⊆ `[head, tail)`: initialised, their writes made visible by
        // A2, and read by no one else (invariants 1 and 2). From here the slot counts as
        // moved out (`progress`), so even if `sink` unwinds it is never read again.
        let item = unsafe { slot.get().read().assume_init() };
        progress.taken += 1;
        if let Err(item) = sink(item) {
            // SAFETY: the same slot, just moved out of and still ours, since `head` has not
            // been published past it; writing it back restores invariant 1.
            unsafe { slot.get().write(MaybeUninit::new(item)) };
            progress.taken -= 1;
            return false;
        }
    }
    true
}

/// The producer's end: owns `tail`, caches `head`.
pub(super) struct WriteEnd<T> {
    shared: Arc<Shared<T>>,
    /// Our own position; equal to `shared.tail` between calls.
    tail: usize,
    /// The last `head` we loaded; never ahead of the real one.
    cached_head: usize,
    cap: usize,
}

impl<T> WriteEnd<T> {
    /// Slot count.
    #[inline]
    pub(super) fn capacity(&self) -> usize {
        self.cap
    }

    /// Free slots according to the cache (a lower bound).
    #[inline(always)]
    fn cached_free(&self) -> usize {
        self.cap - self.tail.wrapping_sub(self.cached_head)
    }

    /// How many of `want` items fit now. Reloads `head` only when the cached view says
    /// fewer than `want` slots are free.
    #[inline]
    pub(super) fn vacant(&mut self, want: usize) -> usize {
        let mut free = self.cached_free();
        if free < want {
            // A1: pairs with the consumer's Release store of `head` (R2): its moves out of
            // the slots it freed happen before we overwrite them.
            self.cached_head = self.shared.head.load(Ordering::Acquire);
            free = self.cached_free();
        }
        free.min(want)
    }

    /// Free slots right now, without touching the cache (for statistics; a snapshot).
    #[inline]
    pub(super) fn free_now(&self) -> usize {
        // Relaxed: only a count is derived from it, no slot is touched on its strength.
        let head = self.shared.head.load(Ordering::Relaxed);
        self.cap - self.tail.wrapping_sub(head)
    }

    /// Moves items from `items` into the free slots the cache knows of, then publishes them
    /// with one Release store. Returns how many moved.
    ///
    /// Call [`vacant`](Self::vacant) first and pass at most that many items: an iterator
    /// that owns its items (a `Drain`) drops those it still holds when it is dropped.
    #[inline]
    pub(super) fn fill(&mut self, items: impl IntoIterator<Item = T>) -> usize {
        let mut items = items.into_iter();
        let free = self.cached_free();
        let start = self.tail & self.shared.mask;
        let first = free.min(self.cap - start);
        let slots = &self.shared.slots;
        let mut n = write_seg(&slots[start..start + first], &mut items);
        if n == first && free > first {
            n += write_seg(&slots[..free - first], &mut items);
        }
        if n > 0 {
            self.tail = self.tail.wrapping_add(n);
            // R1: pairs with the consumer's Acquire load of `tail` (A2): the slot writes
            // above are visible before the consumer reads them. One store per burst.
            self.shared.tail.store(self.tail, Ordering::Release);
        }
        n
    }

    /// Moves one item in and publishes it, or hands it back when the ring is full.
    #[inline]
    pub(super) fn push(&mut self, item: T) -> Result<(), T> {
        if self.vacant(1) == 0 {
            return Err(item);
        }
        let slot = &self.shared.slots[self.tail & self.shared.mask];
        // SAFETY: `vacant(1)` proved slot `tail` is in `[tail, head + cap)`: uninitialised
        // and ours alone (invariants 1 and 2).
        unsafe { slot.get().write(MaybeUninit::new(item)) };
        self.tail = self.tail.wrapping_add(1);
        // R1 (see `fill`).
        self.shared.tail.store(self.tail, Ordering::Release);
        Ok(())
    }

    /// True when the read end has been dropped.
    pub(super) fn is_abandoned(&self) -> bool {
        Arc::strong_count(&self.shared) == 1
    }
}

impl<T> fmt::Debug for WriteEnd<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteEnd")
            .field("capacity", &self.cap)
            .field("tail", &self.tail)
            .field("cached_head", &self.cached_head)
            .finish()
    }
}

/// The consumer's end: owns `head`, caches `tail`.
pub(super) struct ReadEnd<T> {
    shared: Arc<Shared<T>>,
    /// Our own position; equal to `shared.head` between calls.
    head: usize,
    /// The last `tail` we loaded; never ahead of the real one.
    cached_tail: usize,
    cap: usize,
}

impl<T> ReadEnd<T> {
    /// Slot count.
    #[inline]
    pub(super) fn capacity(&self) -> usize {
        self.cap
    }

    /// How many of `want` items are ready now. Reloads `tail` only when the cached view
    /// says fewer than `want` are ready.
    #[inline]
    pub(super) fn ready(&mut self, want: usize) -> usize {
        let mut avail = self.cached_tail.wrapping_sub(self.head);
        if avail < want {
            // A2: pairs with the producer's Release store of `tail` (R1): the slot writes
            // it published are visible to the reads that follow.
            self.cached_tail = self.shared.tail.load(Ordering::Acquire);
            avail = self.cached_tail.wrapping_sub(self.head);
        }
        avail.min(want)
    }

    /// Items in the ring right now (a snapshot).
    #[inline]
    pub(super) fn len_now(&self) -> usize {
        // Relaxed: only a count is derived from it, no slot is read on its strength.
        let tail = self.shared.tail.load(Ordering::Relaxed);
        tail.wrapping_sub(self.head)
    }

    /// Moves up to `n` ready items (as the cache knows them) into `sink`, in order, then
    /// frees their slots with one Release store. Stops early if `sink` hands an item back;
    /// that item goes back into its slot and stays queued. Returns how many moved.
    #[inline]
    pub(super) fn drain_into(
        &mut self,
        n: usize,
        mut sink: impl FnMut(T) -> Result<(), T>,
    ) -> usize {
        let n = n.min(self.cached_tail.wrapping_sub(self.head));
        let start = self.head & self.shared.mask;
        let first = n.min(self.cap - start);
        let shared = &*self.shared;
        let mut progress = Progress {
            head: &mut self.head,
            shared_head: &shared.head,
            taken: 0,
        };
        if read_seg(
            &shared.slots[start..start + first],
            &mut progress,
            &mut sink,
        ) && n > first
        {
            read_seg(&shared.slots[..n - first], &mut progress, &mut sink);
        }
        progress.taken
        // `progress` publishes the new `head` (R2) as it goes out of scope.
    }

    /// Moves one item out, or `None` when the ring is empty.
    #[inline]
    pub(super) fn pop(&mut self) -> Option<T> {
        if self.ready(1) == 0 {
            return None;
        }
        let slot = &self.shared.slots[self.head & self.shared.mask];
        // SAFETY: `ready(1)` proved slot `head` is in `[head, tail)` and made its write
        // visible (A2); we publish `head` past it right after, so it is read exactly once.
        let item = unsafe { slot.get().read().assume_init() };
        self.head = self.head.wrapping_add(1);
        // R2 (see `drain_into`).
        self.shared.head.store(self.head, Ordering::Release);
        Some(item)
    }

    /// True when the write end has been dropped.
    pub(super) fn is_abandoned(&self) -> bool {
        Arc::strong_count(&self.shared) == 1
    }
}

impl<T> fmt::Debug for ReadEnd<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadEnd")
            .field("capacity", &self.cap)
            .field("head", &self.head)
            .field("cached_tail", &self.cached_tail)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_stops_at_the_cached_free_space_and_wraps() {
        let (mut w, mut r) = pair::<u32>(4);
        assert_eq!(w.vacant(10), 4);
        let mut src = 0..10;
        assert_eq!(w.fill(&mut src), 4);
        assert_eq!(src.next(), Some(4), "no item pulled without a slot");
        assert_eq!(r.ready(3), 3);
        let mut got = Vec::new();
        assert_eq!(
            r.drain_into(3, |v| {
                got.push(v);
                Ok(())
            }),
            3
        );
        assert_eq!(got, [0, 1, 2]);
        // tail = 4, head = 3: the next fill wraps from slot 0.
        assert_eq!(w.vacant(3), 3);
        assert_eq!(w.fill([10, 11, 12]), 3);
        assert_eq!(r.ready(8), 4);
        got.clear();
        assert_eq!(
            r.drain_into(8, |v| {
                got.push(v);
                Ok(())
            }),
            4
        );
        assert_eq!(got, [3, 10, 11, 12]);
    }

    #[test]
    fn a_panicking_sink_never_sees_a_value_twice() {
        let (mut w, mut r) = pair::<String>(4);
        // Start at position 2 so the burst wraps.
        w.vacant(2);
        w.fill(["x", "y"].map(String::from));
        r.ready(2);
        r.drain_into(2, |_| Ok(()));
        w.vacant(4);
        w.fill(["a", "b", "c", "d"].map(String::from));
        r.ready(4);
        let mut got = Vec::new();
        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            r.drain_into(4, |v| {
                if v == "c" {
                    panic!("sink failed");
                }
                got.push(v);
                Ok(())
            })
        }));
        assert!(unwound.is_err());
        assert_eq!(got, ["a", "b"]);
        // "c" was moved into the sink and dropped by the unwind; "d" is next.
        assert_eq!(r.pop().as_deref(), Some("d"));
        assert_eq!(r.pop(), None);
        assert_eq!(w.vacant(4), 4);
    }

    #[test]
    fn a_refused_item_goes_back_to_its_slot() {
        let (mut w, mut r) = pair::<String>(8);
        w.vacant(3);
        w.fill(["a", "b", "c"].map(String::from));
        r.ready(3);
        let mut got = Vec::new();
        let n = r.drain_into(3, |v| {
            if got.len() == 2 {
                Err(v)
            } else {
                got.push(v);
                Ok(())
            }
        });
        assert_eq!(n, 2);
        assert_eq!(r.pop().as_deref(), Some("c"));
        assert_eq!(r.pop(), None);
    }
}
