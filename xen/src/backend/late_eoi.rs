//! The frontend's notifications, consumed late and at a bounded rate (XSA-332): the
//! equivalent of netback's `xen_irq_lateeoi` for a backend that polls its rings and
//! never needs an event to find work.
//!
//! The control thread services each bound port now and then
//! ([`Netback::service_events`](super::Netback::service_events)): one read consumes
//! every notification since the last (however many a guest sent), the event is
//! counted, and only then is the port unmasked (the late EOI). An event after which the
//! rings it signals made no progress is spurious, as netback tells its kernel with
//! `XEN_EOI_FLAG_SPURIOUS`; like Linux's event core, the port then stays masked (no
//! delivery, no wakeup) for a delay that doubles with each further spurious event, up
//! to [`MAX_DELAY`], and an event with progress resets it. So a guest that
//! notifies in a tight loop costs the backend one read per backoff period and no
//! memory, and one that behaves costs one read per service.
//!
//! Must never: read a port more than once per service, or keep anything per event.

use std::sync::Arc;
use std::time::Duration;

use super::stats::QueueCounters;
use crate::platform::EventChannel;

/// Longest a port stays unread after spurious events (Linux's lateeoi cap, `HZ`).
pub const MAX_DELAY: Duration = Duration::from_secs(1);

/// One bound port of a queue, as the control thread serves it.
#[derive(Debug)]
pub(crate) struct LateEoi<C> {
    ch: Arc<C>,
    /// The progress of the rings this port signals at the last event.
    last_progress: u64,
    /// Spurious events in a row.
    spurious_run: u32,
    /// Left masked (its EOI deferred) until this time.
    masked_until: Duration,
    /// The EOI of the last event is still due.
    eoi_due: bool,
}

impl<C: EventChannel> LateEoi<C> {
    pub fn new(ch: Arc<C>) -> Self {
        Self {
            ch,
            last_progress: 0,
            spurious_run: 0,
            masked_until: Duration::ZERO,
            eoi_due: false,
        }
    }

    /// Consumes the pending notifications at `now`, `progress` summing up the
    /// requests its rings' bursts have seen.
    pub fn service(&mut self, now: Duration, progress: u64, stats: &QueueCounters) {
        if now < self.masked_until {
            return;
        }
        // Failures below are the port going away with the connection: nothing to do.
        if self.eoi_due {
            self.eoi_due = false;
            let _ = self.ch.unmask();
        }
        if !matches!(self.ch.pending(), Ok(true)) {
            return;
        }
        stats.evtchn_events.add(1);
        if progress == self.last_progress {
            stats.evtchn_spurious.add(1);
            self.spurious_run = self.spurious_run.saturating_add(1);
            let delay = Duration::from_millis(1) * (1 << self.spurious_run.min(11)) / 2;
            self.masked_until = now + delay.min(MAX_DELAY);
            self.eoi_due = true;
        } else {
            self.spurious_run = 0;
            let _ = self.ch.unmask();
        }
        self.last_progress = progress;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::{EvtchnError, Port};
    use std::os::fd::{AsFd, BorrowedFd};
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A port whose pending count a test sets.
    #[derive(Debug)]
    struct Fake(AtomicU64, std::fs::File);

    impl AsFd for Fake {
        fn as_fd(&self) -> BorrowedFd<'_> {
            self.1.as_fd()
        }
    }

    impl EventChannel for Fake {
        fn port(&self) -> Port {
            Port(1)
        }
        fn notify(&self) -> Result<(), EvtchnError> {
            self.0.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
        fn pending(&self) -> Result<bool, EvtchnError> {
            Ok(self.0.swap(0, Ordering::Relaxed) != 0)
        }
        fn wait(&self, _: Option<Duration>) -> Result<bool, EvtchnError> {
            self.pending()
        }
        fn unmask(&self) -> Result<(), EvtchnError> {
            Ok(())
        }
    }

    #[test]
    fn a_storm_backs_off_and_progress_resets_it() {
        let ch = Arc::new(Fake(
            AtomicU64::new(0),
            std::fs::File::open("/dev/null").unwrap(),
        ));
        let mut g = LateEoi::new(Arc::clone(&ch));
        let stats = QueueCounters::default();
        // A guest notifying every microsecond for 10 s, serviced every millisecond.
        let mut now = Duration::ZERO;
        while now < Duration::from_secs(10) {
            for _ in 0..1000 {
                ch.notify().unwrap();
            }
            g.service(now, 0, &stats);
            now += Duration::from_millis(1);
        }
        let (events, spurious) = (stats.evtchn_events.get(), stats.evtchn_spurious.get());
        assert_eq!(events, spurious);
        // Backoff to one read a second: 10 doublings, then about one a second.
        assert!((10..=30).contains(&events), "{events} reads");
        // Work resets the backoff.
        now += MAX_DELAY;
        ch.notify().unwrap();
        g.service(now, 1, &stats);
        assert_eq!(stats.evtchn_spurious.get(), spurious);
        ch.notify().unwrap();
        g.service(now + Duration::from_micros(1), 2, &stats);
        assert_eq!(stats.evtchn_events.get(), events + 2);
    }
}
