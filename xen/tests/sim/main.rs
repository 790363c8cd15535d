//! The simulated hypervisor, driven as a backend and a frontend would drive it: grant
//! copy and map with every `GNTST_*` check, event channels, xenstore, fault injection,
//! and a frontend in a second process.
//!
//! No assertion depends on timing: waits block (with a generous guard against hangs),
//! and "no event happened" is shown by a later sentinel event arriving first.

#[path = "../common/host_dir.rs"]
mod host_dir;

mod evtchn;
mod faults;
mod grant_copy;
mod grant_map;
mod two_processes;
mod xenstore;

use std::time::Duration;

use vpmd_xen::platform::sim::{DomainLayout, Guest, SimPaths, SimPlatform};
use vpmd_xen::platform::{CopySegment, GrantOps, GrantPtr, Platform};
use vpmd_xen::wire::grant::{DomId, GrantRef, GrantStatus};

use host_dir::HostDir;

/// Longest any test waits for something that must happen (a hang guard only).
pub const GUARD: Duration = Duration::from_secs(60);

/// The guest's domain id in these tests.
pub const GUEST: DomId = DomId(3);

/// A small guest: 16 pages, one grant-table frame (512 entries).
pub const LAYOUT: DomainLayout = DomainLayout {
    mem_pages: 16,
    grant_frames: 1,
};

/// A sim host in its own directory, removed afterwards.
pub struct Sim(HostDir);

impl Sim {
    pub fn new(name: &str) -> Self {
        Self(HostDir::new("vpmd-xen", name))
    }

    pub fn paths(&self) -> &SimPaths {
        self.0.paths()
    }

    pub fn guest(&self) -> Guest {
        Guest::create(self.paths(), GUEST, LAYOUT).unwrap()
    }

    pub fn backend(&self) -> SimPlatform {
        SimPlatform::connect(self.paths(), DomId::DOM0).unwrap()
    }
}

/// Where `gref` of the test guest starts, plus `offset`.
pub fn at(gref: GrantRef, offset: u16) -> GrantPtr {
    GrantPtr {
        domid: GUEST,
        gref,
        offset,
    }
}

/// One copy out of a grant: its status and the bytes (zero where nothing was copied).
pub fn copy_from(be: &SimPlatform, src: GrantPtr, len: usize) -> (GrantStatus, Vec<u8>) {
    let mut buf = vec![0u8; len];
    let mut segs = [CopySegment::from_grant(src, &mut buf)];
    be.grants().copy(&mut segs).unwrap();
    let s = segs[0].status();
    (s, buf)
}

/// One copy into a grant: its status.
pub fn copy_to(be: &SimPlatform, src: &[u8], dst: GrantPtr) -> GrantStatus {
    let mut segs = [CopySegment::to_grant(src, dst)];
    be.grants().copy(&mut segs).unwrap();
    segs[0].status()
}

/// `len` bytes of a recognisable pattern.
pub fn pattern(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| seed.wrapping_add(i as u8).wrapping_mul(31))
        .collect()
}
