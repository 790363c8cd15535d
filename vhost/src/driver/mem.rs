//! Guest memory for a driver: regions backed by unlinked shared-memory files (what QEMU's
//! `memory-backend-memfd` hands a vhost-user back-end), mapped into one [`MemTable`], with
//! a simple allocator of guest physical addresses.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};

use crate::memory::{MemError, MemTable, Region, RegionDesc};

use super::atomic;

/// Guest physical address of the first region; below it is unbacked, so a descriptor
/// pointing at 0 is outside guest memory.
pub const BASE_GPA: u64 = 0x10_0000;

/// Where the front-end pretends to have mapped the first region (vring addresses are
/// translated from these in the real protocol).
const BASE_UADDR: u64 = 0x7f00_0000_0000;

/// A memfd of `len` bytes (what QEMU's `memory-backend-memfd` hands a back-end).
pub fn memfd(len: u64) -> io::Result<File> {
    crate::sys::memfd("vpmd-guest", len)
}

/// The allocator: a bump pointer and free lists by power-of-two size class.
#[derive(Debug)]
struct Alloc {
    next: u64,
    end: u64,
    free: HashMap<u64, Vec<u64>>,
}

/// Guest memory: adjacent regions from [`BASE_GPA`], each its own file.
#[derive(Debug)]
pub struct GuestMemory {
    table: Arc<MemTable>,
    alloc: Mutex<Alloc>,
    end: u64,
}

impl GuestMemory {
    /// One region of `size` bytes.
    pub fn new(size: u64) -> io::Result<Arc<Self>> {
        Self::with_regions(&[size])
    }

    /// Adjacent regions of the given sizes (contiguous in guest physical space, separate
    /// mappings on the host: a buffer crossing the boundary needs two copies).
    pub fn with_regions(sizes: &[u64]) -> io::Result<Arc<Self>> {
        let mut regions = Vec::with_capacity(sizes.len());
        let (mut gpa, mut uaddr) = (BASE_GPA, BASE_UADDR);
        for &size in sizes {
            let desc = RegionDesc {
                gpa,
                size,
                uaddr,
                mmap_offset: 0,
            };
            regions.push(Region::map(desc, &memfd(size)?).map_err(mem_to_io)?);
            gpa += size;
            uaddr += size + (1 << 30);
        }
        let table = Arc::new(MemTable::new(regions).map_err(mem_to_io)?);
        Ok(Arc::new(Self {
            table,
            alloc: Mutex::new(Alloc {
                next: BASE_GPA,
                end: gpa,
                free: HashMap::new(),
            }),
            end: gpa,
        }))
    }

    /// The memory table (what a back-end gets after `SET_MEM_TABLE`).
    pub fn table(&self) -> &Arc<MemTable> {
        &self.table
    }

    /// The first guest address past the last region.
    pub fn end(&self) -> u64 {
        self.end
    }

    /// `len` bytes (at least 1) aligned to 64 (or to their size class up to 4096), from a
    /// free list or fresh; `None` when memory is exhausted.
    pub fn alloc(&self, len: u64) -> Option<u64> {
        let class = len.max(64).next_power_of_two();
        let mut a = self.alloc.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(gpa) = a.free.get_mut(&class).and_then(Vec::pop) {
            return Some(gpa);
        }
        let gpa = a.next.next_multiple_of(class.min(4096));
        let end = gpa.checked_add(class)?;
        if end > a.end {
            return None;
        }
        a.next = end;
        Some(gpa)
    }

    /// Returns an allocation of `len` bytes made by [`GuestMemory::alloc`].
    pub fn free(&self, gpa: u64, len: u64) {
        let class = len.max(64).next_power_of_two();
        let mut a = self.alloc.lock().unwrap_or_else(PoisonError::into_inner);
        a.free.entry(class).or_default().push(gpa);
    }

    /// Copies guest bytes at `gpa` into `buf`.
    pub fn read(&self, gpa: u64, buf: &mut [u8]) -> Result<(), MemError> {
        self.table.read(gpa, buf, &mut 0)
    }

    /// Copies `buf` into guest memory at `gpa`.
    pub fn write(&self, gpa: u64, buf: &[u8]) -> Result<(), MemError> {
        self.table.write(gpa, buf, &mut 0)
    }

    /// Atomically loads the `u16` at `gpa` (a ring field).
    pub fn load_u16(&self, gpa: u64, order: Ordering) -> Option<u16> {
        atomic::load(&self.table, gpa, order)
    }

    /// Atomically stores the `u16` at `gpa` (a ring field).
    pub fn store_u16(&self, gpa: u64, v: u16, order: Ordering) -> Option<()> {
        atomic::store(&self.table, gpa, v, order)
    }
}

fn mem_to_io(e: MemError) -> io::Error {
    match e {
        MemError::Io(e) => e,
        e => io::Error::other(e.to_string()),
    }
}
