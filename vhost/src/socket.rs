//! vhost-user sockets: one control thread (epoll) serves every vhost socket of a
//! [`Reactor`], in server mode (listen on the path, one front-end at a time) or client
//! mode (connect, and reconnect with back-off after a failure or a disconnect).
//!
//! # Threading
//! The reactor thread owns every connection, device state machine and listener. Glue
//! threads talk to it through commands (register, unregister) and an eventfd that wakes
//! it; [`VringSink`] methods are called on it. Nothing it does blocks on a peer: reads and
//! writes are non-blocking, a half-received message waits in its connection's buffer (and
//! is dropped after [`ReactorConfig::partial_message_timeout`]), and each readiness event
//! handles at most [`MESSAGES_PER_EVENT`] requests so a flooding front-end cannot starve
//! the others. The only waits are the sink's `stop`, which lasts until the data path
//! leaves the ring.
//!
//! [`Reactor::global`] is the process-wide reactor, started on first use and never
//! stopped; that is what [`VhostSocket::register`] uses, so a process has one control
//! thread however many ports it opens. [`Reactor::new`] makes a private one (tests,
//! tools); its thread ends when the last `Reactor` clone and [`Handle`] are gone.
//!
//! # Sessions
//! Each accepted or established connection is a fresh [`Device`] session: nothing of a
//! previous front-end carries over. When it ends (peer closed, framing error, refusal
//! without a reply channel, unregister) the device stops its rings and reports the link
//! down; the server then waits for the next front-end, the client retries after
//! [`ReactorConfig::reconnect_min`], doubling up to [`ReactorConfig::reconnect_max`] while
//! connecting fails.
//!
//! Must never: panic or block on a peer, let one socket's peer delay another socket, or
//! remove a socket file it did not create.

#![deny(unsafe_code)]

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use std::thread::{JoinHandle, ThreadId};
use std::time::{Duration, Instant};

use crate::device::{ConfigError, CtlStats, Device, DeviceConfig, VringSink};
use crate::protocol::connection::{ConnError, Connection};
use crate::protocol::message;
use crate::sys::{self, Epoll, Event, EV_HUP, EV_IN, EV_OUT};

/// Most requests handled per readiness event of one connection.
pub const MESSAGES_PER_EVENT: usize = 32;

/// Timing of a [`Reactor`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReactorConfig {
    /// A message whose first bytes arrived this long ago and is still incomplete ends
    /// its connection.
    pub partial_message_timeout: Duration,
    /// First client-mode retry delay, and the delay after a disconnect.
    pub reconnect_min: Duration,
    /// Longest client-mode retry delay.
    pub reconnect_max: Duration,
}

impl Default for ReactorConfig {
    fn default() -> Self {
        Self {
            partial_message_timeout: Duration::from_secs(10),
            reconnect_min: Duration::from_millis(100),
            reconnect_max: Duration::from_secs(2),
        }
    }
}

/// Why a socket could not be registered.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    /// The device config cannot be served.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// The path exists and is not a socket.
    #[error("{0}: exists and is not a socket")]
    NotASocket(PathBuf),
    /// Another process listens on the path.
    #[error("{0}: another process is listening on it")]
    InUse(PathBuf),
    /// The path does not fit a Unix socket address (107 bytes).
    #[error("{0}: path too long for a Unix socket")]
    PathTooLong(PathBuf),
    /// The OS refused.
    #[error("{0}: {1}")]
    Io(PathBuf, io::Error),
    /// The reactor thread is gone.
    #[error("the vhost control thread is not running")]
    ReactorGone,
}

/// Where a registered socket is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ConnState {
    /// Server mode, waiting for a front-end.
    Listening = 0,
    /// Client mode, not connected; retrying after a back-off.
    Reconnecting = 1,
    /// A front-end session is running.
    Connected = 2,
    /// Unregistered.
    Closed = 3,
}

impl ConnState {
    fn from_u8(v: u8) -> Self {
        match v {
            0 => Self::Listening,
            1 => Self::Reconnecting,
            2 => Self::Connected,
            _ => Self::Closed,
        }
    }
}

