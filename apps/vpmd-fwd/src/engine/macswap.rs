//! `macswap`: swap source and destination MAC addresses.

use vpmd_mempool::{Burst, Mbuf};

use super::{Engine, StreamCtx};
use crate::stream::StreamStats;

/// The macswap engine.
pub struct MacSwap;

impl Engine for MacSwap {
    const NAME: &'static str = "macswap";

    fn new(_: &StreamCtx) -> Self {
        MacSwap
    }

    #[inline]
    fn fwd(&mut self, pkts: &mut Burst<Mbuf>, _ctx: &StreamCtx, _stats: &StreamStats) {
        for m in pkts.as_mut_slice() {
            if let Some(d) = m.data_mut().filter(|d| d.len() >= 12) {
                let (dst, src) = d[..12].split_at_mut(6);
                dst.swap_with_slice(src);
            }
        }
    }
}
