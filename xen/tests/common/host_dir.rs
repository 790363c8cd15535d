//! A sim host in its own temporary directory, for the xen test binaries. The host is
//! dropped before its directory is removed: its servers hang if their sockets vanish
//! first.

use std::path::PathBuf;

use vpmd_xen::platform::sim::{Host, SimPaths};

pub struct HostDir {
    host: Option<Host>,
    dir: PathBuf,
}

impl HostDir {
    /// A host in `$TMPDIR/<prefix>-<pid>-<name>`.
    pub fn new(prefix: &str, name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("{prefix}-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let host = Host::start(&dir).unwrap();
        Self {
            host: Some(host),
            dir,
        }
    }

    pub fn paths(&self) -> &SimPaths {
        self.host.as_ref().unwrap().paths()
    }
}

impl Drop for HostDir {
    fn drop(&mut self) {
        self.host.take();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
