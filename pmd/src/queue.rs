//! The burst interface of a driver's queues.
//!
//! Queues are `Send` objects moved to the lcore that polls them; one call moves a whole
//! burst, so dynamic dispatch costs one indirect call per burst, never per packet.

use vpmd_mempool::{Burst, Mbuf};

/// A driver's receive queue.
pub trait RxQueue: Send {
    /// Appends up to `max` received packets to `out` (never more than its room) and
    /// returns how many. Never blocks.
    fn rx_burst(&mut self, out: &mut Burst<Mbuf>, max: usize) -> usize;
}

/// A driver's transmit queue.
pub trait TxQueue: Send {
    /// Takes as many packets as it can from the front of `pkts` and returns how many;
    /// those not taken stay with the caller, as with `rte_eth_tx_burst`. Never blocks.
    fn tx_burst(&mut self, pkts: &mut Burst<Mbuf>) -> usize;
}
