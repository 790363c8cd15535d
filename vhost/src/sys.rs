//! The OS calls of the vhost-user control plane, and its only unsafe code: `recvmsg` and
//! `sendmsg` with `SCM_RIGHTS`, a non-blocking Unix `connect`, epoll, eventfd and memfd.
//!
//! Everything here is a thin, checked wrapper that returns owned fds (`OwnedFd`/`File`)
//! and `io::Result`; the protocol modules above it set `#![deny(unsafe_code)]`. Must
//! never: leak an fd the kernel handed us (every received fd becomes an `OwnedFd` at
//! once, even when the message turns out to be bad), or raise `SIGPIPE` (every send uses
//! `MSG_NOSIGNAL`: a plugin loaded into another program cannot rely on its disposition).

use std::fs::File;
use std::io;
use std::mem::{size_of, MaybeUninit};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::path::Path;

/// Most fds a vhost-user message carries (8, `SET_MEM_TABLE`); callers refuse more.
pub const MAX_FDS: usize = 8;

/// Most fds `send_with_fds` attaches (more than [`MAX_FDS`], so tests can play a
/// front-end that sends too many).
pub const SEND_MAX_FDS: usize = 16;

/// Room for a few more than `MAX_FDS` fds in one `SCM_RIGHTS` control message (a
/// `cmsghdr` is 16 bytes), as `u64`s so the buffer is aligned for `cmsghdr`. Fds beyond
/// it make the kernel set `MSG_CTRUNC` and close the excess.
const RECV_CMSG_WORDS: usize = 8;
const SEND_CMSG_WORDS: usize = 2 + SEND_MAX_FDS * size_of::<RawFd>() / 8;
const _: () = assert!(RECV_CMSG_WORDS * 8 >= 16 + MAX_FDS * size_of::<RawFd>());

/// What one `recv_with_fds` returned.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// Bytes read; 0 means end of stream.
    pub bytes: usize,
    /// The peer sent more fds than fit (the kernel closed the rest).
    pub fds_truncated: bool,
}

