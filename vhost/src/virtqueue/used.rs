//! One burst's view of the rings: the available index read once, used elements written in
//! place, and one Release store of the used index at the end.
//!
//! Used elements go straight into the used ring at `last_used + k`: the guest reads no
//! element beyond `used.idx`, so the slots are the device's until the burst publishes
//! them, and an element written for a packet that is then rolled back is simply
//! overwritten later. A burst consumes at most `size` entries and writes at most one used
//! element per entry consumed, so it never reaches a slot the guest still owns.
//!
//! The available index is trusted only within one ring's worth: a guest that moves it
//! more than `size` entries ahead of what the device consumed is rogue, and the queue is
//! disabled (counted once in `bad_avail_idx`), as Xen netback disables a rogue vif. Only
//! the control plane restarting the ring (a new [`SplitQueue`]) serves the guest again.

use crate::stats::VringCounters;

use super::SplitQueue;

/// Descriptors [`SplitQueue::begin_burst`] starts fetching: one burst of the net path.
const PREFETCH_DESCS: u16 = 32;

impl SplitQueue {
    /// Starts a burst: how many entries wait, from one Acquire load of `avail.idx`.
    #[inline]
    pub(crate) fn begin_burst(&mut self, c: &VringCounters) -> u16 {
        if self.broken {
            return 0;
        }
        let n = self.rings.avail_idx().wrapping_sub(self.last_avail);
        if n > self.size {
            self.broken = true;
            c.bad_avail_idx.add(1);
            return 0;
        }
        // The descriptors of a burst's worth of entries, fetched together: one wait for
        // the available ring's line, then their misses overlap.
        for k in 0..n.min(PREFETCH_DESCS) {
            self.prefetch_desc_of(k);
        }
        n
    }

    /// Starts fetching the descriptor of the `k`-th waiting entry (`k < pending`) when
    /// `begin_burst` did not, so its miss overlaps the work on the entries before it.
    #[inline]
    pub(crate) fn prefetch_ahead(&self, k: u16, pending: u16) {
        if (PREFETCH_DESCS..pending).contains(&k) {
            self.prefetch_desc_of(k);
        }
    }

    #[inline]
    fn prefetch_desc_of(&self, k: u16) {
        let pos = self.last_avail.wrapping_add(k);
        if pos & 31 == 0 {
            self.rings.prefetch_avail(pos);
        }
        self.rings.prefetch_desc(self.rings.avail_entry(pos));
    }

    /// The head index in the `k`-th waiting available entry (`k < begin_burst()`), copied
    /// once. The caller checks it against the ring size (the walk does).
    #[inline]
    pub(crate) fn avail_head(&self, k: u16) -> u16 {
        self.rings.avail_entry(self.last_avail.wrapping_add(k))
    }

    /// Writes the `k`-th used element of this burst.
    #[inline]
    pub(crate) fn put_used(&self, k: u16, head: u16, len: u32) {
        self.rings
            .write_used(self.last_used.wrapping_add(k), head as u32, len);
    }

    /// Ends a burst that consumed `consumed` available entries and wrote `used` used
    /// elements: publishes them with one Release store, keeps the guest's kicks off
    /// and interrupts it if it asked.
    #[inline]
    pub(crate) fn finish_burst(&mut self, consumed: u16, used: u16, c: &VringCounters) {
        if consumed == 0 {
            return;
        }
        self.last_avail = self.last_avail.wrapping_add(consumed);
        self.refresh_avail_event();
        if used > 0 {
            self.last_used = self.last_used.wrapping_add(used);
            self.rings.publish_used(self.last_used);
            self.signal_guest(c);
        }
    }
}
