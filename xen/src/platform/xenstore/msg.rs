//! xenstored's wire protocol (`xen/include/public/io/xs_wire.h`): a 16-byte header
//! (type, request id, transaction id, payload length, native byte order) and a payload
//! of NUL-terminated strings; errors travel as their errno names.
//!
//! Framing only: never trusts a length (payloads over `XENSTORE_PAYLOAD_MAX` are a
//! protocol error) and never panics on peer bytes.

use std::io::{self, Read};

/// Largest payload either side may send (`XENSTORE_PAYLOAD_MAX`).
pub const PAYLOAD_MAX: usize = 4096;
/// Longest absolute path (`XENSTORE_ABS_PATH_MAX`).
pub const ABS_PATH_MAX: usize = 3072;
/// Longest relative path (`XENSTORE_REL_PATH_MAX`).
pub const REL_PATH_MAX: usize = 2048;
/// Header bytes (`struct xsd_sockmsg`).
pub const HEADER_LEN: usize = 16;

/// A message type (`enum xsd_sockmsg_type`); unknown values survive decoding.
#[repr(transparent)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MsgType(pub u32);

impl MsgType {
    /// `XS_DIRECTORY`.
    pub const DIRECTORY: Self = Self(1);
    /// `XS_READ`.
    pub const READ: Self = Self(2);
    /// `XS_WATCH`.
    pub const WATCH: Self = Self(4);
    /// `XS_UNWATCH`.
    pub const UNWATCH: Self = Self(5);
    /// `XS_TRANSACTION_START`.
    pub const TRANSACTION_START: Self = Self(6);
    /// `XS_TRANSACTION_END`.
    pub const TRANSACTION_END: Self = Self(7);
    /// `XS_WRITE`.
    pub const WRITE: Self = Self(11);
    /// `XS_MKDIR`.
    pub const MKDIR: Self = Self(12);
    /// `XS_RM`.
    pub const RM: Self = Self(13);
    /// `XS_WATCH_EVENT`: unsolicited, request id 0.
    pub const WATCH_EVENT: Self = Self(15);
    /// `XS_ERROR`: the payload is an errno name.
    pub const ERROR: Self = Self(16);
}

/// One message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    /// `XS_*`.
    pub ty: MsgType,
    /// Echoed in the reply.
    pub req_id: u32,
    /// The transaction, or 0.
    pub tx_id: u32,
    /// The payload.
    pub payload: Vec<u8>,
}

impl Msg {
    /// A message whose payload is `parts`, each NUL-terminated (the last one too if
    /// `terminate_last`; `XS_WRITE`'s value is not).
    pub fn new(
        ty: MsgType,
        req_id: u32,
        tx_id: u32,
        parts: &[&[u8]],
        terminate_last: bool,
    ) -> Self {
        let mut payload = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            payload.extend_from_slice(p);
            if terminate_last || i + 1 < parts.len() {
                payload.push(0);
            }
        }
        Self {
            ty,
            req_id,
            tx_id,
            payload,
        }
    }

    /// Reads one message. A payload over [`PAYLOAD_MAX`] is `InvalidData` (xenstored
    /// drops such a connection).
    pub fn read_from(r: &mut impl Read) -> io::Result<Self> {
        let mut h = [0u8; HEADER_LEN];
        r.read_exact(&mut h)?;
        let word = |i: usize| u32::from_ne_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
        let len = word(12) as usize;
        if len > PAYLOAD_MAX {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "xenstore payload over 4096 bytes",
            ));
        }
        let mut payload = vec![0; len];
        r.read_exact(&mut payload)?;
        Ok(Self {
            ty: MsgType(word(0)),
            req_id: word(4),
            tx_id: word(8),
            payload,
        })
    }

    /// The message as it goes on the wire (sent with one `send`, never `write`, so a
    /// closed peer cannot raise `SIGPIPE`).
    pub fn encode(&self) -> io::Result<Vec<u8>> {
        if self.payload.len() > PAYLOAD_MAX {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "xenstore payload over 4096 bytes",
            ));
        }
        let mut b = Vec::with_capacity(HEADER_LEN + self.payload.len());
        for v in [
            self.ty.0,
            self.req_id,
            self.tx_id,
            self.payload.len() as u32,
        ] {
            b.extend_from_slice(&v.to_ne_bytes());
        }
        b.extend_from_slice(&self.payload);
        Ok(b)
    }

    /// The payload split at NULs, without the empty piece after a final NUL.
    pub fn strings(&self) -> Vec<&[u8]> {
        let p = self.payload.strip_suffix(b"\0").unwrap_or(&self.payload);
        if p.is_empty() {
            return Vec::new();
        }
        p.split(|&b| b == 0).collect()
    }
}

macro_rules! errnos {
    ($($e:ident),* $(,)?) => {
        /// An error xenstored reports (`xsd_errors`), by name.
        #[allow(clippy::upper_case_acronyms)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum XsErrno {
            $(#[doc = concat!("`", stringify!($e), "`.")] $e,)*
        }

        impl XsErrno {
            /// The name on the wire.
            pub const fn as_str(self) -> &'static str {
                match self { $(Self::$e => stringify!($e),)* }
            }

            /// The error a name stands for; `None` for names this list lacks.
            pub fn parse(name: &[u8]) -> Option<Self> {
                $(if name == stringify!($e).as_bytes() { return Some(Self::$e); })*
                None
            }
        }
    };
}

errnos!(
    EINVAL, EACCES, EEXIST, EISDIR, ENOENT, ENOMEM, ENOSPC, EIO, ENOTEMPTY, ENOSYS, EROFS, EBUSY,
    EAGAIN, EISCONN, E2BIG, EPERM,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_split() {
        let m = Msg::new(MsgType::WRITE, 7, 3, &[b"/a/b", b"v\0x"], false);
        assert_eq!(m.payload, b"/a/b\0v\0x");
        let wire = m.encode().unwrap();
        assert_eq!(wire.len(), HEADER_LEN + 8);
        assert_eq!(Msg::read_from(&mut &wire[..]).unwrap(), m);
        let w = Msg::new(MsgType::WATCH, 1, 0, &[b"/p", b"tok"], true);
        assert_eq!(w.strings(), vec![&b"/p"[..], b"tok"]);
        assert!(Msg::new(MsgType::READ, 0, 0, &[], true)
            .strings()
            .is_empty());
    }

    #[test]
    fn oversized_or_truncated_messages_are_errors() {
        let mut h = Vec::new();
        for v in [2u32, 1, 0, 4097] {
            h.extend_from_slice(&v.to_ne_bytes());
        }
        let e = Msg::read_from(&mut &h[..]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        h[12..].copy_from_slice(&10u32.to_ne_bytes());
        h.extend_from_slice(b"short");
        let e = Msg::read_from(&mut &h[..]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
        let big = Msg::new(MsgType::WRITE, 0, 0, &[&[b'a'; 4097]], false);
        assert!(big.encode().is_err());
    }

    #[test]
    fn errno_names() {
        assert_eq!(XsErrno::parse(b"EAGAIN"), Some(XsErrno::EAGAIN));
        assert_eq!(XsErrno::ENOENT.as_str(), "ENOENT");
        assert_eq!(XsErrno::parse(b"EWHATEVER"), None);
    }
}
