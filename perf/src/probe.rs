//! The latency prober and the traffic generator, on vpmd's own vhost-user front-end
//! ([`vpmd_vhost::vuser`]), busy-polling on the calling thread (pin it first).
//!
//! The prober sends probe frames at a fixed offered rate to a back-end that loops them
//! back and records each round trip in an HDR histogram (nanoseconds). Each frame is
//! stamped with the time it was *due*, not the time it left: a sender that falls behind
//! (a full ring, a preempted core) shows up as latency instead of being silently left
//! out (coordinated omission). Frames sent during the warm-up are not recorded.

use std::time::Duration;

use anyhow::{ensure, Result};
use hdrhistogram::Histogram;
use vpmd_fastpath::lcore::{rdtsc, tsc_hz};
use vpmd_vhost::vuser::Vuser;

/// Most frames sent at once (a late sender catches up in bursts of this).
const BURST: u16 = 32;
/// How long the prober waits for the last frames after it stopped sending.
const DRAIN: Duration = Duration::from_millis(200);
/// Largest round trip the histogram tracks exactly (longer ones count as this).
const MAX_RTT_NS: u64 = 10_000_000_000;

/// What one probing run saw after its warm-up.
#[derive(Debug)]
pub struct Probe {
    /// Round trips in nanoseconds.
    pub rtt_ns: Histogram<u64>,
    /// Probe frames sent.
    pub sent: u64,
    /// Of those, frames that came back.
    pub received: u64,
    /// Frames that came back after a later one.
    pub reordered: u64,
    /// Frames that came back without a probe record (the back-end's own).
    pub foreign: u64,
}

impl Probe {
    /// Frames that did not come back.
    pub fn lost(&self) -> u64 {
        self.sent.saturating_sub(self.received)
    }

    /// The round trip at quantile `q` (1.0: the longest), in microseconds.
    pub fn us(&self, q: f64) -> f64 {
        self.rtt_ns.value_at_quantile(q) as f64 / 1e3
    }
}

/// An empty round-trip histogram (ns, 3 significant digits).
pub fn rtt_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_RTT_NS, 3).expect("valid histogram bounds")
}

/// Sends probe frames at `rate_pps` for `warmup + measure` and times their round trips.
pub fn probe(v: &mut Vuser, rate_pps: f64, warmup: Duration, measure: Duration) -> Result<Probe> {
    ensure!(rate_pps > 0.0, "offered rate must be positive");
    let hz = tsc_hz() as f64;
    let period = hz / rate_pps;
    let (tx, rx) = v.queues();
    let seq0 = tx.next_seq();
    let warm = seq0 + (warmup.as_secs_f64() * rate_pps) as u64;
    let total = ((warmup + measure).as_secs_f64() * rate_pps) as u64;
    let t0 = rdtsc();
    let due = |seq: u64| t0 + ((seq - seq0) as f64 * period) as u64;
    let send_end = t0 + ((warmup + measure).as_secs_f64() * hz) as u64;
    let drain_end = send_end + (DRAIN.as_secs_f64() * hz) as u64;
    let foreign0 = rx.stats().foreign;
    let mut p = Probe {
        rtt_ns: rtt_histogram(),
        sent: 0,
        received: 0,
        reordered: 0,
        foreign: 0,
    };
    let mut next_seq = warm;
    let mut sent = 0u64;
    loop {
        let now = rdtsc();
        if now < send_end && sent < total {
            let due_now = (((now - t0) as f64 / period) as u64 + 1).min(total);
            if due_now > sent {
                let n = (due_now - sent).min(u64::from(BURST)) as u16;
                sent += u64::from(tx.send_stamped(n, due));
            }
        } else if p.received >= sent.saturating_sub(warm - seq0) || now >= drain_end {
            break;
        }
        rx.recv(|r| {
            let Some(s) = r.stamp else { return };
            if s.seq < warm {
                return;
            }
            let rtt = rdtsc().saturating_sub(s.tsc);
            p.rtt_ns
                .saturating_record(((rtt as f64 * 1e9 / hz) as u64).max(1));
            p.received += 1;
            if s.seq < next_seq {
                p.reordered += 1;
            } else {
                next_seq = s.seq + 1;
            }
        });
    }
    p.sent = sent.saturating_sub(warm - seq0);
    p.foreign = rx.stats().foreign - foreign0;
    ensure!(
        p.received > 0,
        "none of {} probe frames came back (is the back-end looping the port to itself?)",
        p.sent
    );
    Ok(p)
}

/// Sends frames as fast as the ring takes them for `dur` (and sinks anything that comes
/// back); returns the frames the back-end used per second, in Mpps.
pub fn generate(v: &mut Vuser, dur: Duration) -> f64 {
    let (tx, rx) = v.queues();
    let done0 = tx.stats().completed;
    let hz = tsc_hz() as f64;
    let t0 = rdtsc();
    let end = t0 + (dur.as_secs_f64() * hz) as u64;
    while rdtsc() < end {
        tx.send(BURST);
        rx.recv(|_| {});
    }
    tx.reclaim();
    let secs = (rdtsc() - t0) as f64 / hz;
    (tx.stats().completed - done0) as f64 / secs / 1e6
}

/// Receives (and drops) whatever the back-end sends for `warmup + measure`; returns the
/// frames received per second during `measure`, in Mpps.
pub fn sink(v: &mut Vuser, warmup: Duration, measure: Duration) -> f64 {
    let (_, rx) = v.queues();
    let hz = tsc_hz() as f64;
    let t0 = rdtsc();
    let start = t0 + (warmup.as_secs_f64() * hz) as u64;
    let end = start + (measure.as_secs_f64() * hz) as u64;
    while rdtsc() < start {
        rx.recv(|_| {});
    }
    let got0 = rx.stats().packets;
    let t1 = rdtsc();
    while rdtsc() < end {
        rx.recv(|_| {});
    }
    let secs = (rdtsc() - t1) as f64 / hz;
    (rx.stats().packets - got0) as f64 / secs / 1e6
}
