//! The OS calls of the platform layer, and, with [`shm`](super::shm), its only unsafe
//! code: sealed memfds, eventfds, `poll`, and `sendmsg`/`recvmsg` with `SCM_RIGHTS`.
//!
//! Thin checked wrappers returning owned fds and `io::Result`. Must never leak an fd
//! the kernel handed us (each received fd becomes an `OwnedFd` at once) or raise
//! `SIGPIPE` (sends use `MSG_NOSIGNAL`).
//!
//! The vhost crate has private twins of the eventfd, memfd and `SCM_RIGHTS` helpers
//! (`vhost/src/sys.rs`); both belong in a shared low-level crate.

use std::fs::File;
use std::io::{self, Read, Write};
use std::mem::size_of;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// Most fds one message carries here.
pub const MAX_FDS: usize = 4;

/// Control buffer for [`MAX_FDS`] fds, as `u64`s so it is aligned for `cmsghdr`.
const CMSG_WORDS: usize = 2 + (MAX_FDS * size_of::<RawFd>()).div_ceil(8);

/// A memfd of `len` bytes whose size is sealed: no process holding it can shrink it
/// under another's mapping (SIGBUS) or grow it.
pub fn sealed_memfd(name: &str, len: u64) -> io::Result<File> {
    let cname = std::ffi::CString::new(name)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in memfd name"))?;
    // SAFETY: `cname` is a valid C string for the call.
    let fd =
        unsafe { libc::memfd_create(cname.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh fd we own.
    let f = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    f.set_len(len)?;
    let seals = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_SEAL;
    // SAFETY: fcntl on an fd we own, with an int argument.
    if unsafe { libc::fcntl(f.as_raw_fd(), libc::F_ADD_SEALS, seals) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(f)
}

/// Whether `f`'s size is sealed against shrinking (so mapping it cannot SIGBUS later).
pub fn size_sealed(f: &File) -> bool {
    // SAFETY: fcntl on a valid fd; F_GET_SEALS takes no argument.
    let seals = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GET_SEALS) };
    seals >= 0 && seals & libc::F_SEAL_SHRINK != 0
}

/// A new non-blocking eventfd with counter 0.
pub fn eventfd() -> io::Result<File> {
    // SAFETY: plain eventfd(2).
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh fd we own.
    Ok(File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
}

/// Adds one to an eventfd. A counter at its maximum is still pending: nothing is lost.
pub fn eventfd_signal(fd: &File) -> io::Result<()> {
    match (&*fd).write(&1u64.to_ne_bytes()) {
        Err(e) if e.kind() != io::ErrorKind::WouldBlock => Err(e),
        _ => Ok(()),
    }
}

/// Resets a non-blocking eventfd to 0; whether it was signalled.
pub fn eventfd_consume(fd: &File) -> io::Result<bool> {
    let mut b = [0u8; 8];
    match (&*fd).read(&mut b) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
        Err(e) => Err(e),
    }
}

/// Waits until `fd` is readable or `timeout` passes (`None`: forever). Returns whether
/// it is readable; an interrupted wait counts as not readable.
pub fn poll_readable(fd: BorrowedFd<'_>, timeout: Option<Duration>) -> io::Result<bool> {
    let ms = match timeout {
        None => -1,
        Some(t) => libc::c_int::try_from(t.as_millis().max(u128::from(!t.is_zero())))
            .unwrap_or(libc::c_int::MAX),
    };
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the call.
    let n = unsafe { libc::poll(&mut p, 1, ms) };
    if n < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::Interrupted {
            Ok(false)
        } else {
            Err(e)
        };
    }
    Ok(n > 0 && p.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0)
}

