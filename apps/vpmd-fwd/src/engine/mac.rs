//! `mac`: set the source MAC to the tx port's and the destination to `--eth-peer`.

use vpmd_mempool::{Burst, Mbuf};

use super::{set_macs, Engine, StreamCtx};
use crate::stream::StreamStats;

/// The mac engine.
pub struct Mac;

impl Engine for Mac {
    const NAME: &'static str = "mac";

    fn new(_: &StreamCtx) -> Self {
        Mac
    }

    #[inline]
    fn fwd(&mut self, pkts: &mut Burst<Mbuf>, ctx: &StreamCtx, _stats: &StreamStats) {
        set_macs(pkts, &ctx.peer_mac, &ctx.tx_mac);
    }
}
