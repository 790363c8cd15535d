//! One vhost-user connection, framed without ever blocking: a reassembly buffer per
//! connection, so a peer that sends a header and then stalls costs only its own buffer,
//! and an output buffer for replies the socket could not take yet.
//!
//! Reads never cross a message boundary: first the rest of the 12-byte header, then the
//! rest of the payload. The kernel hands over `SCM_RIGHTS` fds with the bytes of the
//! `sendmsg` that carried them, so every fd received while a message is being read
//! belongs to that message (DPDK's `read_fd_message` relies on the same property), and a
//! message never picks up the fds of the next one.
//!
//! Must never: block, read past the current message, or keep fds of a message it could
//! not frame. Framing errors ([`ConnError`]) end the connection; what a well-framed but
//! bad message deserves is [`super::message`]'s and the device's call.

#![deny(unsafe_code)]

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::Instant;

use super::defs::{self, HEADER_LEN};
use super::message::{Header, RawMessage, MAX_PAYLOAD};
use crate::sys;

/// Largest amount of unsent reply bytes a connection may hold before the peer counts as
/// not reading its replies.
pub const MAX_PENDING_OUTPUT: usize = 64 * 1024;

/// Why a connection ended.
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    /// The peer closed the socket (possibly mid-message).
    #[error("peer closed the connection")]
    Closed,
    /// A socket error (reset, ...).
    #[error("socket error: {0}")]
    Io(#[from] io::Error),
    /// A header announced more payload than any request carries.
    #[error("{name}: payload of {size} bytes exceeds {MAX_PAYLOAD}")]
    PayloadTooLarge {
        /// Request name.
        name: &'static str,
        /// Announced size.
        size: u32,
    },
    /// A header with a protocol version other than 1.
    #[error("{name}: unsupported protocol version in flags {flags:#x}")]
    BadVersion {
        /// Request name.
        name: &'static str,
        /// The flags word.
        flags: u32,
    },
    /// The peer does not read its replies.
    #[error("peer does not read its replies ({0} bytes pending)")]
    OutputFull(usize),
}

/// A non-blocking vhost-user stream with its reassembly and output buffers.
#[derive(Debug)]
pub struct Connection {
    stream: UnixStream,
    hdr: [u8; HEADER_LEN],
    hdr_len: usize,
    header: Option<Header>,
    payload: Vec<u8>,
    payload_len: usize,
    fds: Vec<OwnedFd>,
    fds_truncated: bool,
    partial_since: Option<Instant>,
    out: Vec<u8>,
}

impl Connection {
    /// Wraps a connected stream, making it non-blocking.
    pub fn new(stream: UnixStream) -> io::Result<Self> {
        stream.set_nonblocking(true)?;
        Ok(Self {
            stream,
            hdr: [0; HEADER_LEN],
            hdr_len: 0,
            header: None,
            payload: Vec::new(),
            payload_len: 0,
            fds: Vec::new(),
            fds_truncated: false,
            partial_since: None,
            out: Vec::new(),
        })
    }

    /// Reads what the socket has towards the next message. `Ok(None)`: the message is
    /// not complete yet (the socket would block); call again when it is readable.
    pub fn read_message(&mut self) -> Result<Option<RawMessage>, ConnError> {
        while self.header.is_none() {
            let want = HEADER_LEN - self.hdr_len;
            let mut buf = [0u8; HEADER_LEN];
            let Some(n) = recv(
                &self.stream,
                &mut buf[..want],
                &mut self.fds,
                &mut self.fds_truncated,
            )?
            else {
                return Ok(None);
            };
            self.partial_since.get_or_insert_with(Instant::now);
            self.hdr[self.hdr_len..self.hdr_len + n].copy_from_slice(&buf[..n]);
            self.hdr_len += n;
            if self.hdr_len == HEADER_LEN {
                let h = Header::parse(&self.hdr);
                let name = defs::request_name(h.request);
                if h.version() != defs::VERSION {
                    return Err(ConnError::BadVersion {
                        name,
                        flags: h.flags,
                    });
                }
                if h.size > MAX_PAYLOAD {
                    return Err(ConnError::PayloadTooLarge { name, size: h.size });
                }
                self.header = Some(h);
                self.payload = vec![0; h.size as usize];
                self.payload_len = 0;
            }
        }
        while self.payload_len < self.payload.len() {
            let Some(n) = recv(
                &self.stream,
                &mut self.payload[self.payload_len..],
                &mut self.fds,
                &mut self.fds_truncated,
            )?
            else {
                return Ok(None);
            };
            self.payload_len += n;
        }
        let Some(header) = self.header.take() else {
            return Ok(None);
        };
        self.hdr_len = 0;
        self.partial_since = None;
        Ok(Some(RawMessage {
            header,
            payload: std::mem::take(&mut self.payload),
            fds: self.fds.drain(..).map(File::from).collect(),
            fds_truncated: std::mem::take(&mut self.fds_truncated),
        }))
    }

    /// Since when a message has been partly received (`None`: between messages).
    pub fn partial_since(&self) -> Option<Instant> {
        self.partial_since
    }

