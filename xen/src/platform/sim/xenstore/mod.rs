//! The sim's xenstored: a [`tree`] with watches and transactions, serving the real
//! xenstored wire protocol on a Unix socket, so the same [`XsClient`] talks to it and
//! to a real xenstored.
//!
//! Behaviour follows C xenstored: a write creates missing parents; `rm` of a missing
//! node whose parent exists succeeds; a watch fires at once on registration, then for
//! every change to its path or below (an `rm` also fires watches set exactly on the
//! removed descendants); events of a transaction fire when it commits; a conflicting
//! commit is `EAGAIN`; at most 10 open transactions per connection. Every socket
//! connection is privileged and relative paths are under `/local/domain/0`, as for a
//! local xenstored client. Not simulated: permissions, quotas other than the
//! transaction limit, `@introduceDomain`/`@releaseDomain` events (watches on them are
//! accepted and fire only their initial event).
//!
//! [`XsClient`]: crate::platform::xenstore::XsClient

pub(crate) mod tree;

use std::collections::HashMap;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::{Mutex, PoisonError};

use self::tree::{canonical, is_under, Fired, Transaction, Tree};
use super::server::ConnId;
use crate::platform::xenstore::msg::{Msg, MsgType, XsErrno};
use vpmd_sys as sys;

/// Where relative paths are rooted: a local socket client is dom0.
const HOME: &str = "/local/domain/0";
/// Open transactions per connection (xenstored's default `quota-max-transaction`).
pub const MAX_TRANSACTIONS: usize = 10;

#[derive(Debug)]
struct Watch {
    conn: ConnId,
    /// Canonical path, or a special `@` name.
    path: String,
    token: String,
    /// Bytes to strip from event paths (relative watches report relative paths).
    strip: usize,
}

/// The reply to one request, and what it set off.
#[derive(Debug, Default)]
struct Done {
    payload: Vec<u8>,
    fired: Vec<Fired>,
    /// A new watch's initial event, sent after the reply.
    initial: Option<usize>,
}

impl Done {
    fn ok() -> Self {
        Self {
            payload: b"OK\0".to_vec(),
            ..Self::default()
        }
    }

    fn fired(fired: Fired) -> Self {
        Self {
            fired: vec![fired],
            ..Self::ok()
        }
    }
}

/// The server state: one lock, one request at a time, as xenstored is single-threaded.
#[derive(Debug)]
struct Store {
    tree: Tree,
    watches: Vec<Watch>,
    txs: HashMap<u32, (ConnId, Transaction)>,
    next_tx: u32,
    conns: HashMap<ConnId, UnixStream>,
}

/// The sim's xenstore server.
#[derive(Debug)]
pub(crate) struct XsServer {
    store: Mutex<Store>,
}

/// The one NUL-terminated string a payload must be.
fn one_arg(m: &Msg) -> Result<&[u8], XsErrno> {
    match m.payload.split_last() {
        Some((0, s)) if !s.contains(&0) => Ok(s),
        _ => Err(XsErrno::EINVAL),
    }
}

