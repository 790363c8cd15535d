//! Byte streams with file descriptors attached (`SCM_RIGHTS` on Unix stream sockets).

use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// Most fds one receive takes: more than any message of vpmd's protocols carries, so
/// callers see (and refuse) a few too many; beyond it the kernel sets `MSG_CTRUNC` and
/// closes the excess.
pub const RECV_MAX_FDS: usize = 12;

/// Most fds [`send_with_fds`] attaches (more than [`RECV_MAX_FDS`], so tests can play a
/// peer that sends too many).
pub const SEND_MAX_FDS: usize = 16;

/// Control buffers as `u64`s so they are aligned for `cmsghdr` (16 bytes of header).
const RECV_CMSG_WORDS: usize = 2 + (RECV_MAX_FDS * size_of::<RawFd>()).div_ceil(8);
const SEND_CMSG_WORDS: usize = 2 + (SEND_MAX_FDS * size_of::<RawFd>()).div_ceil(8);

/// What one `recv_with_fds` returned.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// Bytes read; 0 means end of stream.
    pub bytes: usize,
    /// The peer sent more fds than fit (the kernel closed the rest).
    pub fds_truncated: bool,
}

/// One `recvmsg`: up to `buf.len()` bytes from a stream socket (blocking or not, as the
/// socket is), appending any fds that came with them to `fds`.
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
    let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
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

/// One `sendmsg`: `buf` with `fds` attached (none: a plain send), never raising
/// `SIGPIPE`. Returns the bytes written (possibly fewer on a non-blocking socket).
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

/// Sends all of `buf` on a blocking stream socket, with `fds` attached to its first
/// byte; interrupted calls are retried.
pub fn send_all_with_fds(
    sock: BorrowedFd<'_>,
    buf: &[u8],
    fds: &[BorrowedFd<'_>],
) -> io::Result<()> {
    let mut sent = 0;
    while sent < buf.len() {
        let attach = if sent == 0 { fds } else { &[] };
        match send_with_fds(sock, &buf[sent..], attach) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Fills `buf` from a blocking stream socket, collecting the fds that came with it.
/// End of stream before `buf` is full is `UnexpectedEof`; interrupted calls are retried.
pub fn recv_exact_with_fds(
    sock: BorrowedFd<'_>,
    buf: &mut [u8],
    fds: &mut Vec<OwnedFd>,
) -> io::Result<()> {
    let mut got = 0;
    while got < buf.len() {
        match recv_with_fds(sock, &mut buf[got..], fds) {
            Ok(r) if r.bytes == 0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(r) => got += r.bytes,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eventfd;
    use std::fs::File;
    use std::io::{Read, Write};
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;

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
        assert!(r.fds_truncated && fds.len() <= RECV_MAX_FDS);
    }

    #[test]
    fn whole_messages_on_blocking_sockets() {
        let (a, b) = UnixStream::pair().unwrap();
        let e = eventfd(false).unwrap();
        send_all_with_fds(a.as_fd(), b"hello", &[e.as_fd()]).unwrap();
        let mut buf = [0u8; 5];
        let mut fds = Vec::new();
        recv_exact_with_fds(b.as_fd(), &mut buf, &mut fds).unwrap();
        assert_eq!((&buf, fds.len()), (b"hello", 1));
        drop(a);
        let err = recv_exact_with_fds(b.as_fd(), &mut buf, &mut fds).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
