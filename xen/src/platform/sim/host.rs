//! The sim's "hypervisor host": the hypervisor service and xenstored, each on a Unix
//! socket in one directory, served by threads of whichever process starts them (a test,
//! a benchmark, or a small launcher). Frontend and backend processes connect by path.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::hyp::server::{serve as serve_hyp, HypState};
use super::server::Server;
use super::xenstore::XsServer;

/// Where a sim host's sockets are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimPaths {
    /// The hypervisor service.
    pub hyp: PathBuf,
    /// xenstored.
    pub xenstore: PathBuf,
}

impl SimPaths {
    /// The sockets of a host started in `dir`.
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            hyp: dir.join("hyp.sock"),
            xenstore: dir.join("xenstore.sock"),
        }
    }
}

/// A running sim host; dropping it stops both services and kills every domain.
#[derive(Debug)]
pub struct Host {
    paths: SimPaths,
    _hyp: Server,
    _xenstore: Server,
}

impl Host {
    /// Starts both services with their sockets in `dir` (which must exist).
    pub fn start(dir: &Path) -> io::Result<Self> {
        let paths = SimPaths::in_dir(dir);
        let state = Arc::new(Mutex::new(HypState::default()));
        let hyp = Server::start(
            &paths.hyp,
            "sim-hyp",
            Arc::new(move |id, s| serve_hyp(&state, id, s)),
        )?;
        let xs = Arc::new(XsServer::new());
        let xenstore = Server::start(
            &paths.xenstore,
            "sim-xs",
            Arc::new(move |id, s| xs.serve(id, s)),
        )?;
        Ok(Self {
            paths,
            _hyp: hyp,
            _xenstore: xenstore,
        })
    }

    /// The sockets.
    pub fn paths(&self) -> &SimPaths {
        &self.paths
    }
}
