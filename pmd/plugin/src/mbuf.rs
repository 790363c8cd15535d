//! DPDK's `rte_mbuf` and `rte_mempool` as vpmd's [`PktBuf`] and [`PktPool`], so the
//! vhost and Xen datapaths write straight into the mbufs of the pool the application
//! passed to `rte_eth_rx_queue_setup`: no second pool, no extra copy.
//!
//! Field meanings are DPDK's; vpmd's offload flags already carry `RTE_MBUF_F_*` values,
//! so flags pass through unchanged. External buffers ([`PktBuf::attach_ext`], the Xen
//! PMD's `copy-threshold` zero copy) are not offered: the pool says so
//! ([`PktPool::EXTBUF`] false) and the Xen PMD copies.
//!
//! Must never: touch an mbuf it does not own, or free one twice; ownership moves with
//! [`RteMbuf`] (dropped = `rte_pktmbuf_free`, handed to DPDK = [`RteMbuf::into_raw`]).

use std::ptr::NonNull;

use dpdk_sys as sys;
use vpmd_mempool::{Burst, NoBufs, PktBuf, PktPool, TxOffload};

/// One owned `rte_mbuf` chain (the head segment).
#[repr(transparent)]
pub struct RteMbuf(NonNull<sys::rte_mbuf>);

// SAFETY: an mbuf is owned by one holder at a time; DPDK hands them between lcores.
unsafe impl Send for RteMbuf {}

/// Bits of `rte_mbuf.tx_offload`: `l2_len:7, l3_len:9, l4_len:8, tso_segsz:16`.
const L2: (u32, u64) = (0, 0x7f);
const L3: (u32, u64) = (7, 0x1ff);
const L4: (u32, u64) = (16, 0xff);
const TSO: (u32, u64) = (24, 0xffff);
const TX_OFFLOAD_MINE: u64 = (1 << 40) - 1;

fn field(word: u64, (shift, mask): (u32, u64)) -> u64 {
    word >> shift & mask
}

impl RteMbuf {
    /// Takes ownership of `m`; `None` if null.
    ///
    /// # Safety
    /// `m` is a valid mbuf chain the caller owns and gives up.
    #[inline]
    pub unsafe fn from_raw(m: *mut sys::rte_mbuf) -> Option<Self> {
        NonNull::new(m).map(Self)
    }

    /// Gives the mbuf up to DPDK without freeing it.
    #[inline]
    pub fn into_raw(self) -> *mut sys::rte_mbuf {
        let p = self.0.as_ptr();
        std::mem::forget(self);
        p
    }

    #[inline]
    fn raw(&self) -> &sys::rte_mbuf {
        // SAFETY: we own the mbuf; DPDK keeps it valid until it is freed.
        unsafe { self.0.as_ref() }
    }

    #[inline]
    fn raw_mut(&mut self) -> &mut sys::rte_mbuf {
        // SAFETY: as for `raw`, and `&mut self` makes the access exclusive.
        unsafe { self.0.as_mut() }
    }

    /// Whether the data buffer is this mbuf's own, not another's or external memory.
    fn direct(&self) -> bool {
        self.raw().ol_flags & (sys::RTE_MBUF_F_INDIRECT | sys::RTE_MBUF_F_EXTERNAL) == 0
    }

    fn seg_ptr(&self) -> *mut u8 {
        let m = self.raw();
        // SAFETY: data_off < buf_len, inside the mbuf's buffer (rte_mbuf invariant).
        unsafe { m.buf_addr.cast::<u8>().add(m.data_off as usize) }
    }

    fn last_mut(&mut self) -> &mut sys::rte_mbuf {
        let mut m = self.0.as_ptr();
        // SAFETY: the chain is ours; each `next` is a valid segment or null.
        unsafe {
            while !(*m).next.is_null() {
                m = (*m).next;
            }
            &mut *m
        }
    }
}

