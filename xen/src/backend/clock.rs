//! The backend's time source, passed in so timers (rate-limit credit, the guest rx
//! drain and stall timers) are tested by stepping a clock, not by sleeping.
//!
//! Must never: go backwards (a [`Clock::manual`] only advances).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Monotonic time since the clock's start. Clones share the same time.
#[derive(Debug, Clone)]
pub struct Clock(Source);

#[derive(Debug, Clone)]
enum Source {
    Real(Instant),
    /// Nanoseconds, advanced by [`Clock::advance`].
    Manual(Arc<AtomicU64>),
}

impl Default for Clock {
    fn default() -> Self {
        Self::real()
    }
}

impl Clock {
    /// Wall-clock monotonic time, starting now.
    pub fn real() -> Self {
        Self(Source::Real(Instant::now()))
    }

    /// A clock that stands still until [`Clock::advance`]d.
    pub fn manual() -> Self {
        Self(Source::Manual(Arc::default()))
    }

    /// Time since the clock started.
    #[inline]
    pub fn now(&self) -> Duration {
        match &self.0 {
            Source::Real(t0) => t0.elapsed(),
            Source::Manual(ns) => Duration::from_nanos(ns.load(Ordering::Acquire)),
        }
    }

    /// Moves a manual clock forward (a real clock moves by itself: no-op).
    pub fn advance(&self, by: Duration) {
        if let Source::Manual(ns) = &self.0 {
            let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
            ns.fetch_add(by, Ordering::AcqRel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clones_share_time() {
        let c = Clock::manual();
        let d = c.clone();
        c.advance(Duration::from_millis(3));
        assert_eq!(d.now(), Duration::from_millis(3));
    }
}
