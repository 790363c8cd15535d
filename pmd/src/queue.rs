//! The burst interface of a driver's queues.
//!
//! Queues are `Send` objects moved to the lcore that polls them; one call moves a whole
//! burst, so dynamic dispatch costs one indirect call per burst, never per packet.
//!
//! Both traits are generic over the packet buffer: vpmd's own [`Mbuf`] (the default) or,
//! in the DPDK plugin, `rte_mbuf`. A driver's queue is one generic struct; each buffer
//! type gets its own monomorphized copy of the datapath.

use vpmd_mempool::{Burst, Mbuf, PktBuf};

/// A driver's receive queue.
pub trait RxQueue<B: PktBuf = Mbuf>: Send {
    /// Appends up to `max` received packets to `out` (never more than its room) and
    /// returns how many. Never blocks.
    fn rx_burst(&mut self, out: &mut Burst<B>, max: usize) -> usize;
}

/// A driver's transmit queue.
pub trait TxQueue<B: PktBuf = Mbuf>: Send {
    /// Takes as many packets as it can from the front of `pkts` and returns how many;
    /// those not taken stay with the caller, as with `rte_eth_tx_burst`. Never blocks.
    fn tx_burst(&mut self, pkts: &mut Burst<B>) -> usize;
}
