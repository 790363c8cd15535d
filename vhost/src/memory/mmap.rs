//! One guest memory region mapped from the file descriptor the front-end sent.
//!
//! The only unsafe code of guest memory: `mmap`/`munmap`, and the raw copies in and out
//! of the mapping. A mapping is checked against the file's size first (`fstat`), so a
//! region that claims more than its file holds is refused instead of raising SIGBUS on
//! first touch. (A file truncated *after* mapping is issue 10's business.)

use std::fs::File;
use std::os::fd::AsRawFd;
use std::ptr::NonNull;

use super::MemError;
use crate::sys::prefetch;

/// A shared, read-write mapping of `len` bytes of a file, unmapped on drop.
#[derive(Debug)]
pub struct Mapping {
    base: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is plain shared memory; this type hands out only raw copies and
// raw pointers whose users synchronise with the guest through the virtio ring protocol.
unsafe impl Send for Mapping {}
// SAFETY: as above.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Maps `len` bytes of `file` from `offset`, after checking the file holds them.
    pub fn new(file: &File, offset: u64, len: u64) -> Result<Self, MemError> {
        let file_len = file.metadata().map_err(MemError::Io)?.len();
        let end = offset.checked_add(len).ok_or(MemError::Overflow)?;
        if len == 0 || end > file_len {
            return Err(MemError::BeyondFile {
                offset,
                len,
                file_len,
            });
        }
        let len = usize::try_from(len).map_err(|_| MemError::Overflow)?;
        let off = libc::off_t::try_from(offset).map_err(|_| MemError::Overflow)?;
        // SAFETY: a fresh shared mapping at an address of the kernel's choice; the fd is
        // valid for the call and the range was checked against the file size.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                file.as_raw_fd(),
                off,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(MemError::Io(std::io::Error::last_os_error()));
        }
        let base = NonNull::new(p.cast()).ok_or(MemError::Overflow)?;
        Ok(Self { base, len })
    }

    /// Mapped length.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: empty regions are refused.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Host address of byte `off` of the mapping, if `off..off+len` lies inside it.
    #[inline]
    pub fn ptr(&self, off: u64, len: u64) -> Option<NonNull<u8>> {
        let end = off.checked_add(len)?;
        if end > self.len as u64 {
            return None;
        }
        // SAFETY: `off <= len` of the mapping, so the result stays inside it.
        Some(unsafe { self.base.add(off as usize) })
    }

    /// Whether the host range `p..p+len` lies wholly inside the mapping (address
    /// arithmetic only; nothing is dereferenced).
    pub fn contains(&self, p: NonNull<u8>, len: usize) -> bool {
        let base = self.base.as_ptr() as usize;
        let at = p.as_ptr() as usize;
        at >= base
            && at
                .checked_add(len)
                .is_some_and(|end| end <= base + self.len)
    }

    /// Prefetch hints for every line of `off..off+len` (callers keep `len` to a line
    /// or two: the hardware prefetcher follows longer copies).
    #[inline]
    pub fn prefetch(&self, off: u64, len: u64, write: bool) {
        let Some(p) = self.ptr(off, len) else { return };
        let hint = if write {
            prefetch::write
        } else {
            prefetch::read
        };
        // From the start of `p`'s line to the end of the range, one hint per line.
        let lead = p.as_ptr() as usize & 63;
        let line0 = p.as_ptr().cast_const().wrapping_sub(lead);
        let mut at = 0;
        while at < lead + len as usize {
            hint(line0.wrapping_add(at));
            at += 64;
        }
    }

    /// Copies `dst.len()` bytes from `off` out of the mapping.
    #[inline]
    pub fn read(&self, off: u64, dst: &mut [u8]) -> Option<()> {
        let src = self.ptr(off, dst.len() as u64)?;
        // SAFETY: the source range is inside the mapping (checked by `ptr`) and cannot
        // overlap `dst`, which Rust owns. The guest may write the bytes concurrently; we
        // take a snapshot and never form a reference to guest memory.
        unsafe { copy(src.as_ptr(), dst.as_mut_ptr(), dst.len()) };
        Some(())
    }

    /// Copies `src` into the mapping at `off`.
    #[inline]
    pub fn write(&self, off: u64, src: &[u8]) -> Option<()> {
        let dst = self.ptr(off, src.len() as u64)?;
        // SAFETY: as for `read`, in the other direction.
        unsafe { copy(src.as_ptr(), dst.as_ptr(), src.len()) };
        Some(())
    }
}

/// `copy_nonoverlapping` with the small sizes of the virtio path (headers, 64-byte
/// frames) inlined as two possibly overlapping fixed-size moves instead of a `memmove`
/// call, as DPDK's `rte_memcpy` does.
///
/// # Safety
/// As `copy_nonoverlapping`: `src` readable and `dst` writable for `len` bytes, the two
/// ranges disjoint.
#[inline(always)]
unsafe fn copy(src: *const u8, dst: *mut u8, len: usize) {
    /// Copies the first and the last `N` bytes of a `len`-byte range, `N <= len <= 2N`.
    #[inline(always)]
    unsafe fn ends<const N: usize>(src: *const u8, dst: *mut u8, len: usize) {
        // SAFETY: `N <= len`, so both `N`-byte moves stay inside the ranges the caller
        // vouched for; unaligned accesses are allowed by `read/write_unaligned`.
        unsafe {
            let head = src.cast::<[u8; N]>().read_unaligned();
            let tail = src.add(len - N).cast::<[u8; N]>().read_unaligned();
            dst.cast::<[u8; N]>().write_unaligned(head);
            dst.add(len - N).cast::<[u8; N]>().write_unaligned(tail);
        }
    }
    // SAFETY: each arm satisfies `ends`' size bound; the rest is the caller's contract.
    unsafe {
        match len {
            8..=16 => ends::<8>(src, dst, len),
            17..=32 => ends::<16>(src, dst, len),
            33..=64 => ends::<32>(src, dst, len),
            _ => std::ptr::copy_nonoverlapping(src, dst, len),
        }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, unmapped once.
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.len) };
    }
}