/// Reads up to `buf.len()` bytes from a non-blocking stream socket, appending any fds
/// that came with them to `fds`.
pub fn recv_with_fds(
    sock: BorrowedFd<'_>,
    buf: &mut [u8],
    fds: &mut Vec<OwnedFd>,
) -> io::Result<Received> {
    let mut cmsg = [0u64; RECV_CMSG_WORDS];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: an all-zero msghdr is a valid "no name, no iov, no control" value.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cmsg.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&cmsg) as _;
    // SAFETY: `msg` points at `iov` (over `buf`) and `cmsg`, both live and writable for
    // the call, with their true lengths.
    let n = unsafe {
        libc::recvmsg(
            sock.as_raw_fd(),
            &mut msg,
            libc::MSG_CMSG_CLOEXEC | libc::MSG_DONTWAIT,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel filled `msg_control`/`msg_controllen`; the CMSG_* walkers stay
    // inside `msg_controllen` bytes of it.
    let mut c = unsafe { libc::CMSG_FIRSTHDR(&msg) };
    while !c.is_null() {
        // SAFETY: `c` is a header inside the control buffer (CMSG_FIRSTHDR/NXTHDR checked).
        let (level, kind, len) = unsafe { ((*c).cmsg_level, (*c).cmsg_type, (*c).cmsg_len) };
        if level == libc::SOL_SOCKET && kind == libc::SCM_RIGHTS {
            // SAFETY: CMSG_LEN(0) is the header length; a pure computation.
            let hdr = unsafe { libc::CMSG_LEN(0) } as usize;
            #[allow(clippy::unnecessary_cast)] // `cmsg_len` is not `usize` on every libc
            let count = (len as usize).saturating_sub(hdr) / size_of::<RawFd>();
            // SAFETY: the data of an SCM_RIGHTS message is `count` ints inside the buffer.
            let data = unsafe { libc::CMSG_DATA(c) }.cast::<RawFd>();
            for i in 0..count {
                // SAFETY: in bounds as above; the data may be unaligned, so read_unaligned.
                let fd = unsafe { data.add(i).read_unaligned() };
                // SAFETY: the kernel just installed `fd` in our table for us; we own it.
                fds.push(unsafe { OwnedFd::from_raw_fd(fd) });
            }
        }
        // SAFETY: as for CMSG_FIRSTHDR.
        c = unsafe { libc::CMSG_NXTHDR(&msg, c) };
    }
    Ok(Received {
        bytes: n as usize,
        fds_truncated: msg.msg_flags & libc::MSG_CTRUNC != 0,
    })
}

/// Writes `buf` with `fds` attached (none: a plain send), never raising `SIGPIPE`.
/// Returns the bytes written (possibly fewer on a non-blocking socket).
pub fn send_with_fds(
    sock: BorrowedFd<'_>,
    buf: &[u8],
    fds: &[BorrowedFd<'_>],
) -> io::Result<usize> {
    if fds.len() > SEND_MAX_FDS {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "too many fds"));
    }
    let mut cmsg = [0u64; SEND_CMSG_WORDS];
    let mut iov = libc::iovec {
        iov_base: buf.as_ptr() as *mut libc::c_void,
        iov_len: buf.len(),
    };
    // SAFETY: as in `recv_with_fds`.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if !fds.is_empty() {
        let data_len = (fds.len() * size_of::<RawFd>()) as u32;
        msg.msg_control = cmsg.as_mut_ptr().cast();
        // SAFETY: pure computation.
        msg.msg_controllen = unsafe { libc::CMSG_SPACE(data_len) } as _;
        // SAFETY: the control buffer holds CMSG_SPACE(data_len) bytes (asserted above),
        // so the first header and its data are inside it.
        unsafe {
            let c = libc::CMSG_FIRSTHDR(&msg);
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            (*c).cmsg_len = libc::CMSG_LEN(data_len) as _;
            let data = libc::CMSG_DATA(c).cast::<RawFd>();
            for (i, fd) in fds.iter().enumerate() {
                data.add(i).write_unaligned(fd.as_raw_fd());
            }
        }
    }
    // SAFETY: `msg` points at live buffers of the given lengths; the kernel only reads.
    let n = unsafe { libc::sendmsg(sock.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// Connects a non-blocking Unix stream socket to `path`. A listener whose backlog is full
/// gives `WouldBlock`, which callers treat like a refusal (try again later).
pub fn connect_nonblocking(path: &Path) -> io::Result<UnixStream> {
    // SAFETY: an all-zero sockaddr_un is valid; we fill family and path below.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = path.as_os_str().as_bytes();
    if bytes.is_empty() || bytes.len() >= addr.sun_path.len() || bytes.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "socket path empty, too long or with a NUL byte",
        ));
    }
    for (d, s) in addr.sun_path.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    // SAFETY: plain socket(2).
    let fd = unsafe {
        libc::socket(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is the socket just created and owned by nobody else.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    let len = std::mem::offset_of!(libc::sockaddr_un, sun_path) + bytes.len() + 1;
    // SAFETY: `addr` is a valid sockaddr_un and `len` does not exceed its size.
    let r = unsafe {
        libc::connect(
            sock.as_raw_fd(),
            (&addr as *const libc::sockaddr_un).cast(),
            len as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(UnixStream::from(sock))
}

/// An epoll instance (level-triggered).
#[derive(Debug)]
pub struct Epoll {
    fd: OwnedFd,
}

/// Readable.
pub const EV_IN: u32 = libc::EPOLLIN as u32;
/// Writable.
pub const EV_OUT: u32 = libc::EPOLLOUT as u32;
/// Peer closed or error: always reported.
pub const EV_HUP: u32 = (libc::EPOLLHUP | libc::EPOLLERR | libc::EPOLLRDHUP) as u32;

/// One ready fd: its token and events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// The token it was registered with.
    pub token: u64,
    /// `EV_*` bits.
    pub events: u32,
}

impl Epoll {
    /// A new epoll instance.
    pub fn new() -> io::Result<Self> {
        // SAFETY: plain epoll_create1(2).
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a fresh fd we own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Self { fd })
    }

    fn ctl(&self, op: libc::c_int, fd: RawFd, events: u32, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event { events, u64: token };
        // SAFETY: `ev` is a valid epoll_event for the call; the kernel copies it.
        if unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), op, fd, &mut ev) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Watches `fd` for `events` (plus hang-ups), reporting `token`.
    pub fn add(&self, fd: BorrowedFd<'_>, events: u32, token: u64) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_ADD, fd.as_raw_fd(), events | EV_HUP, token)
    }

    /// Changes the events watched on `fd`.
    pub fn modify(&self, fd: BorrowedFd<'_>, events: u32, token: u64) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_MOD, fd.as_raw_fd(), events | EV_HUP, token)
    }

    /// Stops watching `fd` (closing it does that too; this is for fds that stay open).
    pub fn delete(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_DEL, fd.as_raw_fd(), 0, 0)
    }

    /// Waits up to `timeout_ms` (-1: forever) and fills `out`; returns how many are ready.
    pub fn wait(&self, out: &mut [Event], timeout_ms: i32) -> io::Result<usize> {
        const N: usize = 64;
        let mut evs = [MaybeUninit::<libc::epoll_event>::uninit(); N];
        let max = out.len().min(N) as libc::c_int;
        // SAFETY: the kernel writes at most `max` events into `evs`.
        let n = unsafe {
            libc::epoll_wait(
                self.fd.as_raw_fd(),
                evs.as_mut_ptr().cast(),
                max,
                timeout_ms,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted {
                Ok(0)
            } else {
                Err(e)
            };
        }
        for (o, e) in out.iter_mut().zip(&evs[..n as usize]) {
            // SAFETY: the first `n` entries were written by the kernel.
            let e = unsafe { e.assume_init() };
            *o = Event {
                token: e.u64,
                events: e.events,
            };
        }
        Ok(n as usize)
    }
}

