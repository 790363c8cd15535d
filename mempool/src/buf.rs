//! The trait pair PMD datapaths are generic over: a packet buffer and the pool it comes
//! from.
//!
//! One datapath implementation (vhost dequeue, Xen guest-tx) serves both vpmd's own
//! [`Mbuf`]/[`Mempool`] and, in the DPDK plugin, `rte_mbuf`/`rte_mempool`. The surface is
//! what a virtual NIC's datapath needs: lengths, head/tail room, segments, offload
//! metadata. Buffers free themselves on drop.

use crate::mbuf::TxOffload;
use crate::{Burst, Ext, ExtMem, ExtSink, Mbuf, Mempool, NoBufs};

/// A packet buffer a datapath can fill (rx) or drain (tx).
pub trait PktBuf: Send + Sized {
    /// Bytes of this segment.
    fn data(&self) -> &[u8];
    /// Bytes of this segment for writing, unless shared with a clone.
    fn data_mut(&mut self) -> Option<&mut [u8]>;
    /// Length of the whole packet.
    fn pkt_len(&self) -> u32;
    /// Free bytes after this segment's data.
    fn tailroom(&self) -> u16;
    /// Grows a single-segment packet at the tail; returns the new bytes.
    fn append(&mut self, len: u16) -> Option<&mut [u8]>;
    /// Grows the packet at the front; returns the new bytes.
    fn prepend(&mut self, len: u16) -> Option<&mut [u8]>;
    /// Number of segments.
    fn nb_segs(&self) -> u16;
    /// The next segment.
    fn next(&self) -> Option<&Self>;
    /// Appends a chain after the last segment; hands it back if it cannot.
    fn chain(&mut self, tail: Self) -> Result<(), Self>;
    /// Offload flags, `RTE_MBUF_F_*` values.
    fn ol_flags(&self) -> u64;
    /// Sets the offload flags.
    fn set_ol_flags(&mut self, flags: u64);
    /// Transmit offload lengths (`l2_len`, `l3_len`, `l4_len`, `tso_segsz`).
    fn tx_offload(&self) -> TxOffload;
    /// Sets the transmit offload lengths.
    fn set_tx_offload(&mut self, t: TxOffload);
    /// Sets the input port.
    fn set_port(&mut self, port: u16);
    /// Sets the RSS hash (and the caller sets `RX_RSS_HASH`).
    fn set_rss_hash(&mut self, hash: u32);
    /// Copies the whole packet (every segment) into `out` and returns the bytes copied,
    /// at most `out.len()` (`rte_pktmbuf_read` into a caller's buffer).
    fn read_into(&self, out: &mut [u8]) -> usize {
        let mut n = 0;
        for seg in std::iter::successors(Some(self), |b| b.next()) {
            let d = seg.data();
            let k = d.len().min(out.len() - n);
            out[n..n + k].copy_from_slice(&d[..k]);
            n += k;
            if n == out.len() {
                break;
            }
        }
        n
    }
    /// Frees every buffer in `pkts`; implementations batch the returns to their pools.
    fn free_bulk(pkts: &mut Burst<Self>) {
        pkts.clear();
    }
    /// Turns this fresh buffer, in place, into a read-only segment over `len` bytes at
    /// `off` of external memory, `holder` (another fresh buffer) keeping it until the last
    /// reference goes ([`Mbuf::attach_ext`]). Buffers that cannot point at external
    /// memory hand `ext` back unchanged, as their pool's [`PktPool::EXTBUF`] says in
    /// advance.
    fn attach_ext<M: ExtMem, S: ExtSink<M>>(
        &mut self,
        holder: Self,
        ext: Ext<M, S>,
        off: u16,
        len: u16,
    ) -> Result<(), Ext<M, S>> {
        let _ = (holder, off, len);
        Err(ext)
    }
}

/// Where a datapath gets fresh buffers.
pub trait PktPool: Send + Sync {
    /// The buffers this pool hands out.
    type Buf: PktBuf;
    /// One reset buffer.
    fn alloc(&self) -> Result<Self::Buf, NoBufs>;
    /// Appends `n` reset buffers to `out`, or none.
    fn alloc_bulk(&self, out: &mut Burst<Self::Buf>, n: usize) -> Result<(), NoBufs>;
    /// Data room of each buffer (after the headroom).
    fn data_room(&self) -> u16;
    /// Whether [`PktBuf::attach_ext`] works on this pool's buffers.
    const EXTBUF: bool = false;
}

impl PktBuf for Mbuf {
    #[inline]
    fn data(&self) -> &[u8] {
        Mbuf::data(self)
    }
    #[inline]
    fn data_mut(&mut self) -> Option<&mut [u8]> {
        Mbuf::data_mut(self)
    }
    #[inline]
    fn pkt_len(&self) -> u32 {
        Mbuf::pkt_len(self)
    }
    #[inline]
    fn tailroom(&self) -> u16 {
        Mbuf::tailroom(self)
    }
    #[inline]
    fn append(&mut self, len: u16) -> Option<&mut [u8]> {
        Mbuf::append(self, len)
    }
    #[inline]
    fn prepend(&mut self, len: u16) -> Option<&mut [u8]> {
        Mbuf::prepend(self, len)
    }
    #[inline]
    fn nb_segs(&self) -> u16 {
        Mbuf::nb_segs(self)
    }
    #[inline]
    fn next(&self) -> Option<&Self> {
        Mbuf::next(self)
    }
    #[inline]
    fn chain(&mut self, tail: Self) -> Result<(), Self> {
        Mbuf::chain(self, tail)
    }
    #[inline]
    fn ol_flags(&self) -> u64 {
        Mbuf::ol_flags(self)
    }
    #[inline]
    fn set_ol_flags(&mut self, flags: u64) {
        Mbuf::set_ol_flags(self, flags)
    }
    #[inline]
    fn tx_offload(&self) -> TxOffload {
        Mbuf::tx_offload(self)
    }
    #[inline]
    fn set_tx_offload(&mut self, t: TxOffload) {
        Mbuf::set_tx_offload(self, t)
    }
    #[inline]
    fn set_port(&mut self, port: u16) {
        Mbuf::set_port(self, port)
    }
    #[inline]
    fn set_rss_hash(&mut self, hash: u32) {
        Mbuf::set_rss_hash(self, hash)
    }
    #[inline]
    fn free_bulk(pkts: &mut Burst<Self>) {
        Mbuf::free_bulk(pkts)
    }
    #[inline]
    fn attach_ext<M: ExtMem, S: ExtSink<M>>(
        &mut self,
        holder: Self,
        ext: Ext<M, S>,
        off: u16,
        len: u16,
    ) -> Result<(), Ext<M, S>> {
        Mbuf::attach_ext(self, holder, ext, off, len)
    }
}

impl PktPool for Mempool {
    type Buf = Mbuf;
    #[inline]
    fn alloc(&self) -> Result<Mbuf, NoBufs> {
        Mempool::alloc(self)
    }
    #[inline]
    fn alloc_bulk(&self, out: &mut Burst<Mbuf>, n: usize) -> Result<(), NoBufs> {
        Mempool::alloc_bulk(self, out, n)
    }
    #[inline]
    fn data_room(&self) -> u16 {
        self.info().data_room
    }
    const EXTBUF: bool = true;
}
