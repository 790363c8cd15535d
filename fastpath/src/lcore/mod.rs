//! The lcore runtime: one thread per lcore, pinned to one CPU, polling its tasks until
//! stopped, as DPDK's EAL lcores and OVS's PMD threads do.
//!
//! [`Lcore::spawn`] starts a thread named after the lcore (`vpmd-lcore-<id>` by default),
//! pins it with `core_affinity`, claims its lcore id with [`LcoreGuard::claim`] (the
//! mempool's per-lcore caches key on it), and reports any failure of those steps back to
//! the caller. The thread then runs rounds: check the control [`Generation`] (one Acquire
//! load), poll every task once with its weight as budget ([`Scheduler`]), account the round's
//! ticks as busy or idle ([`LcoreStats`]), and apply the [`IdlePolicy`] if nothing was done.
//!
//! Control-plane changes ([`LcoreHandle::add_task`], [`LcoreHandle::remove_task`], stop)
//! go through [`crate::ctl`] and are acknowledged before the call returns.
//! [`LcoreHandle::stop`] returns the tasks so the caller gets its queues back; a panic in a
//! task ends the lcore and `stop` reports it, naming the lcore and the task.
//!
//! Must never: lock, allocate, log or make a syscall in a round without a control change
//! (the idle policy's sleep is the one deliberate exception), or run two busy loops on one
//! CPU because of a config it did not check.
//!
//! [`Generation`]: crate::ctl::Generation
//! [`LcoreGuard::claim`]: vpmd_mempool::LcoreGuard::claim

#[allow(unsafe_code)]
mod cycles;
mod idle;
pub(crate) mod sched;
mod task;

pub use cycles::{cycles_to_duration, rdtsc, tsc_hz, LcoreStats};
pub use idle::IdlePolicy;
pub use sched::{SchedError, Scheduler, DEFAULT_WEIGHT};
pub use task::{FnTask, PollTask};

use std::any::Any;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;
use vpmd_mempool::lcore::ClaimError;
use vpmd_mempool::LcoreGuard;

use crate::ctl::{Command, Control};
use cycles::{Counters, Tally};
use idle::Idler;

/// Tasks with their weights, as [`Lcore::spawn`] takes them and [`LcoreHandle::stop`]
/// gives them back.
pub type TaskList = Vec<(Box<dyn PollTask>, u32)>;

/// How long a control call waits for the lcore's acknowledgement by default.
pub const DEFAULT_CTL_TIMEOUT: Duration = Duration::from_secs(1);

/// Where and how an lcore runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LcoreConfig {
    /// The CPU the thread is pinned to.
    pub cpu: usize,
    /// The lcore id the thread claims (unique among live threads).
    pub lcore_id: u32,
    /// What to do after a round without work.
    pub idle: IdlePolicy,
    /// The thread's name (Linux keeps its first 15 bytes).
    pub name: String,
}

impl LcoreConfig {
    /// Lcore `lcore_id` on `cpu`, busy-polling, named `vpmd-lcore-<lcore_id>`.
    pub fn new(cpu: usize, lcore_id: u32) -> Self {
        Self {
            cpu,
            lcore_id,
            idle: IdlePolicy::default(),
            name: format!("vpmd-lcore-{lcore_id}"),
        }
    }

    /// The same with idle policy `idle`.
    pub fn with_idle(mut self, idle: IdlePolicy) -> Self {
        self.idle = idle;
        self
    }
}

