//! What a driver implements for one device: the ethdev operations.
//!
//! State rules (configure before queue setup, setup before start...) are enforced once,
//! by [`Port`](crate::Port); a driver may assume it is called in a legal order.

use std::sync::Arc;

use vpmd_mempool::{Mempool, PktPool};

use crate::error::PmdError;
use crate::queue::{RxQueue, TxQueue};
use crate::stats::{RxCounters, TxCounters};

/// Fixed facts about a device (`rte_eth_dev_info`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevInfo {
    /// The driver's name (`net_vpmd_null`).
    pub driver: &'static str,
    /// Most rx queues.
    pub max_rx_queues: u16,
    /// Most tx queues.
    pub max_tx_queues: u16,
    /// Fewest descriptors per queue.
    pub min_desc: u16,
    /// Most descriptors per queue.
    pub max_desc: u16,
    /// Current MTU.
    pub mtu: u16,
    /// Smallest MTU.
    pub min_mtu: u16,
    /// Largest MTU.
    pub max_mtu: u16,
    /// Largest frame received.
    pub max_rx_pktlen: u32,
    /// `RTE_ETH_RX_OFFLOAD_*` bits offered.
    pub rx_offload_capa: u64,
    /// `RTE_ETH_TX_OFFLOAD_*` bits offered.
    pub tx_offload_capa: u64,
    /// The port's MAC address.
    pub mac: [u8; 6],
}

/// Link state (`rte_eth_link`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    /// Carrier up.
    pub up: bool,
    /// Speed in Mbit/s (0 when unknown).
    pub speed_mbps: u32,
    /// Full duplex.
    pub full_duplex: bool,
}

/// Port configuration given to `configure`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PortConf {
    /// Requested MTU (`None` keeps the driver's).
    pub mtu: Option<u16>,
    /// `RTE_ETH_RX_OFFLOAD_*` bits requested.
    pub rx_offloads: u64,
    /// `RTE_ETH_TX_OFFLOAD_*` bits requested.
    pub tx_offloads: u64,
}

/// The operations of one device, implemented by each driver.
///
/// Generic over the pool the application passes to rx queue setup, and so over the
/// buffers the queues move: vpmd's own [`Mempool`] by default, DPDK's `rte_mempool` in
/// the plugin. Drivers implement it for every pool they can fill
/// (`impl<P: PktPool + Clone + 'static> EthDev<P> for MyDev`).
pub trait EthDev<P: PktPool = Mempool>: Send {
    /// Capabilities and limits.
    fn info(&self) -> DevInfo;
    /// Accepts the queue counts and configuration (already checked against `info`).
    fn configure(&mut self, nb_rxq: u16, nb_txq: u16, conf: &PortConf) -> Result<(), PmdError>;
    /// Builds rx queue `q` with `nb_desc` descriptors, filling buffers from `pool`.
    fn rx_queue_setup(
        &mut self,
        q: u16,
        nb_desc: u16,
        pool: &P,
        counters: Arc<RxCounters>,
    ) -> Result<Box<dyn RxQueue<P::Buf>>, PmdError>;
    /// Builds tx queue `q` with `nb_desc` descriptors.
    fn tx_queue_setup(
        &mut self,
        q: u16,
        nb_desc: u16,
        counters: Arc<TxCounters>,
    ) -> Result<Box<dyn TxQueue<P::Buf>>, PmdError>;
    /// Starts the device (queues become live when this returns). Software devices
    /// whose queues need nothing more keep the default.
    fn start(&mut self) -> Result<(), PmdError> {
        Ok(())
    }
    /// Stops the device (the port has already made its queue handles idle).
    fn stop(&mut self) -> Result<(), PmdError> {
        Ok(())
    }
    /// Releases the device's resources.
    fn close(&mut self) -> Result<(), PmdError> {
        Ok(())
    }
    /// Current link state.
    fn link(&self) -> Link;
    /// Driver-specific extended statistics, DPDK-style names.
    fn xstats(&self) -> Vec<(String, u64)> {
        Vec::new()
    }
}
