//! vpmd-sys: the OS calls the vhost-user and Xen control planes share, and their unsafe
//! code: `sendmsg`/`recvmsg` with `SCM_RIGHTS`, eventfds, memfds (plain and sealed),
//! epoll and `poll`, a non-blocking Unix `connect`; and the cache prefetch hints both
//! data paths issue on guest memory ([`prefetch`]).
//!
//! Thin checked wrappers returning owned fds (`OwnedFd`/`File`) and `io::Result`; the
//! protocol code above them denies `unsafe_code`. Must never: leak an fd the kernel
//! handed us (every received fd becomes an `OwnedFd` at once, even when the message
//! turns out to be bad), or raise `SIGPIPE` (every send uses `MSG_NOSIGNAL`: a plugin
//! loaded into another program cannot rely on its disposition). Nothing here but the
//! prefetch hints is on a packet path.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod epoll;
mod event;
mod memfd;
pub mod prefetch;
mod scm;
mod unix;

pub use epoll::{poll_readable, Epoll, Event, EV_HUP, EV_IN, EV_OUT};
pub use event::{eventfd, eventfd_consume, eventfd_signal};
pub use memfd::{memfd, sealed_memfd, size_sealed};
pub use scm::{
    recv_exact_with_fds, recv_with_fds, send_all_with_fds, send_with_fds, Received, RECV_MAX_FDS,
    SEND_MAX_FDS,
};
pub use unix::connect_nonblocking;
