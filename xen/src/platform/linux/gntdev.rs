//! Grant copy and map through `/dev/xen/gntdev`.
//!
//! Copy: one `IOCTL_GNTDEV_GRANT_COPY` per batch, the backend choosing the batch (as
//! netback sizes its copy batches). gntdev fails the whole ioctl with `-EINVAL` when a
//! grant side crosses its page, so such a segment is answered `GNTST_bad_copy_arg`
//! here, alone, as Xen would; a zero-length one succeeds without reaching the kernel.
//!
//! Map: `IOCTL_GNTDEV_MAP_GRANT_REF` then `mmap` of the offset it returns (the pages
//! are mapped, all or nothing, by the `mmap`), `IOCTL_GNTDEV_UNMAP_GRANT_REF` and
//! `munmap` to undo. gntdev does not say which reference of a failed map failed, so a
//! failed map is an I/O error and a failed data page reads `GNTST_general_error`.
//! Data pages are mapped one ioctl + `mmap` each for now (issue 6 batches them).

use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use super::ioctl::{self, GntdevCopySegment};
use super::open_device;
use crate::platform::grant::{CopySegment, GrantError, GrantOps};
use crate::platform::shm::{SharedMem, SharedWindow};
use crate::wire::defs::XEN_PAGE_SIZE;
use crate::wire::grant::{DomId, GrantRef, GrantStatus};

/// Most references one map takes (gntdev's default limit).
pub const MAX_MAP_REFS: usize = 64 * 1024;

/// What a segment gets without reaching the kernel: success for nothing to copy,
/// `GNTST_bad_copy_arg` for a grant side crossing its page; `None` to run it.
pub(super) fn precheck(seg: &CopySegment<'_>) -> Option<GrantStatus> {
    if seg.is_empty() {
        return Some(GrantStatus::OKAY);
    }
    if usize::from(seg.grant().offset) + seg.len() > XEN_PAGE_SIZE {
        return Some(GrantStatus::BAD_COPY_ARG);
    }
    None
}

/// Scratch of a copy batch, kept between batches.
#[derive(Debug, Default)]
struct Scratch {
    which: Vec<usize>,
    early: Vec<(usize, GrantStatus)>,
    raw: Vec<GntdevCopySegment>,
}

/// Grant operations of a Linux domain, through one gntdev fd.
#[derive(Debug)]
pub struct LinuxGrants {
    dev: Arc<File>,
    scratch: Mutex<Scratch>,
}

impl LinuxGrants {
    /// Opens the gntdev device at `path` (`/dev/xen/gntdev`).
    pub fn open(path: &Path) -> io::Result<Self> {
        Ok(Self {
            dev: Arc::new(open_device(path, false)?),
            scratch: Mutex::default(),
        })
    }
}

/// Granted pages mapped through gntdev; unmapped (and released) on drop.
#[derive(Debug)]
pub struct LinuxMapping {
    mem: SharedMem,
    index: u64,
    count: u32,
    dev: Arc<File>,
}

impl LinuxMapping {
    /// Releases the gntdev mapping; the pages themselves go with the `munmap` of
    /// `mem`, whichever comes first.
    fn release(&mut self) -> io::Result<()> {
        match std::mem::take(&mut self.count) {
            0 => Ok(()),
            n => ioctl::unmap_grant_refs(self.dev.as_fd(), self.index, n),
        }
    }
}

impl AsRef<SharedMem> for LinuxMapping {
    fn as_ref(&self) -> &SharedMem {
        &self.mem
    }
}

impl Drop for LinuxMapping {
    fn drop(&mut self) {
        let count = self.count;
        if let Err(e) = self.release() {
            log::warn!(
                "gntdev: unmap of {count} grant(s) at {:#x}: {e}",
                self.index
            );
        }
    }
}

impl GrantOps for LinuxGrants {
    type Mapping = LinuxMapping;
    type Page = SharedWindow<LinuxMapping>;

