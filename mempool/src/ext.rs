//! External buffers (DPDK's `rte_pktmbuf_attach_extbuf` and `rte_mbuf_ext_shared_info`):
//! segments whose bytes live outside the pool, such as a guest page a Xen backend
//! grant-mapped, and a completion that tells the memory's owner, exactly once, when the
//! last segment referencing it is gone.
//!
//! An [`ExtBuf`] is the shared info. It is a pool object (the *holder*), so making one
//! allocates nothing: its buffer keeps the external memory `M`, the owner's tag and the
//! owner's [`ExtSink`]; its `refcnt` counts the `ExtBuf` handle and every segment
//! attached to it, clones included (a clone of an external segment references the
//! holder, as a clone of a direct mbuf references that mbuf). Whoever drops the last
//! reference, on any thread, runs the completion: the holder goes back to its pool, then
//! the sink gets `(M, tag)` back and may release the memory.
//!
//! External segments are read-only (`data_mut`, `append` and `prepend` refuse them), and
//! their buffer is exactly the attached window, so no length setter exposes bytes of the
//! memory outside it.

use std::mem::{align_of, size_of};
use std::ptr::NonNull;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::mbuf::{drop_reference, MbufHdr};
use crate::{ol_flags, Mbuf};

/// Memory an [`ExtBuf`] can point segments at.
///
/// # Safety
/// `bytes()` must return the same range on every call, valid for reads for as long as
/// the value lives, wherever the value is moved (the range may not depend on the
/// value's own address). The bytes may change under readers only by a writer outside
/// this process's Rust code (a guest rewriting its own granted page): vpmd never writes
/// them, and code that must not see them change copies them first, as netback copies
/// the headers it parses.
pub unsafe trait ExtMem: Send + Sync + 'static {
    /// Start and length of the memory.
    fn bytes(&self) -> (NonNull<u8>, usize);
}

/// Where an [`ExtBuf`]'s memory goes back once nothing references it.
pub trait ExtSink<M>: Send + Sync + 'static {
    /// Takes back `mem`, attached with `tag`. Runs on whichever thread freed the last
    /// reference, so it must not block.
    fn complete(&self, mem: M, tag: u64);
}

/// What to attach: the memory, the owner's tag for it, and where both go back.
pub struct Ext<M, S> {
    /// The memory.
    pub mem: M,
    /// Handed back with the memory (a request id, a slot index).
    pub tag: u64,
    /// Told when the last reference goes.
    pub sink: Arc<S>,
}

impl<M, S> std::fmt::Debug for Ext<M, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ext")
            .field("tag", &self.tag)
            .finish_non_exhaustive()
    }
}

/// What a holder's buffer keeps. `repr(C)` so that [`Range`] can be read without
/// knowing `M` and `S`.
#[repr(C)]
struct Slot<M, S> {
    range: Range,
    mem: M,
    sink: Arc<S>,
    tag: u64,
}

/// The memory's range, cached from `M::bytes` (which the contract makes constant).
#[repr(C)]
#[derive(Clone, Copy)]
struct Range {
    base: NonNull<u8>,
    len: usize,
}

/// The shared info of one external buffer: a reference to the holder.
#[derive(Debug)]
pub struct ExtBuf(NonNull<MbufHdr>);

// SAFETY: the holder keeps an `M: Send + Sync` and an `Arc<S>` with `S: Send + Sync`,
// and its reference count is atomic, so the handle may move to, and drop on, any thread.
unsafe impl Send for ExtBuf {}

impl ExtBuf {
    /// Makes `holder` (a plain buffer: one segment, its own unshared buffer) the shared
    /// info of `ext`'s memory. Hands `ext` back (`holder` is freed) if `holder` is not
    /// plain, its buffer is too small for the bookkeeping, or the memory is longer than a
    /// segment can be (64 KiB).
    pub fn new<M: ExtMem, S: ExtSink<M>>(holder: Mbuf, ext: Ext<M, S>) -> Result<Self, Ext<M, S>> {
        let (base, len) = ext.mem.bytes();
        if !holder.is_plain()
            || size_of::<Slot<M, S>>() > usize::from(holder.buf_len())
            || align_of::<Slot<M, S>>() > 64
            || len > usize::from(u16::MAX)
        {
            return Err(ext);
        }
        let h = holder.hdr().as_ptr();
        let slot = Slot {
            range: Range { base, len },
            mem: ext.mem,
            sink: ext.sink,
            tag: ext.tag,
        };
        // SAFETY: a plain holder owns its own buffer, unshared, which follows its
        // 64-aligned 128-byte header (so it is 64-aligned) and holds a `Slot` (checked
        // above). `finish::<M, S>` is the one function that reads this `Slot<M, S>` back.
        unsafe {
            (*h).buf_addr.cast::<Slot<M, S>>().write(slot);
            (*h).finish = Some(finish::<M, S>);
        }
        // The handle's reference (refcnt 1) now belongs to the `ExtBuf`.
        Ok(ExtBuf(holder.into_raw().cast()))
    }

