//! Guest memory as the front-end described it: regions (guest physical address, size,
//! front-end virtual address, fd + offset) mapped once, and address translation.
//!
//! A [`MemTable`] is immutable once built; a new `SET_MEM_TABLE` or `ADD_MEM_REG` builds a
//! new one and publishes it (`Arc`), so a queue keeps the table it was handed until it
//! picks up the next one and no mapping disappears under a running burst.
//!
//! Every guest-supplied address and length is checked here: a range that is not wholly
//! inside one region (or, for copies, inside consecutive regions) is an error, never a
//! wild access.

mod mmap;

use std::fs::File;
use std::ptr::NonNull;
use std::sync::Arc;

pub use mmap::Mapping;

/// Most regions a table holds (QEMU's and rust-vmm's `VHOST_USER_MAX_RAM_SLOTS`).
pub const MAX_REGIONS: usize = 509;

/// Why guest memory could not be mapped or accessed.
#[derive(Debug, thiserror::Error)]
pub enum MemError {
    /// The region extends past the end of its file.
    #[error(
        "region of {len} bytes at file offset {offset} extends past the file's {file_len} bytes"
    )]
    BeyondFile {
        /// Offset in the file.
        offset: u64,
        /// Region size.
        len: u64,
        /// The file's size.
        file_len: u64,
    },
    /// An address computation overflowed.
    #[error("address or size overflows")]
    Overflow,
    /// Two regions overlap in guest physical or front-end virtual space.
    #[error("regions overlap at guest address {0:#x}")]
    Overlap(u64),
    /// More regions than [`MAX_REGIONS`].
    #[error("too many memory regions ({0}, max {MAX_REGIONS})")]
    TooMany(usize),
    /// A guest address range is not backed by the table.
    #[error("guest range {gpa:#x}+{len} is outside guest memory")]
    Outside {
        /// Start of the range.
        gpa: u64,
        /// Its length.
        len: u64,
    },
    /// The OS refused.
    #[error("{0}")]
    Io(std::io::Error),
}

/// One region as a memory-table message describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegionDesc {
    /// Guest physical address of the first byte.
    pub gpa: u64,
    /// Size in bytes.
    pub size: u64,
    /// The front-end's virtual address of the first byte (vring addresses use these).
    pub uaddr: u64,
    /// Offset of the first byte in the fd.
    pub mmap_offset: u64,
}

/// A mapped region. Clones share the mapping, so a new table built from an old one
/// (`ADD_MEM_REG`, `REM_MEM_REG`) maps only the new region, and a region stays mapped
/// while any table holding it lives.
#[derive(Debug, Clone)]
pub struct Region {
    desc: RegionDesc,
    map: Arc<Mapping>,
}

impl Region {
    /// Maps `desc` from `file`.
    pub fn map(desc: RegionDesc, file: &File) -> Result<Self, MemError> {
        desc.gpa.checked_add(desc.size).ok_or(MemError::Overflow)?;
        desc.uaddr
            .checked_add(desc.size)
            .ok_or(MemError::Overflow)?;
        let map = Arc::new(Mapping::new(file, desc.mmap_offset, desc.size)?);
        Ok(Self { desc, map })
    }

    /// What the front-end said about this region.
    pub fn desc(&self) -> RegionDesc {
        self.desc
    }

    #[inline]
    fn gpa_offset(&self, gpa: u64) -> Option<u64> {
        gpa.checked_sub(self.desc.gpa)
            .filter(|&o| o < self.desc.size)
    }
}

/// A guest's memory map.
#[derive(Debug, Default)]
pub struct MemTable {
    regions: Vec<Region>,
}

/// A host pointer into guest memory, valid while the [`MemTable`] it came from lives.
pub type HostPtr = NonNull<u8>;

