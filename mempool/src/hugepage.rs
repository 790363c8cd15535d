//! One contiguous, zeroed memory region per pool: 2 MiB hugepages when the system has
//! them, otherwise normal pages advised with `MADV_HUGEPAGE`.
//!
//! This module owns the mapping and nothing else; it never hands out references, only
//! the base pointer and length, which `pool` carves into objects.

use std::alloc::Layout;
use std::fmt;
use std::ptr::NonNull;

/// The size of the hugepages vpmd asks for.
pub const HUGEPAGE_SIZE: usize = 2 << 20;

/// What kind of pages back a region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageKind {
    /// Explicit 2 MiB hugepages (hugetlbfs pool, `MAP_HUGETLB`).
    Huge2M,
    /// Normal pages with `MADV_HUGEPAGE` (transparent hugepages if the kernel obliges).
    Normal,
}

impl fmt::Display for PageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PageKind::Huge2M => "2 MiB hugepages",
            PageKind::Normal => "normal pages (MADV_HUGEPAGE)",
        })
    }
}

/// Whether a region may, must or must not use hugepages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HugepagePolicy {
    /// Hugepages if the system has enough free, else normal pages.
    #[default]
    Auto,
    /// Normal pages only.
    Never,
    /// Hugepages or an error.
    Require,
}

/// Why a region could not be mapped.
#[derive(Debug, thiserror::Error)]
pub enum RegionError {
    /// `Require` was asked and the hugepage mapping failed.
    #[error("no free 2 MiB hugepages for {len} bytes (see /proc/sys/vm/nr_hugepages)")]
    NoHugepages {
        /// The rounded-up length asked for.
        len: usize,
    },
    /// The normal-page mapping failed too.
    #[error("mmap of {len} bytes failed: {source}")]
    Mmap {
        /// The length asked for.
        len: usize,
        /// The OS error.
        source: std::io::Error,
    },
}

/// An owned anonymous mapping, unmapped on drop.
#[derive(Debug)]
pub struct Region {
    base: NonNull<u8>,
    len: usize,
    kind: PageKind,
}

// SAFETY: the region is plain memory owned by this value; which threads touch which bytes
// is decided by the pool, which synchronises object hand-over itself.
unsafe impl Send for Region {}
// SAFETY: as above; `Region` exposes only the base address, never references.
unsafe impl Sync for Region {}

impl Region {
    /// Maps at least `len` zeroed bytes (rounded up to [`HUGEPAGE_SIZE`]).
    pub fn map(len: usize, policy: HugepagePolicy) -> Result<Self, RegionError> {
        let len = len.max(1).next_multiple_of(HUGEPAGE_SIZE);
        if policy != HugepagePolicy::Never {
            if let Some(base) = map_huge(len) {
                return Ok(Self {
                    base,
                    len,
                    kind: PageKind::Huge2M,
                });
            }
            if policy == HugepagePolicy::Require {
                return Err(RegionError::NoHugepages { len });
            }
        }
        map_normal(len).map(|base| Self {
            base,
            len,
            kind: PageKind::Normal,
        })
    }

    /// The first byte of the region (2 MiB aligned).
    pub fn base(&self) -> NonNull<u8> {
        self.base
    }

    /// The mapped length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: a region maps at least one page.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The pages backing the region.
    pub fn kind(&self) -> PageKind {
        self.kind
    }
}

fn huge_layout(len: usize) -> Layout {
    // `len` is a non-zero multiple of 2 MiB, and the alignment a power of two.
    Layout::from_size_align(len, HUGEPAGE_SIZE).expect("valid hugepage layout")
}

fn map_huge(len: usize) -> Option<NonNull<u8>> {
    // SAFETY: the layout has a non-zero size; hugepage-rs returns null on failure and a
    // fresh private mapping of `len` bytes otherwise.
    let p = unsafe { hugepage_rs::alloc(huge_layout(len)) };
    NonNull::new(p)
}

fn map_normal(len: usize) -> Result<NonNull<u8>, RegionError> {
    // SAFETY: an anonymous private mapping with no address hint has no preconditions.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(RegionError::Mmap {
            len,
            source: std::io::Error::last_os_error(),
        });
    }
    // SAFETY: `p..p+len` is the mapping just made. The advice is a hint; failure (THP
    // disabled) leaves normal pages, which is what the caller accepted.
    unsafe { libc::madvise(p, len, libc::MADV_HUGEPAGE) };
    NonNull::new(p.cast()).ok_or(RegionError::Mmap {
        len,
        source: std::io::Error::other("mmap returned null"),
    })
}

impl Drop for Region {
    fn drop(&mut self) {
        match self.kind {
            // SAFETY: the block came from `hugepage_rs::alloc` with this exact layout.
            PageKind::Huge2M => unsafe {
                hugepage_rs::dealloc(self.base.as_ptr(), huge_layout(self.len))
            },
            // SAFETY: the block is the mapping made by `map_normal` with this length.
            PageKind::Normal => unsafe {
                libc::munmap(self.base.as_ptr().cast(), self.len);
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_gives_normal_pages_rounded_to_2m() {
        let r = Region::map(4096, HugepagePolicy::Never).unwrap();
        assert_eq!(r.kind(), PageKind::Normal);
        assert_eq!(r.len(), HUGEPAGE_SIZE);
        assert_eq!(r.base().as_ptr() as usize % 4096, 0);
    }

    #[test]
    fn auto_always_maps() {
        let r = Region::map(3 << 20, HugepagePolicy::Auto).unwrap();
        assert_eq!(r.len(), 4 << 20);
    }
}
