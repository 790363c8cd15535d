//! `rxonly`: receive and free.

use vpmd_mempool::{Burst, Mbuf};

use super::{Engine, StreamCtx};
use crate::stream::StreamStats;

/// The rxonly engine.
pub struct RxOnly;

impl Engine for RxOnly {
    const NAME: &'static str = "rxonly";

    fn new(_: &StreamCtx) -> Self {
        RxOnly
    }

    #[inline]
    fn fwd(&mut self, pkts: &mut Burst<Mbuf>, _ctx: &StreamCtx, _stats: &StreamStats) {
        Mbuf::free_bulk(pkts);
    }
}