/// A guest range resolved to one region of a [`MemTable`]: *where* it is, not a pointer.
///
/// The data path resolves each descriptor once ([`MemTable::resolve`]) and then copies
/// through the location ([`MemTable::read_loc`], [`MemTable::write_loc`]) without another
/// region search. Every copy re-checks its bounds against the location and the mapping, so
/// a stale or made-up value is a failed copy, never a wild access.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GuestLoc {
    region: u32,
    len: u32,
    off: u64,
}

impl GuestLoc {
    /// Bytes in the range.
    #[inline]
    pub fn len(&self) -> u32 {
        self.len
    }

    /// True for an empty range.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl MemTable {
    /// A table of `regions`, refused if any two overlap.
    pub fn new(mut regions: Vec<Region>) -> Result<Self, MemError> {
        if regions.len() > MAX_REGIONS {
            return Err(MemError::TooMany(regions.len()));
        }
        regions.sort_by_key(|r| r.desc.gpa);
        for w in regions.windows(2) {
            if w[0].desc.gpa + w[0].desc.size > w[1].desc.gpa {
                return Err(MemError::Overlap(w[1].desc.gpa));
            }
        }
        let mut by_uaddr: Vec<_> = regions
            .iter()
            .map(|r| (r.desc.uaddr, r.desc.size))
            .collect();
        by_uaddr.sort_unstable();
        for w in by_uaddr.windows(2) {
            if w[0].0 + w[0].1 > w[1].0 {
                return Err(MemError::Overlap(w[1].0));
            }
        }
        Ok(Self { regions })
    }

    /// The regions, by guest address.
    pub fn regions(&self) -> impl Iterator<Item = &Region> {
        self.regions.iter()
    }

    /// How many regions.
    pub fn len(&self) -> usize {
        self.regions.len()
    }

    /// True when the table has no regions (no memory table received yet).
    pub fn is_empty(&self) -> bool {
        self.regions.is_empty()
    }

    /// The index of the region holding `gpa`, trying `hint` first (a queue's last hit).
    #[inline]
    pub fn find(&self, gpa: u64, hint: usize) -> Option<usize> {
        if let Some(r) = self.regions.get(hint) {
            if r.gpa_offset(gpa).is_some() {
                return Some(hint);
            }
        }
        self.regions
            .iter()
            .position(|r| r.gpa_offset(gpa).is_some())
    }

    /// Host pointer of `gpa..gpa+len`, if it lies wholly in one region.
    #[inline]
    pub fn gpa_to_host(&self, gpa: u64, len: u64, hint: &mut usize) -> Option<HostPtr> {
        let i = self.find(gpa, *hint)?;
        *hint = i;
        let r = &self.regions[i];
        r.map.ptr(gpa - r.desc.gpa, len)
    }

    /// Resolves the longest prefix of `gpa..gpa+len` that lies in one region (all of it
    /// unless the range crosses into the next region). `None` if `gpa` is outside guest
    /// memory or `len` is 0.
    #[inline]
    pub fn resolve(&self, gpa: u64, len: u32, hint: &mut usize) -> Option<GuestLoc> {
        if len == 0 {
            return None;
        }
        let i = self.find(gpa, *hint)?;
        *hint = i;
        let r = self.regions.get(i)?;
        let off = gpa - r.desc.gpa;
        let n = (r.desc.size - off).min(len as u64) as u32;
        Some(GuestLoc {
            region: i as u32,
            len: n,
            off,
        })
    }

    /// Starts fetching the first `len` bytes of `loc` (capped at the location) into the
    /// cache, for writing when `write`: a hint, so the miss overlaps other work.
    #[inline]
    pub fn prefetch_loc(&self, loc: GuestLoc, len: u32, write: bool) {
        if let Some(r) = self.regions.get(loc.region as usize) {
            r.map.prefetch(loc.off, len.min(loc.len) as u64, write);
        }
    }

