//! vpmd's built-in drivers, modelled on DPDK's `net_null` and `net_ring`.

pub mod null;
pub mod ring;

/// A locally administered MAC address for a software port: 02:76:70:6d:00:<port>.
pub(crate) fn port_mac(port_id: u16) -> [u8; 6] {
    let [hi, lo] = port_id.to_be_bytes();
    [0x02, 0x76, 0x70, 0x6d, hi, lo]
}
