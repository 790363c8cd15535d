//! A xenstore client speaking xenstored's wire protocol over a stream: the sim's
//! server socket now, a real `/run/xenstored/socket` later.
//!
//! One reader thread demultiplexes the stream: replies go to the caller waiting for
//! them (requests are serialised, as on libxenstore's single connection), watch events
//! to a queue whose eventfd is readable exactly while the queue is non-empty, so a
//! backend can put [`XenStore::watch_fd`] into its epoll set.
//!
//! Past [`COALESCE_AT`] queued events, an event equal to one still queued is dropped:
//! a watcher re-reads the node anyway, and a guest rewriting a watched key in a loop
//! must not grow the queue without bound. Below it every event is kept, as xenstored
//! sends them.

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::net::Shutdown;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::msg::{Msg, MsgType, XsErrno};
use super::{TxId, WatchEvent, XenStore, XsError};
use vpmd_sys as sys;

/// Queued watch events from which duplicates are dropped.
pub const COALESCE_AT: usize = 64;

/// Watch events the reader has queued, and the fd that says so.
#[derive(Debug)]
struct Events {
    queue: Mutex<VecDeque<WatchEvent>>,
    /// Readable while `queue` is non-empty or the connection is gone. Written and
    /// drained only under the `queue` lock, which keeps that invariant.
    fd: File,
    closed: AtomicBool,
}

impl Events {
    fn lock(&self) -> MutexGuard<'_, VecDeque<WatchEvent>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn signal(&self) {
        // Only fails if the fd is broken; a reader then sees `closed` or errors.
        let _ = sys::eventfd_signal(&self.fd);
    }

    fn drain(&self) {
        let _ = sys::eventfd_consume(&self.fd);
    }
}

/// The request side: one request in flight at a time.
#[derive(Debug)]
struct Caller {
    stream: UnixStream,
    replies: mpsc::Receiver<Msg>,
    next_id: u32,
}

/// A xenstore connection.
#[derive(Debug)]
pub struct XsClient {
    caller: Mutex<Caller>,
    events: Arc<Events>,
    stream: UnixStream,
    reader: Option<JoinHandle<()>>,
}

impl XsClient {
    /// Connects to a xenstored-protocol Unix socket.
    pub fn connect(path: &Path) -> io::Result<Self> {
        Self::new(UnixStream::connect(path)?)
    }

    /// Runs the protocol over a connected stream.
    pub fn new(stream: UnixStream) -> io::Result<Self> {
        let events = Arc::new(Events {
            queue: Mutex::new(VecDeque::new()),
            fd: sys::eventfd(true)?,
            closed: AtomicBool::new(false),
        });
        let (tx, replies) = mpsc::channel();
        let mut r = stream.try_clone()?;
        let ev = Arc::clone(&events);
        let reader = std::thread::Builder::new()
            .name("xs-client".into())
            .spawn(move || read_loop(&mut r, &tx, &ev))?;
        Ok(Self {
            caller: Mutex::new(Caller {
                stream: stream.try_clone()?,
                replies,
                next_id: 0,
            }),
            events,
            stream,
            reader: Some(reader),
        })
    }

    /// Watch events queued and not yet read.
    pub fn queued_events(&self) -> usize {
        self.events.lock().len()
    }

    /// Sends one request and waits for its reply; an `XS_ERROR` reply is an `Err`.
    fn call(
        &self,
        ty: MsgType,
        tx: TxId,
        parts: &[&[u8]],
        terminate_last: bool,
    ) -> Result<Msg, XsError> {
        let mut c = self.caller.lock().unwrap_or_else(PoisonError::into_inner);
        c.next_id = c.next_id.wrapping_add(1);
        let id = c.next_id;
        let bytes = Msg::new(ty, id, tx.0, parts, terminate_last).encode()?;
        sys::send_all_with_fds(c.stream.as_fd(), &bytes, &[])?;
        let reply = loop {
            let r = c
                .replies
                .recv()
                .map_err(|_| io::Error::from(io::ErrorKind::ConnectionAborted))?;
            if r.req_id == id {
                break r;
            }
        };
        if reply.ty == MsgType::ERROR {
            let name = reply.strings().first().copied().unwrap_or_default();
            return Err(XsErrno::parse(name)
                .map(XsError::Errno)
                .unwrap_or(XsError::Protocol("unknown error name")));
        }
        if reply.ty != ty {
            return Err(XsError::Protocol("reply of another type"));
        }
        Ok(reply)
    }
}