impl Drop for RteMbuf {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: we own the chain and free it once.
        unsafe { sys::vpmd_rte_pktmbuf_free(self.0.as_ptr()) }
    }
}

impl PktBuf for RteMbuf {
    #[inline]
    fn data(&self) -> &[u8] {
        // SAFETY: data_len bytes from data_off lie inside the mbuf's buffer, which lives
        // as long as the mbuf.
        unsafe { std::slice::from_raw_parts(self.seg_ptr(), self.raw().data_len as usize) }
    }

    #[inline]
    fn data_mut(&mut self) -> Option<&mut [u8]> {
        // SAFETY: reads the refcount of an mbuf we own.
        let shared = unsafe { sys::vpmd_rte_mbuf_refcnt_read(self.0.as_ptr()) } != 1;
        if shared || !self.direct() {
            return None;
        }
        let len = self.raw().data_len as usize;
        // SAFETY: as in `data`; refcount 1 and a direct buffer make it ours alone.
        Some(unsafe { std::slice::from_raw_parts_mut(self.seg_ptr(), len) })
    }

    #[inline]
    fn pkt_len(&self) -> u32 {
        self.raw().pkt_len
    }

    #[inline]
    fn tailroom(&self) -> u16 {
        let m = self.raw();
        m.buf_len - m.data_off - m.data_len
    }

    #[inline]
    fn append(&mut self, len: u16) -> Option<&mut [u8]> {
        if self.raw().nb_segs != 1 || len > self.tailroom() || !self.direct() {
            return None;
        }
        let m = self.raw_mut();
        let off = m.data_len as usize;
        m.data_len += len;
        m.pkt_len += u32::from(len);
        // SAFETY: the `len` bytes after the old data were tailroom of our own buffer.
        Some(unsafe { std::slice::from_raw_parts_mut(self.seg_ptr().add(off), len as usize) })
    }

    #[inline]
    fn prepend(&mut self, len: u16) -> Option<&mut [u8]> {
        if len > self.raw().data_off || !self.direct() {
            return None;
        }
        let m = self.raw_mut();
        m.data_off -= len;
        m.data_len += len;
        m.pkt_len += u32::from(len);
        // SAFETY: the `len` bytes were headroom of our own buffer.
        Some(unsafe { std::slice::from_raw_parts_mut(self.seg_ptr(), len as usize) })
    }

    #[inline]
    fn nb_segs(&self) -> u16 {
        self.raw().nb_segs
    }

    #[inline]
    fn next(&self) -> Option<&Self> {
        let next = &self.raw().next;
        if next.is_null() {
            return None;
        }
        // SAFETY: `RteMbuf` is a transparent non-null mbuf pointer, the `next` field is
        // one, and the segment it points at belongs to this chain.
        Some(unsafe { &*(next as *const *mut sys::rte_mbuf).cast::<RteMbuf>() })
    }

    fn chain(&mut self, tail: Self) -> Result<(), Self> {
        let segs = u32::from(self.nb_segs()) + u32::from(tail.nb_segs());
        if segs > sys::RTE_MBUF_MAX_NB_SEGS {
            return Err(tail);
        }
        let tail_len = tail.pkt_len();
        self.last_mut().next = tail.into_raw();
        let m = self.raw_mut();
        m.nb_segs = segs as u16;
        m.pkt_len += tail_len;
        Ok(())
    }

    #[inline]
    fn ol_flags(&self) -> u64 {
        self.raw().ol_flags
    }

    #[inline]
    fn set_ol_flags(&mut self, flags: u64) {
        self.raw_mut().ol_flags = flags;
    }

    #[inline]
    fn tx_offload(&self) -> TxOffload {
        // SAFETY: every bit pattern of the union is a valid u64.
        let w = unsafe { self.raw().__bindgen_anon_3.tx_offload };
        TxOffload {
            l2_len: field(w, L2) as u8,
            l3_len: field(w, L3) as u16,
            l4_len: field(w, L4) as u8,
            tso_segsz: field(w, TSO) as u16,
        }
    }

