//! Cache prefetch hints. A hint reads nothing architecturally and never faults, whatever
//! the address, so a bad guest value can at worst waste one.

/// Fetch the line holding `p` for reading.
#[inline(always)]
pub fn read(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `prefetcht0` is a hint: it accesses nothing architecturally, cannot fault.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Fetch the line holding `p` with intent to write (the guest's core last wrote it), so
/// the store does not wait for the other core to give it up.
#[inline(always)]
pub fn write(p: *const u8) {
    // `_MM_HINT_ET0` only becomes `prefetchw` with the `prfchw` target feature, which
    // the baseline x86-64 target lacks; the instruction itself (0F 0D /1) is a no-op on
    // CPUs without it, so it is emitted directly.
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `prefetchw` is a hint like `prefetcht0`: it cannot fault, writes nothing
    // architecturally, and touches neither the stack nor the flags.
    unsafe {
        std::arch::asm!("prefetchw [{}]", in(reg) p, options(nostack, readonly, preserves_flags));
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
