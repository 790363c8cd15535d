//! Grant copy and grant map against a simulated domain's grant table, with the checks
//! and status codes of Xen's `gnttab_copy` and `gnttab_map_grant_ref` (listed in the
//! [`platform`](crate::platform) module doc).
//!
//! Pinning follows Xen's `_set_status_v1`: a compare-and-swap on the entry's
//! `flags|domid` word checks the type, domid and read-only bit and sets `GTF_reading`
//! (and `GTF_writing` for a write) while the grant is in use, so the guest can see
//! that it may not reclaim the page yet; pin counts live in the hypervisor-private
//! state file, shared by every process that maps the domain. One divergence, on the
//! strict side: Xen skips the entry checks while a grant is already pinned, the sim
//! checks on every use, so a grant revoked under a mapping fails the next copy at once.
//!
//! Data pages ([`GrantOps::map_pages`]) cost no syscall: the sim already maps every
//! guest's memory, so a page "mapping" is a pin of the grant plus a window into that
//! mapping ([`SimPage`]), and unmapping is the unpin. Rings keep real per-page mmaps.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use super::domain::{DomainView, GrantSlot};
use super::faults::{CopyFault, Faults};
use super::hyp::client::HypClient;
use crate::platform::grant::{CopyOp, CopySegment, GrantError, GrantOps};
use crate::platform::shm::{SharedMem, SharedWindow};
use crate::wire::defs::{GTF_PERMIT_ACCESS, GTF_TYPE_MASK, XEN_PAGE_SIZE};
use crate::wire::grant::{DomId, GrantEntryV1, GrantFlags, GrantRef, GrantStatus};

/// Most references one map call takes (gntdev's default `limit` is 64 Ki).
pub const MAX_MAP_REFS: usize = 64 * 1024;

/// The active-pin word: read pins (every pin) in bits 0-15, write pins in 16-30, a
/// lock in bit 31.
const LOCK: u32 = 1 << 31;
const READS: u32 = 0xFFFF;
const WRITES_SHIFT: u32 = 16;
const WRITES: u32 = 0x7FFF << WRITES_SHIFT;

/// Xen gives up on an entry the guest keeps changing after this many CAS attempts.
const CAS_TRIES: usize = 5;

/// The active-pin word of one entry, locked.
struct Active<'a> {
    word: &'a AtomicU32,
    val: u32,
}

impl<'a> Active<'a> {
    fn lock(word: &'a AtomicU32) -> Self {
        let mut spins = 0u32;
        loop {
            let v = word.fetch_or(LOCK, Ordering::Acquire);
            if v & LOCK == 0 {
                return Self { word, val: v };
            }
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(64) {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
    }

    fn reads(&self) -> u32 {
        self.val & READS
    }

    fn writes(&self) -> u32 {
        (self.val & WRITES) >> WRITES_SHIFT
    }
}

impl Drop for Active<'_> {
    fn drop(&mut self) {
        self.word.store(self.val & !LOCK, Ordering::Release);
    }
}

/// Pins `gref` of `view` for use by `me`; the granted frame.
fn pin(
    view: &DomainView,
    gref: GrantRef,
    me: DomId,
    write: bool,
    map: bool,
) -> Result<u32, GrantStatus> {
    let slot = view.entry(gref).ok_or(GrantStatus::BAD_GNTREF)?;
    let mut act = Active::lock(slot.active);
    if act.reads() == READS || act.writes() == WRITES >> WRITES_SHIFT {
        return Err(GrantStatus::GENERAL_ERROR); // pin counter would overflow
    }
    // A map may not use a sub-page grant.
    let type_mask = if map {
        GrantFlags(GTF_TYPE_MASK) | GrantFlags::SUB_PAGE
    } else {
        GrantFlags(GTF_TYPE_MASK)
    };
    let mut set = GrantFlags::READING;
    if write {
        set |= GrantFlags::WRITING;
    }
    let mut cur = slot.header.load(Ordering::Acquire);
    for tries in 1.. {
        let (flags, domid) = GrantEntryV1::split_header(cur);
        if flags.0 & type_mask.0 != GTF_PERMIT_ACCESS || domid != me {
            return Err(GrantStatus::GENERAL_ERROR);
        }
        if write && flags.contains(GrantFlags::READONLY) {
            return Err(GrantStatus::GENERAL_ERROR);
        }
        let new = GrantEntryV1::header_word(flags | set, domid);
        match slot
            .header
            .compare_exchange(cur, new, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => break,
            Err(_) if tries == CAS_TRIES => return Err(GrantStatus::GENERAL_ERROR),
            Err(now) => cur = now,
        }
    }
    // The guest writes the frame before the flags; read it after pinning them.
    let frame = slot.frame.load(Ordering::Acquire);
    if frame >= view.layout.mem_pages {
        let mut clear = 0;
        if act.reads() == 0 {
            clear |= GrantFlags::READING.0;
        }
        if write && act.writes() == 0 {
            clear |= GrantFlags::WRITING.0;
        }
        slot.header.fetch_and(!u32::from(clear), Ordering::Release);
        return Err(GrantStatus::BAD_PAGE);
    }
    act.val += 1 + if write { 1 << WRITES_SHIFT } else { 0 };
    Ok(frame)
}

/// Drops one pin taken by [`pin`], clearing `GTF_reading`/`GTF_writing` with the last.
fn unpin(slot: GrantSlot<'_>, write: bool) {
    let mut act = Active::lock(slot.active);
    let reads = act.reads().saturating_sub(1);
    let writes = act.writes().saturating_sub(u32::from(write));
    let mut clear = 0;
    if reads == 0 {
        clear |= GrantFlags::READING.0;
    }
    if writes == 0 {
        clear |= GrantFlags::WRITING.0;
    }
    if clear != 0 {
        slot.header.fetch_and(!u32::from(clear), Ordering::Release);
    }
    act.val = reads | writes << WRITES_SHIFT;
}

/// Grant copy and map for one backend domain, over the sim's shared files.
#[derive(Debug)]
pub struct SimGrants {
    me: DomId,
    hyp: Arc<HypClient>,
    domains: RwLock<HashMap<DomId, Arc<DomainView>>>,
    faults: Arc<Faults>,
}

impl SimGrants {
    pub(crate) fn new(me: DomId, hyp: Arc<HypClient>, faults: Arc<Faults>) -> Self {
        Self {
            me,
            hyp,
            domains: RwLock::default(),
            faults,
        }
    }

