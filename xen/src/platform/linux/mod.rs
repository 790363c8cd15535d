//! The platform of a real Linux domain (dom0 or a driver domain) under Xen, through the
//! kernel's device files: grant copy and map on `/dev/xen/gntdev` ([`LinuxGrants`]),
//! event channels on `/dev/xen/evtchn` ([`LinuxEvtchns`]), xenstore through
//! xenstored's socket with the wire client ([`XsClient`]). The mapping of each trait
//! call onto an ioctl is in the [`platform`](super) module doc.
//!
//! Needs the `xen-gntdev` and `xen-evtchn` modules loaded and xenstored running in
//! this domain; where a device is missing (not a Xen domain), opening fails naming it.
//! Unsafe code: the ioctls (module `ioctl`) and the gntdev `mmap` (in
//! [`shm`](super::shm)).

pub mod evtchn;
pub mod gntdev;
#[allow(unsafe_code)]
mod ioctl;

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

pub use evtchn::{LinuxChannel, LinuxEvtchns};
pub use gntdev::{LinuxGrants, LinuxMapping};

use super::xenstore::{TxId, XenStore, XsClient};
use super::Platform;
use crate::wire::grant::DomId;

/// Where a Linux domain's Xen devices are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinuxPaths {
    /// The grant device (`/dev/xen/gntdev`).
    pub gntdev: PathBuf,
    /// The event-channel device (`/dev/xen/evtchn`).
    pub evtchn: PathBuf,
    /// xenstored's sockets, tried in order (`/run/xenstored/socket`, then the
    /// `/var/run` spelling for a root without the `/var/run -> /run` link).
    pub xenstore: Vec<PathBuf>,
}

impl Default for LinuxPaths {
    fn default() -> Self {
        Self {
            gntdev: "/dev/xen/gntdev".into(),
            evtchn: "/dev/xen/evtchn".into(),
            xenstore: vec![
                "/run/xenstored/socket".into(),
                "/var/run/xenstored/socket".into(),
            ],
        }
    }
}

/// Opens a Xen device read-write (close-on-exec; non-blocking if `nonblock`), the error
/// naming the file and what is likely missing.
fn open_device(path: &Path, nonblock: bool) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.read(true).write(true);
    if nonblock {
        o.custom_flags(libc::O_NONBLOCK);
    }
    o.open(path).map_err(|e| {
        let hint = if e.kind() == io::ErrorKind::NotFound {
            " (not a Xen domain, or the xen-gntdev/xen-evtchn modules are not loaded)"
        } else {
            ""
        };
        io::Error::new(e.kind(), format!("{}: {e}{hint}", path.display()))
    })
}

/// Connects to the first of `paths` that accepts, the error naming them all.
fn connect_xenstore(paths: &[PathBuf]) -> io::Result<XsClient> {
    let mut errs = Vec::new();
    for p in paths {
        match XsClient::connect(p) {
            Ok(c) => return Ok(c),
            Err(e) => errs.push(format!("{}: {e}", p.display())),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        format!(
            "no xenstored socket ({}): is xenstored running?",
            errs.join("; ")
        ),
    ))
}

/// A Linux domain's platform.
#[derive(Debug)]
pub struct LinuxPlatform {
    domid: DomId,
    grants: LinuxGrants,
    events: LinuxEvtchns,
    store: XsClient,
}

impl LinuxPlatform {
    /// Opens the devices and connects to xenstored. The domain id is xenstore's
    /// `domid` key of this domain (0 if absent, as in a dom0 before `xen-init-dom0`).
    pub fn open(paths: &LinuxPaths) -> io::Result<Self> {
        let grants = LinuxGrants::open(&paths.gntdev)?;
        let events = LinuxEvtchns::open(&paths.evtchn)?;
        let store = connect_xenstore(&paths.xenstore)?;
        let domid = match store.read(TxId::NONE, "domid") {
            Ok(v) => std::str::from_utf8(&v)
                .ok()
                .and_then(|s| s.trim_end_matches('\0').parse().ok())
                .map(DomId)
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad xenstore domid"))?,
            Err(e) if e.is_not_found() => DomId::DOM0,
            Err(e) => return Err(io::Error::other(format!("xenstore domid: {e}"))),
        };
        Ok(Self {
            domid,
            grants,
            events,
            store,
        })
    }
}

impl Platform for LinuxPlatform {
    type Grants = LinuxGrants;
    type Events = LinuxEvtchns;
    type Store = XsClient;

    fn domid(&self) -> DomId {
        self.domid
    }

    fn grants(&self) -> &LinuxGrants {
        &self.grants
    }

    fn events(&self) -> &LinuxEvtchns {
        &self.events
    }

    fn store(&self) -> &XsClient {
        &self.store
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_devices_are_named() {
        let dir = std::env::temp_dir().join(format!("vpmd-xenlinux-{}", std::process::id()));
        let p = LinuxPaths {
            gntdev: dir.join("gntdev"),
            evtchn: "/dev/null".into(),
            xenstore: vec![dir.join("socket")],
        };
        let e = LinuxPlatform::open(&p).unwrap_err().to_string();
        assert!(e.contains(&*dir.join("gntdev").to_string_lossy()), "{e}");
        assert!(e.contains("not a Xen domain"), "{e}");
        let p = LinuxPaths {
            gntdev: "/dev/null".into(),
            evtchn: dir.join("evtchn"),
            ..p
        };
        let e = LinuxPlatform::open(&p).unwrap_err().to_string();
        assert!(e.contains("evtchn"), "{e}");
        let p = LinuxPaths {
            evtchn: "/dev/null".into(),
            ..p
        };
        let e = LinuxPlatform::open(&p).unwrap_err().to_string();
        assert!(e.contains("socket") && e.contains("xenstored"), "{e}");
    }
}
