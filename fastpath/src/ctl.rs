//! Control-plane changes reaching a running lcore with no lock on its fast path.
//!
//! This replaces DPDK's `allow_queuing`/`while_queuing` flag pair (a Dekker-style handshake
//! with no StoreLoad fence) with a generation number and an acknowledgement:
//!
//! 1. The control side pushes a command into the mailbox (a `Mutex<Vec>`), then bumps
//!    the requested [`Generation`].
//! 2. The lcore loads the requested generation once per round. Only when it differs from
//!    the last one it served does it take the mutex, drain and apply every command (between
//!    rounds, so no task is inside `poll`), and publish that generation as acknowledged.
//! 3. The control side waits for the acknowledgement before it returns to its caller, so
//!    once `add_task`/`remove_task` return the lcore has quiesced on the change: a removed
//!    task will not be polled again and whatever it referenced may be freed.
//!
//! # Orderings (the edges)
//!
//! - **C1 → L1**: the control side's `fetch_add(Release)` on the requested generation pairs
//!   with the lcore's `load(Acquire)`: a lcore that sees generation `g` also sees every
//!   command pushed before `g` was published (and the stop flag stored before it).
//! - **L2 → C2**: the lcore's `store(Release)` of the acknowledged generation pairs with the
//!   control side's `load(Acquire)`: everything the lcore did before acknowledging `g` (its
//!   last poll of a removed task, its switch to new state) happens before the control side
//!   goes on to free what the change retired.
//!
//! The mailbox mutex is only ever taken by the lcore after it has seen a new generation,
//! never in a round without a pending change.
//!
//! Must never: take a lock, allocate or block on the lcore unless the generation changed;
//! acknowledge a generation before every command published with it has been applied.

use std::fmt;
use std::mem;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Mutex, PoisonError};

use crossbeam_utils::CachePadded;

use crate::lcore::sched::{SchedError, Scheduler};
use crate::lcore::PollTask;

/// A change counter one side bumps and the other checks once per burst or round.
///
/// Cache-padded, because the reader polls it on every round while writers are rare.
pub struct Generation(CachePadded<AtomicU64>);

impl Generation {
    /// Starts at 0.
    pub const fn new() -> Self {
        Self(CachePadded::new(AtomicU64::new(0)))
    }

    /// The latest generation. Acquire: pairs with the Release of [`bump`](Self::bump), so
    /// whatever was written before the bump is visible after this load sees it.
    #[inline]
    pub fn load(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    /// Publishes a new generation and returns it. Release: everything written before this
    /// call is visible to a reader whose [`load`](Self::load) returns the new value (or a
    /// later one; concurrent bumps form one release sequence).
    #[inline]
    pub fn bump(&self) -> u64 {
        self.0.fetch_add(1, Ordering::Release) + 1
    }
}

impl Default for Generation {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Generation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Generation").field(&self.load()).finish()
    }
}

/// A change to a running lcore's task list.
pub(crate) enum Command {
    /// Start polling `task` with budget `weight`; the reply says whether it was accepted.
    AddTask {
        task: Box<dyn PollTask>,
        weight: u32,
        reply: SyncSender<Result<(), SchedError>>,
    },
    /// Stop polling the task named `name` and hand it back (or `None` if there is none).
    RemoveTask {
        name: String,
        reply: SyncSender<Option<Box<dyn PollTask>>>,
    },
}

/// The control block one lcore shares with its handle.
#[derive(Default)]
pub(crate) struct Control {
    requested: Generation,
    acked: CachePadded<AtomicU64>,
    stop: AtomicBool,
    mailbox: Mutex<Vec<Command>>,
}

impl Control {
    /// Control side: queues `cmd` and publishes it (C1). Returns the generation to wait for.
    pub(crate) fn post(&self, cmd: Command) -> u64 {
        // A poisoned mailbox only means a panic elsewhere while it was held; the Vec is
        // still valid.
        self.mailbox
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(cmd);
        self.requested.bump()
    }

    /// Control side: asks the lcore to leave its loop after serving the mailbox (C1 orders
    /// the Relaxed flag store before the lcore's read of it).
    pub(crate) fn post_stop(&self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.requested.bump()
    }

