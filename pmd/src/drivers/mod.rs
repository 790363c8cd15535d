//! vpmd's built-in drivers, modelled on DPDK's `net_null` and `net_ring`.

pub mod null;
pub mod ring;

use crate::dev::{DevInfo, Link, PortConf};

/// What the software drivers share: a port id, an MTU, a made-up MAC, a link that is
/// always up.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SoftPort {
    pub(crate) port_id: u16,
    mtu: u16,
}

impl SoftPort {
    pub(crate) fn new(port_id: u16) -> Self {
        Self { port_id, mtu: 1500 }
    }

    /// The device info of a software port with these queue and descriptor limits.
    pub(crate) fn info(&self, driver: &'static str, max_queues: u16, desc: (u16, u16)) -> DevInfo {
        let [hi, lo] = self.port_id.to_be_bytes();
        DevInfo {
            driver,
            max_rx_queues: max_queues,
            max_tx_queues: max_queues,
            min_desc: desc.0,
            max_desc: desc.1,
            mtu: self.mtu,
            min_mtu: 68,
            max_mtu: 9000,
            max_rx_pktlen: 9018,
            rx_offload_capa: 0,
            tx_offload_capa: crate::offload::TX_MULTI_SEGS,
            // Locally administered: 02:76:70:6d:<port>.
            mac: [0x02, 0x76, 0x70, 0x6d, hi, lo],
        }
    }

    /// Takes the MTU from a configuration.
    pub(crate) fn configure(&mut self, conf: &PortConf) {
        self.mtu = conf.mtu.unwrap_or(self.mtu);
    }

    /// Always up, reported as 10G like DPDK's software PMDs.
    pub(crate) fn link(&self) -> Link {
        Link {
            up: true,
            speed_mbps: 10_000,
            full_duplex: true,
        }
    }
}
