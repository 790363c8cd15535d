//! The hypervisor service's client side: one connection per process side, requests
//! serialised.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use super::{Reply, Request, MSG_LEN};
use crate::platform::evtchn::{EvtchnError, Port};
use crate::platform::sim::domain::{DomainFiles, DomainLayout};
use crate::wire::grant::DomId;
use vpmd_sys as sys;

/// A connection to the hypervisor service.
#[derive(Debug)]
pub(crate) struct HypClient {
    stream: Mutex<UnixStream>,
}

/// The two eventfds of a bound port: the one to wait on, the one to signal.
pub(crate) type PortFds = (Port, File, File);

impl HypClient {
    pub fn connect(path: &Path) -> io::Result<Self> {
        Ok(Self {
            stream: Mutex::new(UnixStream::connect(path)?),
        })
    }

    fn call(&self, req: Request, fds: &[BorrowedFd<'_>]) -> io::Result<(Reply, Vec<OwnedFd>)> {
        let s = self.stream.lock().unwrap_or_else(PoisonError::into_inner);
        sys::send_all_with_fds(s.as_fd(), &req.encode(), fds)?;
        let mut buf = [0u8; MSG_LEN];
        let mut got = Vec::new();
        sys::recv_exact_with_fds(s.as_fd(), &mut buf, &mut got)?;
        Ok((Reply::decode(&buf), got))
    }

    /// Registers a domain this connection owns.
    pub fn create_domain(
        &self,
        domid: DomId,
        layout: DomainLayout,
        files: &DomainFiles,
    ) -> io::Result<()> {
        let fds = [files.mem.as_fd(), files.grants.as_fd(), files.state.as_fd()];
        let (r, _) = self.call(Request::CreateDomain { domid, layout }, &fds)?;
        errno(r.status)
    }

    /// A domain's files, `None` if there is no such domain.
    pub fn get_domain(&self, domid: DomId) -> io::Result<Option<(DomainLayout, DomainFiles)>> {
        let (r, fds) = self.call(Request::GetDomain { domid }, &[])?;
        if r.status == -libc::ENOENT {
            return Ok(None);
        }
        errno(r.status)?;
        let [mem, grants, state]: [OwnedFd; 3] = fds
            .try_into()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "expected 3 fds"))?;
        let layout = DomainLayout {
            mem_pages: r.a,
            grant_frames: r.b,
        };
        let files = DomainFiles {
            mem: mem.into(),
            grants: grants.into(),
            state: state.into(),
        };
        Ok(Some((layout, files)))
    }

    /// A port of `caller` that `remote` may bind.
    pub fn alloc_unbound(&self, caller: DomId, remote: DomId) -> Result<PortFds, EvtchnError> {
        let (r, fds) = self.call(Request::AllocUnbound { caller, remote }, &[])?;
        port_fds(r, fds, remote, Port(0))
    }

    /// Binds a port of `caller` to `remote`'s `port`.
    pub fn bind_interdomain(
        &self,
        caller: DomId,
        remote: DomId,
        port: Port,
    ) -> Result<PortFds, EvtchnError> {
        let req = Request::BindInterdomain {
            caller,
            remote,
            port,
        };
        let (r, fds) = self.call(req, &[])?;
        port_fds(r, fds, remote, port)
    }
}

fn errno(status: i32) -> io::Result<()> {
    if status == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(-status))
    }
}

fn port_fds(
    r: Reply,
    fds: Vec<OwnedFd>,
    remote: DomId,
    port: Port,
) -> Result<PortFds, EvtchnError> {
    match -r.status {
        0 => {}
        libc::ESRCH => return Err(EvtchnError::NoDomain(remote)),
        libc::EINVAL => {
            return Err(EvtchnError::BadPort {
                domid: remote,
                port,
            })
        }
        e => return Err(io::Error::from_raw_os_error(e).into()),
    }
    let [own, peer]: [OwnedFd; 2] = fds
        .try_into()
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "expected 2 fds"))?;
    Ok((Port(r.a), own.into(), peer.into()))
}
