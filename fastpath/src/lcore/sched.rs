//! Weighted round-robin over one lcore's poll tasks.
//!
//! A round polls every task once, in order, each with its weight as the budget (vhost-net's
//! `VHOST_NET_WEIGHT` idea): a task that always has work gets `weight` packets per round and
//! then yields its turn, so it cannot starve a task with little work, and two busy tasks
//! share the core in the ratio of their weights. Task names are unique per scheduler.
//!
//! Must never: allocate, lock or log inside [`Scheduler::run_round`]; the only dynamic
//! dispatch is one `poll` call per task per round (per burst, never per packet).

use std::fmt;

use super::task::PollTask;

/// The budget per turn when the caller has no better idea (vhost-net polls 64 packets per
/// turn before it checks whether to yield).
pub const DEFAULT_WEIGHT: u32 = 64;

/// Why a task was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchedError {
    /// A weight of 0 would never poll the task.
    #[error("task {task:?}: weight must be at least 1")]
    ZeroWeight {
        /// The refused task's name.
        task: String,
    },
    /// Another task of this scheduler has the same name.
    #[error("task {task:?}: a task with this name is already scheduled")]
    DuplicateName {
        /// The refused task's name.
        task: String,
    },
}

struct Entry {
    task: Box<dyn PollTask>,
    weight: u32,
}

/// A list of tasks polled round-robin, each with its budget per turn.
pub struct Scheduler {
    entries: Vec<Entry>,
    /// The entry `run_round` is polling, [`IDLE`] between rounds: names the culprit of a
    /// panic that unwinds out of `poll`.
    polling: usize,
}

/// `Scheduler::polling` outside `run_round`.
const IDLE: usize = usize::MAX;

impl Scheduler {
    /// An empty scheduler.
    pub fn new() -> Self {
        Self {
            entries: Vec::new(),
            polling: IDLE,
        }
    }

    /// A scheduler over `tasks`, in order; refuses zero weights and duplicate names.
    pub fn with_tasks(tasks: Vec<(Box<dyn PollTask>, u32)>) -> Result<Self, SchedError> {
        let mut s = Self::new();
        s.entries.reserve(tasks.len());
        for (task, weight) in tasks {
            s.add(task, weight)?;
        }
        Ok(s)
    }

    /// Checks that `task` could be added with `weight`.
    pub fn check(&self, name: &str, weight: u32) -> Result<(), SchedError> {
        if weight == 0 {
            return Err(SchedError::ZeroWeight { task: name.into() });
        }
        if self.entries.iter().any(|e| e.task.name() == name) {
            return Err(SchedError::DuplicateName { task: name.into() });
        }
        Ok(())
    }

    /// Appends `task`, polled with budget `weight` each round. A refused task is dropped.
    pub fn add(&mut self, task: Box<dyn PollTask>, weight: u32) -> Result<(), SchedError> {
        self.check(task.name(), weight)?;
        self.entries.push(Entry { task, weight });
        Ok(())
    }

    /// Takes the task named `name` out of the rotation, with its weight.
    pub fn remove(&mut self, name: &str) -> Option<(Box<dyn PollTask>, u32)> {
        let i = self.entries.iter().position(|e| e.task.name() == name)?;
        let e = self.entries.remove(i);
        Some((e.task, e.weight))
    }

    /// Polls every task once with its weight as budget; returns the total work done.
    #[inline]
    pub fn run_round(&mut self) -> u64 {
        let mut work = 0u64;
        for i in 0..self.entries.len() {
            self.polling = i;
            let e = &mut self.entries[i];
            work += u64::from(e.task.poll(e.weight));
        }
        self.polling = IDLE;
        work
    }

    /// The task `run_round` is polling right now; after a panic unwound out of
    /// `run_round`, the task that panicked. `None` between rounds.
    pub fn polling(&self) -> Option<&str> {
        self.entries.get(self.polling).map(|e| e.task.name())
    }

    /// Number of tasks.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there is no task.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The task names and weights, in polling order.
    pub fn tasks(&self) -> impl Iterator<Item = (&str, u32)> + '_ {
        self.entries.iter().map(|e| (e.task.name(), e.weight))
    }

    /// Gives the tasks back, with their weights, in polling order.
    pub fn into_tasks(self) -> Vec<(Box<dyn PollTask>, u32)> {
        self.entries
            .into_iter()
            .map(|e| (e.task, e.weight))
            .collect()
    }
}

impl Default for Scheduler {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.tasks()).finish()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    use super::super::task::FnTask;
    use super::*;

    fn always_busy(name: &str, count: Arc<AtomicU64>) -> Box<dyn PollTask> {
        FnTask::boxed(name, move |budget| {
            count.fetch_add(u64::from(budget), Ordering::Relaxed);
            budget
        })
    }

    #[test]
    fn weights_split_the_work() {
        let (a, b) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let mut s = Scheduler::with_tasks(vec![
            (always_busy("a", a.clone()), DEFAULT_WEIGHT),
            (always_busy("b", b.clone()), 16),
        ])
        .unwrap();
        for _ in 0..100 {
            assert_eq!(s.run_round(), 80);
        }
        assert_eq!(a.load(Ordering::Relaxed), 6400);
        assert_eq!(b.load(Ordering::Relaxed), 1600);
        assert_eq!(s.polling(), None);
    }

    #[test]
    fn refuses_zero_weight_and_duplicates_and_removes_by_name() {
        let c = Arc::new(AtomicU64::new(0));
        let mut s = Scheduler::new();
        s.add(always_busy("rx0", c.clone()), 32).unwrap();
        assert_eq!(
            s.add(always_busy("rx1", c.clone()), 0).unwrap_err(),
            SchedError::ZeroWeight { task: "rx1".into() }
        );
        let err = s.add(always_busy("rx0", c.clone()), 8).unwrap_err();
        assert!(err.to_string().contains("rx0"), "{err}");
        s.add(always_busy("rx1", c), 8).unwrap();
        let (t, w) = s.remove("rx0").unwrap();
        assert_eq!((t.name(), w), ("rx0", 32));
        assert!(s.remove("rx0").is_none());
        assert_eq!(s.tasks().collect::<Vec<_>>(), [("rx1", 8)]);
        assert_eq!(s.into_tasks().len(), 1);
    }
}
