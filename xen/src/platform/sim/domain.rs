//! A simulated domain's memory, as files shared between processes: guest memory, its
//! grant table (v1 entries, Xen's layout), and the hypervisor's private state (a
//! "dead" flag and one active-pin word per grant entry, what Xen keeps in its own
//! `active_grant_entry`). The frontend creates all three as size-sealed memfds, so no
//! process can shrink them under another's mapping.

use std::fs::File;
use std::io;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::platform::shm::SharedMem;
use crate::wire::defs::XEN_PAGE_SIZE;
use crate::wire::grant::{DomId, GrantEntryV1, GrantRef};
use crate::wire::Entry;
use vpmd_sys as sys;

/// Largest simulated guest memory, in pages (4 GiB).
pub const MAX_MEM_PAGES: u32 = 1 << 20;
/// Largest simulated grant table, in frames (Xen's default `max_grant_frames` is 64).
pub const MAX_GRANT_FRAMES: u32 = 256;

/// Offset of the "dead" word in the state file.
const DEAD_OFF: usize = 0;
/// Offset of the first active-pin word in the state file.
const ACTIVE_OFF: usize = XEN_PAGE_SIZE;

/// The sizes of a simulated domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DomainLayout {
    /// Guest memory in 4 KiB pages; frame numbers run from 0.
    pub mem_pages: u32,
    /// Grant table frames, 512 v1 entries each.
    pub grant_frames: u32,
}

impl DomainLayout {
    /// Grant entries in the table.
    pub const fn grant_entries(&self) -> u32 {
        self.grant_frames * GrantEntryV1::PER_FRAME as u32
    }

    /// Bytes of guest memory.
    pub const fn mem_bytes(&self) -> usize {
        self.mem_pages as usize * XEN_PAGE_SIZE
    }

    const fn grant_bytes(&self) -> usize {
        self.grant_frames as usize * XEN_PAGE_SIZE
    }

    const fn state_bytes(&self) -> usize {
        ACTIVE_OFF + (self.grant_entries() as usize * 4).next_multiple_of(XEN_PAGE_SIZE)
    }

    /// Refuses empty or oversized layouts.
    pub fn check(&self) -> io::Result<()> {
        let ok = (1..=MAX_MEM_PAGES).contains(&self.mem_pages)
            && (1..=MAX_GRANT_FRAMES).contains(&self.grant_frames);
        if ok {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("bad domain layout {self:?}"),
            ))
        }
    }
}

/// The three files of a domain.
#[derive(Debug)]
pub(crate) struct DomainFiles {
    /// Guest memory.
    pub mem: File,
    /// The grant table.
    pub grants: File,
    /// Hypervisor state.
    pub state: File,
}

impl DomainFiles {
    /// Fresh zeroed files for `layout`.
    pub fn create(layout: DomainLayout) -> io::Result<Self> {
        layout.check()?;
        Ok(Self {
            mem: sys::sealed_memfd("vpmd-xen-guest-mem", layout.mem_bytes() as u64)?,
            grants: sys::sealed_memfd("vpmd-xen-grant-table", layout.grant_bytes() as u64)?,
            state: sys::sealed_memfd("vpmd-xen-hyp-state", layout.state_bytes() as u64)?,
        })
    }

    /// Checks files received from another process: sealed, and exactly the layout's
    /// sizes.
    pub fn check(&self, layout: DomainLayout) -> io::Result<()> {
        layout.check()?;
        for (f, len) in [
            (&self.mem, layout.mem_bytes()),
            (&self.grants, layout.grant_bytes()),
            (&self.state, layout.state_bytes()),
        ] {
            if !sys::size_sealed(f) || f.metadata()?.len() != len as u64 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "domain file not size-sealed or of the wrong size",
                ));
            }
        }
        Ok(())
    }

    /// Duplicates the fds (to send them on).
    pub fn try_clone(&self) -> io::Result<Self> {
        Ok(Self {
            mem: self.mem.try_clone()?,
            grants: self.grants.try_clone()?,
            state: self.state.try_clone()?,
        })
    }
}

