//! Descriptor chains (virtio 1.2 §2.7.5, §2.7.5.3), walked as if the guest were hostile.
//!
//! Each descriptor is copied once, from the ring or from an indirect table, and only the
//! copy is validated and used. The walk enforces:
//! - the head and every `next` below the size of the table they index;
//! - a ttl of the ring size for the direct part, reset to the entry count of an indirect
//!   table on the switch, so a loop or an over-long chain ends as [`Fault::Chain`];
//! - indirect tables only with the feature, never nested, never with `NEXT` on the
//!   indirect descriptor, with a length that is a non-zero multiple of 16 of at most `size`
//!   entries;
//! - the direction the queue needs: device-readable on the guest's tx ring,
//!   device-writable on its rx ring;
//! - every buffer wholly inside guest memory; it is resolved into one [`GuestLoc`] per
//!   region it crosses, so the copies need no further search. Zero-length descriptors are
//!   skipped without translating their address.
//!
//! Must never: panic, index with a guest value, read a descriptor twice.

use crate::memory::{GuestLoc, MemTable};
use crate::virtio::{VRING_DESC_F_INDIRECT, VRING_DESC_F_NEXT, VRING_DESC_F_WRITE};

use super::split::{Desc, DESC_SIZE};
use super::SplitQueue;

/// What is wrong with a chain. The data path counts each under its own counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// A descriptor is malformed: head or `next` out of range, a buffer outside guest
    /// memory (or whose end overflows), the wrong direction.
    Descriptor,
    /// The chain is malformed: it loops or is longer than allowed, or an indirect table
    /// is nested, has `NEXT`, is not negotiated, or has a bad length.
    Chain,
    /// More than [`super::MAX_IOV`] buffers.
    TooManySegments,
    /// More bytes than the caller's limit.
    TooLong,
}

/// What a walk collected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Walk {
    /// Entries added to the queue's `iov`.
    pub(crate) segs: usize,
    /// Bytes in them.
    pub(crate) len: u64,
}

/// Where the descriptors being walked come from.
#[derive(Debug, Clone, Copy)]
enum Table {
    /// The ring's own descriptor table.
    Ring,
    /// An indirect table inside one region.
    Loc(GuestLoc),
    /// An indirect table that crosses regions: read entry by entry at its guest address.
    Gpa(u64),
}

impl SplitQueue {
    /// Walks the chain whose head is `head`, resolving its buffers into `self.iov[at..end]`
    /// (more is [`Fault::TooManySegments`]).
    ///
    /// `writable`: the direction every buffer must have. The walk stops early once
    /// `want` bytes are collected (placing a packet needs no more; what follows in the
    /// chain is neither read nor checked) and fails with [`Fault::TooLong`] past `limit`.
    #[inline(always)]
    pub(crate) fn walk(
        &mut self,
        head: u16,
        writable: bool,
        (at, end): (usize, usize),
        want: u64,
        limit: u64,
    ) -> Result<Walk, Fault> {
        if head >= self.size {
            return Err(Fault::Descriptor);
        }
        let want_write = if writable { VRING_DESC_F_WRITE } else { 0 };
        let d = self.rings.desc(head);
        // The common chain (DPDK's virtio PMD posts nothing else for a small frame): one
        // direct buffer inside one region. Anything else, or any doubt, takes the full
        // walk below, which starts from this same copy.
        if d.flags == want_write && d.len > 0 && d.len as u64 <= limit && at < end {
            if let Some(loc) = self.rings.mem().resolve(d.addr, d.len, &mut self.hint) {
                if loc.len() == d.len {
                    if let Some(slot) = self.iov.get_mut(at) {
                        *slot = loc;
                        return Ok(Walk {
                            segs: 1,
                            len: d.len as u64,
                        });
                    }
                }
            }
        }
        self.walk_from(d, want_write, (at, end), want, limit)
    }

