//! Forwarding engines, one file each, as testpmd's `fwd_engine`s.
//!
//! An engine edits, consumes or produces one burst at a time; the [`Stream`] around it
//! does the rx and tx. Engines are static types, so the per-burst call is direct.
//!
//! [`Stream`]: crate::stream::Stream

mod io;
mod mac;
mod macswap;
mod rxonly;
mod txonly;

pub use io::Io;
pub use mac::Mac;
pub use macswap::MacSwap;
pub use rxonly::RxOnly;
pub use txonly::TxOnly;

use vpmd_mempool::{Burst, Mbuf, Mempool};

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
}

/// One forwarding mode.
pub trait Engine: Send + 'static {
    /// testpmd's name for the mode.
    const NAME: &'static str;
    /// Whether the stream polls its rx queue before calling [`Engine::fwd`].
    const RECEIVES: bool = true;
    /// Per-stream state.
    fn new(ctx: &StreamCtx) -> Self;
    /// Processes `pkts` in place; what is left in it afterwards is transmitted.
    fn fwd(&mut self, pkts: &mut Burst<Mbuf>, ctx: &StreamCtx);
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
