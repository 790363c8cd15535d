//! `Mbuf`: an owned handle to one packet buffer object in a pool.
//!
//! The object is a 128-byte, cache-aligned header followed by headroom and data room,
//! laid out like DPDK's `rte_mbuf` so that a reader of either recognises the other.
//! A handle owns its header exclusively; clones made with [`Mbuf::clone_in`] are
//! *indirect* mbufs with headers of their own that borrow the data buffer of a *direct*
//! one, whose `refcnt` counts them. Data is writable only through a direct mbuf nobody
//! borrows from, so shared bytes are never written.
//!
//! A segment may also point at *external* memory ([`ExtBuf`](crate::ExtBuf)): its
//! `direct` is then the holder object that owns that memory, counted the same way.
//!
//! Dropping a handle returns the whole chain to its pools. This module never forms a
//! reference to a whole header (another thread may update a borrowed header's `refcnt`):
//! fields are read and written through raw places.

use std::ptr::NonNull;
use std::sync::atomic::{AtomicU16, Ordering};

use crate::ol_flags;
use crate::pool::PoolShared;

/// The flags of a segment whose bytes are not its own.
const ATTACHED: u64 = ol_flags::INDIRECT | ol_flags::EXTERNAL;

/// `port` value of an mbuf that no port has claimed (DPDK's `RTE_MBUF_PORT_INVALID`).
pub const PORT_INVALID: u16 = u16::MAX;

/// Bytes of the header in front of every buffer.
pub const HEADER_SIZE: usize = 128;

/// The state of an object, kept and checked only by pools in debug mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum ObjState {
    Free = 0xf3,
    InUse = 0xa1,
}

/// Transmit offload lengths (DPDK's `tx_offload` bit-field, unpacked).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C)]
pub struct TxOffload {
    /// L2 header length.
    pub l2_len: u8,
    /// L4 header length.
    pub l4_len: u8,
    /// L3 header length.
    pub l3_len: u16,
    /// MSS for TSO/UFO, or the coalesced segment size with `RX_LRO`.
    pub tso_segsz: u16,
}

/// The object header. Field meanings follow `rte_mbuf`.
#[repr(C, align(64))]
pub(crate) struct MbufHdr {
    // Cache line 0: what rx and tx touch on every packet.
    pub(crate) buf_addr: *mut u8,
    pub(crate) pool: *const PoolShared,
    pub(crate) data_off: u16,
    pub(crate) refcnt: AtomicU16,
    pub(crate) nb_segs: u16,
    pub(crate) port: u16,
    pub(crate) ol_flags: u64,
    pub(crate) packet_type: u32,
    pub(crate) pkt_len: u32,
    pub(crate) data_len: u16,
    pub(crate) vlan_tci: u16,
    pub(crate) rss_hash: u32,
    pub(crate) buf_len: u16,
    pub(crate) state: ObjState,
    pub(crate) index: u32,
    pub(crate) tx_offload: TxOffload,
    // Cache line 1: chains, clones and the timestamp. Free objects always have `next` and
    // `direct` empty, so allocating and freeing a simple packet never touches this line.
    pub(crate) next: Option<Mbuf>,
    pub(crate) direct: Option<NonNull<MbufHdr>>,
    pub(crate) timestamp: u64,
    /// Set on the holder of an external buffer only: run when its last reference goes
    /// (see [`ext`](crate::ext)).
    pub(crate) finish: Option<unsafe fn(NonNull<MbufHdr>)>,
}

const _: () = assert!(std::mem::size_of::<MbufHdr>() == HEADER_SIZE);
const _: () = assert!(std::mem::align_of::<MbufHdr>() == 64);
const _: () = assert!(std::mem::offset_of!(MbufHdr, next) == 64);

/// An owned packet buffer (a chain of segments) from a [`Mempool`](crate::Mempool).
#[repr(transparent)]
#[derive(Debug)]
pub struct Mbuf(NonNull<MbufHdr>);

