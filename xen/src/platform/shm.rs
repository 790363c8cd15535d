//! Memory shared with another domain: a file range or a list of 4 KiB pages of a file
//! mapped `MAP_SHARED`, with bounds-checked copies and atomic word access.
//!
//! The only unsafe code touching shared memory (`mmap`, `munmap`, the raw copies).
//! Must never: form a `&[u8]` over the mapping (the peer may write it at any time),
//! write through a read-only mapping, or touch a byte outside it. The one exception is
//! a [`SharedWindow`]: a granted page handed to the mempool as an external buffer, read
//! by whoever holds the mbuf (zero-copy guest tx, as netback's mapped fragments are). Mappings are checked
//! against the file's size first, so a too-short file is an error rather than SIGBUS.
//!
//! The sim maps guest memory and grant tables with this; a `/dev/xen/gntdev` mapping
//! ([`SharedMem::map_device`], the `linux` platform) is the same kind of object.
//! (`vhost/src/memory/mmap.rs` is the vhost twin.)

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};

use vpmd_mempool::ExtMem;

use crate::wire::defs::XEN_PAGE_SIZE;

/// An access outside a mapping, or a write to a read-only one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ShmError {
    /// `off..off+len` is not inside the mapping.
    #[error("{len} bytes at offset {off} are outside a {size}-byte mapping")]
    OutOfBounds {
        /// Start of the access.
        off: usize,
        /// Its length.
        len: usize,
        /// The mapping's size.
        size: usize,
    },
    /// The mapping is read-only.
    #[error("write to a read-only mapping")]
    ReadOnly,
}

/// A shared mapping, unmapped on drop.
#[derive(Debug)]
pub struct SharedMem {
    base: NonNull<u8>,
    len: usize,
    writable: bool,
}

// SAFETY: the mapping is plain shared memory; this type hands out only copies and
// atomics, whose users synchronise with the peer through the ring and grant protocols.
unsafe impl Send for SharedMem {}
// SAFETY: as above.
unsafe impl Sync for SharedMem {}

fn prot(writable: bool) -> libc::c_int {
    if writable {
        libc::PROT_READ | libc::PROT_WRITE
    } else {
        libc::PROT_READ
    }
}

fn check_file(file: &File, offset: u64, len: usize) -> io::Result<()> {
    let size = file.metadata()?.len();
    let end = offset.checked_add(len as u64);
    if len == 0 || end.is_none_or(|e| e > size) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{len} bytes at {offset} not inside a {size}-byte file"),
        ));
    }
    Ok(())
}

impl SharedMem {
    /// Maps `len` bytes of `file` from `offset` (page-aligned). Pages are faulted in
    /// on first touch: a guest's memory may be large and mostly unused.
    pub fn map(file: &File, offset: u64, len: usize, writable: bool) -> io::Result<Self> {
        check_file(file, offset, len)?;
        // The range was checked against the file size.
        Self::map_shared(file, offset, len, writable)
    }

    /// Maps `len` bytes at `offset` of a device whose driver decides what the range is
    /// and checks it (`/dev/xen/gntdev`: the offset its map ioctl returned, where the
    /// `mmap` itself maps the grants); a file size means nothing there.
    pub fn map_device(file: &File, offset: u64, len: usize, writable: bool) -> io::Result<Self> {
        if len == 0 {
            return Err(io::ErrorKind::InvalidInput.into());
        }
        // The driver refuses an offset or length it did not set up.
        Self::map_shared(file, offset, len, writable)
    }

