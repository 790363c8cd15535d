//! Hostile front-ends, one file per case of ANCHORS 2.4 (the vhost-user control-plane
//! part): each refusal must leave the device as it was, be reported the way the brief
//! says (a failure status under `need_reply`, otherwise a closed connection), never
//! panic, and never disturb another socket.

#[path = "../common/mod.rs"]
mod common;

mod c01_ring_size;
mod c02_vring_index;
mod c03_fd_counts;
mod c04_mem_table;
mod c06_vring_addr;
mod c09_mem_slots;
mod c10_framing;

use std::os::fd::BorrowedFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use common::*;
use vpmd_vhost::frontend::Frontend;
use vpmd_vhost::protocol::defs;
use vpmd_vhost::{ConnState, Handle, Reactor};

/// A connected, fully negotiated session (with `REPLY_ACK`).
pub struct Session {
    pub reactor: Reactor,
    pub handle: Handle,
    pub sink: Arc<RecordingSink>,
    pub fe: Frontend,
}

pub fn session(name: &str) -> Session {
    session_on(Reactor::new().unwrap(), name)
}

pub fn session_on(reactor: Reactor, name: &str) -> Session {
    let sink = RecordingSink::new();
    let handle = reactor
        .register(sock_path(name), false, net_config(), sink.clone())
        .unwrap();
    let mut fe = Frontend::connect(handle.path()).unwrap();
    assert!(wait_until(|| handle.state() == ConnState::Connected));
    negotiate_all(&mut fe);
    Session {
        reactor,
        handle,
        sink,
        fe,
    }
}

impl Session {
    /// Sends a raw request with `need_reply` and returns the status the back-end sent.
    pub fn status(&mut self, request: u32, payload: &[u8], fds: &[BorrowedFd<'_>]) -> u64 {
        self.fe
            .send_raw(request, defs::NEED_REPLY_MASK, payload, fds)
            .unwrap();
        let p = self.fe.recv_reply(request).unwrap();
        u64::from_ne_bytes(p.try_into().unwrap())
    }

    pub fn errors(&self) -> u64 {
        self.handle.stats().errors.load(Ordering::Relaxed)
    }

    /// The session is still served: a request gets its answer.
    pub fn alive(&mut self) -> bool {
        self.fe.get_queue_num().is_ok_and(|n| n == 2)
    }

    pub fn closed(&mut self) -> bool {
        self.fe.is_closed_by_peer(std::time::Duration::from_secs(5))
    }
}

/// A `vring state` payload.
pub fn state(index: u32, num: u32) -> [u8; 8] {
    vpmd_vhost::protocol::message::VringState { index, num }.to_bytes()
}
