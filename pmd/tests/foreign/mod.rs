//! A second `PktPool`/`PktBuf` pair, standing in for DPDK's `rte_mempool`/`rte_mbuf`: a
//! newtype over vpmd's own pool whose buffers delegate to `Mbuf`, but with a distinct
//! type, no external buffers (as a pool that cannot attach them) and the trait's provided
//! methods (`read_into`, `free_bulk`) instead of `Mbuf`'s. A port over it runs the
//! drivers' generic datapaths monomorphized on a type that is not `Mempool`.
//!
//! Shared by pmd's contract tests and the vhost and xen PMD unit tests (`#[path]`).

#![allow(dead_code)]

use vpmd_mempool::mbuf::TxOffload;
use vpmd_mempool::{Burst, HugepagePolicy, Mbuf, Mempool, NoBufs, PktBuf, PktPool, PoolConfig};

/// The pool: what the application hands to `rx_queue_setup`.
#[derive(Clone, Debug)]
pub struct Foreign(pub Mempool);

impl Foreign {
    /// A pool of `size` buffers, no cache, no hugepages.
    pub fn new(name: &str, size: u32) -> Self {
        let cfg = PoolConfig {
            size,
            cache_size: 0,
            hugepages: HugepagePolicy::Never,
            ..PoolConfig::default()
        };
        Self(Mempool::new(name, &cfg).unwrap())
    }

    /// Buffers handed out and not yet freed.
    pub fn in_use(&self) -> u64 {
        self.0.stats().in_use
    }
}

/// A buffer of [`Foreign`]: same layout as `Mbuf`, so a segment chain can be viewed
/// as a chain of these.
#[repr(transparent)]
#[derive(Debug)]
pub struct ForeignBuf(pub Mbuf);

impl PktBuf for ForeignBuf {
    fn data(&self) -> &[u8] {
        self.0.data()
    }
    fn data_mut(&mut self) -> Option<&mut [u8]> {
        self.0.data_mut()
    }
    fn pkt_len(&self) -> u32 {
        self.0.pkt_len()
    }
    fn tailroom(&self) -> u16 {
        self.0.tailroom()
    }
    fn append(&mut self, len: u16) -> Option<&mut [u8]> {
        self.0.append(len)
    }
    fn prepend(&mut self, len: u16) -> Option<&mut [u8]> {
        self.0.prepend(len)
    }
    fn nb_segs(&self) -> u16 {
        self.0.nb_segs()
    }
    fn next(&self) -> Option<&Self> {
        // SAFETY: `ForeignBuf` is `repr(transparent)` over `Mbuf`, so a reference to an
        // `Mbuf` is a valid reference to a `ForeignBuf` with the same lifetime.
        self.0
            .next()
            .map(|m| unsafe { &*(m as *const Mbuf).cast::<ForeignBuf>() })
    }
    fn chain(&mut self, tail: Self) -> Result<(), Self> {
        self.0.chain(tail.0).map_err(ForeignBuf)
    }
    fn ol_flags(&self) -> u64 {
        self.0.ol_flags()
    }
    fn set_ol_flags(&mut self, flags: u64) {
        self.0.set_ol_flags(flags)
    }
    fn tx_offload(&self) -> TxOffload {
        self.0.tx_offload()
    }
    fn set_tx_offload(&mut self, t: TxOffload) {
        self.0.set_tx_offload(t)
    }
    fn set_port(&mut self, port: u16) {
        self.0.set_port(port)
    }
    fn set_rss_hash(&mut self, hash: u32) {
        self.0.set_rss_hash(hash)
    }
}

impl PktPool for Foreign {
    type Buf = ForeignBuf;
    fn alloc(&self) -> Result<ForeignBuf, NoBufs> {
        self.0.alloc().map(ForeignBuf)
    }
    fn alloc_bulk(&self, out: &mut Burst<ForeignBuf>, n: usize) -> Result<(), NoBufs> {
        if out.room() < n {
            return Err(NoBufs);
        }
        let mut tmp = Burst::with_capacity(n.max(1));
        self.0.alloc_bulk(&mut tmp, n)?;
        for m in tmp.drain() {
            let _ = out.push(ForeignBuf(m));
        }
        Ok(())
    }
    fn data_room(&self) -> u16 {
        self.0.info().data_room
    }
}