    #[inline]
    fn set_tx_offload(&mut self, t: TxOffload) {
        let put = |v: u64, (shift, mask): (u32, u64)| (v & mask) << shift;
        let m = self.raw_mut();
        // SAFETY: as in `tx_offload`; the outer lengths (bits 40..) are kept.
        let old = unsafe { m.__bindgen_anon_3.tx_offload };
        m.__bindgen_anon_3.tx_offload = old & !TX_OFFLOAD_MINE
            | put(t.l2_len.into(), L2)
            | put(t.l3_len.into(), L3)
            | put(t.l4_len.into(), L4)
            | put(t.tso_segsz.into(), TSO);
    }

    #[inline]
    fn set_port(&mut self, port: u16) {
        self.raw_mut().port = port;
    }

    #[inline]
    fn set_rss_hash(&mut self, hash: u32) {
        self.raw_mut().__bindgen_anon_2.hash.rss = hash;
    }

    fn free_bulk(pkts: &mut Burst<Self>) {
        let n = pkts.len();
        // `RteMbuf` is a transparent mbuf pointer: the burst is an array of them.
        let ptrs = pkts
            .as_mut_slice()
            .as_mut_ptr()
            .cast::<*mut sys::rte_mbuf>();
        // SAFETY: `n` owned chains, each freed once here and forgotten below.
        unsafe { sys::rte_pktmbuf_free_bulk(ptrs, n as u32) };
        pkts.drain().for_each(std::mem::forget);
    }
}

/// The application's `rte_mempool` of pktmbufs.
#[derive(Clone, Copy)]
pub struct RtePool(NonNull<sys::rte_mempool>);

// SAFETY: DPDK mempools are multi-producer, multi-consumer; the per-lcore cache is
// indexed by the calling thread's lcore id.
unsafe impl Send for RtePool {}
// SAFETY: as for Send.
unsafe impl Sync for RtePool {}

impl RtePool {
    /// The pool `mp`; `None` if null.
    ///
    /// # Safety
    /// `mp` is a pktmbuf pool that outlives every queue using it (DPDK's rule for
    /// `rx_queue_setup`).
    pub unsafe fn new(mp: *mut sys::rte_mempool) -> Option<Self> {
        NonNull::new(mp).map(Self)
    }
}

/// The most mbufs one bulk allocation takes.
const BULK: usize = Burst::<RteMbuf>::MAX;

impl PktPool for RtePool {
    type Buf = RteMbuf;

    #[inline]
    fn alloc(&self) -> Result<RteMbuf, NoBufs> {
        // SAFETY: a valid pool (`new`); a fresh mbuf is ours.
        unsafe { RteMbuf::from_raw(sys::vpmd_rte_pktmbuf_alloc(self.0.as_ptr())) }.ok_or(NoBufs)
    }

    #[inline]
    fn alloc_bulk(&self, out: &mut Burst<RteMbuf>, n: usize) -> Result<(), NoBufs> {
        let n = n.min(out.room()).min(BULK);
        let mut got = [std::ptr::null_mut(); BULK];
        // SAFETY: `got` has room for `n`; on success all `n` are fresh mbufs we own.
        if unsafe { sys::vpmd_rte_pktmbuf_alloc_bulk(self.0.as_ptr(), got.as_mut_ptr(), n as u32) }
            != 0
        {
            return Err(NoBufs);
        }
        for &m in &got[..n] {
            // SAFETY: as above; `n` is within the burst's room, so no push fails.
            if let Some(m) = unsafe { RteMbuf::from_raw(m) } {
                let _ = out.push(m);
            }
        }
        Ok(())
    }

    #[inline]
    fn data_room(&self) -> u16 {
        // SAFETY: a valid pktmbuf pool.
        let room = unsafe { sys::vpmd_rte_pktmbuf_data_room_size(self.0.as_ptr()) };
        room.saturating_sub(sys::RTE_PKTMBUF_HEADROOM as u16)
    }
}