/// Sends all of `buf` on a blocking stream socket, with `fds` attached to its first
/// byte.
pub fn send_with_fds(sock: BorrowedFd<'_>, buf: &[u8], fds: &[BorrowedFd<'_>]) -> io::Result<()> {
    if fds.len() > MAX_FDS {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "too many fds"));
    }
    let mut cmsg = [0u64; CMSG_WORDS];
    let mut sent = 0;
    while sent < buf.len() {
        let rest = &buf[sent..];
        let mut iov = libc::iovec {
            iov_base: rest.as_ptr() as *mut libc::c_void,
            iov_len: rest.len(),
        };
        // SAFETY: an all-zero msghdr is a valid "no name, no iov, no control" value.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        if sent == 0 && !fds.is_empty() {
            let data_len = (fds.len() * size_of::<RawFd>()) as u32;
            msg.msg_control = cmsg.as_mut_ptr().cast();
            // SAFETY: pure computation.
            msg.msg_controllen = unsafe { libc::CMSG_SPACE(data_len) } as _;
            // SAFETY: the control buffer holds CMSG_SPACE(data_len) bytes for up to
            // MAX_FDS fds, so the first header and its data are inside it.
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
        // SAFETY: `msg` points at live buffers of the given lengths; the kernel reads.
        let n = unsafe { libc::sendmsg(sock.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        sent += n as usize;
    }
    Ok(())
}

/// Fills `buf` from a blocking stream socket, collecting the fds that came with it
/// (up to [`MAX_FDS`]; the kernel closes any excess). End of stream before the first
/// byte is `UnexpectedEof`, as is one in the middle.
pub fn recv_with_fds(
    sock: BorrowedFd<'_>,
    buf: &mut [u8],
    fds: &mut Vec<OwnedFd>,
) -> io::Result<()> {
    let mut got = 0;
    while got < buf.len() {
        let mut cmsg = [0u64; CMSG_WORDS];
        let rest = &mut buf[got..];
        let mut iov = libc::iovec {
            iov_base: rest.as_mut_ptr().cast(),
            iov_len: rest.len(),
        };
        // SAFETY: as in `send_with_fds`.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cmsg.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&cmsg) as _;
        // SAFETY: `msg` points at `iov` (over `buf`) and `cmsg`, both live and
        // writable for the call, with their true lengths.
        let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        take_fds(&msg, fds);
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        got += n as usize;
    }
    Ok(())
}

/// Moves the `SCM_RIGHTS` fds of a received message into `fds`.
fn take_fds(msg: &libc::msghdr, fds: &mut Vec<OwnedFd>) {
    // SAFETY: the kernel filled `msg_control`/`msg_controllen`; the CMSG_* walkers stay
    // inside `msg_controllen` bytes of it.
    let mut c = unsafe { libc::CMSG_FIRSTHDR(msg) };
    while !c.is_null() {
        // SAFETY: `c` is a header inside the control buffer (CMSG_FIRSTHDR/NXTHDR).
        let (level, kind, len) = unsafe { ((*c).cmsg_level, (*c).cmsg_type, (*c).cmsg_len) };
        if level == libc::SOL_SOCKET && kind == libc::SCM_RIGHTS {
            // SAFETY: CMSG_LEN(0) is the header length; a pure computation.
            let hdr = unsafe { libc::CMSG_LEN(0) } as usize;
            #[allow(clippy::unnecessary_cast)] // `cmsg_len` is not `usize` on every libc
            let count = (len as usize).saturating_sub(hdr) / size_of::<RawFd>();
            // SAFETY: the data of an SCM_RIGHTS message is `count` ints inside the buffer.
            let data = unsafe { libc::CMSG_DATA(c) }.cast::<RawFd>();
            for i in 0..count {
                // SAFETY: in bounds as above; the data may be unaligned.
                let fd = unsafe { data.add(i).read_unaligned() };
                // SAFETY: the kernel just installed `fd` in our table for us; we own it.
                fds.push(unsafe { OwnedFd::from_raw_fd(fd) });
            }
        }
        // SAFETY: as for CMSG_FIRSTHDR.
        c = unsafe { libc::CMSG_NXTHDR(msg, c) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn fds_travel_with_their_bytes() {
        let (a, b) = UnixStream::pair().unwrap();
        let e = eventfd().unwrap();
        send_with_fds(a.as_fd(), b"hello", &[e.as_fd()]).unwrap();
        let mut buf = [0u8; 5];
        let mut fds = Vec::new();
        recv_with_fds(b.as_fd(), &mut buf, &mut fds).unwrap();
        assert_eq!((&buf, fds.len()), (b"hello", 1));
        // The received eventfd is the same object.
        eventfd_signal(&File::from(fds.pop().unwrap())).unwrap();
        assert!(poll_readable(e.as_fd(), None).unwrap());
        assert!(eventfd_consume(&e).unwrap());
        assert!(!eventfd_consume(&e).unwrap());
        assert!(!poll_readable(e.as_fd(), Some(Duration::ZERO)).unwrap());
        drop(a);
        let err = recv_with_fds(b.as_fd(), &mut buf, &mut fds).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn sealed_memfds_cannot_shrink() {
        let f = sealed_memfd("vpmd-test", 8192).unwrap();
        assert!(size_sealed(&f));
        assert!(f.set_len(4096).is_err());
        assert_eq!(f.metadata().unwrap().len(), 8192);
        assert!(!size_sealed(&tempfile()));
    }

    fn tempfile() -> File {
        let p = std::env::temp_dir().join(format!("vpmd-xen-seal-{}", std::process::id()));
        let f = File::create(&p).unwrap();
        std::fs::remove_file(&p).unwrap();
        f
    }
}