impl XsServer {
    pub fn new() -> Self {
        Self {
            store: Mutex::new(Store {
                tree: Tree::new(),
                watches: Vec::new(),
                txs: HashMap::new(),
                next_tx: 0,
                conns: HashMap::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Serves one connection until it closes or breaks the protocol.
    pub fn serve(&self, conn: ConnId, mut stream: UnixStream) {
        let Ok(out) = stream.try_clone() else { return };
        self.lock().conns.insert(conn, out);
        while let Ok(m) = Msg::read_from(&mut stream) {
            self.lock().handle(conn, &m);
        }
        let mut s = self.lock();
        s.conns.remove(&conn);
        s.watches.retain(|w| w.conn != conn);
        s.txs.retain(|_, (c, _)| *c != conn);
    }
}

impl Store {
    fn handle(&mut self, conn: ConnId, m: &Msg) {
        match self.dispatch(conn, m) {
            Ok(done) => {
                for f in &done.fired {
                    self.fire(f);
                }
                self.send(
                    conn,
                    Msg::new(m.ty, m.req_id, m.tx_id, &[], false),
                    &done.payload,
                );
                if let Some(i) = done.initial {
                    let w = &self.watches[i];
                    let ev = event(&w.path, w);
                    self.send(w.conn, ev, &[]);
                }
            }
            Err(e) => {
                let reply = Msg::new(
                    MsgType::ERROR,
                    m.req_id,
                    m.tx_id,
                    &[e.as_str().as_bytes()],
                    true,
                );
                self.send(conn, reply, &[]);
            }
        }
    }

    /// Writes `m` (with `payload` appended) to `conn`; a dead peer is its own
    /// thread's business.
    fn send(&self, conn: ConnId, mut m: Msg, payload: &[u8]) {
        m.payload.extend_from_slice(payload);
        if let (Some(s), Ok(bytes)) = (self.conns.get(&conn), m.encode()) {
            let _ = sys::send_all_with_fds(s.as_fd(), &bytes, &[]);
        }
    }

    /// Sends the events of a change: removed descendants first (watches set exactly
    /// on them), then the changed path (watches on it or above), xenstored's order.
    fn fire(&self, f: &Fired) {
        for p in &f.exact {
            for w in self.watches.iter().filter(|w| *p == w.path) {
                self.send(w.conn, event(p, w), &[]);
            }
        }
        for p in &f.subtree {
            for w in self.watches.iter().filter(|w| is_under(p, &w.path)) {
                self.send(w.conn, event(p, w), &[]);
            }
        }
    }

    fn tx(&mut self, conn: ConnId, id: u32) -> Result<Option<&mut Transaction>, XsErrno> {
        if id == 0 {
            return Ok(None);
        }
        match self.txs.get_mut(&id) {
            Some((c, t)) if *c == conn => Ok(Some(t)),
            _ => Err(XsErrno::ENOENT),
        }
    }

    fn dispatch(&mut self, conn: ConnId, m: &Msg) -> Result<Done, XsErrno> {
        match m.ty {
            MsgType::READ => {
                let p = canonical(one_arg(m)?, HOME)?;
                let value = match self.tx(conn, m.tx_id)? {
                    Some(t) => t.read(&p)?,
                    None => self.tree.read(&p)?,
                };
                Ok(Done {
                    payload: value,
                    ..Done::default()
                })
            }
            MsgType::DIRECTORY => {
                let p = canonical(one_arg(m)?, HOME)?;
                let names = match self.tx(conn, m.tx_id)? {
                    Some(t) => t.children(&p)?,
                    None => self.tree.children(&p)?,
                };
                let mut payload = Vec::new();
                for n in names {
                    payload.extend_from_slice(n.as_bytes());
                    payload.push(0);
                }
                if payload.len() > crate::platform::xenstore::msg::PAYLOAD_MAX {
                    return Err(XsErrno::E2BIG);
                }
                Ok(Done {
                    payload,
                    ..Done::default()
                })
            }
            MsgType::WRITE => {
                let nul = m
                    .payload
                    .iter()
                    .position(|&b| b == 0)
                    .ok_or(XsErrno::EINVAL)?;
                let p = canonical(&m.payload[..nul], HOME)?;
                let value = &m.payload[nul + 1..];
                match self.tx(conn, m.tx_id)? {
                    Some(t) => t.write(&p, value).map(|()| Done::ok()),
                    None => self.tree.write(&p, value).map(Done::fired),
                }
            }
            MsgType::MKDIR | MsgType::RM => {
                let p = canonical(one_arg(m)?, HOME)?;
                let rm = m.ty == MsgType::RM;
                match (self.tx(conn, m.tx_id)?, rm) {
                    (Some(t), true) => t.rm(&p).map(|()| Done::ok()),
                    (Some(t), false) => t.mkdir(&p).map(|()| Done::ok()),
                    (None, true) => self.tree.rm(&p).map(Done::fired),
                    (None, false) => self.tree.mkdir(&p).map(Done::fired),
                }
            }
            MsgType::WATCH => self.watch(conn, m),
            MsgType::UNWATCH => {
                let [path, token] = m.strings()[..] else {
                    return Err(XsErrno::EINVAL);
                };
                let path = watch_path(path)?.0;
                let i = self
                    .watches
                    .iter()
                    .position(|w| w.conn == conn && w.path == path && w.token.as_bytes() == token)
                    .ok_or(XsErrno::ENOENT)?;
                self.watches.remove(i);
                Ok(Done::ok())
            }
            MsgType::TRANSACTION_START => {
                if self.txs.values().filter(|(c, _)| *c == conn).count() >= MAX_TRANSACTIONS {
                    return Err(XsErrno::ENOSPC);
                }
                loop {
                    self.next_tx = self.next_tx.wrapping_add(1);
                    if self.next_tx != 0 && !self.txs.contains_key(&self.next_tx) {
                        break;
                    }
                }
                let id = self.next_tx;
                self.txs.insert(id, (conn, Transaction::new(&self.tree)));
                Ok(Done {
                    payload: format!("{id}\0").into_bytes(),
                    ..Done::default()
                })
            }
            MsgType::TRANSACTION_END => {
                let commit = match one_arg(m)? {
                    b"T" => true,
                    b"F" => false,
                    _ => return Err(XsErrno::EINVAL),
                };
                self.tx(conn, m.tx_id)?.ok_or(XsErrno::EINVAL)?;
                let (_, t) = self.txs.remove(&m.tx_id).ok_or(XsErrno::ENOENT)?;
                let fired = if commit {
                    t.commit(&mut self.tree)?
                } else {
                    Vec::new()
                };
                Ok(Done {
                    fired,
                    ..Done::ok()
                })
            }
            _ => Err(XsErrno::EINVAL),
        }
    }

    fn watch(&mut self, conn: ConnId, m: &Msg) -> Result<Done, XsErrno> {
        let [path, token] = m.strings()[..] else {
            return Err(XsErrno::EINVAL);
        };
        let (path, strip) = watch_path(path)?;
        let token = String::from_utf8(token.to_vec()).map_err(|_| XsErrno::EINVAL)?;
        if self
            .watches
            .iter()
            .any(|w| w.conn == conn && w.path == path && w.token == token)
        {
            return Err(XsErrno::EEXIST);
        }
        self.watches.push(Watch {
            conn,
            path,
            token,
            strip,
        });
        Ok(Done {
            initial: Some(self.watches.len() - 1),
            ..Done::ok()
        })
    }
}

/// A watch's path and how much of an event path to strip: special `@` names as they
/// are, relative paths canonicalised and reported relative.
fn watch_path(p: &[u8]) -> Result<(String, usize), XsErrno> {
    if p.first() == Some(&b'@') {
        let s = canonical(&p[1..], "").map_err(|_| XsErrno::EINVAL)?;
        return Ok((format!("@{}", &s[1..]), 0));
    }
    let strip = if p.first() == Some(&b'/') {
        0
    } else {
        HOME.len() + 1
    };
    Ok((canonical(p, HOME)?, strip))
}

/// The event for a change at `path` seen by `w`.
fn event(path: &str, w: &Watch) -> Msg {
    let shown = path.get(w.strip..).unwrap_or(path);
    Msg::new(
        MsgType::WATCH_EVENT,
        0,
        0,
        &[shown.as_bytes(), w.token.as_bytes()],
        true,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(ty: MsgType, payload: &[u8]) -> Msg {
        Msg {
            ty,
            req_id: 1,
            tx_id: 0,
            payload: payload.to_vec(),
        }
    }

    #[test]
    fn malformed_requests_are_einval_not_panics() {
        let server = XsServer::new();
        let mut s = server.lock();
        let cases = [
            req(MsgType::READ, b"/a"),       // no NUL
            req(MsgType::READ, b"/a\0/b\0"), // two arguments
            req(MsgType::READ, b""),         // nothing
            req(MsgType::WRITE, b"/a"),      // no NUL between path and value
            req(MsgType::WATCH, b"/a\0"),    // no token
            req(MsgType::WATCH, b"@\0t\0"),  // empty special name
            req(MsgType::UNWATCH, b"\0"),    // no path
            req(MsgType::TRANSACTION_END, b"X\0"),
            req(MsgType::TRANSACTION_END, b"T\0"), // outside a transaction
            req(MsgType(99), b"/a\0"),
            req(MsgType::ERROR, b"ENOENT\0"),
        ];
        for m in cases {
            assert_eq!(s.dispatch(1, &m).unwrap_err(), XsErrno::EINVAL, "{m:?}");
        }
        // Values may hold NULs: only the first one ends the path.
        s.dispatch(1, &req(MsgType::WRITE, b"/a\0v\0w")).unwrap();
        assert_eq!(s.tree.read("/a").unwrap(), b"v\0w");
        // Special watch names are accepted.
        s.dispatch(1, &req(MsgType::WATCH, b"@releaseDomain\0t\0"))
            .unwrap();
        assert_eq!(s.watches[0].path, "@releaseDomain");
    }
}
