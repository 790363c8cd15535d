//! Asymmetric fences for handshakes whose one side runs per burst and whose other side
//! runs rarely (a control thread): the fast side gets a compiler barrier, the slow side
//! forces a full barrier on every thread of the process with `membarrier(2)`
//! (`MEMBARRIER_CMD_PRIVATE_EXPEDITED`, Linux 4.14), as liburcu's membarrier flavour
//! does. Where the call is missing or refused (old kernels, seccomp), both sides fall
//! back to SeqCst fences; which mode applies is decided once, before the first
//! handshake, and never changes.
//!
//! Must never: let [`fast`] skip the fence unless [`slow`] will issue the membarrier.

#![allow(unsafe_code)]

use std::sync::atomic::{compiler_fence, fence, Ordering};
use std::sync::OnceLock;

/// `MEMBARRIER_CMD_PRIVATE_EXPEDITED` and its registration (linux/membarrier.h).
const CMD_PRIVATE_EXPEDITED: libc::c_int = 1 << 3;
const CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_int = 1 << 4;

static EXPEDITED: OnceLock<bool> = OnceLock::new();

fn membarrier(cmd: libc::c_int) -> bool {
    // SAFETY: membarrier takes two integers (command, flags) and touches no user memory.
    unsafe { libc::syscall(libc::SYS_membarrier, cmd, 0) == 0 }
}

/// Decides the mode (registering the process for expedited membarriers if the kernel
/// allows). Called when a handshake is created, before either side runs.
pub(crate) fn init() -> bool {
    *EXPEDITED.get_or_init(|| membarrier(CMD_REGISTER_PRIVATE_EXPEDITED))
}

/// The fast side's StoreLoad barrier.
#[inline(always)]
pub(crate) fn fast() {
    if EXPEDITED.get().copied().unwrap_or(false) {
        // The slow side's membarrier orders this thread's store before its next load.
        compiler_fence(Ordering::SeqCst);
    } else {
        fence(Ordering::SeqCst);
    }
}

/// The slow side's StoreLoad barrier: on return, every thread has passed a full barrier
/// (or is now behind one), so a fast side that did not see our store has made its own
/// store visible to us.
pub(crate) fn slow() {
    fence(Ordering::SeqCst);
    if init() && !membarrier(CMD_PRIVATE_EXPEDITED) {
        // Registered, so the call cannot fail short of a kernel bug; a fast side without
        // its fence would then be unsafe to run against.
        panic!("membarrier(PRIVATE_EXPEDITED) failed after registration");
    }
}