    fn copy(&self, segments: &mut [CopySegment<'_>]) -> Result<(), GrantError> {
        let mut s = self.scratch.lock().unwrap_or_else(PoisonError::into_inner);
        let Scratch { which, early, raw } = &mut *s;
        which.clear();
        early.clear();
        for (i, seg) in segments.iter().enumerate() {
            match precheck(seg) {
                Some(st) => early.push((i, st)),
                None => which.push(i),
            }
        }
        ioctl::grant_copy(self.dev.as_fd(), segments, which, raw)?;
        for &(i, st) in early.iter() {
            segments[i].set_status(st);
        }
        Ok(())
    }

    fn map(
        &self,
        domid: DomId,
        refs: &[GrantRef],
        writable: bool,
    ) -> Result<LinuxMapping, GrantError> {
        if refs.is_empty() {
            return Err(GrantError::Invalid("no grant references"));
        }
        if refs.len() > MAX_MAP_REFS {
            return Err(GrantError::Invalid("too many grant references"));
        }
        let count = refs.len() as u32;
        let index = ioctl::map_grant_refs(self.dev.as_fd(), domid.0, refs)?;
        let len = refs.len() * XEN_PAGE_SIZE;
        match SharedMem::map_device(&self.dev, index, len, writable) {
            Ok(mem) => Ok(LinuxMapping {
                mem,
                index,
                count,
                dev: Arc::clone(&self.dev),
            }),
            Err(e) => {
                let _ = ioctl::unmap_grant_refs(self.dev.as_fd(), index, count);
                Err(GrantError::Io(io::Error::new(
                    e.kind(),
                    format!(
                        "mapping {count} grant(s) of domain {domid} (first ref {}): {e}",
                        refs[0].0
                    ),
                )))
            }
        }
    }

    fn unmap(&self, mut mapping: LinuxMapping) -> Result<(), GrantError> {
        Ok(mapping.release()?)
    }

    fn map_pages(
        &self,
        domid: DomId,
        refs: &[GrantRef],
        out: &mut Vec<Result<Self::Page, GrantStatus>>,
    ) {
        for &r in refs {
            let page = self
                .map(domid, &[r], false)
                .map_err(|e| {
                    log::debug!("gntdev: data page {} of domain {domid}: {e}", r.0);
                    GrantStatus::GENERAL_ERROR
                })
                .and_then(|m| {
                    SharedWindow::new(m, 0, XEN_PAGE_SIZE).map_err(|_| GrantStatus::GENERAL_ERROR)
                });
            out.push(page);
        }
    }

    fn unmap_pages(&self, pages: &mut Vec<Self::Page>) -> Result<(), GrantError> {
        // Each page's drop releases it and munmaps it.
        pages.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::grant::GrantPtr;

    fn at(offset: u16) -> GrantPtr {
        GrantPtr {
            domid: DomId(1),
            gref: GrantRef(8),
            offset,
        }
    }

    #[test]
    fn segments_the_kernel_would_refuse_are_answered_here() {
        let mut b = [0u8; 200];
        assert_eq!(
            precheck(&CopySegment::from_grant(at(4000), &mut b)),
            Some(GrantStatus::BAD_COPY_ARG)
        );
        assert_eq!(precheck(&CopySegment::from_grant(at(3896), &mut b)), None);
        assert_eq!(
            precheck(&CopySegment::to_grant(&[], at(4095))),
            Some(GrantStatus::OKAY)
        );
        let big = [0u8; 4097];
        assert_eq!(
            precheck(&CopySegment::to_grant(&big, at(0))),
            Some(GrantStatus::BAD_COPY_ARG)
        );
    }

    #[test]
    fn a_batch_the_kernel_refuses_leaves_every_status() {
        // Not gntdev: the ioctl fails with ENOTTY, as a batch that did not run.
        let g = LinuxGrants::open(Path::new("/dev/null")).unwrap();
        let (mut a, mut b) = ([0u8; 10], [0u8; 10]);
        let mut segs = [
            CopySegment::from_grant(at(0), &mut a),
            CopySegment::from_grant(at(4090), &mut b),
        ];
        assert!(matches!(g.copy(&mut segs), Err(GrantError::Io(_))));
        assert!(segs
            .iter()
            .all(|s| s.status() == GrantStatus::GENERAL_ERROR));
        // Only pre-checked segments: nothing reaches the kernel.
        let mut segs = [CopySegment::from_grant(at(4090), &mut a)];
        g.copy(&mut segs).unwrap();
        assert_eq!(segs[0].status(), GrantStatus::BAD_COPY_ARG);
        assert!(matches!(
            g.map(DomId(1), &[], false),
            Err(GrantError::Invalid(_))
        ));
        assert!(matches!(
            g.map(DomId(1), &[GrantRef(8)], false),
            Err(GrantError::Io(_))
        ));
        let mut out = Vec::new();
        g.map_pages(DomId(1), &[GrantRef(8), GrantRef(9)], &mut out);
        assert!(out
            .iter()
            .all(|p| matches!(p, Err(s) if *s == GrantStatus::GENERAL_ERROR)));
    }
}
