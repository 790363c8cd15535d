//! Guest memory for a test or benchmark front-end: a memfd (what QEMU's
//! `memory-backend-memfd` passes to a back-end) mapped into this process, so the
//! front-end can write descriptors and read the used ring (ring indexes atomically, through
//! the driver's `atomic` module), and the split-ring layout placed in it.

#![deny(unsafe_code)]

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::Ordering;

use crate::driver::atomic;
use crate::memory::{Mapping, MemError};
use crate::protocol::message::{MemRegion, VringAddr};

/// One region of guest memory backed by its own memfd.
#[derive(Debug)]
pub struct GuestMemory {
    file: File,
    map: Mapping,
    gpa: u64,
}

impl GuestMemory {
    /// `size` bytes of zeroed guest memory at guest address `gpa`.
    pub fn new(gpa: u64, size: u64) -> io::Result<Self> {
        let file = crate::sys::memfd("vpmd-guest", size)?;
        let map = Mapping::new(&file, 0, size).map_err(|e| match e {
            MemError::Io(e) => e,
            e => io::Error::other(e.to_string()),
        })?;
        Ok(Self { file, map, gpa })
    }

    /// The region as a memory-table message describes it; its user address is where
    /// this process mapped it, as QEMU's would be.
    pub fn region(&self) -> MemRegion {
        MemRegion {
            gpa: self.gpa,
            size: self.map.len() as u64,
            uaddr: self.uaddr(self.gpa),
            mmap_offset: 0,
        }
    }

    /// The memfd, for `SET_MEM_TABLE`/`ADD_MEM_REG`.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }

    /// This process's address of guest address `gpa` (may lie outside the region).
    pub fn uaddr(&self, gpa: u64) -> u64 {
        let base = self.map.ptr(0, 0).map_or(0, |p| p.as_ptr() as usize as u64);
        base.wrapping_add(gpa.wrapping_sub(self.gpa))
    }

    /// Copies `src` to guest address `gpa`.
    pub fn write(&self, gpa: u64, src: &[u8]) -> Option<()> {
        self.map.write(gpa.checked_sub(self.gpa)?, src)
    }

    /// Copies guest bytes at `gpa` into `dst`.
    pub fn read(&self, gpa: u64, dst: &mut [u8]) -> Option<()> {
        self.map.read(gpa.checked_sub(self.gpa)?, dst)
    }

    /// Atomically loads the `u16` at `gpa` (a ring field the device writes).
    pub fn load_u16(&self, gpa: u64, order: Ordering) -> Option<u16> {
        atomic::load_in(&self.map, gpa.checked_sub(self.gpa)?, order)
    }

    /// Atomically stores the `u16` at `gpa` (a ring field the device reads).
    pub fn store_u16(&self, gpa: u64, v: u16, order: Ordering) -> Option<()> {
        atomic::store_in(&self.map, gpa.checked_sub(self.gpa)?, v, order)
    }
}

/// Where one split virtqueue lives, by guest address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VringLayout {
    /// Vring index.
    pub index: u16,
    /// Entries.
    pub size: u16,
    /// Descriptor table (16-byte aligned).
    pub desc: u64,
    /// Available ring (2-byte aligned).
    pub avail: u64,
    /// Used ring (4-byte aligned; placed on the next 4 KiB as legacy layouts do).
    pub used: u64,
}

impl VringLayout {
    /// A ring of `size` entries whose descriptor table starts at `gpa` (16-aligned).
    pub fn at(index: u16, size: u16, gpa: u64) -> Self {
        let n = u64::from(size);
        let avail = gpa + 16 * n;
        let used = (avail + 6 + 2 * n).next_multiple_of(4096);
        Self {
            index,
            size,
            desc: gpa,
            avail,
            used,
        }
    }

    /// First guest address after the ring.
    pub fn end(&self) -> u64 {
        self.used + 6 + 8 * u64::from(self.size)
    }

    /// The `SET_VRING_ADDR` payload, translated to `mem`'s user addresses.
    pub fn addr(&self, mem: &GuestMemory) -> VringAddr {
        VringAddr {
            index: u32::from(self.index),
            flags: 0,
            desc: mem.uaddr(self.desc),
            used: mem.uaddr(self.used),
            avail: mem.uaddr(self.avail),
            log: 0,
        }
    }
}