// SAFETY: a handle is the only owner of its header; the buffer bytes it may share with
// clones are read-only while shared (see `data_mut`) and `refcnt` is atomic.
unsafe impl Send for Mbuf {}

/// Field read through the raw header pointer.
macro_rules! get {
    ($m:expr, $f:ident) => {
        // SAFETY: a live handle points at an initialised header inside its pool's region,
        // which outlives every handle; reading a field creates no reference to the header.
        unsafe { (*$m.0.as_ptr()).$f }
    };
}

/// Field write through the raw header pointer.
macro_rules! set {
    ($m:expr, $f:ident, $v:expr) => {{
        let v = $v;
        // SAFETY: as for `get!`; the handle owns its header exclusively, so no other thread
        // reads this non-atomic field while `&mut self` is held.
        unsafe { (*$m.0.as_ptr()).$f = v }
    }};
}

impl Mbuf {
    /// The header, for [`ext`](crate::ext), which turns fresh handles into holders and
    /// segments.
    #[inline]
    pub(crate) fn hdr(&self) -> NonNull<MbufHdr> {
        self.0
    }

    /// Whether this is a fresh-looking single segment with its own, unshared buffer:
    /// what [`ext`](crate::ext) may turn into a holder or an external segment.
    #[inline]
    pub(crate) fn is_plain(&self) -> bool {
        self.is_simple() && self.next().is_none()
    }

    /// Wraps a header pointer taken from a pool's free list.
    ///
    /// # Safety
    /// `hdr` must point at an initialised header that nothing else owns.
    #[inline]
    pub(crate) unsafe fn from_hdr(hdr: NonNull<MbufHdr>) -> Self {
        Mbuf(hdr)
    }

    /// Gives up the handle without freeing, for hand-over through raw channels (FFI).
    pub fn into_raw(self) -> NonNull<u8> {
        let p = self.0.cast();
        std::mem::forget(self);
        p
    }

    /// Takes back ownership of a pointer from [`Mbuf::into_raw`].
    ///
    /// # Safety
    /// `raw` must come from `into_raw` and must not have been turned back into a handle
    /// before (a pool in debug mode catches the double free this would cause).
    pub unsafe fn from_raw(raw: NonNull<u8>) -> Self {
        Mbuf(raw.cast())
    }

    /// Resets the metadata of a freshly allocated buffer (`rte_pktmbuf_reset`).
    #[inline]
    pub(crate) fn reset(&mut self, headroom: u16) {
        debug_assert!(self.next().is_none() && get!(self, direct).is_none());
        debug_assert!(get!(self, finish).is_none());
        set!(self, nb_segs, 1);
        set!(self, port, PORT_INVALID);
        set!(self, ol_flags, 0);
        set!(self, packet_type, 0);
        set!(self, pkt_len, 0);
        set!(self, data_len, 0);
        set!(self, vlan_tci, 0);
        set!(self, rss_hash, 0);
        set!(self, tx_offload, TxOffload::default());
        // The pool guarantees headroom < buf_len.
        set!(self, data_off, headroom);
    }

    /// Bytes of this segment.
    #[inline]
    pub fn data(&self) -> &[u8] {
        let (addr, off, len) = (
            get!(self, buf_addr),
            get!(self, data_off),
            get!(self, data_len),
        );
        // SAFETY: `buf_addr + data_off .. + data_len` lies inside this object's buffer,
        // the direct object's (a clone) or the external memory (an `ExtBuf` segment):
        // every setter keeps `data_off + data_len <= buf_len`. Shared bytes are never
        // written through a handle (`data_mut`), and the slice's lifetime is tied to
        // `&self`, whose reference keeps the direct object or the holder, and so the
        // external memory, alive (`ExtMem`'s contract).
        unsafe { std::slice::from_raw_parts(addr.add(off as usize), len as usize) }
    }