    /// The live domain `domid`, mapped on first use; `None` for no such domain.
    fn domain(&self, domid: DomId) -> Option<Arc<DomainView>> {
        if let Some(d) = self
            .domains
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&domid)
        {
            if !d.is_dead() {
                return Some(Arc::clone(d));
            }
        }
        let mut all = self.domains.write().unwrap_or_else(PoisonError::into_inner);
        all.remove(&domid);
        let (layout, files) = match self.hyp.get_domain(domid) {
            Ok(Some(d)) => d,
            Ok(None) => return None,
            Err(e) => {
                log::warn!("sim: cannot look up domain {domid}: {e}");
                return None;
            }
        };
        match DomainView::map(domid, layout, files) {
            Ok(v) => {
                let v = Arc::new(v);
                all.insert(domid, Arc::clone(&v));
                Some(v)
            }
            Err(e) => {
                log::warn!("sim: cannot map domain {domid}: {e}");
                None
            }
        }
    }

    fn copy_one(
        &self,
        seg: &mut CopySegment<'_>,
        idx: u64,
        last: &mut Option<Arc<DomainView>>,
    ) -> GrantStatus {
        match self.faults.copy_fault(idx) {
            Some(CopyFault::Fail(s)) => return s,
            Some(CopyFault::Revoke { domid, gref }) => self.revoke(domid, gref),
            None => {}
        }
        let len = seg.len();
        if len == 0 {
            return GrantStatus::OKAY;
        }
        let g = seg.grant();
        let view = match last.take() {
            Some(v) if v.domid == g.domid && !v.is_dead() => v,
            _ => match self.domain(g.domid) {
                Some(v) => v,
                None => return GrantStatus::BAD_DOMAIN,
            },
        };
        let write = matches!(seg.op(), CopyOp::ToGrant { .. });
        let status = match pin(&view, g.gref, self.me, write, false) {
            Err(s) => s,
            Ok(frame) => {
                let status = if usize::from(g.offset) + len > XEN_PAGE_SIZE {
                    GrantStatus::BAD_COPY_ARG
                } else {
                    let at = frame as usize * XEN_PAGE_SIZE + usize::from(g.offset);
                    let done = match seg.op_mut() {
                        CopyOp::FromGrant { dst, .. } => view.mem.read(at, dst),
                        CopyOp::ToGrant { src, .. } => view.mem.write(at, src),
                    };
                    // Unreachable: the frame and the page bounds were checked.
                    done.map_or(GrantStatus::GENERAL_ERROR, |()| GrantStatus::OKAY)
                };
                if let Some(slot) = view.entry(g.gref) {
                    unpin(slot, write);
                }
                status
            }
        };
        *last = Some(view);
        status
    }

    /// A rogue guest's revocation: the entry's flags cleared under the backend.
    fn revoke(&self, domid: DomId, gref: GrantRef) {
        if let Some(slot) = self.domain(domid).as_deref().and_then(|v| v.entry(gref)) {
            slot.header.fetch_and(0xFFFF_0000, Ordering::AcqRel);
        }
    }
}

