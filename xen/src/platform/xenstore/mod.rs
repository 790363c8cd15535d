//! Xenstore: the tree of keys through which frontend and backend negotiate, with
//! watches and transactions, as libxenstore offers it (`xs_read`, `xs_write`,
//! `xs_mkdir`, `xs_rm`, `xs_directory`, `xs_watch`/`xs_read_watch`,
//! `xs_transaction_start`/`_end`).
//!
//! [`XsClient`] implements [`XenStore`] by speaking xenstored's own wire protocol
//! ([`msg`], `xs_wire.h`), so the same client talks to the sim's server and to a real
//! xenstored socket or `/dev/xen/xenbus`.

pub mod client;
pub mod msg;

use std::io;
use std::os::fd::BorrowedFd;
use std::time::Duration;

pub use client::{XsClient, COALESCE_AT};
pub use msg::XsErrno;

/// A transaction id (`xs_transaction_t`); [`TxId::NONE`] is outside any transaction.
#[repr(transparent)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TxId(pub u32);

impl TxId {
    /// No transaction (`XBT_NULL`).
    pub const NONE: Self = Self(0);
}

/// A fired watch: the path that changed (or the watched path, for the first event a
/// watch fires on registration) and the watch's token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchEvent {
    /// The changed path.
    pub path: String,
    /// The token given to [`XenStore::watch`].
    pub token: String,
}

/// Why a xenstore operation failed.
#[derive(Debug, thiserror::Error)]
pub enum XsError {
    /// xenstored answered with an error (`ENOENT`, `EAGAIN` for a conflicting
    /// transaction, `EINVAL`, ...).
    #[error("xenstore: {0:?}")]
    Errno(XsErrno),
    /// The reply broke the protocol.
    #[error("xenstore protocol: {0}")]
    Protocol(&'static str),
    /// The connection failed.
    #[error("xenstore connection: {0}")]
    Io(#[from] io::Error),
}

impl XsError {
    /// Whether the key does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Errno(XsErrno::ENOENT))
    }

    /// Whether a transaction lost a race and should be retried.
    pub fn is_again(&self) -> bool {
        matches!(self, Self::Errno(XsErrno::EAGAIN))
    }
}

/// The xenstore operations a backend uses. Paths are absolute (`/local/domain/..`) or
/// relative to the caller's domain path; values are bytes.
pub trait XenStore: Send + Sync {
    /// The value at `path`.
    fn read(&self, tx: TxId, path: &str) -> Result<Vec<u8>, XsError>;

    /// Sets `path` to `value`, creating it and any missing parents.
    fn write(&self, tx: TxId, path: &str, value: &[u8]) -> Result<(), XsError>;

    /// Creates `path` with an empty value if it does not exist.
    fn mkdir(&self, tx: TxId, path: &str) -> Result<(), XsError>;

    /// Removes `path` and everything below it (a missing `path` whose parent exists is
    /// not an error).
    fn rm(&self, tx: TxId, path: &str) -> Result<(), XsError>;

    /// The names of `path`'s children.
    fn directory(&self, tx: TxId, path: &str) -> Result<Vec<String>, XsError>;

    /// Watches `path` and everything below it; events carry `token`. The watch fires
    /// once at once, as xenstored's do.
    fn watch(&self, path: &str, token: &str) -> Result<(), XsError>;

    /// Removes a watch made with the same path and token.
    fn unwatch(&self, path: &str, token: &str) -> Result<(), XsError>;

    /// Waits up to `timeout` (`None`: forever) for the next watch event.
    fn read_watch(&self, timeout: Option<Duration>) -> Result<Option<WatchEvent>, XsError>;

    /// An fd that is readable while watch events are queued, for epoll (`xs_fileno`).
    fn watch_fd(&self) -> BorrowedFd<'_>;

    /// Starts a transaction: its reads and writes see a snapshot and take effect
    /// together at commit.
    fn transaction_start(&self) -> Result<TxId, XsError>;

    /// Commits (`commit`) or aborts a transaction. A commit that conflicts with a
    /// change made since the transaction read or wrote a node fails with
    /// [`XsErrno::EAGAIN`] and changes nothing.
    fn transaction_end(&self, tx: TxId, commit: bool) -> Result<(), XsError>;
}

/// Attempts before [`transact`] gives up on a store that keeps conflicting.
pub const TRANSACT_ATTEMPTS: usize = 64;

/// Runs `f` in a transaction and commits it, starting again while the commit
/// conflicts (netback writes its feature keys this way). `f` may run several times.
pub fn transact<S: XenStore + ?Sized, T>(
    store: &S,
    mut f: impl FnMut(TxId) -> Result<T, XsError>,
) -> Result<T, XsError> {
    let mut last = XsError::Errno(XsErrno::EAGAIN);
    for _ in 0..TRANSACT_ATTEMPTS {
        let tx = store.transaction_start()?;
        let v = match f(tx) {
            Ok(v) => v,
            Err(e) => {
                // The transaction's own error wins over an abort failure.
                let _ = store.transaction_end(tx, false);
                return Err(e);
            }
        };
        match store.transaction_end(tx, true) {
            Ok(()) => return Ok(v),
            Err(e) if e.is_again() => last = e,
            Err(e) => return Err(e),
        }
    }
    Err(last)
}
