//! Offload flags with DPDK's `RTE_MBUF_F_*` bit values (rte_mbuf_core.h, DPDK 22.11).
//!
//! The values are DPDK's, not just the meanings, so the DPDK plugin copies `ol_flags`
//! between `Mbuf` and `rte_mbuf` without a translation table.

/// The rx frame carries a VLAN tag in `vlan_tci`.
pub const RX_VLAN: u64 = 1 << 0;
/// `rss_hash` holds a valid RSS hash.
pub const RX_RSS_HASH: u64 = 1 << 1;
/// The L4 checksum is known to be wrong.
pub const RX_L4_CKSUM_BAD: u64 = 1 << 3;
/// The IP checksum is known to be wrong.
pub const RX_IP_CKSUM_BAD: u64 = 1 << 4;
/// The VLAN tag was stripped into `vlan_tci`.
pub const RX_VLAN_STRIPPED: u64 = 1 << 6;
/// The IP checksum is known to be right.
pub const RX_IP_CKSUM_GOOD: u64 = 1 << 7;
/// The L4 checksum is known to be right.
pub const RX_L4_CKSUM_GOOD: u64 = 1 << 8;
/// The IP checksum is not filled in but the packet is intact (`BAD | GOOD`).
pub const RX_IP_CKSUM_NONE: u64 = RX_IP_CKSUM_BAD | RX_IP_CKSUM_GOOD;
/// The L4 checksum is not filled in but the data is intact (`BAD | GOOD`).
pub const RX_L4_CKSUM_NONE: u64 = RX_L4_CKSUM_BAD | RX_L4_CKSUM_GOOD;
/// Mask of the two IP checksum status bits.
pub const RX_IP_CKSUM_MASK: u64 = RX_IP_CKSUM_NONE;
/// Mask of the two L4 checksum status bits.
pub const RX_L4_CKSUM_MASK: u64 = RX_L4_CKSUM_NONE;
/// The frame was coalesced by LRO/GRO; `tso_segsz` holds the segment size.
pub const RX_LRO: u64 = 1 << 16;

/// TCP segmentation offload requested (`tso_segsz`, `l2/l3/l4_len` set).
pub const TX_TCP_SEG: u64 = 1 << 50;
/// UDP segmentation offload requested.
pub const TX_UDP_SEG: u64 = 1 << 42;
/// No L4 checksum offload.
pub const TX_L4_NO_CKSUM: u64 = 0;
/// TCP checksum offload requested.
pub const TX_TCP_CKSUM: u64 = 1 << 52;
/// SCTP checksum offload requested.
pub const TX_SCTP_CKSUM: u64 = 2 << 52;
/// UDP checksum offload requested.
pub const TX_UDP_CKSUM: u64 = 3 << 52;
/// Mask of the two-bit L4 checksum request field.
pub const TX_L4_MASK: u64 = 3 << 52;
/// IPv4 header checksum offload requested.
pub const TX_IP_CKSUM: u64 = 1 << 54;
/// The packet is IPv4 (needed with checksum/TSO offloads).
pub const TX_IPV4: u64 = 1 << 55;
/// The packet is IPv6 (needed with checksum/TSO offloads).
pub const TX_IPV6: u64 = 1 << 56;
/// Insert `vlan_tci` as a VLAN tag on transmit.
pub const TX_VLAN: u64 = 1 << 57;

/// The buffer is attached from another mbuf (a clone).
pub const INDIRECT: u64 = 1 << 62;
/// The buffer is external memory (an [`ExtBuf`](crate::ExtBuf) segment).
pub const EXTERNAL: u64 = 1 << 61;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_match_dpdk_22_11() {
        // Spot checks against rte_mbuf_core.h; a wrong shift here would corrupt the plugin.
        assert_eq!(RX_L4_CKSUM_NONE, 0x108);
        assert_eq!(RX_IP_CKSUM_NONE, 0x90);
        assert_eq!(TX_TCP_SEG, 0x0004_0000_0000_0000);
        assert_eq!(TX_UDP_CKSUM, 0x0030_0000_0000_0000);
        assert_eq!(INDIRECT, 0x4000_0000_0000_0000);
        assert_eq!(EXTERNAL, 0x2000_0000_0000_0000);
    }
}
