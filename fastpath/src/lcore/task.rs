//! The unit of work an lcore polls: a queue pair, a ring, a timer.
//!
//! A [`PollTask`] is `Send` (it is built on a control thread and moved to its lcore) and is
//! polled with a budget: it does at most about `budget` packets of work and returns how
//! many it did; 0 means "nothing to do", which drives the idle policy and the idle-cycle
//! counter.
//!
//! Must never: block, sleep, or loop until its queue is empty; a task that ignores its
//! budget starves the other tasks of its lcore.

use std::fmt;

/// Something an lcore polls, round-robin with the other tasks of its lcore.
pub trait PollTask: Send {
    /// A name unique on its lcore; `LcoreHandle::remove_task` finds tasks by it.
    fn name(&self) -> &str;

    /// Does at most about `budget` packets of work; returns how many it did.
    fn poll(&mut self, budget: u32) -> u32;
}

/// Shows the task's name, so task lists can be printed and `unwrap`ped.
impl fmt::Debug for dyn PollTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PollTask").field(&self.name()).finish()
    }
}

/// A [`PollTask`] made of a name and a closure `FnMut(budget) -> work done`.
pub struct FnTask<F> {
    name: String,
    poll: F,
}

impl<F> FnTask<F>
where
    F: FnMut(u32) -> u32 + Send,
{
    /// Wraps `poll` under `name`.
    pub fn new(name: impl Into<String>, poll: F) -> Self {
        Self {
            name: name.into(),
            poll,
        }
    }

    /// The same, boxed for [`Lcore::spawn`](super::Lcore::spawn).
    pub fn boxed(name: impl Into<String>, poll: F) -> Box<dyn PollTask>
    where
        F: 'static,
    {
        Box::new(Self::new(name, poll))
    }
}

impl<F> PollTask for FnTask<F>
where
    F: FnMut(u32) -> u32 + Send,
{
    fn name(&self) -> &str {
        &self.name
    }

    #[inline]
    fn poll(&mut self, budget: u32) -> u32 {
        (self.poll)(budget)
    }
}

impl<F> fmt::Debug for FnTask<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FnTask").field("name", &self.name).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fn_task_polls_its_closure() {
        let mut left = 100u32;
        let mut t = FnTask::new("drain", move |budget| {
            let n = budget.min(left);
            left -= n;
            n
        });
        assert_eq!(t.name(), "drain");
        assert_eq!(t.poll(64), 64);
        assert_eq!(t.poll(64), 36);
        assert_eq!(t.poll(64), 0);
    }
}