    /// Whether this segment's bytes are shared with a clone (and so read-only).
    #[inline]
    pub fn is_shared(&self) -> bool {
        // Acquire pairs with the Release decrement of a clone being freed: once we see
        // the count back at 1, the clone's reads are done.
        self.is_attached() || self.refcnt().load(Ordering::Acquire) != 1
    }

    /// A clone borrowing another mbuf's buffer, or a segment over external memory
    /// (the flags are in cache line 0).
    #[inline]
    fn is_attached(&self) -> bool {
        get!(self, ol_flags) & ATTACHED != 0
    }

    /// One segment, own buffer, no clones: freeing it is a plain put.
    #[inline]
    fn is_simple(&self) -> bool {
        get!(self, nb_segs) == 1
            && !self.is_attached()
            && self.refcnt().load(Ordering::Acquire) == 1
    }

    /// Frees every packet in `pkts` (`rte_pktmbuf_free_bulk`). The usual burst, simple
    /// packets of one pool, goes back to the pool's cache in one call straight from the
    /// burst's array of handles; any other mix, one run of simple packets at a time.
    pub fn free_bulk(pkts: &mut crate::Burst<Mbuf>) {
        let items = pkts.items_mut();
        let Some(first) = items.first() else {
            return;
        };
        let pool = get!(first, pool);
        if items.iter().all(|m| m.is_simple() && get!(m, pool) == pool) {
            let n = items.len();
            // SAFETY: `Mbuf` is `repr(transparent)` over `NonNull<MbufHdr>`, so the
            // burst's first `n` slots are `n` header pointers. The length goes to 0
            // first: the handles are given up before the pool takes the headers, so no
            // unwind can drop them again, and the slots stay allocated (capacity is
            // kept) while `put_bulk` reads them. Each is a simple header of `pool`
            // owned by its handle alone.
            unsafe {
                items.set_len(0);
                let hdrs = std::slice::from_raw_parts(items.as_ptr().cast::<NonNull<MbufHdr>>(), n);
                (*pool).put_bulk(hdrs);
            }
            return;
        }
        Self::free_runs(pkts);
    }

    /// [`free_bulk`](Self::free_bulk) for a burst that mixes pools or holds chains and
    /// clones.
    fn free_runs(pkts: &mut crate::Burst<Mbuf>) {
        const RUN: usize = 64;
        let mut run = [NonNull::<MbufHdr>::dangling(); RUN];
        let mut n = 0;
        let mut pool: *const PoolShared = std::ptr::null();
        for m in pkts.drain() {
            if !m.is_simple() {
                drop(m);
                continue;
            }
            let p = get!(m, pool);
            if (p != pool || n == RUN) && n > 0 {
                // SAFETY: `run[..n]` are simple headers of `pool` whose handles were
                // forgotten below, so nothing else refers to them.
                unsafe { (*pool).put_bulk(&run[..n]) };
                n = 0;
            }
            pool = p;
            run[n] = m.0;
            n += 1;
            std::mem::forget(m);
        }
        if n > 0 {
            // SAFETY: as above.
            unsafe { (*pool).put_bulk(&run[..n]) };
        }
    }

    /// Bytes of this segment for writing, unless they are shared with a clone.
    #[inline]
    pub fn data_mut(&mut self) -> Option<&mut [u8]> {
        if self.is_shared() {
            return None;
        }
        let (off, len) = (get!(self, data_off), get!(self, data_len));
        Some(self.raw_buf_mut(off, len))
    }

    /// The unique bytes `off..off+len` of the buffer. Callers check `!is_shared()` and
    /// `off + len <= buf_len` first.
    #[inline]
    fn raw_buf_mut(&mut self, off: u16, len: u16) -> &mut [u8] {
        debug_assert!(off as u32 + len as u32 <= get!(self, buf_len) as u32);
        let addr = get!(self, buf_addr);
        // SAFETY: the range is inside this object's buffer (checked by callers), the buffer
        // is not shared (checked by callers), and `&mut self` excludes other accessors.
        unsafe { std::slice::from_raw_parts_mut(addr.add(off as usize), len as usize) }
    }

