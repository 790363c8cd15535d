//! Staging grants (Xen's `docs/misc/netif-staging-grants.pandoc`): grants a frontend
//! asks the backend to keep mapped, through its control ring (`GET_GREF_MAPPING_SIZE`,
//! `ADD_GREF_MAPPING`, `DEL_GREF_MAPPING`). A data slot that names a staged grant is
//! copied with a plain memory copy from or to the mapping: no grant-copy segment, no
//! pin and unpin of the guest's grant entry per packet, and the guest need not grant
//! and revoke a page per packet either. This takes the grant table out of a small
//! packet's path (the document measured Linux netback going from 0.68 to 2.49 Mpps
//! at 64 B).
//!
//! A queue's two rings may run on different lcores and read its table without a lock:
//! the control side builds a new table and hands each ring its own copy (so no
//! reference count is shared between lcores) through a [`Handover`], which returns
//! once no burst reads the old table. A deleted grant stays mapped until the last
//! table naming it is dropped: at each ring's next burst, or when the vif disconnects.
//!
//! Must never: stage a grant twice, let a failed ADD leave part of its list mapped,
//! let a ring write through a read-only staged grant, or index the table with an
//! unchecked reference.

use std::sync::Arc;

use vpmd_fastpath::{handover, Handover, Reader};

use super::MappingOf;
use crate::platform::shm::SharedMem;
use crate::platform::{GrantOps, Platform};
use crate::wire::ctrl::GrefEntry;
use crate::wire::defs::*;
use crate::wire::grant::{DomId, GrantRef};

/// Most grants one queue keeps mapped for its frontend (`GET_GREF_MAPPING_SIZE`):
/// enough for a page per slot of both rings, and then some.
pub const STAGING_MAX_GRANTS: usize = 1024;

/// Staged references must be below this: the table is indexed by reference.
const GREF_LIMIT: u32 = 1 << 16;

/// One staged grant and its mapping.
#[derive(Debug)]
struct StagedPage<M> {
    gref: GrantRef,
    map: M,
}

/// A queue's staged grants as one ring reads them.
#[derive(Debug)]
pub(crate) struct StagedPages<M> {
    /// 1 + the position in `pages` of each staged reference; 0 when not staged.
    index: Vec<u16>,
    pages: Vec<Arc<StagedPage<M>>>,
}

impl<M> Clone for StagedPages<M> {
    fn clone(&self) -> Self {
        Self {
            index: self.index.clone(),
            pages: self.pages.clone(),
        }
    }
}

impl<M> Default for StagedPages<M> {
    fn default() -> Self {
        Self {
            index: Vec::new(),
            pages: Vec::new(),
        }
    }
}

impl<M: AsRef<SharedMem>> StagedPages<M> {
    #[inline]
    fn page(&self, gref: GrantRef) -> Option<&SharedMem> {
        let at = usize::from(*self.index.get(gref.0 as usize)?).checked_sub(1)?;
        Some(self.pages.get(at)?.map.as_ref())
    }

    /// Prefetches the first lines (headers: up to 128 bytes) of `len` bytes at
    /// `offset` of staged grant `gref`, if it is staged.
    #[inline]
    pub fn prefetch(&self, gref: GrantRef, offset: u16, len: u16, write: bool) {
        if let Some(m) = self.page(gref) {
            let (at, len) = (usize::from(offset), usize::from(len.min(128)));
            m.prefetch(at, write);
            if len > 0 && (at + len - 1) / 64 != at / 64 {
                m.prefetch(at + 64, write);
            }
            if len > 64 && (at + len - 1) / 64 != (at + 64) / 64 {
                m.prefetch(at + 128, write);
            }
        }
    }

    /// Copies `dst.len()` bytes at `offset` of staged grant `gref` into `dst`; false
    /// when `gref` is not staged (the caller grant-copies instead).
    #[inline]
    pub fn read(&self, gref: GrantRef, offset: u16, dst: &mut [u8]) -> bool {
        self.page(gref)
            .is_some_and(|m| m.read(usize::from(offset), dst).is_ok())
    }

    /// Copies `src` to `offset` of staged grant `gref`; false when `gref` is not staged
    /// writable (the caller grant-copies instead, and the hypervisor decides).
    #[inline]
    pub fn write(&self, gref: GrantRef, offset: u16, src: &[u8]) -> bool {
        self.page(gref)
            .is_some_and(|m| m.write(usize::from(offset), src).is_ok())
    }

    /// Whether `gref` is staged.
    #[inline]
    pub fn contains(&self, gref: GrantRef) -> bool {
        self.index.get(gref.0 as usize).is_some_and(|&i| i != 0)
    }