    /// A shared mapping of `len` bytes at `offset` of `file`, whose range the caller
    /// checked (or whose driver checks it).
    fn map_shared(file: &File, offset: u64, len: usize, writable: bool) -> io::Result<Self> {
        let off = libc::off_t::try_from(offset)
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: a fresh shared mapping at an address of the kernel's choice, for a
        // valid fd and a range the callers vouch for; nothing is accessed here.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                prot(writable),
                libc::MAP_SHARED,
                file.as_raw_fd(),
                off,
            )
        };
        Self::from_mmap(p, len, writable)
    }

    /// Maps the 4 KiB pages `pages` (page numbers in `file`) contiguously, in order, as
    /// a grant map of several references does.
    pub fn map_pages(file: &File, pages: &[u64], writable: bool) -> io::Result<Self> {
        let len = pages
            .len()
            .checked_mul(XEN_PAGE_SIZE)
            .ok_or(io::ErrorKind::InvalidInput)?;
        let offsets: Vec<u64> = pages
            .iter()
            .map(|p| p.checked_mul(XEN_PAGE_SIZE as u64))
            .collect::<Option<_>>()
            .ok_or(io::ErrorKind::InvalidInput)?;
        for &o in &offsets {
            check_file(file, o, XEN_PAGE_SIZE)?;
        }
        if len == 0 {
            return Err(io::ErrorKind::InvalidInput.into());
        }
        // Reserve the whole range, then replace each page with the file's page.
        // SAFETY: a fresh private reservation at an address of the kernel's choice.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        let mem = Self::from_mmap(p, len, writable)?;
        for (i, &o) in offsets.iter().enumerate() {
            // SAFETY: `i * XEN_PAGE_SIZE < len`, so the page lies inside our own fresh
            // reservation, which MAP_FIXED replaces; nothing else uses that range. The
            // file range was checked above.
            let q = unsafe {
                libc::mmap(
                    mem.base.as_ptr().add(i * XEN_PAGE_SIZE).cast(),
                    XEN_PAGE_SIZE,
                    prot(writable),
                    libc::MAP_SHARED | libc::MAP_FIXED | libc::MAP_POPULATE,
                    file.as_raw_fd(),
                    o as libc::off_t,
                )
            };
            if q == libc::MAP_FAILED {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(mem)
    }

    fn from_mmap(p: *mut libc::c_void, len: usize, writable: bool) -> io::Result<Self> {
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let base = NonNull::new(p.cast()).ok_or(io::ErrorKind::Other)?;
        Ok(Self {
            base,
            len,
            writable,
        })
    }

    /// Mapped bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: empty mappings are refused.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Whether the mapping may be written.
    pub fn writable(&self) -> bool {
        self.writable
    }

    fn ptr(&self, off: usize, len: usize) -> Result<*mut u8, ShmError> {
        match off.checked_add(len) {
            Some(end) if end <= self.len => {
                // SAFETY: `off <= self.len`, so the result is inside the mapping or
                // one past its end.
                Ok(unsafe { self.base.as_ptr().add(off) })
            }
            _ => Err(ShmError::OutOfBounds {
                off,
                len,
                size: self.len,
            }),
        }
    }

    /// Hints the CPU to fetch the line holding byte `off` (for writing if `write`), so a
    /// copy soon after does not wait for the peer's core to give it up. Out of bounds:
    /// nothing.
    #[inline]
    pub fn prefetch(&self, off: usize, write: bool) {
        if off < self.len {
            let p = self.base.as_ptr().wrapping_add(off).cast_const();
            if write {
                vpmd_sys::prefetch::write(p);
            } else {
                vpmd_sys::prefetch::read(p);
            }
        }
    }

    /// Copies `dst.len()` bytes at `off` out of the mapping: a snapshot, which the peer
    /// may change the moment after.
    #[inline]
    pub fn read(&self, off: usize, dst: &mut [u8]) -> Result<(), ShmError> {
        let src = self.ptr(off, dst.len())?;
        // SAFETY: the source range is inside the mapping (checked by `ptr`) and cannot
        // overlap `dst`, which Rust owns. No reference to shared memory is formed.
        unsafe { std::ptr::copy_nonoverlapping(src, dst.as_mut_ptr(), dst.len()) };
        Ok(())
    }

    /// Copies `src` into the mapping at `off`.
    #[inline]
    pub fn write(&self, off: usize, src: &[u8]) -> Result<(), ShmError> {
        if !self.writable {
            return Err(ShmError::ReadOnly);
        }
        let dst = self.ptr(off, src.len())?;
        // SAFETY: as for `read`, in the other direction; the mapping is writable.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst, src.len()) };
        Ok(())
    }

    /// Fills `len` bytes at `off` with `byte`.
    pub fn fill(&self, off: usize, len: usize, byte: u8) -> Result<(), ShmError> {
        if !self.writable {
            return Err(ShmError::ReadOnly);
        }
        let dst = self.ptr(off, len)?;
        // SAFETY: the range is inside the writable mapping (checked above).
        unsafe { std::ptr::write_bytes(dst, byte, len) };
        Ok(())
    }

    fn word(&self, off: usize) -> Result<&AtomicU32, ShmError> {
        let p = self.ptr(off, 4)?;
        if !(p as usize).is_multiple_of(4) {
            return Err(ShmError::OutOfBounds {
                off,
                len: 4,
                size: self.len,
            });
        }
        // SAFETY: `p` is 4 bytes inside the mapping, 4-aligned, and lives as long as
        // `self`, which the reference borrows. Only atomic accesses are made through it,
        // which is sound however the peer accesses the same bytes.
        Ok(unsafe { AtomicU32::from_ptr(p.cast()) })
    }

    /// Loads the native-endian `u32` at `off` (4-aligned).
    #[inline]
    pub fn load_u32(&self, off: usize, order: Ordering) -> Result<u32, ShmError> {
        Ok(self.word(off)?.load(order))
    }

    /// The atomic `u32` at `off` (4-aligned) of a writable mapping, for stores and
    /// read-modify-write.
    #[inline]
    pub fn atomic_u32(&self, off: usize) -> Result<&AtomicU32, ShmError> {
        if !self.writable {
            return Err(ShmError::ReadOnly);
        }
        self.word(off)
    }
}

/// A window of a mapping that its owner keeps mapped: a granted page an mbuf may point
/// at ([`ExtMem`]). Dropping the window drops the owner (which unmaps or unpins).
#[derive(Debug)]
pub struct SharedWindow<O> {
    base: NonNull<u8>,
    len: usize,
    owner: O,
}

// SAFETY: the window is a range of a `SharedMem` (Send + Sync) kept alive by `owner`.
unsafe impl<O: Send> Send for SharedWindow<O> {}
// SAFETY: as above; `&SharedWindow` hands out only the range and `&O`.
unsafe impl<O: Sync> Sync for SharedWindow<O> {}

impl<O: AsRef<SharedMem>> SharedWindow<O> {
    /// `len` bytes at `off` of `owner`'s mapping. Crate-internal: an owner must hand out
    /// the same mapping for as long as it lives, which the crate's owners (a grant
    /// mapping, a pinned grant of a mapped domain) do.
    pub(crate) fn new(owner: O, off: usize, len: usize) -> Result<Self, ShmError> {
        let base = owner.as_ref().ptr(off, len)?;
        let base = NonNull::new(base).ok_or(ShmError::OutOfBounds { off, len, size: 0 })?;
        Ok(Self { base, len, owner })
    }

    /// What keeps the window mapped.
    pub fn owner(&self) -> &O {
        &self.owner
    }
}

// SAFETY: the range was checked inside the owner's mapping, which the owner keeps mapped
// (and the same) while it lives, and the window owns the owner; the range does not
// depend on the window's address. The peer may rewrite these bytes (a guest writing its
// own granted page): readers treat them as untrusted payload, headers are copied.
unsafe impl<O: AsRef<SharedMem> + Send + Sync + 'static> ExtMem for SharedWindow<O> {
    fn bytes(&self) -> (NonNull<u8>, usize) {
        (self.base, self.len)
    }
}

