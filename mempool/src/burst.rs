//! `Burst<T>`: a fixed-capacity vector of packets, the unit every fast-path call moves.
//!
//! Receive calls append to a burst; transmit calls take from its front and leave what
//! they could not send with the caller, as DPDK's `rte_eth_tx_burst` does. A burst never
//! reallocates after creation, so no fast-path call allocates.

use std::vec::Drain;

/// A bounded list of items (usually packet buffers), filled and drained whole bursts at a time.
#[derive(Debug)]
pub struct Burst<T> {
    items: Vec<T>,
    /// The bound; `Vec` may round its own capacity up.
    cap: usize,
}

impl<T> Burst<T> {
    /// testpmd's `MAX_PKT_BURST`: the largest burst any vpmd call is asked to move.
    pub const MAX: usize = 512;

    /// An empty burst that holds up to `capacity` items (clamped to `1..=MAX`).
    pub fn with_capacity(capacity: usize) -> Self {
        let cap = capacity.clamp(1, Self::MAX);
        Self {
            items: Vec::with_capacity(cap),
            cap,
        }
    }

    /// How many items the burst holds.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when the burst holds nothing.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The fixed capacity chosen at creation.
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// How many more items fit.
    pub fn room(&self) -> usize {
        self.cap - self.items.len()
    }

    /// Appends `item`, or hands it back when the burst is full (never reallocates).
    #[inline]
    pub fn push(&mut self, item: T) -> Result<(), T> {
        if self.items.len() == self.cap {
            return Err(item);
        }
        self.items.push(item);
        Ok(())
    }

    /// The items, for the pool to append to in one go; callers keep within `room()`.
    #[inline]
    pub(crate) fn items_mut(&mut self) -> &mut Vec<T> {
        &mut self.items
    }

    /// Removes and returns the last item.
    #[inline]
    pub fn pop(&mut self) -> Option<T> {
        self.items.pop()
    }

    /// Removes the first `n` items (fewer if the burst is shorter); the rest move to the front.
    #[inline]
    pub fn take_front(&mut self, n: usize) -> Drain<'_, T> {
        let n = n.min(self.items.len());
        self.items.drain(..n)
    }

    /// Removes every item.
    #[inline]
    pub fn drain(&mut self) -> Drain<'_, T> {
        self.items.drain(..)
    }

    /// Drops every item.
    pub fn clear(&mut self) {
        self.items.clear();
    }

    /// Keeps the first `len` items and drops the rest.
    pub fn truncate(&mut self, len: usize) {
        self.items.truncate(len);
    }

    /// Keeps only the items for which `keep` returns true, in order.
    pub fn retain_mut(&mut self, keep: impl FnMut(&mut T) -> bool) {
        self.items.retain_mut(keep);
    }

    /// The items, in order.
    pub fn as_slice(&self) -> &[T] {
        &self.items
    }

    /// The items, in order, for in-place edits (MAC swaps, header fills).
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        &mut self.items
    }

    /// Moves items from the front of `src` to the end of `self` until either runs out.
    pub fn append_from(&mut self, src: &mut Burst<T>) -> usize {
        let n = self.room().min(src.len());
        self.items.extend(src.items.drain(..n));
        n
    }
}

impl<T> Default for Burst<T> {
    fn default() -> Self {
        Self::with_capacity(Self::MAX)
    }
}

impl<'a, T> IntoIterator for &'a Burst<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

impl<'a, T> IntoIterator for &'a mut Burst<T> {
    type Item = &'a mut T;
    type IntoIter = std::slice::IterMut<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_is_bounded_and_never_grows() {
        let mut b = Burst::with_capacity(4);
        for i in 0..4 {
            b.push(i).unwrap();
        }
        assert_eq!(b.push(9), Err(9));
        assert_eq!(b.capacity(), 4);
        assert_eq!(b.room(), 0);
    }

    #[test]
    fn take_front_leaves_the_rest_in_order() {
        let mut b = Burst::with_capacity(8);
        for i in 0..6 {
            b.push(i).unwrap();
        }
        let sent: Vec<_> = b.take_front(4).collect();
        assert_eq!(sent, [0, 1, 2, 3]);
        assert_eq!(b.as_slice(), [4, 5]);
        assert_eq!(b.take_front(10).count(), 2);
        assert!(b.is_empty());
    }

    #[test]
    fn append_from_moves_what_fits() {
        let mut a = Burst::with_capacity(3);
        let mut b = Burst::with_capacity(8);
        a.push(0).unwrap();
        for i in 1..6 {
            b.push(i).unwrap();
        }
        assert_eq!(a.append_from(&mut b), 2);
        assert_eq!(a.as_slice(), [0, 1, 2]);
        assert_eq!(b.as_slice(), [3, 4, 5]);
    }

    #[test]
    fn capacity_is_clamped() {
        assert_eq!(Burst::<u8>::with_capacity(0).capacity(), 1);
        assert!(Burst::<u8>::with_capacity(100_000).capacity() <= Burst::<u8>::MAX);
    }
}
