//! A vif's rate as the toolstack changes it while the vif runs (netback's
//! `xen_net_rate_changed`, the watch on the backend's `rate` key): the control thread
//! publishes the new rate, and each queue's guest tx ring picks it up at the start of
//! its next burst, with no lock on the data path.
//!
//! The rate sits behind a mutex that only the control thread takes to write and a
//! queue takes only after it saw the [`Generation`] move, i.e. once per change.
//! Ordering: the write under the mutex happens before the Release bump, which pairs
//! with the queue's Acquire load of the generation.
//!
//! Must never: be read under the lock on a burst whose generation did not change.

use std::sync::{Mutex, PoisonError};

use vpmd_fastpath::Generation;

use super::credit::Rate;

/// The current rate of a vif (`None`: unlimited) and its change counter.
#[derive(Debug, Default)]
pub struct LiveRate {
    generation: Generation,
    rate: Mutex<Option<Rate>>,
}

impl LiveRate {
    /// Publishes `rate` to every queue of the vif (control thread only).
    pub fn set(&self, rate: Option<Rate>) {
        *self.rate.lock().unwrap_or_else(PoisonError::into_inner) = rate;
        self.generation.bump();
    }

    /// The change counter: a queue compares it with the last it applied, once per
    /// burst.
    #[inline]
    pub fn generation(&self) -> u64 {
        self.generation.load()
    }

    /// The rate (a queue calls this only when the generation moved).
    pub fn get(&self) -> Option<Rate> {
        *self.rate.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_set_moves_the_generation() {
        let l = LiveRate::default();
        let g0 = l.generation();
        let r = Rate { bytes: 1, usec: 2 };
        l.set(Some(r));
        assert_ne!(l.generation(), g0);
        assert_eq!(l.get(), Some(r));
        let g1 = l.generation();
        l.set(None);
        assert_ne!(l.generation(), g1);
        assert_eq!(l.get(), None);
    }
}
