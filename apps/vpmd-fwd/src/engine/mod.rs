//! Forwarding engines, one file each, as testpmd's `fwd_engine`s.
//!
//! An engine edits, consumes or produces one burst at a time; the [`Stream`] around it
//! does the rx and tx. Engines are static types, so the per-burst call is direct.
//!
//! [`Stream`]: crate::stream::Stream

mod csum;
mod five_tuple_swap;
mod flowgen;
mod icmpecho;
mod inet;
mod io;
mod mac;
mod macswap;
mod rxonly;
mod txonly;

pub use csum::Csum;
pub use five_tuple_swap::FiveTupleSwap;
pub use flowgen::FlowGen;
pub use icmpecho::{answer_ping, IcmpEcho};
pub use io::Io;
pub use mac::Mac;
pub use macswap::MacSwap;
pub use rxonly::RxOnly;
pub use txonly::TxOnly;

use vpmd_mempool::{Burst, Mbuf, Mempool};

use crate::stream::StreamStats;

/// What an engine knows about the stream it runs on.
#[derive(Debug, Clone)]
pub struct StreamCtx {
    /// Port packets come from.
    pub rx_port: u16,
    /// Port packets go to.
    pub tx_port: u16,
    /// MAC address of the tx port (source for `mac` and `txonly`).
    pub tx_mac: [u8; 6],
    /// Destination MAC for `mac` and `txonly` (`--eth-peer` of the tx port).
    pub peer_mac: [u8; 6],
    /// Pool for packets an engine makes.
    pub pool: Mempool,
    /// Segment lengths of generated packets (`--txpkts`).
    pub txpkts: Vec<u16>,
    /// Packets per burst.
    pub burst: usize,
    /// `--txonly-multi-flow`: txonly varies the IPv4 source per packet.
    pub txonly_multi_flow: bool,
    /// `--flowgen-flows`: destination addresses flowgen cycles through (at least 1).
    pub flowgen_flows: u32,
}

/// One forwarding mode.
pub trait Engine: Send + 'static {
    /// testpmd's name for the mode.
    const NAME: &'static str;
    /// Whether the stream polls its rx queue before calling [`Engine::fwd`].
    const RECEIVES: bool = true;
    /// Whether [`Engine::fwd`] makes packets, so it runs even when nothing arrived.
    const GENERATES: bool = false;
    /// Per-stream state.
    fn new(ctx: &StreamCtx) -> Self;
    /// Processes `pkts` in place; what is left in it afterwards is transmitted. Engines
    /// count what they find (bad checksums) in `stats`, as testpmd's engines do in their
    /// `fwd_stream`.
    fn fwd(&mut self, pkts: &mut Burst<Mbuf>, ctx: &StreamCtx, stats: &StreamStats);
    /// Told how many of the `offered` packets the tx queue took, so generators can back
    /// out flow counters for the rest (testpmd does, so flows stay evenly spread).
    #[inline]
    fn sent(&mut self, _offered: usize, _sent: usize) {}
}

/// Writes `dst` and `src` into the Ethernet header of every writable packet.
fn set_macs(pkts: &mut Burst<Mbuf>, dst: &[u8; 6], src: &[u8; 6]) {
    for m in pkts.as_mut_slice() {
        if let Some(d) = m.data_mut().filter(|d| d.len() >= 12) {
            d[..6].copy_from_slice(dst);
            d[6..12].copy_from_slice(src);
        }
    }
}

/// Shared fixtures for the engines' unit tests.
#[cfg(test)]
pub(crate) mod tests {
    use vpmd_mempool::{HugepagePolicy, Mbuf, Mempool, PoolConfig};

    use super::StreamCtx;

    /// A small pool of normal pages.
    pub fn pool() -> Mempool {
        let cfg = PoolConfig {
            size: 2048,
            cache_size: 0,
            headroom: 128,
            data_room: 2048,
            hugepages: HugepagePolicy::Never,
            debug: true,
        };
        Mempool::new("engine-test", &cfg).expect("test pool")
    }

    /// A stream context: port 0 -> port 1, MAC 02:..:aa, peer 02:..:01.
    pub fn ctx(txpkts: &[u16]) -> StreamCtx {
        StreamCtx {
            rx_port: 0,
            tx_port: 1,
            tx_mac: [2, 0, 0, 0, 0, 0xaa],
            peer_mac: [2, 0, 0, 0, 0, 1],
            pool: pool(),
            txpkts: txpkts.to_vec(),
            burst: 32,
            txonly_multi_flow: false,
            flowgen_flows: 1024,
        }
    }

    /// A one-segment packet holding `bytes`.
    pub fn packet(pool: &Mempool, bytes: &[u8]) -> Mbuf {
        let mut m = pool.alloc().expect("a free mbuf");
        m.append(bytes.len() as u16)
            .expect("fits one mbuf")
            .copy_from_slice(bytes);
        m
    }

    /// The RFC 1071 checksum the slow way, independent of `inet`.
    pub fn naive(bytes: &[u8]) -> u16 {
        let mut s: u32 = bytes
            .chunks(2)
            .map(|c| u32::from(c[0]) << 8 | u32::from(*c.get(1).unwrap_or(&0)))
            .sum();
        while s > 0xffff {
            s = (s & 0xffff) + (s >> 16);
        }
        !(s as u16)
    }

    /// The whole packet's bytes, all segments.
    pub fn frame(m: &Mbuf) -> Vec<u8> {
        use vpmd_mempool::PktBuf;
        let mut v = vec![0xa5; m.pkt_len() as usize];
        m.read_into(&mut v);
        v
    }
}
