//! Notifications in both directions (virtio 1.2 §2.7.7, §2.7.10): the guest's kicks, which
//! a polling device does not want, and the device's interrupts (the call eventfd), which
//! the guest asks for.
//!
//! - Kicks: while polling, `used.flags` carries `VRING_USED_F_NO_NOTIFY` and, with
//!   `EVENT_IDX`, `avail_event` is kept `size` entries ahead of `last_avail_idx`,
//!   refreshed once per burst that consumed entries. The guest can have at most `size`
//!   entries outstanding beyond what the device consumed, so its index never crosses
//!   `avail_event` and it never kicks. [`SplitQueue::enable_notifications`] turns kicks
//!   back on for an lcore that wants to sleep on the kick eventfd.
//! - Interrupts: after publishing used elements, the device reads the guest's wish behind
//!   a SeqCst fence (our `used.idx` store must not pass the load of `used_event` /
//!   `avail.flags`; pairs with the guest's full barrier between writing those and
//!   re-reading `used.idx`). With `EVENT_IDX` it interrupts when `used.idx` moved past
//!   `used_event` since the last decision (`vring_need_event`); the first decision after
//!   start always interrupts, since what the guest saw before is unknown. Without it,
//!   unless `VRING_AVAIL_F_NO_INTERRUPT` is set. One eventfd write per burst at most,
//!   counted in `guest_notifications`.

use std::io::Write;
use std::sync::atomic::{fence, Ordering};

use crate::stats::VringCounters;
use crate::virtio::{VRING_AVAIL_F_NO_INTERRUPT, VRING_USED_F_NO_NOTIFY};

use super::SplitQueue;

/// `vring_need_event`: whether moving the index from `old` to `new` crossed `event`
/// (all modulo 2^16).
#[inline]
pub(crate) fn need_event(event: u16, new: u16, old: u16) -> bool {
    new.wrapping_sub(event).wrapping_sub(1) < new.wrapping_sub(old)
}

impl SplitQueue {
    /// Asks the guest to kick again when it makes entries available (before the polling
    /// lcore sleeps on the kick eventfd). Returns true if entries are already waiting:
    /// poll again instead of sleeping. Bursts keep kicks on until
    /// [`SplitQueue::disable_notifications`].
    pub fn enable_notifications(&mut self) -> bool {
        self.kicks_wanted = true;
        self.rings.set_used_flags(0);
        if self.event_idx {
            self.rings.set_avail_event(self.last_avail);
        }
        // Our store must be visible before we re-read the index (StoreLoad): pairs with
        // the guest's barrier between publishing `avail.idx` and reading our flags.
        fence(Ordering::SeqCst);
        self.rings.avail_idx() != self.last_avail
    }

    /// Switches the guest's kicks off again (the queue is polled). The initial state.
    pub fn disable_notifications(&mut self) {
        self.kicks_wanted = false;
        self.rings.set_used_flags(VRING_USED_F_NO_NOTIFY);
        self.refresh_avail_event();
    }

    /// Moves `avail_event` with `last_avail` (EVENT_IDX only): out of the guest's reach
    /// while polling, at the next entry when kicks are wanted.
    #[inline]
    pub(super) fn refresh_avail_event(&self) {
        if self.event_idx {
            let ahead = if self.kicks_wanted { 0 } else { self.size };
            self.rings
                .set_avail_event(self.last_avail.wrapping_add(ahead));
        }
    }

    /// Interrupts the guest after a publish, if it asked.
    #[inline]
    pub(super) fn signal_guest(&mut self, c: &VringCounters) {
        fence(Ordering::SeqCst);
        let new = self.last_used;
        let wanted = if self.event_idx {
            let (old, valid) = (self.signalled_used, self.signalled_valid);
            self.signalled_used = new;
            self.signalled_valid = true;
            !valid || need_event(self.rings.used_event(), new, old)
        } else {
            self.rings.avail_flags() & VRING_AVAIL_F_NO_INTERRUPT == 0
        };
        if wanted {
            if let Some(call) = &self.call {
                // An eventfd write fails only if the counter would overflow (the guest
                // has 2^64 - 2 interrupts pending) or the fd is gone; either way there is
                // nothing better to do than carry on.
                let _ = (&**call).write(&1u64.to_ne_bytes());
                c.guest_notifications.add(1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::need_event;

    #[test]
    fn need_event_follows_the_spec_formula_across_wrap() {
        assert!(need_event(5, 6, 5));
        assert!(!need_event(6, 6, 5));
        assert!(need_event(65535, 2, 65530));
        assert!(!need_event(3, 2, 65530));
        assert!(!need_event(7, 7, 7), "no movement, no interrupt");
        assert!(need_event(0, 1, 0));
    }
}