/// What a [`Handle`] and the reactor share about one socket.
#[derive(Debug)]
struct Shared {
    path: PathBuf,
    state: AtomicU8,
    stats: Arc<CtlStats>,
}

impl Shared {
    fn set(&self, s: ConnState) {
        self.state.store(s as u8, Ordering::Release);
    }
}

enum Command {
    Add(Box<Endpoint>),
    Remove {
        id: u64,
        done: Option<mpsc::Sender<()>>,
    },
    Shutdown,
}

struct Inner {
    tx: mpsc::Sender<Command>,
    wake: std::fs::File,
    thread: Mutex<Option<JoinHandle<()>>>,
    thread_id: ThreadId,
    next_id: AtomicU64,
}

impl Inner {
    fn send(&self, c: Command) -> Result<(), SocketError> {
        self.tx.send(c).map_err(|_| SocketError::ReactorGone)?;
        (&self.wake)
            .write_all(&1u64.to_ne_bytes())
            .map_err(|_| SocketError::ReactorGone)
    }

    fn on_reactor_thread(&self) -> bool {
        std::thread::current().id() == self.thread_id
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let _ = self.send(Command::Shutdown);
        let t = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(t) = t.filter(|_| !self.on_reactor_thread()) {
            let _ = t.join();
        }
    }
}

/// A control thread serving vhost-user sockets. Cheap to clone (shared).
#[derive(Clone)]
pub struct Reactor {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Reactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reactor")
            .field("thread", &self.inner.thread_id)
            .finish()
    }
}

static GLOBAL: Mutex<Option<Reactor>> = Mutex::new(None);

impl Reactor {
    /// A private reactor with default timing.
    pub fn new() -> io::Result<Self> {
        Self::with_config(ReactorConfig::default())
    }

    /// A private reactor with `cfg` timing.
    pub fn with_config(cfg: ReactorConfig) -> io::Result<Self> {
        let epoll = Epoll::new()?;
        let wake = sys::eventfd(true)?;
        epoll.add(wake.as_fd(), EV_IN, WAKE)?;
        let (tx, rx) = mpsc::channel();
        let wake_thread = wake.try_clone()?;
        let thread = std::thread::Builder::new()
            .name("vpmd-vhost-ctl".into())
            .spawn(move || Loop::new(epoll, wake_thread, rx, cfg).run())?;
        Ok(Self {
            inner: Arc::new(Inner {
                tx,
                wake,
                thread_id: thread.thread().id(),
                thread: Mutex::new(Some(thread)),
                next_id: AtomicU64::new(1),
            }),
        })
    }

    /// The process-wide reactor, started on first use.
    pub fn global() -> io::Result<Self> {
        let mut g = GLOBAL.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(r) = &*g {
            return Ok(r.clone());
        }
        let r = Self::new()?;
        *g = Some(r.clone());
        Ok(r)
    }

    /// Serves `cfg` on `path`: listens there (`client == false`; a stale socket file is
    /// replaced, a live one is an error) or connects to it (`client == true`, retrying
    /// until a front-end listens). Vrings go to `sink`.
    pub fn register(
        &self,
        path: impl AsRef<Path>,
        client: bool,
        cfg: DeviceConfig,
        sink: Arc<dyn VringSink>,
    ) -> Result<Handle, SocketError> {
        cfg.validate()?;
        let path = path.as_ref().to_path_buf();
        if path.as_os_str().len() >= 108 {
            return Err(SocketError::PathTooLong(path));
        }
        let mode = if client {
            Mode::Client {
                retry_at: Some(Instant::now()),
                delay: Duration::ZERO,
                failing: false,
            }
        } else {
            let (listener, ino) = bind_server(&path)?;
            Mode::Server {
                listener,
                ino,
                paused_until: None,
            }
        };
        let shared = Arc::new(Shared {
            path: path.clone(),
            state: AtomicU8::new(if client {
                ConnState::Reconnecting
            } else {
                ConnState::Listening
            } as u8),
            stats: Arc::new(CtlStats::default()),
        });
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let ep = Endpoint {
            id,
            shared: Arc::clone(&shared),
            mode,
            cfg,
            sink,
            session: None,
        };
        self.inner.send(Command::Add(Box::new(ep)))?;
        Ok(Handle {
            id,
            shared,
            inner: Some(Arc::clone(&self.inner)),
        })
    }
}