/// What went wrong with an lcore. Every variant names the lcore.
#[derive(Debug, thiserror::Error)]
pub enum LcoreError {
    /// The thread could not be pinned to its CPU.
    #[error("lcore {lcore}: cannot pin its thread to CPU {cpu}")]
    Pin {
        /// The lcore id.
        lcore: u32,
        /// The CPU asked for.
        cpu: usize,
    },
    /// The lcore id could not be claimed.
    #[error("lcore {lcore}: cannot claim the lcore id: {source}")]
    Claim {
        /// The lcore id.
        lcore: u32,
        /// Why the claim failed.
        source: ClaimError,
    },
    /// The OS refused to start the thread.
    #[error("lcore {lcore}: cannot start its thread: {source}")]
    Spawn {
        /// The lcore id.
        lcore: u32,
        /// The OS error.
        source: std::io::Error,
    },
    /// A task was refused (zero weight or duplicate name); the refused task was dropped.
    #[error("lcore {lcore}: {source}")]
    Task {
        /// The lcore id.
        lcore: u32,
        /// Why the task was refused.
        source: SchedError,
    },
    /// The lcore's thread panicked; its tasks were dropped.
    #[error(
        "lcore {lcore}: {} panicked: {message}",
        .task.as_deref().map_or_else(|| "the lcore loop".to_owned(), |t| format!("task {t:?}"))
    )]
    Panicked {
        /// The lcore id.
        lcore: u32,
        /// The task being polled when it panicked, if any.
        task: Option<String>,
        /// The panic message.
        message: String,
    },
    /// The lcore did not acknowledge a control change in time. The change stays queued and
    /// takes effect when the lcore next checks.
    #[error(
        "lcore {lcore}: no acknowledgement of control generation {generation} within {timeout:?}"
    )]
    CtlTimeout {
        /// The lcore id.
        lcore: u32,
        /// The generation that was not acknowledged.
        generation: u64,
        /// How long the caller waited.
        timeout: Duration,
    },
    /// The lcore's thread has ended (it panicked); `stop` reports why.
    #[error("lcore {lcore}: not running")]
    NotRunning {
        /// The lcore id.
        lcore: u32,
    },
}

/// What the lcore thread and its handle share.
#[derive(Debug, Default)]
struct Shared {
    ctl: Control,
    counters: CachePadded<Counters>,
}

/// The CPUs this process may run on (its affinity mask), ascending. Call it before any
/// thread of the process pins itself.
pub fn online_cpus() -> Vec<usize> {
    let mut v: Vec<usize> = core_affinity::get_core_ids()
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.id)
        .collect();
    v.sort_unstable();
    v
}

/// Starts lcores.
#[derive(Debug)]
pub struct Lcore;

impl Lcore {
    /// Starts lcore `cfg.lcore_id` on `cfg.cpu`, polling `tasks` (each with its weight).
    ///
    /// Returns once the thread is pinned and has claimed its lcore id, or with the error
    /// that stopped it. Tasks are refused if a weight is 0 or two names are equal. On
    /// error the tasks are dropped.
    pub fn spawn(cfg: LcoreConfig, tasks: TaskList) -> Result<LcoreHandle, LcoreError> {
        let lcore = cfg.lcore_id;
        // `core_affinity` aborts the process (a non-unwinding panic in `CPU_SET`) on a CPU
        // number outside the kernel's `cpu_set_t`; refuse it here instead.
        if cfg.cpu >= libc::CPU_SETSIZE as usize {
            return Err(LcoreError::Pin {
                lcore,
                cpu: cfg.cpu,
            });
        }
        if cfg.name.contains('\0') {
            // `thread::Builder` would panic on it.
            return Err(LcoreError::Spawn {
                lcore,
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "thread name contains a NUL byte",
                ),
            });
        }
        let sched =
            Scheduler::with_tasks(tasks).map_err(|source| LcoreError::Task { lcore, source })?;
        let shared = Arc::new(Shared::default());
        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let cpu = cfg.cpu;
        let name = cfg.name.clone();
        let thread = thread::Builder::new()
            .name(cfg.name.clone())
            .spawn({
                let shared = Arc::clone(&shared);
                move || lcore_main(cfg, sched, &shared, ready_tx)
            })
            .map_err(|source| LcoreError::Spawn { lcore, source })?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(LcoreHandle {
                shared,
                thread: Some(thread),
                lcore_id: lcore,
                cpu,
                name,
                ctl_timeout: DEFAULT_CTL_TIMEOUT,
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            // The thread ended without reporting: it panicked while starting.
            Err(_) => Err(match thread.join() {
                Err(payload) => LcoreError::Panicked {
                    lcore,
                    task: None,
                    message: panic_message(payload.as_ref()),
                },
                Ok(Err(e)) => e,
                Ok(Ok(_)) => LcoreError::NotRunning { lcore },
            }),
        }
    }
}

