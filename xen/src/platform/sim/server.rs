//! A Unix-socket server with one thread per connection, stopped (listener closed, every
//! connection shut down, socket file removed) when dropped. The sim's hypervisor and
//! xenstore services both run on it.

use std::collections::HashMap;
use std::io;
use std::net::Shutdown;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

/// Identifies a connection for the lifetime of its server.
pub(crate) type ConnId = u64;

/// Serves one connection until it ends; gets the stream and its id.
pub(crate) type Handler = dyn Fn(ConnId, UnixStream) + Send + Sync;

type Conns = Arc<Mutex<HashMap<ConnId, UnixStream>>>;

/// A running server.
#[derive(Debug)]
pub(crate) struct Server {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    conns: Conns,
    accept: Option<JoinHandle<()>>,
}

impl Server {
    /// Listens on `path` (replacing a stale socket file) and serves each connection
    /// with `handler` on its own thread.
    pub fn start(path: &Path, name: &str, handler: Arc<Handler>) -> io::Result<Self> {
        if path.exists() {
            std::fs::remove_file(path)?;
        }
        let listener = UnixListener::bind(path)?;
        let stop = Arc::new(AtomicBool::new(false));
        let conns: Conns = Arc::default();
        let (s, c, n) = (Arc::clone(&stop), Arc::clone(&conns), name.to_owned());
        let accept = std::thread::Builder::new()
            .name(format!("{name}-accept"))
            .spawn(move || accept_loop(&listener, &s, &c, &n, &handler))?;
        Ok(Self {
            path: path.to_owned(),
            stop,
            conns,
            accept: Some(accept),
        })
    }
}

fn accept_loop(
    listener: &UnixListener,
    stop: &AtomicBool,
    conns: &Conns,
    name: &str,
    handler: &Arc<Handler>,
) {
    let next = AtomicU64::new(1);
    for stream in listener.incoming() {
        if stop.load(Ordering::Acquire) {
            break;
        }
        let Ok(stream) = stream else { continue };
        let id = next.fetch_add(1, Ordering::Relaxed);
        let Ok(copy) = stream.try_clone() else {
            continue;
        };
        conns
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, copy);
        let (h, c) = (Arc::clone(handler), Arc::clone(conns));
        let spawned = std::thread::Builder::new()
            .name(format!("{name}-{id}"))
            .spawn(move || {
                h(id, stream);
                c.lock().unwrap_or_else(PoisonError::into_inner).remove(&id);
            });
        if let Err(e) = spawned {
            log::warn!("{name}: cannot serve connection {id}: {e}");
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        // Wake the accept loop so it sees `stop`.
        let _ = UnixStream::connect(&self.path);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
        for s in self
            .conns
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
        {
            let _ = s.shutdown(Shutdown::Both);
        }
        let _ = std::fs::remove_file(&self.path);
    }
}
