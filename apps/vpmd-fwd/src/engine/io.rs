//! `io`: forward packets untouched (testpmd's default; no data access).

use vpmd_mempool::{Burst, Mbuf};

use super::{Engine, StreamCtx};
use crate::stream::StreamStats;

/// The io engine.
pub struct Io;

impl Engine for Io {
    const NAME: &'static str = "io";

    fn new(_: &StreamCtx) -> Self {
        Io
    }

    #[inline]
    fn fwd(&mut self, _pkts: &mut Burst<Mbuf>, _ctx: &StreamCtx, _stats: &StreamStats) {}
}
