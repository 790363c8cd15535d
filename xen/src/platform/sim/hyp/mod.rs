//! The sim's hypervisor service: the registry of simulated domains (their memory,
//! grant table and state files) and of event channels, reached over a Unix socket with
//! the files passed as fds (`SCM_RIGHTS`).
//!
//! Every message is 32 bytes, native-endian words: a request is `[op, caller, a, b]`
//! plus padding, a reply `[status (0 or -errno), a, b]` plus padding, each carrying its
//! fds. The protocol is private to the sim; a real platform has hypercalls instead.

pub(crate) mod client;
pub(crate) mod server;

use crate::platform::evtchn::Port;
use crate::wire::grant::DomId;

use super::domain::DomainLayout;

/// Bytes of every request and reply.
const MSG_LEN: usize = 32;

/// A request to the hypervisor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Request {
    /// Registers the caller's domain; 3 fds: memory, grant table, state. The domain
    /// dies when this connection closes.
    CreateDomain { domid: DomId, layout: DomainLayout },
    /// Asks for a domain's files; the reply carries 3 fds.
    GetDomain { domid: DomId },
    /// Allocates a port of `caller` that `remote` may bind; the reply carries the
    /// caller's eventfd (to wait on) and the remote's (to notify).
    AllocUnbound { caller: DomId, remote: DomId },
    /// Binds a new port of `caller` to `port` of `remote`; the reply carries two
    /// eventfds as for `AllocUnbound`.
    BindInterdomain {
        caller: DomId,
        remote: DomId,
        port: Port,
    },
}

const OP_CREATE_DOMAIN: u32 = 1;
const OP_GET_DOMAIN: u32 = 2;
const OP_ALLOC_UNBOUND: u32 = 3;
const OP_BIND_INTERDOMAIN: u32 = 4;

fn words(b: &[u8; MSG_LEN]) -> [u32; 4] {
    std::array::from_fn(|i| {
        u32::from_ne_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]])
    })
}

fn bytes(w: [u32; 4]) -> [u8; MSG_LEN] {
    let mut b = [0; MSG_LEN];
    for (chunk, v) in b.chunks_exact_mut(4).zip(w) {
        chunk.copy_from_slice(&v.to_ne_bytes());
    }
    b
}

fn domid(w: u32) -> Option<DomId> {
    u16::try_from(w).ok().map(DomId)
}

impl Request {
    fn encode(&self) -> [u8; MSG_LEN] {
        bytes(match *self {
            Self::CreateDomain { domid, layout } => [
                OP_CREATE_DOMAIN,
                domid.0.into(),
                layout.mem_pages,
                layout.grant_frames,
            ],
            Self::GetDomain { domid } => [OP_GET_DOMAIN, 0, domid.0.into(), 0],
            Self::AllocUnbound { caller, remote } => {
                [OP_ALLOC_UNBOUND, caller.0.into(), remote.0.into(), 0]
            }
            Self::BindInterdomain {
                caller,
                remote,
                port,
            } => [
                OP_BIND_INTERDOMAIN,
                caller.0.into(),
                remote.0.into(),
                port.0,
            ],
        })
    }

    fn decode(b: &[u8; MSG_LEN]) -> Option<Self> {
        let [op, caller, a, b] = words(b);
        Some(match op {
            OP_CREATE_DOMAIN => Self::CreateDomain {
                domid: domid(caller)?,
                layout: DomainLayout {
                    mem_pages: a,
                    grant_frames: b,
                },
            },
            OP_GET_DOMAIN => Self::GetDomain { domid: domid(a)? },
            OP_ALLOC_UNBOUND => Self::AllocUnbound {
                caller: domid(caller)?,
                remote: domid(a)?,
            },
            OP_BIND_INTERDOMAIN => Self::BindInterdomain {
                caller: domid(caller)?,
                remote: domid(a)?,
                port: Port(b),
            },
            _ => return None,
        })
    }
}

/// A reply: 0 or a negative errno, and two result words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Reply {
    status: i32,
    a: u32,
    b: u32,
}

impl Reply {
    fn ok(a: u32, b: u32) -> Self {
        Self { status: 0, a, b }
    }

    fn err(errno: i32) -> Self {
        Self {
            status: -errno,
            a: 0,
            b: 0,
        }
    }

    fn encode(&self) -> [u8; MSG_LEN] {
        bytes([self.status as u32, self.a, self.b, 0])
    }

    fn decode(b: &[u8; MSG_LEN]) -> Self {
        let [s, a, b, _] = words(b);
        Self {
            status: s as i32,
            a,
            b,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_and_garbage_is_refused() {
        let reqs = [
            Request::CreateDomain {
                domid: DomId(3),
                layout: DomainLayout {
                    mem_pages: 16,
                    grant_frames: 1,
                },
            },
            Request::GetDomain { domid: DomId(3) },
            Request::AllocUnbound {
                caller: DomId(3),
                remote: DomId(0),
            },
            Request::BindInterdomain {
                caller: DomId(0),
                remote: DomId(3),
                port: Port(1),
            },
        ];
        for r in reqs {
            assert_eq!(Request::decode(&r.encode()), Some(r));
        }
        assert_eq!(Request::decode(&bytes([99, 0, 0, 0])), None);
        assert_eq!(Request::decode(&bytes([OP_GET_DOMAIN, 0, 70000, 0])), None);
        let e = Reply::err(libc::ENOENT);
        assert_eq!(Reply::decode(&e.encode()), e);
    }
}
