//! The guest side of a simulated domain: it owns its memory and grant table (memfds it
//! creates and registers with the hypervisor service) and grants pages as a Linux
//! guest's grant-table driver does. The netfront peer is built on it.
//!
//! It also offers what a hostile guest does ([`Guest::set_entry`], [`Guest::revoke`]),
//! for tests.

use std::io;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};

use super::domain::{DomainFiles, DomainLayout};
use super::evtchn::{SimChannel, SimEvtchns};
use super::faults::Faults;
use super::hyp::client::HypClient;
use super::SimPaths;
use crate::platform::evtchn::EvtchnError;
use crate::platform::shm::SharedMem;
use crate::wire::defs::XEN_PAGE_SIZE;
use crate::wire::grant::{DomId, GrantEntryV1, GrantFlags, GrantRef};
use crate::wire::Entry;

/// Grant references a Linux guest keeps for itself (xenstore, console):
/// `GNTTAB_NR_RESERVED_ENTRIES`.
pub const RESERVED_REFS: u32 = 8;

/// Why a guest grant operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GuestError {
    /// Every grant reference is in use.
    #[error("no free grant reference")]
    NoFreeRefs,
    /// The backend still has the grant pinned or mapped (`GTF_reading`/`GTF_writing`).
    #[error("grant {0:?} is in use by a backend")]
    InUse(GrantRef),
    /// The reference was not handed out by [`Guest::grant_access`].
    #[error("grant {0:?} is not granted")]
    NotGranted(GrantRef),
}

#[derive(Debug)]
struct RefAlloc {
    free: Vec<u32>,
    granted: Vec<bool>,
}

/// A simulated guest domain, alive while this value (and its connection) lives.
#[derive(Debug)]
pub struct Guest {
    domid: DomId,
    layout: DomainLayout,
    mem: SharedMem,
    grants: SharedMem,
    refs: Mutex<RefAlloc>,
    events: SimEvtchns,
}

impl Guest {
    /// Creates domain `domid` with zeroed memory and an empty grant table.
    pub fn create(paths: &SimPaths, domid: DomId, layout: DomainLayout) -> io::Result<Self> {
        Self::with_faults(paths, domid, layout, Faults::new())
    }

    /// As [`Guest::create`], with faults for the guest's own notifications.
    pub fn with_faults(
        paths: &SimPaths,
        domid: DomId,
        layout: DomainLayout,
        faults: Arc<Faults>,
    ) -> io::Result<Self> {
        let files = DomainFiles::create(layout)?;
        let hyp = Arc::new(HypClient::connect(&paths.hyp)?);
        hyp.create_domain(domid, layout, &files)?;
        let entries = layout.grant_entries();
        Ok(Self {
            domid,
            layout,
            mem: SharedMem::map(&files.mem, 0, layout.mem_bytes(), true)?,
            grants: SharedMem::map(
                &files.grants,
                0,
                layout.grant_frames as usize * XEN_PAGE_SIZE,
                true,
            )?,
            refs: Mutex::new(RefAlloc {
                free: (RESERVED_REFS.min(entries)..entries).rev().collect(),
                granted: vec![false; entries as usize],
            }),
            events: SimEvtchns::new(domid, hyp, faults),
        })
    }

    /// The domain id.
    pub fn domid(&self) -> DomId {
        self.domid
    }

    /// The sizes.
    pub fn layout(&self) -> DomainLayout {
        self.layout
    }

    /// Guest memory: page `n` is bytes `n * 4096..`.
    pub fn memory(&self) -> &SharedMem {
        &self.mem
    }

    /// Lets `to` access page `frame` (read-only if `readonly`): fills a free entry,
    /// frame and domid before the flags, as `gnttab_grant_foreign_access_ref` does.
    /// The frame is not checked: the hypervisor checks it on use.
    pub fn grant_access(
        &self,
        to: DomId,
        frame: u32,
        readonly: bool,
    ) -> Result<GrantRef, GuestError> {
        let mut a = self.refs.lock().unwrap_or_else(PoisonError::into_inner);
        let r = a.free.pop().ok_or(GuestError::NoFreeRefs)?;
        a.granted[r as usize] = true;
        let mut flags = GrantFlags::PERMIT_ACCESS;
        if readonly {
            flags |= GrantFlags::READONLY;
        }
        self.publish(
            GrantRef(r),
            GrantEntryV1 {
                flags,
                domid: to,
                frame,
            },
        );
        Ok(GrantRef(r))
    }

    /// Ends `to`'s access and frees the reference, unless a backend still uses it
    /// (`gnttab_end_foreign_access_ref`: the flags go to 0 only if neither
    /// `GTF_reading` nor `GTF_writing` is set).
    pub fn end_access(&self, gref: GrantRef) -> Result<(), GuestError> {
        let mut a = self.refs.lock().unwrap_or_else(PoisonError::into_inner);
        if !a.granted.get(gref.0 as usize).copied().unwrap_or(false) {
            return Err(GuestError::NotGranted(gref));
        }
        let h = self.header(gref).ok_or(GuestError::NotGranted(gref))?;
        let mut cur = h.load(Ordering::Acquire);
        loop {
            let (flags, domid) = GrantEntryV1::split_header(cur);
            if flags.in_use() {
                return Err(GuestError::InUse(gref));
            }
            let new = GrantEntryV1::header_word(GrantFlags::EMPTY, domid);
            match h.compare_exchange(cur, new, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => break,
                Err(now) => cur = now,
            }
        }
        a.granted[gref.0 as usize] = false;
        a.free.push(gref.0);
        Ok(())
    }

    /// The entry `gref` as it is now (`None` past the table's end).
    pub fn entry(&self, gref: GrantRef) -> Option<GrantEntryV1> {
        let mut b = [0u8; 8];
        self.grants
            .read(gref.0 as usize * GrantEntryV1::SIZE, &mut b)
            .ok()?;
        Some(GrantEntryV1::decode(&b))
    }

    /// Writes any entry (a hostile guest's grant table): frame, then flags and domid.
    pub fn set_entry(&self, gref: GrantRef, e: GrantEntryV1) -> Option<()> {
        self.header(gref)?;
        self.publish(gref, e);
        Some(())
    }

    /// Clears the entry's flags whatever the backend is doing with it, as a rogue guest
    /// may.
    pub fn revoke(&self, gref: GrantRef) -> Option<()> {
        self.header(gref)?.fetch_and(0xFFFF_0000, Ordering::AcqRel);
        Some(())
    }

    /// Allocates an event-channel port for `remote` to bind.
    pub fn alloc_unbound(&self, remote: DomId) -> Result<SimChannel, EvtchnError> {
        self.events.alloc_unbound(remote)
    }

    fn header(&self, gref: GrantRef) -> Option<&std::sync::atomic::AtomicU32> {
        if gref.0 >= self.layout.grant_entries() {
            return None;
        }
        self.grants
            .atomic_u32(gref.0 as usize * GrantEntryV1::SIZE)
            .ok()
    }

    fn publish(&self, gref: GrantRef, e: GrantEntryV1) {
        let at = gref.0 as usize * GrantEntryV1::SIZE;
        if let (Ok(frame), Some(h)) = (self.grants.atomic_u32(at + 4), self.header(gref)) {
            frame.store(e.frame, Ordering::Relaxed);
            h.store(
                GrantEntryV1::header_word(e.flags, e.domid),
                Ordering::Release,
            );
        }
    }
}