    /// The full walk, from the head descriptor `first` (already copied).
    #[inline(never)]
    fn walk_from(
        &mut self,
        first: Desc,
        want_write: u16,
        (at, end): (usize, usize),
        want: u64,
        limit: u64,
    ) -> Result<Walk, Fault> {
        let mut table = Table::Ring;
        let mut entries = self.size as u32;
        let mut ttl = entries;
        let mut n = at;
        let mut len = 0u64;
        let mut d = first;
        loop {
            if ttl == 0 {
                return Err(Fault::Chain);
            }
            ttl -= 1;
            if d.flags & VRING_DESC_F_INDIRECT != 0 {
                if !matches!(table, Table::Ring)
                    || !self.indirect
                    || d.flags & VRING_DESC_F_NEXT != 0
                    || d.len == 0
                    || !d.len.is_multiple_of(DESC_SIZE as u32)
                    || d.len / DESC_SIZE as u32 > self.size as u32
                {
                    return Err(Fault::Chain);
                }
                let loc = self
                    .rings
                    .mem()
                    .resolve(d.addr, d.len, &mut self.hint)
                    .ok_or(Fault::Descriptor)?;
                table = if loc.len() == d.len {
                    Table::Loc(loc)
                } else {
                    Table::Gpa(d.addr)
                };
                entries = d.len / DESC_SIZE as u32;
                ttl = entries;
                d = self.read_desc(table, 0)?;
                continue;
            }
            if d.flags & VRING_DESC_F_WRITE != want_write {
                return Err(Fault::Descriptor);
            }
            if d.len > 0 {
                len += d.len as u64;
                if len > limit {
                    return Err(Fault::TooLong);
                }
                n = self.resolve_into(d.addr, d.len, n, end)?;
                if len >= want {
                    break;
                }
            }
            if d.flags & VRING_DESC_F_NEXT == 0 {
                break;
            }
            if d.next as u32 >= entries {
                return Err(Fault::Descriptor);
            }
            d = self.read_desc(table, d.next as u32)?;
        }
        Ok(Walk { segs: n - at, len })
    }

    /// Copies entry `i` (`i < entries` of `table`, checked by the caller) out of `table`.
    #[inline]
    fn read_desc(&mut self, table: Table, i: u32) -> Result<Desc, Fault> {
        let mut b = [0u8; DESC_SIZE];
        match table {
            Table::Ring => return Ok(self.rings.desc(i as u16)),
            Table::Loc(loc) => self
                .rings
                .mem()
                .read_loc(loc, i * DESC_SIZE as u32, &mut b)
                .ok_or(Fault::Descriptor)?,
            Table::Gpa(gpa) => self
                .rings
                .mem()
                .read(gpa + (i * DESC_SIZE as u32) as u64, &mut b, &mut self.hint)
                .map_err(|_| Fault::Descriptor)?,
        }
        Ok(Desc::from_le_bytes(b))
    }

    /// Resolves `gpa..gpa+len` into `self.iov[n..end]`, one entry per region crossed;
    /// returns the next free entry.
    #[inline]
    fn resolve_into(
        &mut self,
        mut gpa: u64,
        len: u32,
        mut n: usize,
        end: usize,
    ) -> Result<usize, Fault> {
        gpa.checked_add(len as u64).ok_or(Fault::Descriptor)?;
        let mut left = len;
        while left > 0 {
            let loc = self
                .rings
                .mem()
                .resolve(gpa, left, &mut self.hint)
                .ok_or(Fault::Descriptor)?;
            if n >= end {
                return Err(Fault::TooManySegments);
            }
            *self.iov.get_mut(n).ok_or(Fault::TooManySegments)? = loc;
            n += 1;
            left -= loc.len();
            gpa += loc.len() as u64;
        }
        Ok(n)
    }
}

/// A position in a list of resolved guest buffers, for copies that cross buffer
/// boundaries. Copies fail (`None`) only when they run past the list.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Cursor {
    seg: usize,
    off: u32,
}

impl Cursor {
    /// The next piece of at most `want` bytes: (location, offset in it, length).
    #[inline]
    fn next_piece(&mut self, iov: &[GuestLoc], want: usize) -> Option<(GuestLoc, u32, usize)> {
        loop {
            let loc = *iov.get(self.seg)?;
            let room = loc.len() - self.off;
            if room == 0 {
                self.seg += 1;
                self.off = 0;
                continue;
            }
            let n = (room as usize).min(want);
            let at = self.off;
            self.off += n as u32;
            return Some((loc, at, n));
        }
    }

    /// Copies guest bytes into `dst` and moves past them.
    #[inline]
    pub(crate) fn read(&mut self, mem: &MemTable, iov: &[GuestLoc], dst: &mut [u8]) -> Option<()> {
        let mut done = 0;
        while done < dst.len() {
            let (loc, at, n) = self.next_piece(iov, dst.len() - done)?;
            mem.read_loc(loc, at, dst.get_mut(done..done + n)?)?;
            done += n;
        }
        Some(())
    }

    /// Copies `src` into guest memory and moves past it.
    #[inline]
    pub(crate) fn write(&mut self, mem: &MemTable, iov: &[GuestLoc], src: &[u8]) -> Option<()> {
        let mut done = 0;
        while done < src.len() {
            let (loc, at, n) = self.next_piece(iov, src.len() - done)?;
            mem.write_loc(loc, at, src.get(done..done + n)?)?;
            done += n;
        }
        Some(())
    }

    /// Moves `n` bytes forward without copying.
    pub(crate) fn skip(&mut self, iov: &[GuestLoc], mut n: u64) -> Option<()> {
        while n > 0 {
            let want = n.min(u32::MAX as u64) as usize;
            let (_, _, k) = self.next_piece(iov, want)?;
            n -= k as u64;
        }
        Some(())
    }
}