    #[inline]
    fn refcnt(&self) -> &AtomicU16 {
        // SAFETY: a reference to the atomic field alone; other threads touch it only
        // atomically.
        unsafe { &(*self.0.as_ptr()).refcnt }
    }

    /// Length of this segment.
    #[inline]
    pub fn data_len(&self) -> u16 {
        get!(self, data_len)
    }

    /// Length of the whole packet (meaningful on the first segment).
    #[inline]
    pub fn pkt_len(&self) -> u32 {
        get!(self, pkt_len)
    }

    /// Free bytes in front of the data.
    #[inline]
    pub fn headroom(&self) -> u16 {
        get!(self, data_off)
    }

    /// Free bytes after the data of this segment.
    #[inline]
    pub fn tailroom(&self) -> u16 {
        get!(self, buf_len) - get!(self, data_off) - get!(self, data_len)
    }

    /// Total size of this segment's buffer (headroom + data room).
    #[inline]
    pub fn buf_len(&self) -> u16 {
        get!(self, buf_len)
    }

    /// Grows a single-segment packet by `len` bytes at the tail and returns them
    /// (`rte_pktmbuf_append`); `None` if there is no room or the data is shared.
    #[inline]
    pub fn append(&mut self, len: u16) -> Option<&mut [u8]> {
        if self.nb_segs() != 1 || self.tailroom() < len || self.is_shared() {
            return None;
        }
        let off = get!(self, data_off) + get!(self, data_len);
        set!(self, data_len, get!(self, data_len) + len);
        set!(self, pkt_len, get!(self, pkt_len) + len as u32);
        Some(self.raw_buf_mut(off, len))
    }

    /// Grows the packet by `len` bytes at the front and returns them (`rte_pktmbuf_prepend`).
    #[inline]
    pub fn prepend(&mut self, len: u16) -> Option<&mut [u8]> {
        if self.headroom() < len || self.is_shared() {
            return None;
        }
        let off = get!(self, data_off) - len;
        set!(self, data_off, off);
        set!(self, data_len, get!(self, data_len) + len);
        set!(self, pkt_len, get!(self, pkt_len) + len as u32);
        Some(self.raw_buf_mut(off, len))
    }

    /// Drops `len` bytes from the front of the first segment (`rte_pktmbuf_adj`).
    #[inline]
    pub fn adj(&mut self, len: u16) -> bool {
        if len > self.data_len() {
            return false;
        }
        set!(self, data_off, get!(self, data_off) + len);
        set!(self, data_len, get!(self, data_len) - len);
        set!(self, pkt_len, get!(self, pkt_len) - len as u32);
        true
    }

    /// Sets the length of a single-segment packet, keeping `data_off`; false if it does not
    /// fit. Bytes exposed this way hold whatever the buffer held before.
    #[inline]
    pub fn set_len(&mut self, len: u16) -> bool {
        if self.nb_segs() != 1 || get!(self, data_off) as u32 + len as u32 > self.buf_len() as u32 {
            return false;
        }
        set!(self, data_len, len);
        set!(self, pkt_len, len as u32);
        true
    }

    /// Number of segments in the chain (meaningful on the first segment).
    #[inline]
    pub fn nb_segs(&self) -> u16 {
        get!(self, nb_segs)
    }

    /// The next segment.
    #[inline]
    pub fn next(&self) -> Option<&Mbuf> {
        // SAFETY: a reference to the `next` field only; it is owned by this chain.
        unsafe { (*self.0.as_ptr()).next.as_ref() }
    }

    /// The next segment, for writing.
    #[inline]
    pub fn next_mut(&mut self) -> Option<&mut Mbuf> {
        // SAFETY: as for `next`; `&mut self` makes the chain exclusively ours.
        unsafe { (*self.0.as_ptr()).next.as_mut() }
    }

    /// Iterates over the segments, starting with this one.
    pub fn segments(&self) -> impl Iterator<Item = &Mbuf> {
        std::iter::successors(Some(self), |m| m.next())
    }

