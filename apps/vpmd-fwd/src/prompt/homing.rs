//! A stream task that sends its queues home when it ends, so `stop` and `port detach`
//! get them back from the lcore runtime, which returns tasks only as `Box<dyn PollTask>`.
//!
//! Must never: do more than forward `poll` while running; the send happens on drop only.

use std::sync::mpsc::Sender;

use vpmd_fastpath::PollTask;
use vpmd_pmd::{PortRx, PortTx};

use crate::stream::StreamTask;

/// The queues of an ended stream, on their way back to the prompt.
pub(crate) type Queues = (PortRx, PortTx);

/// Wraps a stream; dropping it (after `stop` or `remove_task`) sends the queues home.
pub(crate) struct Homing {
    name: String,
    // An `Option` only so that `drop` can take the stream out.
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
            // The prompt gone (process exiting) means nobody wants the queues: drop them.
            let _ = self.home.send(s.into_queues());
        }
    }
}