/// The lcore thread: pin, claim, report, poll until stopped.
fn lcore_main(
    cfg: LcoreConfig,
    mut sched: Scheduler,
    shared: &Shared,
    ready: mpsc::SyncSender<Result<(), LcoreError>>,
) -> Result<TaskList, LcoreError> {
    let lcore = cfg.lcore_id;
    if !core_affinity::set_for_current(core_affinity::CoreId { id: cfg.cpu }) {
        let _ = ready.send(Err(LcoreError::Pin {
            lcore,
            cpu: cfg.cpu,
        }));
        return Ok(sched.into_tasks());
    }
    let guard = match LcoreGuard::claim(lcore) {
        Ok(guard) => guard,
        Err(source) => {
            let _ = ready.send(Err(LcoreError::Claim { lcore, source }));
            return Ok(sched.into_tasks());
        }
    };
    let _ = ready.send(Ok(()));
    drop(ready);

    let run = panic::catch_unwind(AssertUnwindSafe(|| poll_loop(shared, &mut sched, cfg.idle)));
    drop(guard);
    match run {
        Ok(()) => Ok(sched.into_tasks()),
        Err(payload) => Err(LcoreError::Panicked {
            lcore,
            task: sched.polling().map(str::to_owned),
            message: panic_message(payload.as_ref()),
        }),
    }
}

/// The rounds. One Acquire load of the control generation, one `poll` per task, one
/// `rdtsc` and a few Relaxed counter stores per round; more only when idle or on a change.
fn poll_loop(shared: &Shared, sched: &mut Scheduler, policy: IdlePolicy) {
    let ctl = &shared.ctl;
    let counters: &Counters = &shared.counters;
    let mut idler = Idler::new(policy);
    let mut tally = Tally::default();
    let mut seen = 0;
    let mut last = rdtsc();
    loop {
        if let Some(generation) = ctl.changed(seen) {
            seen = generation;
            if ctl.serve(sched, generation) {
                return;
            }
        }
        let work = sched.run_round();
        let now = rdtsc();
        tally.round(counters, now.wrapping_sub(last), work);
        last = now;
        if work > 0 {
            idler.worked();
        } else if idler.waits() {
            idler.idle();
            let now = rdtsc();
            tally.idle(counters, now.wrapping_sub(last));
            last = now;
        }
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-string panic payload)".to_owned()
    }
}

/// A running lcore. Dropping it stops the lcore (and drops its tasks); use
/// [`stop`](Self::stop) to get the tasks back.
pub struct LcoreHandle {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<Result<TaskList, LcoreError>>>,
    lcore_id: u32,
    cpu: usize,
    name: String,
    ctl_timeout: Duration,
}

impl LcoreHandle {
    /// The lcore id.
    pub fn lcore_id(&self) -> u32 {
        self.lcore_id
    }

    /// The CPU the lcore is pinned to.
    pub fn cpu(&self) -> usize {
        self.cpu
    }

    /// The thread's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A snapshot of the lcore's counters (never blocks the lcore).
    pub fn stats(&self) -> LcoreStats {
        self.shared.counters.snapshot(self.lcore_id)
    }

    /// False once the lcore's thread has ended (after a panic).
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Sets how long [`add_task`](Self::add_task) and [`remove_task`](Self::remove_task)
    /// wait for the lcore (default [`DEFAULT_CTL_TIMEOUT`]).
    pub fn set_ctl_timeout(&mut self, timeout: Duration) {
        self.ctl_timeout = timeout;
    }

    /// Adds `task` to the running lcore with budget `weight` per round, and returns once
    /// the lcore has applied the change. A refused task (zero weight, duplicate name) is
    /// dropped. After a timeout the task is still added when the lcore gets to it.
    pub fn add_task(&self, task: Box<dyn PollTask>, weight: u32) -> Result<(), LcoreError> {
        let lcore = self.lcore_id;
        if weight == 0 {
            let task = task.name().to_owned();
            return Err(LcoreError::Task {
                lcore,
                source: SchedError::ZeroWeight { task },
            });
        }
        let (reply, answer) = mpsc::sync_channel(1);
        let generation = self.post(Command::AddTask {
            task,
            weight,
            reply,
        })?;
        let deadline = Instant::now() + self.ctl_timeout;
        self.wait_reply(&answer, generation, deadline)?
            .map_err(|source| LcoreError::Task { lcore, source })?;
        self.wait_ack(generation, deadline)
    }