    /// Appends the chain `tail` after the last segment (`rte_pktmbuf_chain`); hands it back
    /// if the result would exceed 65535 segments.
    pub fn chain(&mut self, tail: Mbuf) -> Result<(), Mbuf> {
        let segs = self.nb_segs() as u32 + tail.nb_segs() as u32;
        if segs > u16::MAX as u32 {
            return Err(tail);
        }
        let add = tail.pkt_len();
        let mut last = &mut *self;
        while last.next().is_some() {
            last = last.next_mut().expect("checked above");
        }
        set!(last, next, Some(tail));
        set!(self, nb_segs, segs as u16);
        set!(self, pkt_len, get!(self, pkt_len) + add);
        Ok(())
    }

    /// Offload flags (`RTE_MBUF_F_*` values, see [`ol_flags`]).
    #[inline]
    pub fn ol_flags(&self) -> u64 {
        get!(self, ol_flags)
    }

    /// Sets the offload flags; the `INDIRECT` and `EXTERNAL` bits are owned by the pool
    /// and kept.
    #[inline]
    pub fn set_ol_flags(&mut self, flags: u64) {
        let keep = get!(self, ol_flags) & ATTACHED;
        set!(self, ol_flags, (flags & !ATTACHED) | keep);
    }

    /// Input port.
    #[inline]
    pub fn port(&self) -> u16 {
        get!(self, port)
    }

    /// Sets the input port.
    #[inline]
    pub fn set_port(&mut self, port: u16) {
        set!(self, port, port);
    }

    /// Packet type (`RTE_PTYPE_*` meanings).
    #[inline]
    pub fn packet_type(&self) -> u32 {
        get!(self, packet_type)
    }

    /// Sets the packet type.
    #[inline]
    pub fn set_packet_type(&mut self, ptype: u32) {
        set!(self, packet_type, ptype);
    }

    /// RSS hash (valid with `RX_RSS_HASH`).
    #[inline]
    pub fn rss_hash(&self) -> u32 {
        get!(self, rss_hash)
    }

    /// Sets the RSS hash.
    #[inline]
    pub fn set_rss_hash(&mut self, hash: u32) {
        set!(self, rss_hash, hash);
    }

    /// VLAN tag control information.
    #[inline]
    pub fn vlan_tci(&self) -> u16 {
        get!(self, vlan_tci)
    }

    /// Sets the VLAN TCI.
    #[inline]
    pub fn set_vlan_tci(&mut self, tci: u16) {
        set!(self, vlan_tci, tci);
    }

    /// Transmit offload lengths.
    #[inline]
    pub fn tx_offload(&self) -> TxOffload {
        get!(self, tx_offload)
    }

    /// Sets the transmit offload lengths.
    #[inline]
    pub fn set_tx_offload(&mut self, t: TxOffload) {
        set!(self, tx_offload, t);
    }

    /// Timestamp (free-form, usually TSC or ns).
    #[inline]
    pub fn timestamp(&self) -> u64 {
        get!(self, timestamp)
    }

    /// Sets the timestamp.
    #[inline]
    pub fn set_timestamp(&mut self, ts: u64) {
        set!(self, timestamp, ts);
    }

