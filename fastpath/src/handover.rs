//! `Handover<T>`: a control thread replaces the state a data-path queue works with (a
//! vring, after a memory-table update or a `GET_VRING_BASE`) and learns when no burst can
//! still be using the old one, with no lock on the fast path.
//!
//! The data path brackets every burst with [`Reader::enter`] and [`Reader::exit`]. `enter`
//! sets a busy flag and reads a generation; only when the generation changed does it
//! take the mutex to pick up the new state. The control side stores the new state, bumps
//! the generation and waits while the busy flag is set. This is the Dekker handshake
//! DPDK's net_vhost attempts with `allow_queuing`/`while_queuing`, done with the StoreLoad
//! barriers it lacks. They are asymmetric ([`crate::membarrier`]): per burst the reader
//! pays a compiler barrier, and the rare control side forces a full barrier on every
//! thread with `membarrier(2)` (SeqCst fences on both sides where that is unavailable).
//!
//! `exit` publishes a 64-bit report (a vring's next avail and used indexes), so
//! [`Handover::stop`] returns the final position of a ring that is not polled at all.
//!
//! # Orderings (the edges)
//! - **F1 / F2** (StoreLoad barriers, `membarrier::fast` / `membarrier::slow`): reader
//!   `busy = true; F1; load gen` against control `gen += 1; F2; load busy`. At least one
//!   side sees the other's store: either the reader sees the new generation before
//!   touching the old state, or the control side sees the reader busy and waits.
//! - **R1 → A1**: the reader's Release store `busy = false` (after its report) pairs with
//!   the control side's Acquire load, so the report and every access of the burst happen
//!   before `stop` returns.
//! - The state itself passes through the mutex, which orders it.
//!
//! Must never: lock or allocate on the reader unless the generation changed; let `stop`
//! return while a burst that started with the old state is running.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crossbeam_utils::{Backoff, CachePadded};

use crate::membarrier;

/// The shared half: owned by the control side, referenced by one [`Reader`].
#[derive(Debug)]
pub struct Handover<T> {
    gen: CachePadded<AtomicU64>,
    busy: CachePadded<AtomicBool>,
    report: AtomicU64,
    next: Mutex<Option<T>>,
}

/// The data-path half: the state in use, and the generation it came with.
#[derive(Debug)]
pub struct Reader<T> {
    shared: Arc<Handover<T>>,
    seen: u64,
    current: Option<T>,
}

/// A new handover with no state, and its reader.
pub fn handover<T: Send>() -> (Arc<Handover<T>>, Reader<T>) {
    membarrier::init();
    let shared = Arc::new(Handover {
        gen: CachePadded::new(AtomicU64::new(0)),
        busy: CachePadded::new(AtomicBool::new(false)),
        report: AtomicU64::new(0),
        next: Mutex::new(None),
    });
    let reader = Reader {
        shared: Arc::clone(&shared),
        seen: 0,
        current: None,
    };
    (shared, reader)
}

impl<T> Handover<T> {
    fn replace(&self, state: Option<T>) {
        *self.next.lock().unwrap_or_else(PoisonError::into_inner) = state;
        self.gen.fetch_add(1, Ordering::Relaxed);
        membarrier::slow(); // F2
        let backoff = Backoff::new();
        // A1: pairs with R1.
        while self.busy.load(Ordering::Acquire) {
            backoff.snooze();
        }
    }

    /// Hands the reader `state`, whose position report starts at `report`.
    pub fn start(&self, state: T, report: u64) {
        self.report.store(report, Ordering::Relaxed);
        self.replace(Some(state));
    }

    /// Takes the state away from the reader; returns once no burst can be using it, with
    /// the report of the last burst that did (or the `start` report if none ran).
    pub fn stop(&self) -> u64 {
        self.replace(None);
        self.report.load(Ordering::Relaxed)
    }

    /// The last report (racy while the reader runs; exact after [`stop`](Self::stop)).
    pub fn report(&self) -> u64 {
        self.report.load(Ordering::Relaxed)
    }
}

impl<T> Reader<T> {
    /// Starts a burst: the current state, picking up a new one if the control side
    /// replaced it. `None` means there is nothing to work on (stopped or never started).
    #[inline]
    pub fn enter(&mut self) -> Option<&mut T> {
        let s = &*self.shared;
        s.busy.store(true, Ordering::Relaxed);
        membarrier::fast(); // F1
        let g = s.gen.load(Ordering::Relaxed);
        if g != self.seen {
            self.seen = g;
            self.current = s.next.lock().unwrap_or_else(PoisonError::into_inner).take();
        }
        self.current.as_mut()
    }

    /// The state of the burst in progress (what the last [`enter`](Self::enter) returned).
    #[inline]
    pub fn current(&self) -> Option<&T> {
        self.current.as_ref()
    }

    /// Ends a burst that had state, publishing its position.
    #[inline]
    pub fn exit(&self, report: u64) {
        self.shared.report.store(report, Ordering::Relaxed);
        self.shared.busy.store(false, Ordering::Release); // R1
    }

    /// Ends a burst that found no state.
    #[inline]
    pub fn exit_idle(&self) {
        self.shared.busy.store(false, Ordering::Release); // R1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn reader_sees_start_and_stop() {
        let (h, mut r) = handover::<u32>();
        assert!(r.enter().is_none());
        r.exit_idle();
        h.start(7, 100);
        assert_eq!(r.enter().copied(), Some(7));
        assert_eq!(r.current(), Some(&7));
        r.exit(101);
        assert_eq!(h.stop(), 101);
        assert!(r.enter().is_none());
        r.exit_idle();
        h.start(8, 5);
        assert_eq!(
            h.stop(),
            5,
            "a ring never polled reports its start position"
        );
    }

    /// A ring position; `live` (below) counts the bursts running on one.
    struct Ring {
        pos: u64,
    }

    #[test]
    fn stop_never_returns_while_a_burst_uses_the_old_state() {
        let (h, mut r) = handover::<Ring>();
        let live = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(AtomicBool::new(false));
        let (l2, d2) = (Arc::clone(&live), Arc::clone(&done));
        let t = std::thread::spawn(move || {
            let mut bursts = 0u64;
            while !d2.load(Ordering::Relaxed) {
                match r.enter() {
                    Some(ring) => {
                        l2.fetch_add(1, Ordering::SeqCst);
                        ring.pos += 1;
                        bursts += 1;
                        std::hint::spin_loop();
                        l2.fetch_sub(1, Ordering::SeqCst);
                        let pos = ring.pos;
                        r.exit(pos);
                    }
                    None => r.exit_idle(),
                }
            }
            bursts
        });
        let mut pos = 0;
        for _ in 0..2000 {
            h.start(Ring { pos }, pos);
            let stopped = h.stop();
            assert_eq!(live.load(Ordering::SeqCst), 0, "a burst outlived stop()");
            assert!(stopped >= pos);
            pos = stopped;
        }
        done.store(true, Ordering::Relaxed);
        let bursts = t.join().unwrap();
        assert_eq!(pos, bursts, "every burst's position was handed back");
    }
}