    /// Takes the task named `name` off the running lcore and returns it, or `None` if the
    /// lcore has no such task. Once this returns, the lcore will not poll the task again,
    /// so its queues may be freed. After a timeout the removal was not done, or is done
    /// late: the lcore then keeps polling the task if it finds the caller gone, or the task
    /// is dropped (here, not on the lcore) if the reply crossed the timeout.
    pub fn remove_task(&self, name: &str) -> Result<Option<Box<dyn PollTask>>, LcoreError> {
        let (reply, answer) = mpsc::sync_channel(1);
        let generation = self.post(Command::RemoveTask {
            name: name.to_owned(),
            reply,
        })?;
        let deadline = Instant::now() + self.ctl_timeout;
        let task = self.wait_reply(&answer, generation, deadline)?;
        self.wait_ack(generation, deadline)?;
        Ok(task)
    }

    /// Stops the lcore, waits for its thread, and returns its tasks with their weights.
    /// If a task panicked, returns [`LcoreError::Panicked`] naming the lcore and the task.
    ///
    /// Commands queued before the stop are applied first, so a task whose `add_task`
    /// timed out comes back here too. A task stuck inside `poll` (one that blocks,
    /// breaking the [`PollTask`] contract) cannot be preempted and blocks this call.
    pub fn stop(mut self) -> Result<TaskList, LcoreError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<TaskList, LcoreError> {
        let Some(thread) = self.thread.take() else {
            return Ok(Vec::new());
        };
        self.shared.ctl.post_stop();
        // Cut an idle-policy sleep short.
        thread.thread().unpark();
        match thread.join() {
            Ok(exit) => exit,
            // A panic outside `catch_unwind` (a task's destructor, say).
            Err(payload) => Err(LcoreError::Panicked {
                lcore: self.lcore_id,
                task: None,
                message: panic_message(payload.as_ref()),
            }),
        }
    }

    fn post(&self, cmd: Command) -> Result<u64, LcoreError> {
        let thread = match &self.thread {
            Some(t) if !t.is_finished() => t,
            _ => {
                return Err(LcoreError::NotRunning {
                    lcore: self.lcore_id,
                })
            }
        };
        let generation = self.shared.ctl.post(cmd);
        thread.thread().unpark();
        Ok(generation)
    }

    fn timeout(&self, generation: u64) -> LcoreError {
        LcoreError::CtlTimeout {
            lcore: self.lcore_id,
            generation,
            timeout: self.ctl_timeout,
        }
    }

    fn wait_reply<R>(
        &self,
        answer: &Receiver<R>,
        generation: u64,
        deadline: Instant,
    ) -> Result<R, LcoreError> {
        const SLICE: Duration = Duration::from_millis(1);
        loop {
            match answer.recv_timeout(SLICE) {
                Ok(r) => return Ok(r),
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(LcoreError::NotRunning {
                        lcore: self.lcore_id,
                    })
                }
                Err(RecvTimeoutError::Timeout) if !self.is_running() => {
                    return Err(LcoreError::NotRunning {
                        lcore: self.lcore_id,
                    })
                }
                Err(RecvTimeoutError::Timeout) if Instant::now() >= deadline => {
                    // A last look: the reply may have landed since the slice ended.
                    return answer.try_recv().map_err(|_| self.timeout(generation));
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
    }

    fn wait_ack(&self, generation: u64, deadline: Instant) -> Result<(), LcoreError> {
        // The lcore acknowledges right after it replies, so this rarely spins at all.
        while !self.shared.ctl.is_acked(generation) {
            if !self.is_running() {
                return Err(LcoreError::NotRunning {
                    lcore: self.lcore_id,
                });
            }
            if Instant::now() >= deadline {
                return Err(self.timeout(generation));
            }
            thread::yield_now();
        }
        Ok(())
    }
}

impl Drop for LcoreHandle {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

impl fmt::Debug for LcoreHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LcoreHandle")
            .field("lcore_id", &self.lcore_id)
            .field("cpu", &self.cpu)
            .field("name", &self.name)
            .field("running", &self.is_running())
            .finish_non_exhaustive()
    }
}