/// Registration through the process-wide reactor, the way the glue opens a port.
#[derive(Debug)]
pub struct VhostSocket;

impl VhostSocket {
    /// [`Reactor::register`] on [`Reactor::global`].
    pub fn register(
        path: impl AsRef<Path>,
        client: bool,
        cfg: DeviceConfig,
        sink: Arc<dyn VringSink>,
    ) -> Result<Handle, SocketError> {
        let r = Reactor::global().map_err(|e| SocketError::Io(path.as_ref().into(), e))?;
        r.register(path, client, cfg, sink)
    }
}

/// A registered socket. Dropping it unregisters, like [`Handle::unregister`].
pub struct Handle {
    id: u64,
    shared: Arc<Shared>,
    inner: Option<Arc<Inner>>,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("path", &self.shared.path)
            .field("state", &self.state())
            .finish()
    }
}

impl Handle {
    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// Connection state now.
    pub fn state(&self) -> ConnState {
        ConnState::from_u8(self.shared.state.load(Ordering::Acquire))
    }

    /// The control-plane counters of this port (they survive sessions).
    pub fn stats(&self) -> Arc<CtlStats> {
        Arc::clone(&self.shared.stats)
    }

    /// Closes the port: ends the session (its rings are stopped through the sink and the
    /// link reported down), stops listening or reconnecting, and removes the socket file
    /// in server mode. Returns when done, except when called on the control thread
    /// itself (from a sink callback), where it is carried out right after the callback.
    pub fn unregister(mut self) {
        self.close();
    }

    fn close(&mut self) {
        let Some(inner) = self.inner.take() else {
            return;
        };
        if inner.on_reactor_thread() {
            let _ = inner.send(Command::Remove {
                id: self.id,
                done: None,
            });
            return;
        }
        let (tx, rx) = mpsc::channel();
        if inner
            .send(Command::Remove {
                id: self.id,
                done: Some(tx),
            })
            .is_ok()
        {
            let _ = rx.recv();
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.close();
    }
}

/// Listens on `path`, replacing a stale socket file; returns the listener and the
/// socket file's inode (so only that file is removed later).
fn bind_server(path: &Path) -> Result<(UnixListener, u64), SocketError> {
    let io_err = |e| SocketError::Io(path.to_path_buf(), e);
    match std::fs::symlink_metadata(path) {
        Ok(m) if !m.file_type().is_socket() => {
            return Err(SocketError::NotASocket(path.to_path_buf()))
        }
        Ok(_) => match sys::connect_nonblocking(path) {
            Ok(_) => return Err(SocketError::InUse(path.to_path_buf())),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                return Err(SocketError::InUse(path.to_path_buf()))
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                log::info!("vhost {}: removing stale socket file", path.display());
                std::fs::remove_file(path).map_err(io_err)?;
            }
            Err(e) => return Err(io_err(e)),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err(e)),
    }
    let l = UnixListener::bind(path).map_err(io_err)?;
    l.set_nonblocking(true).map_err(io_err)?;
    let ino = std::fs::symlink_metadata(path).map_err(io_err)?.ino();
    Ok((l, ino))
}

const WAKE: u64 = 0;
const KIND_LISTENER: u64 = 1;
const KIND_CONN: u64 = 2;

fn token(id: u64, kind: u64) -> u64 {
    id << 2 | kind
}

enum Mode {
    Server {
        listener: UnixListener,
        ino: u64,
        /// Accepting failed (fd exhaustion); the listener is out of epoll until then.
        paused_until: Option<Instant>,
    },
    Client {
        /// Next connection attempt (`None` while connected).
        retry_at: Option<Instant>,
        /// Wait before the attempt after next (zero: `reconnect_min`).
        delay: Duration,
        /// Attempts are failing (logged once per outage).
        failing: bool,
    },
}

