//! The hypervisor service's server side: domains and event-channel ports, all state
//! under one lock (requests are rare control-plane calls).
//!
//! A domain lives as long as the connection that created it; when that closes, the
//! domain is marked dead in its state file (so every process mapping it sees
//! `GNTST_bad_domain` from then on) and its ports are freed.

use std::collections::HashMap;
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::{Mutex, PoisonError};

use super::{Reply, Request, MSG_LEN};
use crate::platform::evtchn::Port;
use crate::platform::sim::domain::{DomainFiles, DomainLayout, DomainView};
use crate::platform::sim::server::ConnId;
use crate::wire::grant::DomId;
use vpmd_sys as sys;

/// A registered domain.
#[derive(Debug)]
struct Domain {
    owner: ConnId,
    layout: DomainLayout,
    files: DomainFiles,
    view: DomainView,
}

/// One end of an event channel.
#[derive(Debug)]
enum PortState {
    /// Allocated, waiting for `remote` to bind: the eventfds the binder will get
    /// (`own` is the one the binder waits on).
    Unbound {
        remote: DomId,
        own: File,
        peer: File,
    },
    /// Connected.
    Bound,
}

/// Everything the hypervisor knows.
#[derive(Debug, Default)]
pub(crate) struct HypState {
    domains: HashMap<DomId, Domain>,
    ports: HashMap<(DomId, Port), PortState>,
    next_port: HashMap<DomId, u32>,
}

type Outcome = (Reply, Vec<File>);

impl HypState {
    fn handle(&mut self, conn: ConnId, req: Request, fds: Vec<OwnedFd>) -> Outcome {
        match req {
            Request::CreateDomain { domid, layout } => self.create(conn, domid, layout, fds),
            Request::GetDomain { domid } => self.get(domid),
            Request::AllocUnbound { caller, remote } => self.alloc_unbound(caller, remote),
            Request::BindInterdomain {
                caller,
                remote,
                port,
            } => self.bind(caller, remote, port),
        }
    }

    fn create(
        &mut self,
        conn: ConnId,
        domid: DomId,
        layout: DomainLayout,
        fds: Vec<OwnedFd>,
    ) -> Outcome {
        if self.domains.contains_key(&domid) || domid == DomId::DOM0 || domid >= DomId::SELF {
            return (Reply::err(libc::EEXIST), vec![]);
        }
        let Ok::<[OwnedFd; 3], _>([mem, grants, state]) = fds.try_into() else {
            return (Reply::err(libc::EINVAL), vec![]);
        };
        let files = DomainFiles {
            mem: mem.into(),
            grants: grants.into(),
            state: state.into(),
        };
        let view = files
            .try_clone()
            .and_then(|f| DomainView::map(domid, layout, f));
        match view {
            Ok(view) => {
                self.domains.insert(
                    domid,
                    Domain {
                        owner: conn,
                        layout,
                        files,
                        view,
                    },
                );
                (Reply::ok(0, 0), vec![])
            }
            Err(e) => (Reply::err(e.raw_os_error().unwrap_or(libc::EINVAL)), vec![]),
        }
    }

    fn get(&self, domid: DomId) -> Outcome {
        let Some(d) = self.domains.get(&domid) else {
            return (Reply::err(libc::ENOENT), vec![]);
        };
        match d.files.try_clone() {
            Ok(f) => (
                Reply::ok(d.layout.mem_pages, d.layout.grant_frames),
                vec![f.mem, f.grants, f.state],
            ),
            Err(e) => (Reply::err(e.raw_os_error().unwrap_or(libc::EIO)), vec![]),
        }
    }

    fn new_port(&mut self, domid: DomId) -> Port {
        let n = self.next_port.entry(domid).or_insert(1);
        let p = Port(*n);
        *n += 1;
        p
    }

    fn alloc_unbound(&mut self, caller: DomId, remote: DomId) -> Outcome {
        let pair = (|| {
            let mine = sys::eventfd(true)?;
            let theirs = sys::eventfd(true)?;
            Ok::<_, std::io::Error>((mine.try_clone()?, theirs.try_clone()?, mine, theirs))
        })();
        let (mine, theirs, mine_copy, theirs_copy) = match pair {
            Ok(p) => p,
            Err(e) => return (Reply::err(e.raw_os_error().unwrap_or(libc::EIO)), vec![]),
        };
        let port = self.new_port(caller);
        self.ports.insert(
            (caller, port),
            PortState::Unbound {
                remote,
                own: theirs_copy,
                peer: mine_copy,
            },
        );
        (Reply::ok(port.0, 0), vec![mine, theirs])
    }

    fn bind(&mut self, caller: DomId, remote: DomId, port: Port) -> Outcome {
        if remote != DomId::DOM0 && !self.domains.contains_key(&remote) {
            return (Reply::err(libc::ESRCH), vec![]);
        }
        let (own, peer) = match self.ports.remove(&(remote, port)) {
            Some(PortState::Unbound {
                remote: r,
                own,
                peer,
            }) if r == caller => (own, peer),
            other => {
                if let Some(st) = other {
                    self.ports.insert((remote, port), st);
                }
                return (Reply::err(libc::EINVAL), vec![]);
            }
        };
        // Xen drops a notification sent on a port nobody bound yet (Linux's netfront
        // kicks before its backend connects): the binder starts with none pending.
        if let Err(e) = sys::eventfd_consume(&own) {
            return (Reply::err(e.raw_os_error().unwrap_or(libc::EIO)), vec![]);
        }
        self.ports.insert((remote, port), PortState::Bound);
        let local = self.new_port(caller);
        self.ports.insert((caller, local), PortState::Bound);
        (Reply::ok(local.0, 0), vec![own, peer])
    }

    /// Kills the domains `conn` created.
    fn disconnect(&mut self, conn: ConnId) {
        let dead: Vec<DomId> = self
            .domains
            .iter()
            .filter(|(_, d)| d.owner == conn)
            .map(|(&id, _)| id)
            .collect();
        for id in dead {
            if let Some(d) = self.domains.remove(&id) {
                d.view.mark_dead();
            }
            self.ports.retain(|&(dom, _), _| dom != id);
            self.next_port.remove(&id);
        }
    }
}

/// Serves one connection until it closes.
pub(crate) fn serve(state: &Mutex<HypState>, conn: ConnId, stream: UnixStream) {
    loop {
        let mut buf = [0u8; MSG_LEN];
        let mut fds = Vec::new();
        if sys::recv_exact_with_fds(stream.as_fd(), &mut buf, &mut fds).is_err() {
            break;
        }
        let (reply, out) = match Request::decode(&buf) {
            Some(req) => state
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .handle(conn, req, fds),
            None => (Reply::err(libc::EINVAL), vec![]),
        };
        let out: Vec<BorrowedFd<'_>> = out.iter().map(|f| f.as_fd()).collect();
        if sys::send_all_with_fds(stream.as_fd(), &reply.encode(), &out).is_err() {
            break;
        }
    }
    state
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .disconnect(conn);
}
