//! Offload capability bits with DPDK's `RTE_ETH_{RX,TX}_OFFLOAD_*` values (rte_ethdev.h,
//! 22.11), so the plugin reports them without translation.

/// Rx: strip VLAN tags.
pub const RX_VLAN_STRIP: u64 = 1 << 0;
/// Rx: check IPv4 header checksums.
pub const RX_IPV4_CKSUM: u64 = 1 << 1;
/// Rx: check UDP checksums.
pub const RX_UDP_CKSUM: u64 = 1 << 2;
/// Rx: check TCP checksums.
pub const RX_TCP_CKSUM: u64 = 1 << 3;
/// Rx: coalesce TCP segments (LRO).
pub const RX_TCP_LRO: u64 = 1 << 4;
/// Rx: multi-segment packets.
pub const RX_SCATTER: u64 = 1 << 13;
/// Rx: report RSS hashes.
pub const RX_RSS_HASH: u64 = 1 << 19;

/// Tx: insert VLAN tags.
pub const TX_VLAN_INSERT: u64 = 1 << 0;
/// Tx: fill IPv4 header checksums.
pub const TX_IPV4_CKSUM: u64 = 1 << 1;
/// Tx: fill UDP checksums.
pub const TX_UDP_CKSUM: u64 = 1 << 2;
/// Tx: fill TCP checksums.
pub const TX_TCP_CKSUM: u64 = 1 << 3;
/// Tx: TCP segmentation.
pub const TX_TCP_TSO: u64 = 1 << 5;
/// Tx: multi-segment packets.
pub const TX_MULTI_SEGS: u64 = 1 << 15;

/// The name DPDK prints for one offload bit, for error messages.
pub fn name(rx: bool, bit: u64) -> &'static str {
    match (rx, bit) {
        (true, RX_VLAN_STRIP) => "vlan_strip",
        (true, RX_IPV4_CKSUM) => "ipv4_cksum",
        (true, RX_UDP_CKSUM) => "udp_cksum",
        (true, RX_TCP_CKSUM) => "tcp_cksum",
        (true, RX_TCP_LRO) => "tcp_lro",
        (true, RX_SCATTER) => "scatter",
        (true, RX_RSS_HASH) => "rss_hash",
        (false, TX_VLAN_INSERT) => "vlan_insert",
        (false, TX_IPV4_CKSUM) => "ipv4_cksum",
        (false, TX_UDP_CKSUM) => "udp_cksum",
        (false, TX_TCP_CKSUM) => "tcp_cksum",
        (false, TX_TCP_TSO) => "tcp_tso",
        (false, TX_MULTI_SEGS) => "multi_segs",
        _ => "unknown",
    }
}