    fn rebuild_index(&mut self) {
        let top = self.pages.iter().map(|p| p.gref.0 + 1).max().unwrap_or(0);
        self.index.clear();
        self.index.resize(top as usize, 0);
        for (i, p) in self.pages.iter().enumerate() {
            // Fits: at most STAGING_MAX_GRANTS pages.
            self.index[p.gref.0 as usize] = (i + 1) as u16;
        }
    }
}

/// A ring's view of its queue's staged grants: swapped by the control side between
/// bursts.
pub(crate) type StagingReader<M> = Reader<Arc<StagedPages<M>>>;
/// The control side's end of a ring's [`StagingReader`].
type StagingHandover<M> = Arc<Handover<Arc<StagedPages<M>>>>;

/// A reader for a ring that never reads staged grants (the control ring).
pub(crate) fn unstaged<M: Send + Sync>() -> StagingReader<M> {
    handover().1
}

/// The control side of one queue's staged grants.
pub struct Staging<P: Platform> {
    platform: Arc<P>,
    domid: DomId,
    table: StagedPages<MappingOf<P>>,
    rings: [StagingHandover<MappingOf<P>>; 2],
}

impl<P: Platform> std::fmt::Debug for Staging<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Staging")
            .field("domid", &self.domid)
            .field("staged", &self.table.pages.len())
            .finish_non_exhaustive()
    }
}

impl<P: Platform> Staging<P> {
    /// No grant staged yet for `domid`'s queue, and the readers of its two rings.
    pub(crate) fn new(platform: Arc<P>, domid: DomId) -> (Self, [StagingReader<MappingOf<P>>; 2]) {
        let (a, ra) = handover();
        let (b, rb) = handover();
        let s = Self {
            platform,
            domid,
            table: StagedPages::default(),
            rings: [a, b],
        };
        (s, [ra, rb])
    }

    /// Grants that may still be staged (`GET_GREF_MAPPING_SIZE`).
    pub fn free(&self) -> u32 {
        (STAGING_MAX_GRANTS - self.table.pages.len()) as u32
    }

    /// Grants staged now.
    pub fn len(&self) -> usize {
        self.table.pages.len()
    }

    /// Whether nothing is staged.
    pub fn is_empty(&self) -> bool {
        self.table.pages.is_empty()
    }

    /// `ADD_GREF_MAPPING`: maps every entry of `list` or none. On failure the entries
    /// at fault get `INVALID_PARAMETER` and the request's status is that too.
    pub fn add(&mut self, list: &mut [GrefEntry]) -> Result<u32, u32> {
        if list.len() > XEN_NETIF_GREF_LIST_MAX || list.len() > self.free() as usize {
            return Err(XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
        }
        let mut bad = false;
        for i in 0..list.len() {
            let g = list[i].gref;
            let ok = g < GREF_LIMIT
                && !self.table.contains(GrantRef(g))
                && !list[..i].iter().any(|e| e.gref == g);
            list[i].status = status16(if ok {
                XEN_NETIF_CTRL_STATUS_SUCCESS
            } else {
                XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER
            });
            bad |= !ok;
        }
        if bad {
            return Err(XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
        }
        let mut pages = Vec::with_capacity(list.len());
        for e in list.iter_mut() {
            let writable = e.flags & XEN_NETIF_CTRLF_GREF_READONLY == 0;
            let gref = GrantRef(e.gref);
            match self.platform.grants().map(self.domid, &[gref], writable) {
                Ok(map) => pages.push(Arc::new(StagedPage { gref, map })),
                Err(err) => {
                    log::warn!("vif {}: cannot stage grant {}: {err}", self.domid.0, e.gref);
                    e.status = status16(XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
                    // `pages` drops: what this request mapped is unmapped again.
                    return Err(XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
                }
            }
        }
        let n = pages.len() as u32;
        self.table.pages.extend(pages);
        self.publish();
        Ok(n)
    }

    /// `DEL_GREF_MAPPING`: unstages the entries of `list` that are staged, setting
    /// each entry's status; the number unstaged.
    pub fn del(&mut self, list: &mut [GrefEntry]) -> Result<u32, u32> {
        if list.len() > XEN_NETIF_GREF_LIST_MAX {
            return Err(XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
        }
        let mut n = 0;
        for e in list.iter_mut() {
            let before = self.table.pages.len();
            self.table.pages.retain(|p| p.gref.0 != e.gref);
            let gone = self.table.pages.len() < before;
            n += u32::from(gone);
            e.status = status16(if gone {
                XEN_NETIF_CTRL_STATUS_SUCCESS
            } else {
                XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER
            });
        }
        if n > 0 {
            self.publish();
        }
        Ok(n)
    }

    /// Hands both rings a copy of the table; returns once neither reads the old one.
    fn publish(&mut self) {
        self.table.rebuild_index();
        for ring in &self.rings {
            ring.start(Arc::new(self.table.clone()), 0);
        }
    }
}

fn status16(s: u32) -> u16 {
    s as u16
}
