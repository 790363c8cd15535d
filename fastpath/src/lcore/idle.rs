//! What an lcore does after a round in which no task had work.
//!
//! [`IdlePolicy::BusyPoll`] (the default, DPDK's and OVS's PMD behaviour) goes straight to
//! the next round: lowest latency, one core at 100 %. [`IdlePolicy::Backoff`] is for users
//! who share cores: after each empty round it issues a CPU pause hint, and once
//! `pause_spins` empty rounds have passed in a row it sleeps, doubling the sleep from 1 µs
//! up to `max_sleep_us`. Any round with work resets it. Sleeps use `thread::park_timeout`,
//! so a control request or a stop (which unpark the lcore) cuts them short.
//!
//! Must never: wait after a round that did work, or sleep longer than `max_sleep_us`.

use std::time::Duration;

/// How an lcore waits when its tasks have nothing to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdlePolicy {
    /// Poll again at once.
    #[default]
    BusyPoll,
    /// Pause-spin for `pause_spins` empty rounds, then sleep with exponential back-off from
    /// 1 µs up to `max_sleep_us` (0: never sleep, only pause).
    Backoff {
        /// Empty rounds (each followed by a pause hint) before the first sleep.
        pause_spins: u32,
        /// The longest single sleep, in microseconds.
        max_sleep_us: u32,
    },
}

/// The idle policy's state on one lcore.
#[derive(Debug)]
pub(crate) struct Idler {
    policy: IdlePolicy,
    empty_rounds: u32,
    sleep_us: u32,
}

impl Idler {
    pub(crate) fn new(policy: IdlePolicy) -> Self {
        Self {
            policy,
            empty_rounds: 0,
            sleep_us: 0,
        }
    }

    /// True when [`idle`](Self::idle) may take time worth accounting separately.
    #[inline]
    pub(crate) fn waits(&self) -> bool {
        self.policy != IdlePolicy::BusyPoll
    }

    /// A round did work: start over.
    #[inline]
    pub(crate) fn worked(&mut self) {
        self.empty_rounds = 0;
        self.sleep_us = 0;
    }

    /// A round found nothing to do: pause or sleep as the policy says.
    #[inline]
    pub(crate) fn idle(&mut self) {
        let IdlePolicy::Backoff {
            pause_spins,
            max_sleep_us,
        } = self.policy
        else {
            return;
        };
        if self.empty_rounds < pause_spins || max_sleep_us == 0 {
            self.empty_rounds = self.empty_rounds.saturating_add(1);
            std::hint::spin_loop();
            return;
        }
        self.sleep_us = self.next_sleep_us(max_sleep_us);
        std::thread::park_timeout(Duration::from_micros(u64::from(self.sleep_us)));
    }

    fn next_sleep_us(&self, max_sleep_us: u32) -> u32 {
        match self.sleep_us {
            0 => 1,
            us => us.saturating_mul(2),
        }
        .min(max_sleep_us)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    #[test]
    fn busy_poll_never_waits() {
        let mut i = Idler::new(IdlePolicy::default());
        assert!(!i.waits());
        let t = Instant::now();
        for _ in 0..10_000 {
            i.idle();
        }
        assert!(t.elapsed() < Duration::from_millis(100));
    }

    #[test]
    fn backoff_pauses_then_doubles_up_to_the_cap_and_resets() {
        let mut i = Idler::new(IdlePolicy::Backoff {
            pause_spins: 3,
            max_sleep_us: 8,
        });
        assert!(i.waits());
        for _ in 0..3 {
            i.idle();
            assert_eq!(i.sleep_us, 0, "still pausing");
        }
        let mut seen = Vec::new();
        for _ in 0..6 {
            i.idle();
            seen.push(i.sleep_us);
        }
        assert_eq!(seen, [1, 2, 4, 8, 8, 8]);
        i.worked();
        i.idle();
        assert_eq!((i.empty_rounds, i.sleep_us), (1, 0));
    }

    #[test]
    fn zero_max_sleep_only_pauses() {
        let mut i = Idler::new(IdlePolicy::Backoff {
            pause_spins: 0,
            max_sleep_us: 0,
        });
        for _ in 0..100 {
            i.idle();
        }
        assert_eq!(i.sleep_us, 0);
    }
}