/// A new eventfd (counter 0), non-blocking if asked.
pub fn eventfd(nonblocking: bool) -> io::Result<File> {
    let mut flags = libc::EFD_CLOEXEC;
    if nonblocking {
        flags |= libc::EFD_NONBLOCK;
    }
    // SAFETY: plain eventfd(2).
    let fd = unsafe { libc::eventfd(0, flags) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh fd we own.
    Ok(File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
}

/// An anonymous memory file (`memfd_create`) of `len` bytes, as QEMU's
/// `memory-backend-memfd` hands to a back-end.
pub fn memfd(name: &str, len: u64) -> io::Result<File> {
    let cname = std::ffi::CString::new(name)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in memfd name"))?;
    // SAFETY: `cname` is a valid C string for the call.
    let fd = unsafe { libc::memfd_create(cname.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh fd we own.
    let f = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    f.set_len(len)?;
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::AsFd;

    #[test]
    fn fds_travel_with_their_bytes_and_excess_is_flagged() {
        let (a, b) = UnixStream::pair().unwrap();
        b.set_nonblocking(true).unwrap();
        let e1 = eventfd(false).unwrap();
        let e2 = eventfd(false).unwrap();
        assert_eq!(
            send_with_fds(a.as_fd(), b"hello", &[e1.as_fd(), e2.as_fd()]).unwrap(),
            5
        );
        let mut buf = [0u8; 16];
        let mut fds = Vec::new();
        let r = recv_with_fds(b.as_fd(), &mut buf, &mut fds).unwrap();
        assert_eq!((r.bytes, r.fds_truncated, fds.len()), (5, false, 2));
        // The received eventfd is the same object: a write through it is visible.
        File::from(fds.pop().unwrap())
            .write_all(&1u64.to_ne_bytes())
            .unwrap();
        let mut v = [0u8; 8];
        (&e2).read_exact(&mut v).unwrap();
        assert_eq!(u64::from_ne_bytes(v), 1);
        let err = recv_with_fds(b.as_fd(), &mut buf, &mut fds).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        // Sixteen fds do not fit the receive buffer: flagged, and the rest closed.
        let many: Vec<File> = (0..SEND_MAX_FDS).map(|_| eventfd(false).unwrap()).collect();
        let borrowed: Vec<BorrowedFd<'_>> = many.iter().map(|f| f.as_fd()).collect();
        send_with_fds(a.as_fd(), b"x", &borrowed).unwrap();
        fds.clear();
        let r = recv_with_fds(b.as_fd(), &mut buf, &mut fds).unwrap();
        assert!(r.fds_truncated && fds.len() < SEND_MAX_FDS);
    }

    #[test]
    fn connect_to_nothing_is_refused_and_long_paths_are_invalid() {
        let p = std::env::temp_dir().join(format!("vpmd-nothing-{}.sock", std::process::id()));
        assert!(connect_nonblocking(&p).is_err());
        let long = Path::new("/tmp").join("x".repeat(200));
        assert_eq!(
            connect_nonblocking(&long).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
    }
}
