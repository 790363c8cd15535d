//! Atomic loads and stores of the 16-bit ring fields a driver shares with the device
//! (`avail.idx`, `used.idx`, flags, event indexes), at guest physical addresses.
//!
//! The only unsafe code of the driver. Must never: touch more than the two aligned bytes
//! asked for, or a byte outside the memory table.

#![allow(unsafe_code)]

use std::sync::atomic::{AtomicU16, Ordering};

use crate::memory::MemTable;

/// The field at `gpa`, if it is 2-aligned and inside `mem`.
fn field(mem: &MemTable, gpa: u64) -> Option<&AtomicU16> {
    let mut hint = 0;
    let p = mem.gpa_to_host(gpa, 2, &mut hint)?;
    if !(p.as_ptr() as usize).is_multiple_of(2) {
        return None;
    }
    // SAFETY: `p` points at 2 bytes inside one mapping of `mem` (checked by
    // `gpa_to_host`), is 2-aligned (checked above), and the mapping lives as long as `mem`,
    // which the returned reference borrows. Only atomic accesses are made through it.
    Some(unsafe { AtomicU16::from_ptr(p.as_ptr().cast()) })
}

/// Loads the little-endian `u16` at `gpa`.
pub(crate) fn load(mem: &MemTable, gpa: u64, order: Ordering) -> Option<u16> {
    field(mem, gpa).map(|a| u16::from_le(a.load(order)))
}

/// Stores `v` little-endian at `gpa`.
pub(crate) fn store(mem: &MemTable, gpa: u64, v: u16, order: Ordering) -> Option<()> {
    field(mem, gpa).map(|a| a.store(v.to_le(), order))
}
