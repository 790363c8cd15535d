//! A minimal vhost-user front-end (the QEMU side), for vpmd's tests and benchmarks: it
//! negotiates features, sends a memfd memory table, sets vrings up with kick and call
//! eventfds, and can send any raw message (hostile tests).
//!
//! It uses blocking I/O with a timeout: it drives one back-end from one thread, and a
//! back-end that does not answer is a test failure, not something to wait out.
//!
//! Must never: wait for a reply forever, or hide a back-end's refusal (a non-zero
//! `REPLY_ACK` status is an error).

#![deny(unsafe_code)]

mod memory;

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::Duration;

pub use memory::{GuestMemory, VringLayout};

use crate::protocol::defs::{self, proto, req, HEADER_LEN};
use crate::protocol::message::{self, ConfigHeader, Header, MemRegion, VringAddr, VringState};
use crate::virtio;

/// How long a reply may take by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// A front-end request that failed.
#[derive(Debug, thiserror::Error)]
pub enum FrontendError {
    /// The socket failed, timed out or closed.
    #[error("{0}: {1}")]
    Io(&'static str, io::Error),
    /// The reply does not fit the request.
    #[error("{0}: bad reply: {1}")]
    BadReply(&'static str, &'static str),
    /// The back-end answered `need_reply` with a failure status.
    #[error("{0}: back-end refused (status {1})")]
    Refused(&'static str, u64),
}

/// A new eventfd for kicks and calls (blocking reads).
pub fn eventfd() -> io::Result<File> {
    crate::sys::eventfd(false)
}

/// A vhost-user front-end connection.
#[derive(Debug)]
pub struct Frontend {
    stream: UnixStream,
    reply_ack: bool,
    features: u64,
    protocol: u64,
}

impl Frontend {
    /// Connects to a back-end listening on `path` (server-mode back-end).
    pub fn connect(path: impl AsRef<Path>) -> io::Result<Self> {
        Self::from_stream(UnixStream::connect(path)?)
    }

    /// Accepts a back-end that connects to `listener` (client-mode back-end).
    pub fn accept(listener: &UnixListener) -> io::Result<Self> {
        let (s, _) = listener.accept()?;
        Self::from_stream(s)
    }

    /// Wraps a connected stream.
    pub fn from_stream(stream: UnixStream) -> io::Result<Self> {
        stream.set_nonblocking(false)?;
        stream.set_read_timeout(Some(DEFAULT_TIMEOUT))?;
        stream.set_write_timeout(Some(DEFAULT_TIMEOUT))?;
        Ok(Self {
            stream,
            reply_ack: false,
            features: 0,
            protocol: 0,
        })
    }

    /// Changes how long a reply may take.
    pub fn set_timeout(&self, t: Duration) -> io::Result<()> {
        self.stream.set_read_timeout(Some(t))
    }

    /// Asks for an acknowledgement of every request without a reply (`need_reply`).
    /// [`negotiate`](Self::negotiate) turns it on when `REPLY_ACK` is negotiated.
    pub fn set_reply_ack(&mut self, on: bool) {
        self.reply_ack = on;
    }

    /// The virtio features acknowledged with `SET_FEATURES`.
    pub fn features(&self) -> u64 {
        self.features
    }

    /// The protocol features acknowledged with `SET_PROTOCOL_FEATURES`.
    pub fn protocol_features(&self) -> u64 {
        self.protocol
    }

    /// The underlying stream (to shut it down, or write half a message).
    pub fn stream(&self) -> &UnixStream {
        &self.stream
    }

    /// Sends one message as QEMU does: header and payload in one `sendmsg` with the fds.
    pub fn send_raw(
        &mut self,
        request: u32,
        flags: u32,
        payload: &[u8],
        fds: &[BorrowedFd<'_>],
    ) -> Result<(), FrontendError> {
        let name = defs::request_name(request);
        let bytes = message::encode(request, flags, payload);
        let mut sent = 0;
        while sent < bytes.len() {
            let f = if sent == 0 { fds } else { &[] };
            sent += crate::sys::send_with_fds(self.stream.as_fd(), &bytes[sent..], f)
                .map_err(|e| FrontendError::Io(name, e))?;
        }
        Ok(())
    }

    /// Reads one reply to `request` and returns its payload.
    pub fn recv_reply(&mut self, request: u32) -> Result<Vec<u8>, FrontendError> {
        let name = defs::request_name(request);
        let mut h = [0u8; HEADER_LEN];
        self.stream
            .read_exact(&mut h)
            .map_err(|e| FrontendError::Io(name, e))?;
        let h = Header::parse(&h);
        if h.request != request {
            return Err(FrontendError::BadReply(name, "reply to another request"));
        }
        if !h.is_reply() || h.version() != defs::VERSION {
            return Err(FrontendError::BadReply(name, "reply flag or version"));
        }
        if h.size > message::MAX_PAYLOAD {
            return Err(FrontendError::BadReply(name, "oversized payload"));
        }
        let mut p = vec![0u8; h.size as usize];
        self.stream
            .read_exact(&mut p)
            .map_err(|e| FrontendError::Io(name, e))?;
        Ok(p)
    }

    fn u64_reply(&mut self, request: u32) -> Result<u64, FrontendError> {
        let p = self.recv_reply(request)?;
        let b: [u8; 8] = p
            .try_into()
            .map_err(|_| FrontendError::BadReply(defs::request_name(request), "not a u64"))?;
        Ok(u64::from_ne_bytes(b))
    }

    /// Sends a request that has no reply payload; with `REPLY_ACK` on, waits for the
    /// status and fails on non-zero.
    pub fn request(
        &mut self,
        request: u32,
        payload: &[u8],
        fds: &[BorrowedFd<'_>],
    ) -> Result<(), FrontendError> {
        let flags = if self.reply_ack {
            defs::NEED_REPLY_MASK
        } else {
            0
        };
        self.send_raw(request, flags, payload, fds)?;
        if self.reply_ack {
            let status = self.u64_reply(request)?;
            if status != 0 {
                return Err(FrontendError::Refused(defs::request_name(request), status));
            }
        }
        Ok(())
    }

    /// Sends a request whose reply is a `u64` (`GET_FEATURES`, ...).
    pub fn get_u64(&mut self, request: u32) -> Result<u64, FrontendError> {
        self.send_raw(request, 0, &[], &[])?;
        self.u64_reply(request)
    }

    /// `GET_FEATURES`.
    pub fn get_features(&mut self) -> Result<u64, FrontendError> {
        self.get_u64(req::GET_FEATURES)
    }

    /// `SET_FEATURES`.
    pub fn set_features(&mut self, f: u64) -> Result<(), FrontendError> {
        self.request(req::SET_FEATURES, &f.to_ne_bytes(), &[])?;
        self.features = f;
        Ok(())
    }

    /// `GET_PROTOCOL_FEATURES`.
    pub fn get_protocol_features(&mut self) -> Result<u64, FrontendError> {
        self.get_u64(req::GET_PROTOCOL_FEATURES)
    }

    /// `SET_PROTOCOL_FEATURES`.
    pub fn set_protocol_features(&mut self, p: u64) -> Result<(), FrontendError> {
        self.request(req::SET_PROTOCOL_FEATURES, &p.to_ne_bytes(), &[])?;
        self.protocol = p;
        Ok(())
    }

    /// QEMU's opening: `GET_FEATURES`, `GET`/`SET_PROTOCOL_FEATURES` (what both sides
    /// have of `want_protocol`), `SET_OWNER`, `SET_FEATURES` (what both have of
    /// `want_features`, plus `VHOST_USER_F_PROTOCOL_FEATURES` if offered). Turns
    /// acknowledgements on if `REPLY_ACK` was negotiated. Returns the negotiated
    /// (features, protocol features).
    pub fn negotiate(
        &mut self,
        want_features: u64,
        want_protocol: u64,
    ) -> Result<(u64, u64), FrontendError> {
        let offered = self.get_features()?;
        let pf = virtio::bit(virtio::VHOST_USER_F_PROTOCOL_FEATURES);
        let mut protocol = 0;
        if offered & pf != 0 {
            protocol = self.get_protocol_features()? & want_protocol;
            self.set_protocol_features(protocol)?;
            self.reply_ack = protocol & virtio::bit(proto::REPLY_ACK) != 0;
        }
        self.request(req::SET_OWNER, &[], &[])?;
        let features = offered & (want_features | pf);
        self.set_features(features)?;
        Ok((features, protocol))
    }

    /// `GET_QUEUE_NUM`.
    pub fn get_queue_num(&mut self) -> Result<u64, FrontendError> {
        self.get_u64(req::GET_QUEUE_NUM)
    }

    /// `GET_MAX_MEM_SLOTS`.
    pub fn get_max_mem_slots(&mut self) -> Result<u64, FrontendError> {
        self.get_u64(req::GET_MAX_MEM_SLOTS)
    }

    /// `SET_MEM_TABLE` with these regions (at most 8), one fd each.
    pub fn set_mem_table(&mut self, mems: &[&GuestMemory]) -> Result<(), FrontendError> {
        let regions: Vec<MemRegion> = mems.iter().map(|m| m.region()).collect();
        let fds: Vec<BorrowedFd<'_>> = mems.iter().map(|m| m.fd()).collect();
        self.request(
            req::SET_MEM_TABLE,
            &message::mem_table_payload(&regions),
            &fds,
        )
    }

    /// `ADD_MEM_REG`.
    pub fn add_mem_reg(&mut self, mem: &GuestMemory) -> Result<(), FrontendError> {
        let p = message::single_region_payload(mem.region());
        self.request(req::ADD_MEM_REG, &p, &[mem.fd()])
    }

    /// `REM_MEM_REG`.
    pub fn rem_mem_reg(&mut self, region: MemRegion) -> Result<(), FrontendError> {
        let p = message::single_region_payload(region);
        self.request(req::REM_MEM_REG, &p, &[])
    }

    fn state(&mut self, request: u32, index: u16, num: u32) -> Result<(), FrontendError> {
        let s = VringState {
            index: u32::from(index),
            num,
        };
        self.request(request, &s.to_bytes(), &[])
    }

    /// `SET_VRING_NUM`.
    pub fn set_vring_num(&mut self, index: u16, num: u32) -> Result<(), FrontendError> {
        self.state(req::SET_VRING_NUM, index, num)
    }

    /// `SET_VRING_BASE`.
    pub fn set_vring_base(&mut self, index: u16, base: u16) -> Result<(), FrontendError> {
        self.state(req::SET_VRING_BASE, index, u32::from(base))
    }

    /// `SET_VRING_ADDR`.
    pub fn set_vring_addr(&mut self, addr: VringAddr) -> Result<(), FrontendError> {
        self.request(req::SET_VRING_ADDR, &addr.to_bytes(), &[])
    }

    /// `SET_VRING_ENABLE`.
    pub fn set_vring_enable(&mut self, index: u16, on: bool) -> Result<(), FrontendError> {
        self.state(req::SET_VRING_ENABLE, index, u32::from(on))
    }

    /// `GET_VRING_BASE`: stops the ring, returns its next avail index.
    pub fn get_vring_base(&mut self, index: u16) -> Result<u16, FrontendError> {
        let s = VringState {
            index: u32::from(index),
            num: 0,
        };
        self.send_raw(req::GET_VRING_BASE, 0, &s.to_bytes(), &[])?;
        let p = self.recv_reply(req::GET_VRING_BASE)?;
        let name = "GET_VRING_BASE";
        let b: [u8; 8] = p
            .try_into()
            .map_err(|_| FrontendError::BadReply(name, "not a vring state"))?;
        let index_back = u32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
        let num = u32::from_ne_bytes([b[4], b[5], b[6], b[7]]);
        if index_back != u32::from(index) || num > 0xffff {
            return Err(FrontendError::BadReply(name, "index or base"));
        }
        Ok(num as u16)
    }

    fn vring_fd(
        &mut self,
        request: u32,
        index: u16,
        fd: Option<BorrowedFd<'_>>,
    ) -> Result<(), FrontendError> {
        let mut v = u64::from(index) & defs::VRING_IDX_MASK;
        if fd.is_none() {
            v |= defs::VRING_NOFD_MASK;
        }
        let fds: Vec<BorrowedFd<'_>> = fd.into_iter().collect();
        self.request(request, &v.to_ne_bytes(), &fds)
    }

    /// `SET_VRING_KICK` (`None`: the "poll" flag).
    pub fn set_vring_kick(
        &mut self,
        index: u16,
        fd: Option<BorrowedFd<'_>>,
    ) -> Result<(), FrontendError> {
        self.vring_fd(req::SET_VRING_KICK, index, fd)
    }

    /// `SET_VRING_CALL` (`None`: the "poll" flag).
    pub fn set_vring_call(
        &mut self,
        index: u16,
        fd: Option<BorrowedFd<'_>>,
    ) -> Result<(), FrontendError> {
        self.vring_fd(req::SET_VRING_CALL, index, fd)
    }

    /// `SET_VRING_ERR`.
    pub fn set_vring_err(
        &mut self,
        index: u16,
        fd: Option<BorrowedFd<'_>>,
    ) -> Result<(), FrontendError> {
        self.vring_fd(req::SET_VRING_ERR, index, fd)
    }

    /// QEMU's ring start: `SET_VRING_NUM`, `SET_VRING_BASE`, `SET_VRING_ADDR`,
    /// `SET_VRING_KICK`, `SET_VRING_CALL`, then `SET_VRING_ENABLE(1)` if protocol
    /// features were acknowledged.
    pub fn start_vring(
        &mut self,
        mem: &GuestMemory,
        ring: &VringLayout,
        base: u16,
        kick: Option<BorrowedFd<'_>>,
        call: Option<BorrowedFd<'_>>,
    ) -> Result<(), FrontendError> {
        self.set_vring_num(ring.index, u32::from(ring.size))?;
        self.set_vring_base(ring.index, base)?;
        self.set_vring_addr(ring.addr(mem))?;
        self.set_vring_kick(ring.index, kick)?;
        self.set_vring_call(ring.index, call)?;
        if virtio::has(self.features, virtio::VHOST_USER_F_PROTOCOL_FEATURES) {
            self.set_vring_enable(ring.index, true)?;
        }
        Ok(())
    }

    /// `SET_STATUS`.
    pub fn set_status(&mut self, status: u8) -> Result<(), FrontendError> {
        self.request(req::SET_STATUS, &u64::from(status).to_ne_bytes(), &[])
    }

    /// `GET_STATUS`.
    pub fn get_status(&mut self) -> Result<u8, FrontendError> {
        Ok(self.get_u64(req::GET_STATUS)? as u8)
    }

    /// `NET_SET_MTU`.
    pub fn net_set_mtu(&mut self, mtu: u64) -> Result<(), FrontendError> {
        self.request(req::NET_SET_MTU, &mtu.to_ne_bytes(), &[])
    }

    /// `SEND_RARP`.
    pub fn send_rarp(&mut self, mac: [u8; 6]) -> Result<(), FrontendError> {
        let mut p = [0u8; 8];
        p[..6].copy_from_slice(&mac);
        self.request(req::SEND_RARP, &p, &[])
    }

    /// `GET_CONFIG` of `size` bytes at `offset`; an empty result is the back-end's
    /// error reply.
    pub fn get_config(&mut self, offset: u32, size: u32) -> Result<Vec<u8>, FrontendError> {
        let h = ConfigHeader {
            offset,
            size,
            flags: defs::CONFIG_FLAG_WRITABLE,
        };
        let payload = message::config_payload(h, &vec![0; size as usize]);
        self.send_raw(req::GET_CONFIG, 0, &payload, &[])?;
        let p = self.recv_reply(req::GET_CONFIG)?;
        if p.is_empty() {
            return Ok(p);
        }
        if p.len() != 12 + size as usize || p[..12] != h.to_bytes() {
            return Err(FrontendError::BadReply("GET_CONFIG", "size or header"));
        }
        Ok(p[12..].to_vec())
    }

    /// `SET_CONFIG`.
    pub fn set_config(
        &mut self,
        offset: u32,
        flags: u32,
        data: &[u8],
    ) -> Result<(), FrontendError> {
        let h = ConfigHeader {
            offset,
            size: data.len() as u32,
            flags,
        };
        self.request(req::SET_CONFIG, &message::config_payload(h, data), &[])
    }

    /// `RESET_DEVICE`.
    pub fn reset_device(&mut self) -> Result<(), FrontendError> {
        self.request(req::RESET_DEVICE, &[], &[])
    }

    /// `RESET_OWNER`.
    pub fn reset_owner(&mut self) -> Result<(), FrontendError> {
        self.request(req::RESET_OWNER, &[], &[])
    }

    /// Whether the back-end closed the connection (reads EOF within `wait`).
    pub fn is_closed_by_peer(&mut self, wait: Duration) -> bool {
        let _ = self.stream.set_read_timeout(Some(wait));
        let mut b = [0u8; 1];
        let closed = match self.stream.read(&mut b) {
            Ok(0) => true,
            Err(e) => e.kind() == io::ErrorKind::ConnectionReset,
            Ok(_) => false,
        };
        let _ = self.stream.set_read_timeout(Some(DEFAULT_TIMEOUT));
        closed
    }
}

impl AsFd for Frontend {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.stream.as_fd()
    }
}