impl Mode {
    /// Schedules the next client attempt `delay` from now and doubles the delay.
    fn backoff(&mut self, cfg: &ReactorConfig, now: Instant) {
        if let Mode::Client {
            retry_at, delay, ..
        } = self
        {
            let d = if delay.is_zero() {
                cfg.reconnect_min
            } else {
                *delay
            };
            *retry_at = Some(now + d);
            *delay = (d * 2).min(cfg.reconnect_max);
        }
    }
}

/// Fields drop in order: the device first (its rings stopped, link down), then the
/// connection, so a front-end that sees the socket close knows vpmd is out of its memory.
struct Session {
    device: Device,
    conn: Connection,
    interest: u32,
    since: Instant,
}

/// One registered socket, owned by the reactor thread.
struct Endpoint {
    id: u64,
    shared: Arc<Shared>,
    mode: Mode,
    cfg: DeviceConfig,
    sink: Arc<dyn VringSink>,
    session: Option<Session>,
}

/// Why a session ended.
enum End {
    /// The peer went away, or its bytes could not be framed.
    Conn(ConnError),
    /// The device refused a request with no way to report it.
    Refused,
    /// A message stayed incomplete too long.
    Stuck,
    /// The port was unregistered.
    Unregistered,
}

impl Endpoint {
    fn name(&self) -> std::path::Display<'_> {
        self.shared.path.display()
    }

    fn start_session(&mut self, epoll: &Epoll, stream: UnixStream) {
        let conn = match Connection::new(stream) {
            Ok(c) => c,
            Err(e) => {
                log::warn!("vhost {}: cannot set up connection: {e}", self.name());
                return;
            }
        };
        if let Err(e) = epoll.add(conn.as_fd(), EV_IN, token(self.id, KIND_CONN)) {
            log::warn!("vhost {}: cannot watch connection: {e}", self.name());
            return;
        }
        let device = Device::new(
            self.shared.path.display().to_string(),
            self.cfg.clone(),
            Arc::clone(&self.sink),
            Arc::clone(&self.shared.stats),
        );
        self.session = Some(Session {
            device,
            conn,
            interest: EV_IN,
            since: Instant::now(),
        });
        CtlStats::bump(&self.shared.stats.sessions);
        self.shared.set(ConnState::Connected);
        log::info!("vhost {}: front-end connected", self.name());
    }

    fn end_session(&mut self, epoll: &Epoll, why: End, cfg: &ReactorConfig) {
        let Some(s) = self.session.take() else {
            return;
        };
        let _ = epoll.delete(s.conn.as_fd());
        match &why {
            End::Conn(ConnError::Closed) => {
                log::info!("vhost {}: front-end disconnected", self.name())
            }
            End::Conn(e) => {
                CtlStats::bump(&self.shared.stats.dropped);
                log::warn!("vhost {}: closing connection: {e}", self.name());
            }
            End::Refused => CtlStats::bump(&self.shared.stats.dropped),
            End::Stuck => {
                CtlStats::bump(&self.shared.stats.dropped);
                log::warn!(
                    "vhost {}: closing connection: message incomplete for {:?}",
                    self.name(),
                    cfg.partial_message_timeout
                );
            }
            End::Unregistered => {}
        }
        let lasted = s.since.elapsed();
        // Stops every started ring through the sink and reports the link down.
        drop(s);
        match &mut self.mode {
            Mode::Server { .. } => self.shared.set(ConnState::Listening),
            Mode::Client { delay, .. } => {
                // A session that ended quickly keeps backing off (a front-end that
                // accepts and closes at once is not hammered every 100 ms).
                if lasted >= cfg.reconnect_max {
                    *delay = Duration::ZERO;
                }
                self.mode.backoff(cfg, Instant::now());
                self.shared.set(ConnState::Reconnecting);
            }
        }
    }

    fn on_listener(&mut self, epoll: &Epoll) {
        let Mode::Server {
            listener,
            paused_until,
            ..
        } = &mut self.mode
        else {
            return;
        };
        let mut accepted = Vec::new();
        loop {
            match listener.accept() {
                Ok((stream, _)) => accepted.push(stream),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // Typically fd exhaustion: the connection stays queued and epoll would
                    // report it again at once; pause the listener instead of spinning.
                    log::warn!("vhost {}: accept: {e}", self.shared.path.display());
                    let _ = epoll.delete(listener.as_fd());
                    *paused_until = Some(Instant::now() + Duration::from_millis(100));
                    break;
                }
            }
        }
        for stream in accepted {
            if self.session.is_some() {
                CtlStats::bump(&self.shared.stats.refused_connections);
                log::warn!(
                    "vhost {}: refusing a second front-end while one is connected",
                    self.name()
                );
                continue;
            }
            self.start_session(epoll, stream);
        }
    }

    fn on_conn(&mut self, epoll: &Epoll, events: u32, cfg: &ReactorConfig) {
        let Some(s) = &mut self.session else {
            return;
        };
        let end = serve(s, events);
        if let Some(end) = end {
            self.end_session(epoll, end, cfg);
            return;
        }
        let want = if s.conn.has_pending_output() {
            EV_OUT
        } else {
            EV_IN
        };
        if want != s.interest {
            if let Err(e) = epoll.modify(s.conn.as_fd(), want, token(self.id, KIND_CONN)) {
                self.end_session(epoll, End::Conn(ConnError::Io(e)), cfg);
                return;
            }
            s.interest = want;
        }
    }

    fn try_connect(&mut self, epoll: &Epoll, cfg: &ReactorConfig, now: Instant) {
        let Mode::Client {
            retry_at, failing, ..
        } = &mut self.mode
        else {
            return;
        };
        match sys::connect_nonblocking(&self.shared.path) {
            Ok(stream) => {
                *retry_at = None;
                *failing = false;
                self.start_session(epoll, stream);
            }
            Err(e) => {
                if !*failing {
                    *failing = true;
                    log::info!(
                        "vhost {}: cannot connect ({e}); retrying with back-off up to {:?}",
                        self.shared.path.display(),
                        cfg.reconnect_max
                    );
                }
                self.mode.backoff(cfg, now);
            }
        }
    }

    /// Runs due timers; returns the next deadline.
    fn on_timer(&mut self, epoll: &Epoll, cfg: &ReactorConfig, now: Instant) -> Option<Instant> {
        if let Some(since) = self.session.as_ref().and_then(|s| s.conn.partial_since()) {
            if now >= since + cfg.partial_message_timeout {
                self.end_session(epoll, End::Stuck, cfg);
            }
        }
        let id = self.id;
        match &mut self.mode {
            Mode::Client {
                retry_at: Some(t), ..
            } if self.session.is_none() && *t <= now => self.try_connect(epoll, cfg, now),
            Mode::Server {
                listener,
                paused_until: p @ Some(_),
                ..
            } if p.is_some_and(|t| t <= now) => {
                *p = None;
                if let Err(e) = epoll.add(listener.as_fd(), EV_IN, token(id, KIND_LISTENER)) {
                    log::warn!("vhost {}: cannot watch listener: {e}", self.name());
                }
            }
            _ => {}
        }
        let partial = self
            .session
            .as_ref()
            .and_then(|s| s.conn.partial_since())
            .map(|t| t + cfg.partial_message_timeout);
        let timer = match &self.mode {
            Mode::Client { retry_at, .. } if self.session.is_none() => *retry_at,
            Mode::Server { paused_until, .. } => *paused_until,
            _ => None,
        };
        [partial, timer].into_iter().flatten().min()
    }

    fn close(mut self, epoll: &Epoll, cfg: &ReactorConfig) {
        self.end_session(epoll, End::Unregistered, cfg);
        if let Mode::Server { listener, ino, .. } = &self.mode {
            let _ = epoll.delete(listener.as_fd());
            let path = &self.shared.path;
            // Remove the socket file only if it is still the one we bound.
            if std::fs::symlink_metadata(path).is_ok_and(|m| m.ino() == *ino) {
                let _ = std::fs::remove_file(path);
            }
        }
        self.shared.set(ConnState::Closed);
        log::info!("vhost {}: unregistered", self.name());
    }
}