    /// Control side: true once the lcore acknowledged `generation` or a later one (C2).
    pub(crate) fn is_acked(&self, generation: u64) -> bool {
        // C2: pairs with the lcore's Release store in `serve` (L2).
        self.acked.load(Ordering::Acquire) >= generation
    }

    /// Lcore side, once per round: the requested generation if it differs from `seen` (L1).
    #[inline]
    pub(crate) fn changed(&self, seen: u64) -> Option<u64> {
        // L1: Acquire, pairs with the Release bump in `post`/`post_stop` (C1).
        let g = self.requested.load();
        (g != seen).then_some(g)
    }

    /// Lcore side, between rounds: applies every queued command to `sched`, acknowledges
    /// `generation` (L2), and returns whether the lcore must stop.
    #[cold]
    pub(crate) fn serve(&self, sched: &mut Scheduler, generation: u64) -> bool {
        let commands = mem::take(&mut *self.mailbox.lock().unwrap_or_else(PoisonError::into_inner));
        for cmd in commands {
            apply(sched, cmd);
        }
        // Relaxed: ordered after L1, which saw a generation bumped after the flag store.
        let stop = self.stop.load(Ordering::Relaxed);
        // L2: pairs with the control side's Acquire load in `is_acked` (C2). Every command
        // published up to `generation` was drained above (they were pushed before their
        // bump), and no task is being polled now.
        self.acked.store(generation, Ordering::Release);
        stop
    }
}

fn apply(sched: &mut Scheduler, cmd: Command) {
    match cmd {
        Command::AddTask {
            task,
            weight,
            reply,
        } => {
            // If the caller gave up waiting, the task is scheduled anyway and comes back
            // with the others from `LcoreHandle::stop`.
            let _ = reply.send(sched.add(task, weight));
        }
        Command::RemoveTask { name, reply } => {
            let Some((task, weight)) = sched.remove(&name) else {
                let _ = reply.send(None);
                return;
            };
            // A caller that gave up waiting never learns the task left; keep polling it
            // rather than drop its queues here.
            if let Err(back) = reply.send(Some(task)) {
                if let Some(task) = back.0 {
                    let _ = sched.add(task, weight);
                }
            }
        }
    }
}

impl fmt::Debug for Control {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Control")
            .field("requested", &self.requested.load())
            .field("acked", &self.acked.load(Ordering::Relaxed))
            .field("stop", &self.stop.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;
    use crate::lcore::FnTask;

    #[test]
    fn generation_counts_up() {
        let g = Generation::new();
        assert_eq!(g.load(), 0);
        assert_eq!(g.bump(), 1);
        assert_eq!(g.bump(), 2);
        assert_eq!(g.load(), 2);
    }

    #[test]
    fn serve_applies_then_acknowledges() {
        let ctl = Control::default();
        let mut sched = Scheduler::new();
        assert_eq!(ctl.changed(0), None);

        let (tx, rx) = mpsc::sync_channel(1);
        let g1 = ctl.post(Command::AddTask {
            task: FnTask::boxed("a", |_| 0),
            weight: 8,
            reply: tx,
        });
        assert!(!ctl.is_acked(g1));
        assert_eq!(ctl.changed(0), Some(g1));
        assert!(!ctl.serve(&mut sched, g1));
        assert!(ctl.is_acked(g1));
        assert_eq!(rx.recv().unwrap(), Ok(()));
        assert_eq!(sched.len(), 1);
        assert_eq!(ctl.changed(g1), None);

        // A removal whose caller gave up is not performed.
        let (tx, rx) = mpsc::sync_channel(1);
        let g2 = ctl.post(Command::RemoveTask {
            name: "a".into(),
            reply: tx,
        });
        drop(rx);
        assert!(!ctl.serve(&mut sched, g2));
        assert_eq!(sched.len(), 1);

        let g3 = ctl.post_stop();
        assert_eq!(ctl.changed(g2), Some(g3));
        assert!(ctl.serve(&mut sched, g3));
    }
}