    /// Copies guest bytes from `at` bytes into `loc` into `dst`; `None` if
    /// `at + dst.len()` exceeds the location.
    #[inline]
    pub fn read_loc(&self, loc: GuestLoc, at: u32, dst: &mut [u8]) -> Option<()> {
        let r = self.regions.get(loc.region as usize)?;
        if at as u64 + dst.len() as u64 > loc.len as u64 {
            return None;
        }
        r.map.read(loc.off + at as u64, dst)
    }

    /// Copies `src` into guest memory at `at` bytes into `loc`; `None` if it does not fit.
    #[inline]
    pub fn write_loc(&self, loc: GuestLoc, at: u32, src: &[u8]) -> Option<()> {
        let r = self.regions.get(loc.region as usize)?;
        if at as u64 + src.len() as u64 > loc.len as u64 {
            return None;
        }
        r.map.write(loc.off + at as u64, src)
    }

    /// Whether the host range `p..p+len` lies wholly inside one of the table's mappings
    /// (how the data path checks the ring pointers it is handed).
    pub fn contains_host(&self, p: HostPtr, len: usize) -> bool {
        self.regions.iter().any(|r| r.map.contains(p, len))
    }

    /// Host pointer of a front-end virtual range (vring addresses), if in one region.
    pub fn uaddr_to_host(&self, uaddr: u64, len: u64) -> Option<HostPtr> {
        self.regions.iter().find_map(|r| {
            let off = uaddr
                .checked_sub(r.desc.uaddr)
                .filter(|&o| o < r.desc.size)?;
            r.map.ptr(off, len)
        })
    }

    /// The guest address of a front-end virtual address (for logging and debugging).
    pub fn uaddr_to_gpa(&self, uaddr: u64) -> Option<u64> {
        self.regions.iter().find_map(|r| {
            let off = uaddr
                .checked_sub(r.desc.uaddr)
                .filter(|&o| o < r.desc.size)?;
            Some(r.desc.gpa + off)
        })
    }

    /// Copies guest bytes at `gpa` into `dst`; the range may cross adjacent regions.
    #[inline]
    pub fn read(&self, gpa: u64, dst: &mut [u8], hint: &mut usize) -> Result<(), MemError> {
        self.walk(gpa, dst.len() as u64, hint, |r, off, done, n| {
            r.map.read(off, &mut dst[done..done + n])
        })
    }

    /// Copies `src` into guest memory at `gpa`; the range may cross adjacent regions.
    #[inline]
    pub fn write(&self, gpa: u64, src: &[u8], hint: &mut usize) -> Result<(), MemError> {
        self.walk(gpa, src.len() as u64, hint, |r, off, done, n| {
            r.map.write(off, &src[done..done + n])
        })
    }

