//! Event channels: interdomain notification ports, one bound port per object so each
//! can be polled on its own fd and moved to the lcore that serves it.

use std::io;
use std::os::fd::AsFd;
use std::time::Duration;

use crate::wire::grant::DomId;

/// An event-channel port number (`evtchn_port_t`), local to a domain.
#[repr(transparent)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Port(pub u32);

impl std::fmt::Display for Port {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Why an event-channel operation failed.
#[derive(Debug, thiserror::Error)]
pub enum EvtchnError {
    /// No such remote domain (`-ESRCH`).
    #[error("no domain {0}")]
    NoDomain(DomId),
    /// The remote port does not exist, is not unbound, or is not offered to us
    /// (`-EINVAL`).
    #[error("port {port} of domain {domid} cannot be bound")]
    BadPort {
        /// The remote domain.
        domid: DomId,
        /// Its port.
        port: Port,
    },
    /// The platform failed.
    #[error("event channel: {0}")]
    Io(#[from] io::Error),
}

/// One bound port. Its fd ([`AsFd`]) is readable when an event is pending, for epoll.
///
/// Events coalesce: several notifications before a [`EventChannel::pending`] may read
/// as one. After an event is consumed the port may stay masked until
/// [`EventChannel::unmask`], which a backend calls once it has done the work (late
/// EOI, so a guest cannot storm it: XSA-332).
pub trait EventChannel: AsFd + Send + Sync {
    /// The local port number.
    fn port(&self) -> Port;

    /// Signals the remote end.
    fn notify(&self) -> Result<(), EvtchnError>;

    /// Consumes a pending event without blocking; whether there was one.
    fn pending(&self) -> Result<bool, EvtchnError>;

    /// Waits up to `timeout` (`None`: forever) for an event and consumes it; whether
    /// one arrived.
    fn wait(&self, timeout: Option<Duration>) -> Result<bool, EvtchnError>;

    /// Re-enables delivery after an event was consumed.
    fn unmask(&self) -> Result<(), EvtchnError>;
}

/// A source of bound ports.
pub trait EventChannels: Send + Sync {
    /// The bound port type.
    type Channel: EventChannel + 'static;

    /// Binds a local port to `remote_port` of `remote`, which the remote domain
    /// allocated for us (`EVTCHNOP_bind_interdomain`).
    fn bind_interdomain(
        &self,
        remote: DomId,
        remote_port: Port,
    ) -> Result<Self::Channel, EvtchnError>;
}
