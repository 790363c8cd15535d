//! Guest tx rate limiting by credit, as netback's `tx_credit_exceeded` and
//! `tx_add_credit`: each period adds `bytes` of credit; a packet larger than what is
//! left waits in the ring until the next replenishment. Credit accumulates up to
//! [`MAX_BURST`] (or `bytes`, if larger), so a packet bigger than one period's credit
//! still goes after a few periods instead of starving (netback's credit extension).
//!
//! Time is passed in; the replenishment netback's timer does at the end of a window
//! happens here at the first check after it, dated to the window's end, so polling
//! late does not lower the rate.

use std::fmt;
use std::time::Duration;

/// Credit a queue may hold whatever its rate: enough for a 128 KiB burst (netback's
/// `max_burst`), more than any guest packet (64 KiB).
pub const MAX_BURST: u64 = 131_072;

/// `bytes` per `usec` microseconds: the `rate` devarg (`BYTES/USEC`) and xenstore key
/// (`bytes,usec`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Credit added each period.
    pub bytes: u64,
    /// The period, in microseconds.
    pub usec: u64,
}

impl Rate {
    /// Parses `BYTES<sep>USEC`, both positive.
    pub fn parse(s: &str, sep: char) -> Option<Self> {
        let (b, u) = s.trim().split_once(sep)?;
        let r = Self {
            bytes: b.trim().parse().ok()?,
            usec: u.trim().parse().ok()?,
        };
        (r.bytes > 0 && r.usec > 0).then_some(r)
    }

    /// The rate in bytes per second.
    pub fn bytes_per_sec(self) -> f64 {
        self.bytes as f64 * 1e6 / self.usec as f64
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} bytes per {} us", self.bytes, self.usec)
    }
}

/// One queue's credit.
#[derive(Debug, Clone)]
pub struct Credit {
    rate: Rate,
    period: Duration,
    remaining: u64,
    /// Start of the current window; in the future while a replenishment is pending.
    window_start: Duration,
    /// A packet is waiting for the replenishment at `window_start`.
    pending: bool,
}

impl Credit {
    /// Full credit for one period, the window starting at `now`.
    pub fn new(rate: Rate, now: Duration) -> Self {
        Self {
            rate,
            period: Duration::from_micros(rate.usec),
            remaining: rate.bytes,
            window_start: now,
            pending: false,
        }
    }

    /// Whether the credit covers a packet of `size` bytes at `now` (replenishing if a
    /// period ended); `false` leaves it to wait for the next replenishment. The packet
    /// is paid for with [`Credit::charge`] once it is sure to go.
    pub fn ready(&mut self, size: u64, now: Duration) -> bool {
        if size > self.remaining {
            if self.pending {
                // The replenishment netback's timer would have done at window_start.
                if now < self.window_start {
                    return false;
                }
                self.pending = false;
                self.add();
            } else if now >= self.window_start + self.period {
                self.window_start = now;
                self.add();
            }
            if size > self.remaining {
                self.window_start += self.period;
                self.pending = true;
                return false;
            }
        }
        true
    }

    /// Switches to `rate` at `now`, as netback's `xen_net_rate_changed`: a pending
    /// replenishment happens at once (at the new rate); otherwise the credit left is cut
    /// to one period's worth of the new rate.
    pub fn set_rate(&mut self, rate: Rate, now: Duration) {
        self.rate = rate;
        self.period = Duration::from_micros(rate.usec);
        if self.pending {
            self.window_start = self.window_start.min(now);
        } else {
            self.remaining = self.remaining.min(rate.bytes);
        }
    }

    /// Pays for a packet [`Credit::ready`] allowed.
    pub fn charge(&mut self, size: u64) {
        self.remaining = self.remaining.saturating_sub(size);
    }

    fn add(&mut self) {
        let max = MAX_BURST.max(self.rate.bytes);
        self.remaining = self.remaining.saturating_add(self.rate.bytes).min(max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_separators_and_refuses_zero() {
        let r = Rate {
            bytes: 125_000,
            usec: 1000,
        };
        assert_eq!(Rate::parse("125000/1000", '/'), Some(r));
        assert_eq!(Rate::parse("125000,1000\n", ','), Some(r));
        for bad in ["", "1", "0/10", "10/0", "a/1", "1/-2", "1,2"] {
            assert_eq!(Rate::parse(bad, '/'), None, "{bad}");
        }
    }

    /// Offers `size`-byte packets as fast as allowed, polling every `step`, for
    /// `secs`; the bytes per second that went.
    fn measure(rate: Rate, size: u64, step: Duration, secs: u64) -> f64 {
        let mut c = Credit::new(rate, Duration::ZERO);
        let mut now = Duration::ZERO;
        let mut sent = 0u64;
        while now < Duration::from_secs(secs) {
            while c.ready(size, now) {
                c.charge(size);
                sent += size;
            }
            now += step;
        }
        sent as f64 / secs as f64
    }

    #[test]
    fn measured_rate_is_within_ten_percent() {
        for (bytes, usec, size, step_us) in [
            (125_000, 1000, 1500, 10),
            (125_000, 1000, 1500, 333), // polled less often than the period
            (10_000, 10_000, 9000, 7),
            (1_000_000, 100_000, 64, 1000),
        ] {
            let rate = Rate { bytes, usec };
            let got = measure(rate, size, Duration::from_micros(step_us), 2);
            let want = rate.bytes_per_sec();
            assert!((got - want).abs() <= want / 10.0, "{rate}: {got} B/s");
        }
    }

    #[test]
    fn a_packet_larger_than_a_period_waits_but_goes() {
        let rate = Rate {
            bytes: 1000,
            usec: 1000,
        };
        let mut c = Credit::new(rate, Duration::ZERO);
        let mut now = Duration::ZERO;
        let mut waited = 0;
        while !c.ready(65_535, now) {
            now += Duration::from_micros(100);
            waited += 1;
            assert!(waited < 10_000, "starved");
        }
        // 65 periods of credit are needed.
        assert!(now >= Duration::from_millis(64), "{now:?}");
    }
}
