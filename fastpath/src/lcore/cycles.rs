//! Cycle accounting for lcores: a cheap time-stamp counter read, its calibrated frequency,
//! and the per-lcore busy/idle counters behind [`LcoreStats`] (OVS's `pmd-stats-show`).
//!
//! On x86_64 the counter is the TSC (`rdtsc`, invariant on every CPU vpmd targets); elsewhere
//! it is nanoseconds since a process-wide epoch, so "cycles" are nanoseconds and
//! [`tsc_hz`] is 1 GHz. The counters are written by their lcore only, with Relaxed stores
//! (no read-modify-write), and read by anyone at any time.
//!
//! Must never: block or make a syscall in [`rdtsc`]; [`tsc_hz`] sleeps once (~20 ms) on its
//! first call, so call it off the fast path.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Reads the time-stamp counter: a monotonic-enough cycle count for accounting (not
/// serialising, not for wall-clock time).
#[inline(always)]
pub fn rdtsc() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: `rdtsc` has no preconditions and exists on every x86_64 CPU; it reads a
        // counter and touches no memory.
        unsafe { core::arch::x86_64::_rdtsc() }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        epoch().elapsed().as_nanos() as u64
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Counter ticks per second, measured once against the monotonic clock on first use.
pub fn tsc_hz() -> u64 {
    static HZ: OnceLock<u64> = OnceLock::new();
    *HZ.get_or_init(calibrate)
}

fn calibrate() -> u64 {
    if cfg!(not(target_arch = "x86_64")) {
        return 1_000_000_000;
    }
    let t0 = Instant::now();
    let c0 = rdtsc();
    std::thread::sleep(Duration::from_millis(20));
    let c1 = rdtsc();
    let secs = t0.elapsed().as_secs_f64();
    ((c1.wrapping_sub(c0)) as f64 / secs).max(1.0) as u64
}

/// Converts a tick count into time, using [`tsc_hz`].
pub fn cycles_to_duration(cycles: u64) -> Duration {
    Duration::from_secs_f64(cycles as f64 / tsc_hz() as f64)
}

/// A snapshot of one lcore's counters, as `ovs-appctl dpif-netdev/pmd-stats-show` prints
/// them. The fields are read one by one, so a snapshot taken while the lcore runs may mix
/// two adjacent rounds; each field on its own only grows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LcoreStats {
    /// The lcore these counters belong to.
    pub lcore_id: u32,
    /// Ticks spent in rounds in which some task did work.
    pub busy_cycles: u64,
    /// Ticks spent in rounds in which no task did work, including idle-policy waits.
    pub idle_cycles: u64,
    /// Scheduling rounds run (each polls every task once).
    pub iterations: u64,
    /// Work units (packets) the tasks reported.
    pub packets: u64,
}

impl LcoreStats {
    /// Busy plus idle ticks.
    pub fn total_cycles(&self) -> u64 {
        self.busy_cycles + self.idle_cycles
    }

    /// Share of ticks spent in busy rounds, in percent (0 before the first round).
    pub fn busy_percent(&self) -> f64 {
        match self.total_cycles() {
            0 => 0.0,
            total => self.busy_cycles as f64 * 100.0 / total as f64,
        }
    }

    /// Busy ticks per packet, or `None` before the first packet (OVS's
    /// "avg processing cycles per packet").
    pub fn cycles_per_packet(&self) -> Option<f64> {
        (self.packets > 0).then(|| self.busy_cycles as f64 / self.packets as f64)
    }

    /// The counters accumulated since `earlier` (for per-interval reports).
    pub fn since(&self, earlier: &LcoreStats) -> LcoreStats {
        LcoreStats {
            lcore_id: self.lcore_id,
            busy_cycles: self.busy_cycles.saturating_sub(earlier.busy_cycles),
            idle_cycles: self.idle_cycles.saturating_sub(earlier.idle_cycles),
            iterations: self.iterations.saturating_sub(earlier.iterations),
            packets: self.packets.saturating_sub(earlier.packets),
        }
    }
}

/// The shared cells behind [`LcoreStats`]; one writer (the lcore), any number of readers.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    busy_cycles: AtomicU64,
    idle_cycles: AtomicU64,
    iterations: AtomicU64,
    packets: AtomicU64,
}

impl Counters {
    pub(crate) fn snapshot(&self, lcore_id: u32) -> LcoreStats {
        // Relaxed: each cell is an independent monotonic count; no other data is read on
        // the strength of these values.
        LcoreStats {
            lcore_id,
            busy_cycles: self.busy_cycles.load(Ordering::Relaxed),
            idle_cycles: self.idle_cycles.load(Ordering::Relaxed),
            iterations: self.iterations.load(Ordering::Relaxed),
            packets: self.packets.load(Ordering::Relaxed),
        }
    }
}

/// The owner's private running totals, published to [`Counters`] with plain Relaxed stores.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    busy_cycles: u64,
    idle_cycles: u64,
    iterations: u64,
    packets: u64,
}

impl Tally {
    /// Accounts one round that did `work` units in `cycles` ticks, and publishes it.
    #[inline]
    pub(crate) fn round(&mut self, out: &Counters, cycles: u64, work: u64) {
        self.iterations += 1;
        // Relaxed stores, no RMW: the lcore is the only writer (see `Counters::snapshot`).
        out.iterations.store(self.iterations, Ordering::Relaxed);
        if work > 0 {
            self.busy_cycles += cycles;
            self.packets += work;
            out.busy_cycles.store(self.busy_cycles, Ordering::Relaxed);
            out.packets.store(self.packets, Ordering::Relaxed);
        } else {
            self.idle(out, cycles);
        }
    }

    /// Accounts `cycles` idle ticks (an idle round, or an idle-policy wait after it).
    #[inline]
    pub(crate) fn idle(&mut self, out: &Counters, cycles: u64) {
        self.idle_cycles += cycles;
        out.idle_cycles.store(self.idle_cycles, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_moves_and_frequency_is_plausible() {
        let a = rdtsc();
        std::thread::sleep(Duration::from_millis(2));
        let b = rdtsc();
        assert!(b > a);
        let hz = tsc_hz();
        assert!((100_000_000..20_000_000_000).contains(&hz), "tsc_hz = {hz}");
        let d = cycles_to_duration(hz / 2);
        assert!((Duration::from_millis(450)..Duration::from_millis(550)).contains(&d));
    }

    #[test]
    fn stats_helpers() {
        let s = LcoreStats {
            lcore_id: 3,
            busy_cycles: 300,
            idle_cycles: 100,
            iterations: 10,
            packets: 30,
        };
        assert_eq!(s.busy_percent(), 75.0);
        assert_eq!(s.cycles_per_packet(), Some(10.0));
        assert_eq!(LcoreStats::default().busy_percent(), 0.0);
        assert_eq!(LcoreStats::default().cycles_per_packet(), None);
        let d = s.since(&LcoreStats {
            busy_cycles: 100,
            packets: 10,
            ..s
        });
        assert_eq!((d.busy_cycles, d.packets, d.idle_cycles), (200, 20, 0));
    }

    #[test]
    fn tally_publishes_totals() {
        let c = Counters::default();
        let mut t = Tally::default();
        t.round(&c, 50, 4);
        t.round(&c, 20, 0);
        t.idle(&c, 5);
        let s = c.snapshot(1);
        assert_eq!(
            (s.busy_cycles, s.idle_cycles, s.iterations, s.packets),
            (50, 25, 2, 4)
        );
    }
}