    /// Makes a clone that shares this packet's data (`rte_pktmbuf_clone`): one indirect
    /// header per segment from `pool`. The data stays read-only until every clone is gone.
    pub fn clone_in(&self, pool: &crate::Mempool) -> Result<Mbuf, crate::NoBufs> {
        let mut head: Option<Mbuf> = None;
        for seg in self.segments() {
            let ind = pool.alloc()?;
            let direct = get!(seg, direct).unwrap_or(seg.0);
            // SAFETY: `direct` is a live header: either `seg` itself or the direct header
            // `seg` keeps alive through its own reference. Relaxed suffices for taking a
            // reference from one we hold (as `Arc::clone`).
            unsafe { (*direct.as_ptr()).refcnt.fetch_add(1, Ordering::Relaxed) };
            set!(ind, direct, Some(direct));
            set!(ind, buf_addr, get!(seg, buf_addr));
            set!(ind, buf_len, get!(seg, buf_len));
            set!(ind, data_off, get!(seg, data_off));
            set!(ind, data_len, get!(seg, data_len));
            set!(ind, ol_flags, get!(seg, ol_flags) | ol_flags::INDIRECT);
            match head.as_mut() {
                None => head = Some(ind),
                Some(h) => {
                    // Each clone has at most as many segments as `self`, so this fits.
                    let _ = h.chain(ind);
                }
            }
        }
        let head = head.expect("a packet has at least one segment");
        set!(head, pkt_len, self.pkt_len());
        set!(head, port, self.port());
        set!(head, packet_type, self.packet_type());
        set!(head, rss_hash, self.rss_hash());
        set!(head, vlan_tci, self.vlan_tci());
        set!(head, tx_offload, self.tx_offload());
        set!(head, timestamp, self.timestamp());
        Ok(head)
    }
}

impl Drop for Mbuf {
    #[inline]
    fn drop(&mut self) {
        if self.is_simple() {
            let pool = get!(self, pool);
            // SAFETY: a simple mbuf is the only reference to its header; the pool outlives
            // its buffers.
            unsafe { (*pool).put_bulk(&[self.0]) };
            return;
        }
        self.drop_slow();
    }
}

impl Mbuf {
    #[cold]
    fn drop_slow(&mut self) {
        let mut seg = Some(self.0);
        while let Some(hdr) = seg {
            // SAFETY: `hdr` is a segment this chain owns; we detach its successor before
            // releasing it, so each header is released exactly once.
            seg = unsafe { (*hdr.as_ptr()).next.take() }.map(|m| {
                let p = m.0;
                std::mem::forget(m);
                p
            });
            // SAFETY: `hdr` is owned by this chain and no longer reachable from it.
            unsafe { release_segment(hdr) };
        }
    }
}

/// Returns one segment to its pool, honouring clones (`rte_pktmbuf_prefree_seg`).
///
/// # Safety
/// `hdr` must be a live header that the caller owned and no handle refers to any more.
unsafe fn release_segment(hdr: NonNull<MbufHdr>) {
    let h = hdr.as_ptr();
    // SAFETY: `h` is live per the contract; fields are accessed through raw places,
    // `refcnt` only atomically.
    unsafe {
        if let Some(direct) = (*h).direct.take() {
            // A clone: give back our reference to the direct buffer first.
            (*h).buf_addr = PoolShared::own_buf_addr(h);
            (*h).buf_len = (*(*h).pool).buf_len();
            (*h).ol_flags = 0;
            drop_reference(direct);
        }
        drop_reference(hdr);
    }
}

/// Drops one reference to `hdr`; the last one puts the object back into its pool (a
/// holder first completes its external buffer).
///
/// # Safety
/// The caller holds one reference to the live header `hdr`.
pub(crate) unsafe fn drop_reference(hdr: NonNull<MbufHdr>) {
    let h = hdr.as_ptr();
    // SAFETY: `h` is live; a count of 1 means ours is the only reference, so nobody else
    // can touch the count (the fast path skips the atomic RMW, as DPDK does).
    unsafe {
        let rc = &(*h).refcnt;
        // AcqRel: our earlier reads of the buffer happen before whoever frees it reuses it.
        if rc.load(Ordering::Acquire) == 1 || rc.fetch_sub(1, Ordering::AcqRel) == 1 {
            rc.store(1, Ordering::Relaxed);
            (*h).nb_segs = 1;
            match (*h).finish.take() {
                // The holder of an external buffer: its owner is told, exactly once
                // (`take` leaves nothing to run twice).
                Some(finish) => finish(hdr),
                None => (*(*h).pool).put_bulk(&[hdr]),
            }
        }
    }
}
