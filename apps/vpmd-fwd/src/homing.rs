//! A stream task that ends properly when dropped: it forwards what its `--pipeline` ring
//! still holds and sends its queues home, so `stop` and `port detach` get them back from
//! the lcore runtime, which returns tasks only as `Box<dyn PollTask>`.
//!
//! Must never: do more than forward `poll` while running; ending happens on drop only,
//! once every lcore of the run has stopped (else a ring may still be filling).

use std::sync::mpsc::Sender;

use vpmd_fastpath::PollTask;

use crate::stream::{Queues, StreamTask};

/// Wraps a stream task; dropping it (after `stop` or `remove_task`) ends the task and
/// sends its queues to `home`.
pub(crate) struct Homing {
    name: String,
    // An `Option` only so that `drop` can take the task out.
    stream: Option<Box<dyn StreamTask>>,
    home: Sender<Queues>,
}

impl Homing {
    pub(crate) fn boxed(stream: Box<dyn StreamTask>, home: Sender<Queues>) -> Box<dyn PollTask> {
        Box::new(Self {
            name: stream.name().to_owned(),
            stream: Some(stream),
            home,
        })
    }
}

impl PollTask for Homing {
    fn name(&self) -> &str {
        &self.name
    }

    #[inline]
    fn poll(&mut self, budget: u32) -> u32 {
        self.stream.as_mut().map_or(0, |s| s.poll(budget))
    }
}

impl Drop for Homing {
    fn drop(&mut self) {
        if let Some(s) = self.stream.take() {
            // Nobody listening (a finished run, or the process exiting) means nobody
            // wants the queues: drop them.
            let _ = self.home.send(s.into_queues());
        }
    }
}
