//! Event channels as eventfd pairs: each end waits on its own eventfd and notifies by
//! adding to the other's. The hypervisor service creates the pair when a port is
//! allocated and hands each end its two fds.
//!
//! The sim never masks: an event that arrives while the backend works is kept in the
//! eventfd's counter and coalesced, which is what a masked port's pending bit gives a
//! real backend too, so [`EventChannel::unmask`] has nothing to do.

use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Arc;
use std::time::Duration;

use super::faults::{Faults, NotifyFault};
use super::hyp::client::{HypClient, PortFds};
use crate::platform::evtchn::{EventChannel, EventChannels, EvtchnError, Port};
use crate::wire::grant::DomId;
use vpmd_sys as sys;

/// One end of a simulated event channel.
#[derive(Debug)]
pub struct SimChannel {
    port: Port,
    own: File,
    peer: Arc<File>,
    faults: Arc<Faults>,
}

impl SimChannel {
    pub(crate) fn new((port, own, peer): PortFds, faults: Arc<Faults>) -> Self {
        Self {
            port,
            own,
            peer: Arc::new(peer),
            faults,
        }
    }
}

impl AsFd for SimChannel {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.own.as_fd()
    }
}

impl EventChannel for SimChannel {
    fn port(&self) -> Port {
        self.port
    }

    fn notify(&self) -> Result<(), EvtchnError> {
        match self.faults.notify_fault(self.port) {
            None => sys::eventfd_signal(&self.peer)?,
            Some(NotifyFault::Drop) => {}
            Some(NotifyFault::Hold) => self.faults.hold(Arc::clone(&self.peer)),
            Some(NotifyFault::Delay(d)) => {
                let peer = Arc::clone(&self.peer);
                std::thread::Builder::new()
                    .name("sim-evtchn-delay".into())
                    .spawn(move || {
                        std::thread::sleep(d);
                        let _ = sys::eventfd_signal(&peer);
                    })?;
            }
        }
        Ok(())
    }

    fn pending(&self) -> Result<bool, EvtchnError> {
        Ok(sys::eventfd_consume(&self.own)?)
    }

    fn wait(&self, timeout: Option<Duration>) -> Result<bool, EvtchnError> {
        if self.pending()? {
            return Ok(true);
        }
        if !sys::poll_readable(self.own.as_fd(), timeout)? {
            return Ok(false);
        }
        self.pending()
    }

    fn unmask(&self) -> Result<(), EvtchnError> {
        Ok(())
    }
}

/// Event channels of one domain in the sim.
#[derive(Debug)]
pub struct SimEvtchns {
    me: DomId,
    hyp: Arc<HypClient>,
    faults: Arc<Faults>,
}

impl SimEvtchns {
    pub(crate) fn new(me: DomId, hyp: Arc<HypClient>, faults: Arc<Faults>) -> Self {
        Self { me, hyp, faults }
    }

    /// Allocates a port that `remote` may bind (`EVTCHNOP_alloc_unbound`): what a
    /// frontend does before writing the port number to xenstore.
    pub fn alloc_unbound(&self, remote: DomId) -> Result<SimChannel, EvtchnError> {
        let fds = self.hyp.alloc_unbound(self.me, remote)?;
        Ok(SimChannel::new(fds, Arc::clone(&self.faults)))
    }
}

impl EventChannels for SimEvtchns {
    type Channel = SimChannel;

    fn bind_interdomain(
        &self,
        remote: DomId,
        remote_port: Port,
    ) -> Result<SimChannel, EvtchnError> {
        let fds = self.hyp.bind_interdomain(self.me, remote, remote_port)?;
        Ok(SimChannel::new(fds, Arc::clone(&self.faults)))
    }
}
