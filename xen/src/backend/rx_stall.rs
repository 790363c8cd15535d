//! The guest rx ring's drain and stall timers (netback's `rx_drain_timeout` and
//! `rx_stall_timeout`, XSA-392): a frontend that stops posting rx buffers must not
//! hold the backend's packets forever.
//!
//! vpmd queues nothing itself (packets that do not fit stay with the caller), so the
//! timers run from the last burst that made progress: after the drain timeout the
//! packets offered are dropped instead of left with the caller; after the stall
//! timeout the queue is stalled (the vif's carrier off, everything dropped) until the
//! ring again has room for the packet that stalled it. Progress means a packet taken
//! or none waiting, never merely a free slot: a packet needing more slots than are
//! posted counts as blocked (one free slot must not defeat the timer).
//!
//! Must never: read the clock more than the caller does (time is passed in).

use std::time::Duration;

/// netback's `rx_drain_timeout_msecs` default.
pub const DRAIN_DEFAULT: Duration = Duration::from_secs(10);
/// netback's `rx_stall_timeout_msecs` default.
pub const STALL_DEFAULT: Duration = Duration::from_secs(60);
/// netback's drain timeout for a frontend without `feature-rx-notify`, which does not
/// say when it posts buffers (stall detection is off for it).
pub const DRAIN_NO_RX_NOTIFY: Duration = Duration::from_millis(30);

/// What to do with packets the ring has no room for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocked {
    /// Leave them with the caller.
    Keep,
    /// Drop them (the drain timeout passed).
    Drain,
    /// Drop them; the queue just stalled (carrier off).
    Stall,
}

/// One guest rx ring's timers.
#[derive(Debug, Clone)]
pub struct RxTimers {
    drain: Duration,
    /// `None`: no stall detection.
    stall: Option<Duration>,
    last_progress: Duration,
    /// While stalled: the slots the blocked packet needed.
    stalled: Option<usize>,
}

impl RxTimers {
    /// Timers for a frontend that does (`rx_notify`) or does not offer
    /// `feature-rx-notify`, as netback sets them, starting at `now`.
    pub fn new(drain: Duration, stall: Duration, rx_notify: bool, now: Duration) -> Self {
        let (drain, stall) = if rx_notify {
            (drain, Some(stall))
        } else {
            (drain.min(DRAIN_NO_RX_NOTIFY), None)
        };
        Self {
            drain,
            stall,
            last_progress: now,
            stalled: None,
        }
    }

    /// Whether the queue is stalled.
    pub fn is_stalled(&self) -> bool {
        self.stalled.is_some()
    }

    /// Ends a stall if `free` slots now hold the packet that caused it; whether it
    /// ended (netback's `xenvif_rx_queue_ready`).
    pub fn resume(&mut self, free: usize, now: Duration) -> bool {
        match self.stalled {
            Some(need) if free >= need => {
                self.stalled = None;
                self.last_progress = now;
                true
            }
            _ => false,
        }
    }

    /// A burst took a packet, or had none waiting.
    pub fn progress(&mut self, now: Duration) {
        self.last_progress = now;
    }

    /// A burst left a packet needing `need` slots for want of room.
    pub fn blocked(&mut self, need: usize, now: Duration) -> Blocked {
        let idle = now.saturating_sub(self.last_progress);
        if self.stall.is_some_and(|s| idle >= s) {
            self.stalled = Some(need);
            Blocked::Stall
        } else if idle >= self.drain {
            Blocked::Drain
        } else {
            Blocked::Keep
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn drain_then_stall_then_resume_with_room() {
        let mut t = RxTimers::new(DRAIN_DEFAULT, STALL_DEFAULT, true, Duration::ZERO);
        assert_eq!(t.blocked(2, 9 * S), Blocked::Keep);
        assert_eq!(t.blocked(2, 10 * S), Blocked::Drain);
        assert_eq!(t.blocked(2, 60 * S), Blocked::Stall);
        assert!(t.is_stalled());
        assert!(!t.resume(1, 61 * S), "one slot is not room for two");
        assert!(t.resume(2, 62 * S));
        assert_eq!(t.blocked(2, 63 * S), Blocked::Keep);
    }

    #[test]
    fn progress_restarts_the_timers() {
        let mut t = RxTimers::new(DRAIN_DEFAULT, STALL_DEFAULT, true, Duration::ZERO);
        t.progress(50 * S);
        assert_eq!(t.blocked(1, 59 * S), Blocked::Keep);
    }

    #[test]
    fn without_rx_notify_a_short_drain_and_no_stall() {
        let mut t = RxTimers::new(DRAIN_DEFAULT, STALL_DEFAULT, false, Duration::ZERO);
        assert_eq!(t.blocked(1, Duration::from_millis(29)), Blocked::Keep);
        assert_eq!(t.blocked(1, Duration::from_millis(30)), Blocked::Drain);
        assert_eq!(t.blocked(1, 3600 * S), Blocked::Drain);
        assert!(!t.is_stalled());
    }
}
