//! Atomic loads and stores of the 16-bit ring fields a driver shares with the device
//! (`avail.idx`, `used.idx`, flags, event indexes): at guest physical addresses of a
//! [`MemTable`], or at offsets of one [`Mapping`] (vpmd's own front-end, `vuser`).
//!
//! The only unsafe code of the driver side. Must never: touch more than the two aligned
//! bytes asked for, or a byte outside the memory asked about.

#![allow(unsafe_code)]

use std::ptr::NonNull;
use std::sync::atomic::{AtomicU16, Ordering};

use crate::memory::{Mapping, MemTable};

/// `p` as an atomic, if it is 2-aligned.
///
/// # Safety
/// `p` points at two bytes of a live shared mapping that outlives `'a`.
unsafe fn aligned<'a>(p: NonNull<u8>) -> Option<&'a AtomicU16> {
    if !(p.as_ptr() as usize).is_multiple_of(2) {
        return None;
    }
    // SAFETY: 2-aligned (checked above); valid for `'a` by the caller's contract. Only
    // atomic accesses are made through the reference.
    Some(unsafe { AtomicU16::from_ptr(p.as_ptr().cast()) })
}

/// The field at `gpa`, if it is 2-aligned and inside `mem`.
fn field(mem: &MemTable, gpa: u64) -> Option<&AtomicU16> {
    let mut hint = 0;
    let p = mem.gpa_to_host(gpa, 2, &mut hint)?;
    // SAFETY: `p` points at 2 bytes inside one mapping of `mem` (checked by
    // `gpa_to_host`), and the mapping lives as long as `mem`, which the result borrows.
    unsafe { aligned(p) }
}

/// The field at byte `off` of `map`, if it is 2-aligned and inside it.
fn field_in(map: &Mapping, off: u64) -> Option<&AtomicU16> {
    let p = map.ptr(off, 2)?;
    // SAFETY: `p` points at 2 bytes inside `map` (checked by `ptr`), which the result
    // borrows.
    unsafe { aligned(p) }
}

/// Loads the little-endian `u16` at `gpa`.
pub(crate) fn load(mem: &MemTable, gpa: u64, order: Ordering) -> Option<u16> {
    field(mem, gpa).map(|a| u16::from_le(a.load(order)))
}

/// Stores `v` little-endian at `gpa`.
pub(crate) fn store(mem: &MemTable, gpa: u64, v: u16, order: Ordering) -> Option<()> {
    field(mem, gpa).map(|a| a.store(v.to_le(), order))
}

/// Loads the little-endian `u16` at byte `off` of `map`.
pub(crate) fn load_in(map: &Mapping, off: u64, order: Ordering) -> Option<u16> {
    field_in(map, off).map(|a| u16::from_le(a.load(order)))
}

/// Stores `v` little-endian at byte `off` of `map`.
pub(crate) fn store_in(map: &Mapping, off: u64, v: u16, order: Ordering) -> Option<()> {
    field_in(map, off).map(|a| a.store(v.to_le(), order))
}