impl GrantOps for SimGrants {
    type Mapping = SimMapping;
    type Page = SimPage;

    fn map_pages(
        &self,
        domid: DomId,
        refs: &[GrantRef],
        out: &mut Vec<Result<SimPage, GrantStatus>>,
    ) {
        let view = self.domain(domid);
        for &gref in refs {
            // Each page is one map call for fault injection, as in a hypercall batch.
            if let Some(status) = self.faults.map_fault() {
                out.push(Err(status));
                continue;
            }
            let Some(view) = view.as_ref() else {
                out.push(Err(GrantStatus::BAD_DOMAIN));
                continue;
            };
            out.push(pin(view, gref, self.me, false, true).and_then(|frame| {
                let pin = PagePin {
                    view: Arc::clone(view),
                    gref,
                };
                // Unreachable failure: `pin` checked the frame against guest memory.
                SharedWindow::new(pin, frame as usize * XEN_PAGE_SIZE, XEN_PAGE_SIZE)
                    .map_err(|_| GrantStatus::BAD_PAGE)
            }));
        }
    }

    fn unmap_pages(&self, pages: &mut Vec<SimPage>) -> Result<(), GrantError> {
        pages.clear();
        Ok(())
    }

    fn copy(&self, segments: &mut [CopySegment<'_>]) -> Result<(), GrantError> {
        let base = self.faults.start_batch(segments.len());
        let mut last = None;
        for (i, seg) in segments.iter_mut().enumerate() {
            let s = self.copy_one(seg, base + i as u64, &mut last);
            seg.set_status(s);
        }
        Ok(())
    }

    fn map(
        &self,
        domid: DomId,
        refs: &[GrantRef],
        writable: bool,
    ) -> Result<SimMapping, GrantError> {
        if refs.is_empty() || refs.len() > MAX_MAP_REFS {
            return Err(GrantError::Invalid("map needs 1 to 65536 grant references"));
        }
        if let Some(status) = self.faults.map_fault() {
            return Err(GrantError::Map { index: 0, status });
        }
        let view = self.domain(domid).ok_or(GrantError::Map {
            index: 0,
            status: GrantStatus::BAD_DOMAIN,
        })?;
        let mut frames = Vec::with_capacity(refs.len());
        for (index, &gref) in refs.iter().enumerate() {
            match pin(&view, gref, self.me, writable, true) {
                Ok(f) => frames.push(u64::from(f)),
                Err(status) => {
                    unpin_all(&view, &refs[..index], writable);
                    return Err(GrantError::Map { index, status });
                }
            }
        }
        match SharedMem::map_pages(&view.mem_file, &frames, writable) {
            Ok(mem) => Ok(SimMapping {
                mem,
                _pins: Pins {
                    view,
                    refs: refs.to_vec(),
                    writable,
                },
            }),
            Err(e) => {
                unpin_all(&view, refs, writable);
                Err(e.into())
            }
        }
    }

    fn unmap(&self, mapping: SimMapping) -> Result<(), GrantError> {
        drop(mapping);
        Ok(())
    }
}

fn unpin_all(view: &DomainView, refs: &[GrantRef], write: bool) {
    for &r in refs {
        if let Some(slot) = view.entry(r) {
            unpin(slot, write);
        }
    }
}

/// Granted pages mapped into this process; the grants stay pinned (`GTF_reading`,
/// `GTF_writing`) until it is dropped.
#[derive(Debug)]
pub struct SimMapping {
    // Field order is drop order: unmap, then release the grants.
    mem: SharedMem,
    _pins: Pins,
}

impl AsRef<SharedMem> for SimMapping {
    fn as_ref(&self) -> &SharedMem {
        &self.mem
    }
}

/// A granted page mapped for the data path: a window into the guest memory the sim maps
/// anyway, the grant pinned (`GTF_reading`) until it is dropped.
pub type SimPage = SharedWindow<PagePin>;

/// The pin a [`SimPage`] holds on its grant, and the domain mapping it points into.
#[derive(Debug)]
pub struct PagePin {
    view: Arc<DomainView>,
    gref: GrantRef,
}

impl AsRef<SharedMem> for PagePin {
    fn as_ref(&self) -> &SharedMem {
        &self.view.mem
    }
}

impl Drop for PagePin {
    fn drop(&mut self) {
        unpin_all(&self.view, &[self.gref], false);
    }
}

/// The pins a mapping holds.
#[derive(Debug)]
struct Pins {
    view: Arc<DomainView>,
    refs: Vec<GrantRef>,
    writable: bool,
}

impl Drop for Pins {
    fn drop(&mut self) {
        unpin_all(&self.view, &self.refs, self.writable);
    }
}
