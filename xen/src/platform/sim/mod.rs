//! A simulated Xen host, so a backend process and a frontend process can run on one
//! Linux machine without Xen.
//!
//! - Guest memory is a memfd the frontend ([`Guest`]) creates and owns; the grant table
//!   is another, holding Xen's v1 entries; both are handed to backends as fds through
//!   the [`Host`]'s hypervisor service, and every process maps them itself.
//! - [`SimGrants`] copies and maps through those mappings, making the checks and
//!   returning the `GNTST_*` codes Xen would (see [`platform`](super)).
//! - Event channels are eventfd pairs ([`SimChannel`]).
//! - xenstore is a server speaking xenstored's protocol, with watches and transactions,
//!   reached with the ordinary [`XsClient`](super::xenstore::XsClient).
//! - [`Faults`] injects a revoked grant, a failed copy segment or map, a dropped,
//!   held or delayed notification.
//!
//! A backend sees only [`SimPlatform`], through the [`Platform`] traits, so nothing of
//! the sim leaks into it.

pub mod domain;
pub mod evtchn;
pub mod faults;
pub mod grant_table;
pub mod guest;
pub mod host;
mod hyp;
mod server;
pub mod toolstack;
pub mod xenstore;

use std::io;
use std::sync::Arc;

pub use domain::DomainLayout;
pub use evtchn::{SimChannel, SimEvtchns};
pub use faults::{CopyFault, Faults, NotifyFault};
pub use grant_table::{PagePin, SimGrants, SimMapping, SimPage};
pub use guest::{Guest, GuestError};
pub use host::{Host, SimPaths};
pub use toolstack::{create_vif, remove_vif, VifSpec};

use super::xenstore::XsClient;
use super::Platform;
use crate::wire::grant::DomId;
use hyp::client::HypClient;

/// A backend domain's platform in the sim.
#[derive(Debug)]
pub struct SimPlatform {
    domid: DomId,
    grants: SimGrants,
    events: SimEvtchns,
    store: XsClient,
    faults: Arc<Faults>,
}

impl SimPlatform {
    /// Connects as domain `domid` (usually dom0) to the host at `paths`.
    pub fn connect(paths: &SimPaths, domid: DomId) -> io::Result<Self> {
        Self::with_faults(paths, domid, Faults::new())
    }

    /// As [`SimPlatform::connect`], with `faults` for its grant copies, maps and
    /// notifications.
    pub fn with_faults(paths: &SimPaths, domid: DomId, faults: Arc<Faults>) -> io::Result<Self> {
        let hyp = Arc::new(HypClient::connect(&paths.hyp)?);
        Ok(Self {
            domid,
            grants: SimGrants::new(domid, Arc::clone(&hyp), Arc::clone(&faults)),
            events: SimEvtchns::new(domid, hyp, Arc::clone(&faults)),
            store: XsClient::connect(&paths.xenstore)?,
            faults,
        })
    }

    /// The faults armed on this platform.
    pub fn faults(&self) -> &Arc<Faults> {
        &self.faults
    }
}

impl Platform for SimPlatform {
    type Grants = SimGrants;
    type Events = SimEvtchns;
    type Store = XsClient;

    fn domid(&self) -> DomId {
        self.domid
    }

    fn grants(&self) -> &SimGrants {
        &self.grants
    }

    fn events(&self) -> &SimEvtchns {
        &self.events
    }

    fn store(&self) -> &XsClient {
        &self.store
    }
}