    /// Queues `bytes` and writes as much as the socket takes now.
    pub fn send(&mut self, bytes: &[u8]) -> Result<(), ConnError> {
        self.out.extend_from_slice(bytes);
        if self.out.len() > MAX_PENDING_OUTPUT {
            return Err(ConnError::OutputFull(self.out.len()));
        }
        self.flush()
    }

    /// Writes pending output until done or the socket would block.
    pub fn flush(&mut self) -> Result<(), ConnError> {
        while !self.out.is_empty() {
            match sys::send_with_fds(self.stream.as_fd(), &self.out, &[]) {
                Ok(0) => return Err(ConnError::Closed),
                Ok(n) => {
                    self.out.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(ConnError::Io(e)),
            }
        }
        Ok(())
    }

    /// Replies are waiting for the socket to take them.
    pub fn has_pending_output(&self) -> bool {
        !self.out.is_empty()
    }
}

/// One `recvmsg` into `buf` (never empty), collecting fds. `Ok(None)`: it would block.
fn recv(
    stream: &UnixStream,
    buf: &mut [u8],
    fds: &mut Vec<OwnedFd>,
    fds_truncated: &mut bool,
) -> Result<Option<usize>, ConnError> {
    loop {
        match sys::recv_with_fds(stream.as_fd(), buf, fds) {
            Ok(r) if r.bytes == 0 => return Err(ConnError::Closed),
            Ok(r) => {
                *fds_truncated |= r.fds_truncated;
                if fds.len() > defs::MAX_FDS {
                    // Several sends' worth of fds for one message: close them now rather
                    // than hold an unbounded number; the message will be refused.
                    *fds_truncated = true;
                    fds.clear();
                }
                return Ok(Some(r.bytes));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ConnError::Io(e)),
        }
    }
}

impl AsFd for Connection {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.stream.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::message::encode;
    use std::io::Write;

    fn pair() -> (UnixStream, Connection) {
        let (a, b) = UnixStream::pair().unwrap();
        (a, Connection::new(b).unwrap())
    }

    #[test]
    fn a_message_trickling_in_byte_by_byte_is_reassembled() {
        let (mut a, mut c) = pair();
        let msg = encode(defs::req::SET_FEATURES, 0, &7u64.to_ne_bytes());
        for (i, b) in msg.iter().enumerate() {
            assert!(c.read_message().unwrap().is_none(), "byte {i}");
            assert_eq!(c.partial_since().is_some(), i > 0);
            a.write_all(&[*b]).unwrap();
        }
        let m = c.read_message().unwrap().unwrap();
        assert_eq!(m.header.request, defs::req::SET_FEATURES);
        assert_eq!(m.payload, 7u64.to_ne_bytes());
        assert!(c.partial_since().is_none());
        assert!(c.read_message().unwrap().is_none());
    }

    #[test]
    fn fds_stay_with_their_message() {
        let (a, mut c) = pair();
        let e = sys::eventfd(false).unwrap();
        let first = encode(defs::req::SET_OWNER, 0, &[]);
        let second = encode(defs::req::SET_VRING_CALL, 0, &0u64.to_ne_bytes());
        sys::send_with_fds(a.as_fd(), &first, &[]).unwrap();
        sys::send_with_fds(a.as_fd(), &second, &[e.as_fd()]).unwrap();
        let m1 = c.read_message().unwrap().unwrap();
        assert_eq!((m1.header.request, m1.fds.len()), (defs::req::SET_OWNER, 0));
        let m2 = c.read_message().unwrap().unwrap();
        assert_eq!(m2.fds.len(), 1);
    }

    #[test]
    fn a_message_with_too_many_fds_keeps_none() {
        let (a, mut c) = pair();
        let many: Vec<File> = (0..10).map(|_| sys::eventfd(false).unwrap()).collect();
        let fds: Vec<BorrowedFd<'_>> = many.iter().map(|f| f.as_fd()).collect();
        let msg = encode(defs::req::SET_OWNER, 0, &[]);
        sys::send_with_fds(a.as_fd(), &msg, &fds).unwrap();
        let m = c.read_message().unwrap().unwrap();
        assert!(m.fds_truncated);
        assert!(m.fds.is_empty());
    }

    #[test]
    fn oversized_payloads_bad_versions_and_eof_end_the_connection() {
        let (mut a, mut c) = pair();
        a.write_all(&Header::new(5, 0, MAX_PAYLOAD + 1).to_bytes())
            .unwrap();
        assert!(matches!(
            c.read_message(),
            Err(ConnError::PayloadTooLarge {
                name: "SET_MEM_TABLE",
                ..
            })
        ));
        let (mut a, mut c) = pair();
        let mut h = Header::new(1, 0, 0);
        h.flags = 2;
        a.write_all(&h.to_bytes()).unwrap();
        assert!(matches!(
            c.read_message(),
            Err(ConnError::BadVersion { .. })
        ));
        let (mut a, mut c) = pair();
        a.write_all(&Header::new(1, 0, 8).to_bytes()).unwrap();
        drop(a);
        assert!(matches!(c.read_message(), Err(ConnError::Closed)));
    }
}
