//! Event channels through `/dev/xen/evtchn`: one fd per bound port, so each port is
//! polled on its own and moved to the lcore that serves it.
//!
//! The driver masks a port when it delivers an event (a `read` returns the fired port
//! numbers) and unmasks it when the port number is written back: exactly
//! [`EventChannel::pending`] and [`EventChannel::unmask`] (late EOI). Closing the fd
//! unbinds the port.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::ioctl;
use super::open_device;
use crate::platform::evtchn::{EventChannel, EventChannels, EvtchnError, Port};
use crate::wire::grant::DomId;
use vpmd_sys as sys;

/// One bound port on its own evtchn fd.
#[derive(Debug)]
pub struct LinuxChannel {
    file: File,
    port: Port,
}

impl AsFd for LinuxChannel {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

impl EventChannel for LinuxChannel {
    fn port(&self) -> Port {
        self.port
    }

    fn notify(&self) -> Result<(), EvtchnError> {
        Ok(ioctl::evtchn_notify(self.file.as_fd(), self.port.0)?)
    }

    fn pending(&self) -> Result<bool, EvtchnError> {
        // Only our port is bound on this fd: any port read is ours.
        let mut buf = [0u8; 64 * 4];
        match (&self.file).read(&mut buf) {
            Ok(n) => Ok(n > 0),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    fn wait(&self, timeout: Option<Duration>) -> Result<bool, EvtchnError> {
        if self.pending()? {
            return Ok(true);
        }
        if !sys::poll_readable(self.file.as_fd(), timeout)? {
            return Ok(false);
        }
        self.pending()
    }

    fn unmask(&self) -> Result<(), EvtchnError> {
        (&self.file).write_all(&self.port.0.to_ne_bytes())?;
        Ok(())
    }
}

/// Event channels of a Linux domain: binds open the evtchn device anew.
#[derive(Debug)]
pub struct LinuxEvtchns {
    path: PathBuf,
}

impl LinuxEvtchns {
    /// Event channels through the device at `path` (`/dev/xen/evtchn`), opened once
    /// now so that a missing device is an error here.
    pub fn open(path: &Path) -> io::Result<Self> {
        open_device(path, true)?;
        Ok(Self { path: path.into() })
    }
}

/// The bind error for an errno: Xen answers `-ESRCH` for no such domain, `-EINVAL`
/// for a port that is not unbound or not offered to us.
fn bind_error(e: io::Error, remote: DomId, port: Port) -> EvtchnError {
    match e.raw_os_error() {
        Some(libc::ESRCH) => EvtchnError::NoDomain(remote),
        Some(libc::EINVAL) => EvtchnError::BadPort {
            domid: remote,
            port,
        },
        _ => EvtchnError::Io(e),
    }
}

impl EventChannels for LinuxEvtchns {
    type Channel = LinuxChannel;

    fn bind_interdomain(
        &self,
        remote: DomId,
        remote_port: Port,
    ) -> Result<LinuxChannel, EvtchnError> {
        let file = open_device(&self.path, true)?;
        let local = ioctl::evtchn_bind_interdomain(file.as_fd(), remote.0, remote_port.0)
            .map_err(|e| bind_error(e, remote, remote_port))?;
        Ok(LinuxChannel {
            file,
            port: Port(local),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_errors_are_xens() {
        let e = |n| bind_error(io::Error::from_raw_os_error(n), DomId(3), Port(8));
        assert!(matches!(e(libc::ESRCH), EvtchnError::NoDomain(DomId(3))));
        assert!(matches!(
            e(libc::EINVAL),
            EvtchnError::BadPort {
                domid: DomId(3),
                port: Port(8)
            }
        ));
        assert!(matches!(e(libc::ENOTTY), EvtchnError::Io(_)));
    }

    #[test]
    fn binding_on_another_device_fails() {
        let ev = LinuxEvtchns::open(Path::new("/dev/null")).unwrap();
        assert!(matches!(
            ev.bind_interdomain(DomId(1), Port(8)),
            Err(EvtchnError::Io(_))
        ));
    }
}
