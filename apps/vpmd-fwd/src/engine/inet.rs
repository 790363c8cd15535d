//! Headers and checksums for the engines that look past Ethernet (5tswap, csum, icmpecho,
//! flowgen, txonly): the packet templates here, the header walk of [`vpmd_pmd::inet`] and
//! the checksum of [`vpmd_pmd::csum`] (RFC 1071).
//!
//! Works on the bytes of a frame's first segment. Every function checks lengths first and
//! answers `None` on a short or malformed frame; none panics on packet contents.

use vpmd_mempool::Mbuf;
pub use vpmd_pmd::csum::{sum, Csum};
pub use vpmd_pmd::inet::{
    be16, l2, l3, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETH_HLEN, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP,
    IPV4_HLEN, L3, TCP_HLEN, UDP_HLEN,
};

/// Ethernet + IPv4 + UDP header bytes of generated packets.
pub const UDP4_HDR_LEN: usize = ETH_HLEN + IPV4_HLEN + UDP_HLEN;

/// The addresses and ports of a generated UDP/IPv4 flow.
#[derive(Debug, Clone, Copy)]
pub struct Udp4Flow {
    /// Destination MAC.
    pub dst_mac: [u8; 6],
    /// Source MAC.
    pub src_mac: [u8; 6],
    /// Source IPv4 address.
    pub src_ip: [u8; 4],
    /// Destination IPv4 address.
    pub dst_ip: [u8; 4],
    /// UDP source port.
    pub src_port: u16,
    /// UDP destination port.
    pub dst_port: u16,
}

/// Ethernet, IPv4 (TTL 64, valid checksum) and UDP (no checksum) headers of a `total`-byte
/// frame of `flow`.
pub fn udp4_header(flow: &Udp4Flow, total: u16) -> [u8; UDP4_HDR_LEN] {
    let mut h = [0u8; UDP4_HDR_LEN];
    h[..6].copy_from_slice(&flow.dst_mac);
    h[6..12].copy_from_slice(&flow.src_mac);
    h[12..14].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
    let ip_len = total.saturating_sub(ETH_HLEN as u16);
    let ip = &mut h[ETH_HLEN..ETH_HLEN + IPV4_HLEN];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&ip_len.to_be_bytes());
    ip[8] = 64; // TTL
    ip[9] = IPPROTO_UDP;
    ip[12..16].copy_from_slice(&flow.src_ip);
    ip[16..20].copy_from_slice(&flow.dst_ip);
    set_ipv4_checksum(ip);
    let udp = &mut h[ETH_HLEN + IPV4_HLEN..];
    udp[0..2].copy_from_slice(&flow.src_port.to_be_bytes());
    udp[2..4].copy_from_slice(&flow.dst_port.to_be_bytes());
    udp[4..6].copy_from_slice(&ip_len.saturating_sub(IPV4_HLEN as u16).to_be_bytes());
    h
}

/// The IPv4 header checksum of `hdr` (whose checksum field is included and ignored).
#[inline]
pub fn ipv4_checksum(hdr: &[u8]) -> u16 {
    sum(hdr).without(be16(hdr, 10).unwrap_or(0)).checksum()
}

/// Writes the right checksum into the IPv4 header `hdr` (20 bytes or more).
#[inline]
pub fn set_ipv4_checksum(hdr: &mut [u8]) {
    let c = ipv4_checksum(hdr);
    hdr[10..12].copy_from_slice(&c.to_be_bytes());
}

/// The TCP/UDP pseudo-header sum for the IP header `ip` and `l4_len` bytes of L4 data.
#[inline]
pub fn pseudo(ip: &[u8], l3: &L3, l4_len: usize) -> Csum {
    let mut s = if l3.v6 {
        sum(&ip[8..40])
    } else {
        sum(&ip[12..20])
    };
    s.word(u16::from(l3.proto));
    // The length is 16 bits for IPv4 and 32 for IPv6; both are taken from 16-bit fields.
    s.word(l4_len as u16);
    s
}

/// `s` plus `len` bytes of `m` from `off` on, across segments; `None` if the packet is
/// shorter.
pub fn packet_sum(m: &Mbuf, off: usize, len: usize, mut s: Csum) -> Option<Csum> {
    let end = off.checked_add(len)?;
    if (m.pkt_len() as usize) < end {
        return None;
    }
    s.add_packet(m, off as u32, end as u32);
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_header_of_a_known_packet() {
        // 192.168.0.1 -> 192.168.0.199, UDP, checksum 0xb861 (a textbook example).
        let h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(ipv4_checksum(&h), 0xb861);
        assert!(sum(&h).without(0xb861).verifies(0xb861));
        assert!(!sum(&h).without(0xb861).verifies(0xb862));
    }
}