/// Serves readiness `events` on a session: flushes replies, then handles up to
/// [`MESSAGES_PER_EVENT`] requests (none while replies are pending, unless the peer hung
/// up, so a peer that never reads cannot make vpmd buffer without bound).
fn serve(s: &mut Session, events: u32) -> Option<End> {
    if let Err(e) = s.conn.flush() {
        return Some(End::Conn(e));
    }
    let hup = events & EV_HUP != 0;
    for _ in 0..MESSAGES_PER_EVENT {
        if s.conn.has_pending_output() && !hup {
            break;
        }
        let raw = match s.conn.read_message() {
            Ok(Some(raw)) => raw,
            Ok(None) => break,
            Err(e) => return Some(End::Conn(e)),
        };
        let header = raw.header;
        let out = s.device.handle(header, message::parse(raw));
        if let Some(reply) = out.reply {
            if let Err(e) = s.conn.send(&reply) {
                return Some(End::Conn(e));
            }
        }
        if out.close {
            return Some(End::Refused);
        }
    }
    None
}

/// The reactor thread's state.
struct Loop {
    epoll: Epoll,
    wake: std::fs::File,
    rx: mpsc::Receiver<Command>,
    cfg: ReactorConfig,
    eps: HashMap<u64, Endpoint>,
}