    /// Visits `gpa..gpa+len` region by region: `f(region, offset in region, bytes done,
    /// bytes in this region)`.
    #[inline]
    fn walk(
        &self,
        gpa: u64,
        len: u64,
        hint: &mut usize,
        mut f: impl FnMut(&Region, u64, usize, usize) -> Option<()>,
    ) -> Result<(), MemError> {
        let outside = || MemError::Outside { gpa, len };
        gpa.checked_add(len).ok_or(MemError::Overflow)?;
        let (mut at, mut done) = (gpa, 0u64);
        while done < len {
            let i = self.find(at, *hint).ok_or_else(outside)?;
            *hint = i;
            let r = &self.regions[i];
            let off = at - r.desc.gpa;
            let n = (r.desc.size - off).min(len - done);
            f(r, off, done as usize, n as usize).ok_or_else(outside)?;
            done += n;
            at += n;
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A memfd of `len` bytes (what QEMU's memory-backend-memfd hands over).
    pub(crate) fn memfd(len: u64) -> File {
        crate::driver::memfd(len).unwrap()
    }

    fn table(descs: &[RegionDesc]) -> Result<MemTable, MemError> {
        let regions = descs
            .iter()
            .map(|d| Region::map(*d, &memfd(d.mmap_offset + d.size)))
            .collect::<Result<_, _>>()?;
        MemTable::new(regions)
    }

    fn desc(gpa: u64, size: u64, uaddr: u64) -> RegionDesc {
        RegionDesc {
            gpa,
            size,
            uaddr,
            mmap_offset: 0,
        }
    }

    #[test]
    fn translates_and_copies_across_adjacent_regions() {
        let t = table(&[desc(0, 4096, 0x7f00_0000), desc(4096, 4096, 0x7e00_0000)]).unwrap();
        let mut hint = 0;
        let data: Vec<u8> = (0..200u8).collect();
        t.write(4000, &data, &mut hint).unwrap();
        let mut back = vec![0; 200];
        t.read(4000, &mut back, &mut hint).unwrap();
        assert_eq!(back, data);
        assert!(
            t.gpa_to_host(4000, 200, &mut hint).is_none(),
            "not contiguous in one region"
        );
        assert!(t.gpa_to_host(4096, 200, &mut hint).is_some());
        assert_eq!(hint, 1);
        assert!(t.uaddr_to_host(0x7e00_0010, 16).is_some());
        assert_eq!(t.uaddr_to_gpa(0x7e00_0010), Some(4096 + 16));
    }

    #[test]
    fn resolved_locations_copy_and_check_bounds() {
        let t = table(&[desc(0, 4096, 0x7f00_0000), desc(4096, 4096, 0x7e00_0000)]).unwrap();
        let mut hint = 0;
        let loc = t.resolve(4000, 200, &mut hint).unwrap();
        assert_eq!(loc.len(), 96, "stops at the region's end");
        let rest = t.resolve(4096, 104, &mut hint).unwrap();
        assert_eq!((rest.len(), hint), (104, 1));
        t.write_loc(loc, 0, &[7; 96]).unwrap();
        let mut b = [0u8; 4];
        t.read_loc(loc, 92, &mut b).unwrap();
        assert_eq!(b, [7; 4]);
        assert!(t.read_loc(loc, 93, &mut b).is_none());
        assert!(t.write_loc(rest, 101, &[0; 4]).is_none());
        assert!(t.resolve(8192, 1, &mut hint).is_none());
        assert!(t.resolve(0, 0, &mut hint).is_none());
        let p = t.gpa_to_host(4096, 16, &mut hint).unwrap();
        assert!(t.contains_host(p, 4096));
        assert!(!t.contains_host(p, 4097));
    }

    #[test]
    fn out_of_range_accesses_are_errors() {
        let t = table(&[desc(0x1000, 4096, 0)]).unwrap();
        let mut hint = 0;
        let mut b = [0u8; 16];
        assert!(matches!(
            t.read(0, &mut b, &mut hint),
            Err(MemError::Outside { .. })
        ));
        assert!(t.read(0x1000 + 4090, &mut b, &mut hint).is_err());
        assert!(t.read(u64::MAX - 4, &mut b, &mut hint).is_err());
        assert!(t.gpa_to_host(0x1000, 4097, &mut hint).is_none());
        assert!(t.uaddr_to_host(4096, 1).is_none());
    }

    #[test]
    fn regions_beyond_their_file_or_overlapping_are_refused() {
        let f = memfd(4096);
        let e = Region::map(
            RegionDesc {
                gpa: 0,
                size: 8192,
                uaddr: 0,
                mmap_offset: 0,
            },
            &f,
        )
        .unwrap_err();
        assert!(
            matches!(e, MemError::BeyondFile { file_len: 4096, .. }),
            "{e}"
        );
        assert!(matches!(
            table(&[desc(0, 8192, 0), desc(4096, 4096, 1 << 20)]),
            Err(MemError::Overlap(4096))
        ));
        assert!(matches!(
            table(&[desc(0, 4096, 0), desc(8192, 4096, 0)]),
            Err(MemError::Overlap(0))
        ));
        assert!(Region::map(desc(u64::MAX - 10, 4096, 0), &memfd(4096)).is_err());
    }
}