impl Drop for SharedMem {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `map`/`map_pages`, unmapped once.
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.len) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vpmd_sys::sealed_memfd;

    #[test]
    fn two_mappings_of_one_file_see_each_other() {
        let f = sealed_memfd("vpmd-shm", 4 * 4096).unwrap();
        let whole = SharedMem::map(&f, 0, 4 * 4096, true).unwrap();
        // Pages 3 and 1, in that order, read-only.
        let pages = SharedMem::map_pages(&f, &[3, 1], false).unwrap();
        whole.write(3 * 4096 + 10, b"three").unwrap();
        whole.write(4096, b"one").unwrap();
        let mut b = [0u8; 5];
        pages.read(10, &mut b).unwrap();
        assert_eq!(&b, b"three");
        pages.read(4096, &mut b[..3]).unwrap();
        assert_eq!(&b[..3], b"one");
        assert_eq!(pages.write(0, b"x"), Err(ShmError::ReadOnly));
        assert_eq!(pages.atomic_u32(0).unwrap_err(), ShmError::ReadOnly);
        whole
            .atomic_u32(4096 + 8)
            .unwrap()
            .store(7, Ordering::Release);
        assert_eq!(pages.load_u32(4096 + 8, Ordering::Acquire), Ok(7));
    }

    #[test]
    fn accesses_outside_or_misaligned_are_errors() {
        let f = sealed_memfd("vpmd-shm", 4096).unwrap();
        let m = SharedMem::map(&f, 0, 4096, true).unwrap();
        let mut b = [0u8; 8];
        assert!(m.read(4090, &mut b).is_err());
        assert!(m.read(usize::MAX, &mut b).is_err());
        assert!(m.write(4096, b"x").is_err());
        assert!(m.fill(4000, 97, 0).is_err());
        assert!(m.load_u32(2, Ordering::Relaxed).is_err());
        assert!(m.load_u32(4096, Ordering::Relaxed).is_err());
        m.read(4088, &mut b).unwrap();
        // Beyond the file, or no pages: refused before mapping.
        assert!(SharedMem::map(&f, 0, 8192, true).is_err());
        assert!(SharedMem::map_pages(&f, &[1], true).is_err());
        assert!(SharedMem::map_pages(&f, &[], true).is_err());
        assert!(SharedMem::map_pages(&f, &[u64::MAX], true).is_err());
    }
}