/// The reader thread: until the stream ends, route replies and queue watch events.
fn read_loop(r: &mut UnixStream, replies: &mpsc::Sender<Msg>, events: &Events) {
    while let Ok(m) = Msg::read_from(r) {
        if m.ty == MsgType::WATCH_EVENT {
            let s = m.strings();
            if let [path, token, ..] = s[..] {
                let ev = WatchEvent {
                    path: String::from_utf8_lossy(path).into_owned(),
                    token: String::from_utf8_lossy(token).into_owned(),
                };
                let mut q = events.lock();
                if q.len() < COALESCE_AT || !q.contains(&ev) {
                    q.push_back(ev);
                    events.signal();
                }
            }
        } else if replies.send(m).is_err() {
            break;
        }
    }
    let _q = events.lock();
    events.closed.store(true, Ordering::Release);
    events.signal();
}

impl XenStore for XsClient {
    fn read(&self, tx: TxId, path: &str) -> Result<Vec<u8>, XsError> {
        Ok(self
            .call(MsgType::READ, tx, &[path.as_bytes()], true)?
            .payload)
    }

    fn write(&self, tx: TxId, path: &str, value: &[u8]) -> Result<(), XsError> {
        self.call(MsgType::WRITE, tx, &[path.as_bytes(), value], false)
            .map(drop)
    }

    fn mkdir(&self, tx: TxId, path: &str) -> Result<(), XsError> {
        self.call(MsgType::MKDIR, tx, &[path.as_bytes()], true)
            .map(drop)
    }

    fn rm(&self, tx: TxId, path: &str) -> Result<(), XsError> {
        self.call(MsgType::RM, tx, &[path.as_bytes()], true)
            .map(drop)
    }

    fn directory(&self, tx: TxId, path: &str) -> Result<Vec<String>, XsError> {
        let r = self.call(MsgType::DIRECTORY, tx, &[path.as_bytes()], true)?;
        Ok(r.strings()
            .into_iter()
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect())
    }

    fn watch(&self, path: &str, token: &str) -> Result<(), XsError> {
        let parts = [path.as_bytes(), token.as_bytes()];
        self.call(MsgType::WATCH, TxId::NONE, &parts, true)
            .map(drop)
    }

    fn unwatch(&self, path: &str, token: &str) -> Result<(), XsError> {
        let parts = [path.as_bytes(), token.as_bytes()];
        self.call(MsgType::UNWATCH, TxId::NONE, &parts, true)
            .map(drop)
    }

    fn read_watch(&self, timeout: Option<Duration>) -> Result<Option<WatchEvent>, XsError> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            {
                let mut q = self.events.lock();
                if let Some(e) = q.pop_front() {
                    if q.is_empty() && !self.events.closed.load(Ordering::Acquire) {
                        self.events.drain();
                    }
                    return Ok(Some(e));
                }
                if self.events.closed.load(Ordering::Acquire) {
                    return Err(io::Error::from(io::ErrorKind::ConnectionAborted).into());
                }
            }
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if !sys::poll_readable(self.events.fd.as_fd(), left)? && left == Some(Duration::ZERO) {
                return Ok(None);
            }
        }
    }

    fn watch_fd(&self) -> BorrowedFd<'_> {
        self.events.fd.as_fd()
    }

    fn transaction_start(&self) -> Result<TxId, XsError> {
        let r = self.call(MsgType::TRANSACTION_START, TxId::NONE, &[b""], true)?;
        let id = r
            .strings()
            .first()
            .and_then(|s| std::str::from_utf8(s).ok())
            .and_then(|s| s.parse::<u32>().ok())
            .filter(|&id| id != 0)
            .ok_or(XsError::Protocol("bad transaction id"))?;
        Ok(TxId(id))
    }

    fn transaction_end(&self, tx: TxId, commit: bool) -> Result<(), XsError> {
        let arg: &[u8] = if commit { b"T" } else { b"F" };
        self.call(MsgType::TRANSACTION_END, tx, &[arg], true)
            .map(drop)
    }
}

impl Drop for XsClient {
    fn drop(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Both);
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}