impl Loop {
    fn new(
        epoll: Epoll,
        wake: std::fs::File,
        rx: mpsc::Receiver<Command>,
        cfg: ReactorConfig,
    ) -> Self {
        Self {
            epoll,
            wake,
            rx,
            cfg,
            eps: HashMap::new(),
        }
    }

    fn run(mut self) {
        let mut events = [Event {
            token: 0,
            events: 0,
        }; 64];
        let mut next: Option<Instant> = None;
        loop {
            let timeout = next.map_or(-1, |t| {
                let d = t.saturating_duration_since(Instant::now());
                // Round up so a deadline is never missed by a truncated millisecond.
                d.as_micros().div_ceil(1000).min(60_000) as i32
            });
            let n = match self.epoll.wait(&mut events, timeout) {
                Ok(n) => n,
                Err(e) => {
                    log::error!("vhost control thread: epoll_wait: {e}; stopping");
                    return;
                }
            };
            for ev in &events[..n] {
                if ev.token == WAKE {
                    let mut b = [0u8; 8];
                    let _ = (&self.wake).read(&mut b);
                    continue;
                }
                let (id, kind) = (ev.token >> 2, ev.token & 3);
                let Some(ep) = self.eps.get_mut(&id) else {
                    continue;
                };
                match kind {
                    KIND_LISTENER => ep.on_listener(&self.epoll),
                    _ => ep.on_conn(&self.epoll, ev.events, &self.cfg),
                }
            }
            while let Ok(cmd) = self.rx.try_recv() {
                match cmd {
                    Command::Add(ep) => self.add(*ep),
                    Command::Remove { id, done } => {
                        if let Some(ep) = self.eps.remove(&id) {
                            ep.close(&self.epoll, &self.cfg);
                        }
                        if let Some(d) = done {
                            let _ = d.send(());
                        }
                    }
                    Command::Shutdown => {
                        for (_, ep) in self.eps.drain() {
                            ep.close(&self.epoll, &self.cfg);
                        }
                        return;
                    }
                }
            }
            let now = Instant::now();
            next = self
                .eps
                .values_mut()
                .filter_map(|ep| ep.on_timer(&self.epoll, &self.cfg, now))
                .min();
        }
    }

    fn add(&mut self, ep: Endpoint) {
        if let Mode::Server { listener, .. } = &ep.mode {
            if let Err(e) = self
                .epoll
                .add(listener.as_fd(), EV_IN, token(ep.id, KIND_LISTENER))
            {
                log::error!("vhost {}: cannot watch listener: {e}", ep.name());
            }
            log::info!(
                "vhost {}: listening (fd {})",
                ep.name(),
                listener.as_raw_fd()
            );
        }
        self.eps.insert(ep.id, ep);
    }
}