/// The hypervisor's view of a domain: everything mapped writable.
#[derive(Debug)]
pub(crate) struct DomainView {
    /// Whose.
    pub domid: DomId,
    /// Sizes.
    pub layout: DomainLayout,
    /// Guest memory, for mapping single pages.
    pub mem_file: File,
    /// Guest memory.
    pub mem: SharedMem,
    grants: SharedMem,
    state: SharedMem,
}

impl DomainView {
    /// Maps a domain's files after checking them.
    pub fn map(domid: DomId, layout: DomainLayout, files: DomainFiles) -> io::Result<Self> {
        files.check(layout)?;
        Ok(Self {
            domid,
            layout,
            mem: SharedMem::map(&files.mem, 0, layout.mem_bytes(), true)?,
            grants: SharedMem::map(&files.grants, 0, layout.grant_bytes(), true)?,
            state: SharedMem::map(&files.state, 0, layout.state_bytes(), true)?,
            mem_file: files.mem,
        })
    }

    /// Whether the domain has gone (its creator disconnected).
    pub fn is_dead(&self) -> bool {
        self.state.load_u32(DEAD_OFF, Ordering::Acquire) != Ok(0)
    }

    /// Marks the domain gone, for every process that maps it.
    pub fn mark_dead(&self) {
        if let Ok(w) = self.state.atomic_u32(DEAD_OFF) {
            w.store(1, Ordering::Release);
        }
    }

    /// The grant entry `gref`, if the table has it.
    pub fn entry(&self, gref: GrantRef) -> Option<GrantSlot<'_>> {
        if gref.0 >= self.layout.grant_entries() {
            return None;
        }
        let at = gref.0 as usize * GrantEntryV1::SIZE;
        Some(GrantSlot {
            header: self.grants.atomic_u32(at).ok()?,
            frame: self.grants.atomic_u32(at + 4).ok()?,
            active: self
                .state
                .atomic_u32(ACTIVE_OFF + gref.0 as usize * 4)
                .ok()?,
        })
    }
}

/// The words of one grant entry and its active-pin word.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GrantSlot<'a> {
    /// `flags | domid << 16`, shared with the guest.
    pub header: &'a AtomicU32,
    /// `frame`, shared with the guest.
    pub frame: &'a AtomicU32,
    /// Pin counts, hypervisor-private.
    pub active: &'a AtomicU32,
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: DomainLayout = DomainLayout {
        mem_pages: 4,
        grant_frames: 1,
    };

    #[test]
    fn files_from_a_peer_must_be_sealed_and_of_the_layouts_size() {
        let f = DomainFiles::create(L).unwrap();
        f.check(L).unwrap();
        let bigger = DomainLayout { mem_pages: 5, ..L };
        assert!(f.check(bigger).is_err());
        // An unsealed file of the right size: the peer could shrink it under us.
        let unsealed = std::env::temp_dir().join(format!("vpmd-dom-{}", std::process::id()));
        let mem = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&unsealed)
            .unwrap();
        std::fs::remove_file(&unsealed).unwrap();
        mem.set_len(L.mem_bytes() as u64).unwrap();
        let g = f.try_clone().unwrap();
        let forged = DomainFiles {
            mem,
            grants: g.grants,
            state: g.state,
        };
        assert!(forged.check(L).is_err());
        assert!(DomainView::map(DomId(1), L, forged).is_err());
    }

    #[test]
    fn layouts_are_bounded() {
        for bad in [
            DomainLayout { mem_pages: 0, ..L },
            DomainLayout {
                grant_frames: 0,
                ..L
            },
            DomainLayout {
                mem_pages: MAX_MEM_PAGES + 1,
                ..L
            },
            DomainLayout {
                grant_frames: MAX_GRANT_FRAMES + 1,
                ..L
            },
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
        let v = DomainView::map(DomId(1), L, DomainFiles::create(L).unwrap()).unwrap();
        assert!(v.entry(GrantRef(L.grant_entries() - 1)).is_some());
        assert!(v.entry(GrantRef(L.grant_entries())).is_none());
        assert!(!v.is_dead());
        v.mark_dead();
        assert!(v.is_dead());
    }
}