    /// Length of the memory.
    pub fn len(&self) -> usize {
        self.range().len
    }

    /// Whether the memory is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn range(&self) -> Range {
        // SAFETY: the holder is live while this handle holds its reference, and its buffer
        // starts with a `Slot`, whose `repr(C)` first field is the `Range`.
        unsafe { (*self.0.as_ptr()).buf_addr.cast::<Range>().read() }
    }

    /// Makes `seg` (a plain buffer) a read-only segment over `len` bytes at `off` of the
    /// memory; hands it back if it is not plain or the window is outside the memory.
    pub fn attach(&self, mut seg: Mbuf, off: u16, len: u16) -> Result<Mbuf, Mbuf> {
        if !seg.is_plain() || usize::from(off) + usize::from(len) > self.len() {
            return Err(seg);
        }
        self.attach_checked(&mut seg, off, len);
        Ok(seg)
    }

    /// [`ExtBuf::attach`] once the caller checked `seg` and the window.
    fn attach_checked(&self, seg: &mut Mbuf, off: u16, len: u16) {
        debug_assert!(seg.is_plain() && usize::from(off) + usize::from(len) <= self.len());
        let base = self.range().base;
        let s = seg.hdr().as_ptr();
        // SAFETY: the holder is live (we hold a reference) and the new reference is taken
        // from ours, so Relaxed suffices (as `Arc::clone`). `seg` is plain and borrowed
        // mutably: we own its header exclusively, and its own buffer is unused from here
        // until `release_segment` restores it. The window is inside the memory (checked
        // by the callers), which outlives the segment's reference to the holder.
        unsafe {
            (*self.0.as_ptr()).refcnt.fetch_add(1, Ordering::Relaxed);
            (*s).direct = Some(self.0);
            (*s).buf_addr = base.as_ptr().add(usize::from(off));
            (*s).buf_len = len;
            (*s).data_off = 0;
            (*s).data_len = len;
            (*s).pkt_len = u32::from(len);
            (*s).ol_flags |= ol_flags::EXTERNAL;
        }
    }
}

impl Drop for ExtBuf {
    fn drop(&mut self) {
        // SAFETY: the handle holds one reference to the live holder.
        unsafe { drop_reference(self.0) }
    }
}

impl Mbuf {
    /// Turns this plain buffer, in place, into a read-only segment over `len` bytes at
    /// `off` of `ext`'s memory, with `holder` (another plain buffer) as the shared info
    /// that completes `ext` once this segment and its clones are freed. Hands `ext` back
    /// (`holder` is freed, `self` unchanged) if a buffer is not plain or the window is
    /// outside the memory.
    pub fn attach_ext<M: ExtMem, S: ExtSink<M>>(
        &mut self,
        holder: Mbuf,
        ext: Ext<M, S>,
        off: u16,
        len: u16,
    ) -> Result<(), Ext<M, S>> {
        if !self.is_plain() || usize::from(off) + usize::from(len) > ext.mem.bytes().1 {
            return Err(ext);
        }
        ExtBuf::new(holder, ext)?.attach_checked(self, off, len);
        Ok(())
    }
}

/// A holder's completion: back to the pool, then the memory to its owner.
///
/// # Safety
/// `hdr` is a holder made by `ExtBuf::new::<M, S>` whose last reference is gone; it is
/// called once (`drop_reference` takes `finish` before calling it).
unsafe fn finish<M: ExtMem, S: ExtSink<M>>(hdr: NonNull<MbufHdr>) {
    let h = hdr.as_ptr();
    // SAFETY: per the contract the holder's own buffer holds the `Slot<M, S>` written by
    // `ExtBuf::new`, read exactly once here; nothing references the holder any more, so
    // it may go back to its pool (which outlives its objects) once the slot is out.
    unsafe {
        let slot = (*h).buf_addr.cast::<Slot<M, S>>().read();
        (*(*h).pool).put_bulk(&[hdr]);
        slot.sink.complete(slot.mem, slot.tag);
    }
}
