//! Header offsets and checksums (over [`vpmd_pmd::csum`], RFC 1071) for the engines that
//! look past Ethernet: 5tswap, csum, icmpecho, flowgen and txonly.
//!
//! Works on the bytes of a frame's first segment. Every function checks lengths first and
//! answers `None` on a short or malformed frame; none panics on packet contents.

use vpmd_mempool::Mbuf;
pub use vpmd_pmd::csum::{sum, Csum};

/// Ethernet header length.
pub const ETH_LEN: usize = 14;
/// IPv4 header length without options.
pub const IPV4_LEN: usize = 20;
/// IPv6 fixed header length.
pub const IPV6_LEN: usize = 40;
/// UDP header length.
pub const UDP_LEN: usize = 8;
/// TCP header length without options.
pub const TCP_LEN: usize = 20;

/// EtherType of IPv4.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// EtherType of ARP.
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// EtherType of IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
/// EtherType of an 802.1Q VLAN tag.
const ETHERTYPE_VLAN: u16 = 0x8100;
/// EtherType of an 802.1ad (QinQ) outer tag.
const ETHERTYPE_QINQ: u16 = 0x88a8;

/// IP protocol number of ICMP.
pub const IPPROTO_ICMP: u8 = 1;
/// IP protocol number of TCP.
pub const IPPROTO_TCP: u8 = 6;
/// IP protocol number of UDP.
pub const IPPROTO_UDP: u8 = 17;

/// Ethernet + IPv4 + UDP header bytes of generated packets.
pub const UDP4_HDR_LEN: usize = ETH_LEN + IPV4_LEN + UDP_LEN;

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
    let ip_len = total.saturating_sub(ETH_LEN as u16);
    let ip = &mut h[ETH_LEN..ETH_LEN + IPV4_LEN];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&ip_len.to_be_bytes());
    ip[8] = 64; // TTL
    ip[9] = IPPROTO_UDP;
    ip[12..16].copy_from_slice(&flow.src_ip);
    ip[16..20].copy_from_slice(&flow.dst_ip);
    set_ipv4_checksum(ip);
    let udp = &mut h[ETH_LEN + IPV4_LEN..];
    udp[0..2].copy_from_slice(&flow.src_port.to_be_bytes());
    udp[2..4].copy_from_slice(&flow.dst_port.to_be_bytes());
    udp[4..6].copy_from_slice(&ip_len.saturating_sub(IPV4_LEN as u16).to_be_bytes());
    h
}

/// The big-endian `u16` at `off`.
#[inline]
pub fn be16(d: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*d.get(off)?, *d.get(off + 1)?]))
}

/// The L2 header length (Ethernet plus any VLAN/QinQ tags) and the EtherType after it.
#[inline]
pub fn l2(d: &[u8]) -> Option<(usize, u16)> {
    let mut off = ETH_LEN;
    let mut ty = be16(d, 12)?;
    while ty == ETHERTYPE_VLAN || ty == ETHERTYPE_QINQ {
        ty = be16(d, off + 2)?;
        off += 4;
    }
    Some((off, ty))
}

/// An IPv4 or IPv6 header found at `l3` (an offset into the frame).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L3 {
    /// Offset of the IP header.
    pub off: usize,
    /// Its length (IPv4 options included; IPv6 extension headers are not parsed).
    pub len: usize,
    /// Whether it is IPv6.
    pub v6: bool,
    /// The protocol of the next header.
    pub proto: u8,
    /// Bytes after the IP header that the IP header says belong to it.
    pub payload: usize,
    /// IPv4 fragment bits: more-fragments and the offset (0 when not a fragment, and
    /// for IPv6, whose fragments are an extension header).
    pub frag: u16,
}

impl L3 {
    /// Whether the L4 header follows (not a later IPv4 fragment).
    #[inline]
    pub fn has_l4_header(&self) -> bool {
        self.frag & 0x1fff == 0
    }
}

/// The IP header at `off` for EtherType `ty`, when it is whole in `d`.
#[inline]
pub fn l3(d: &[u8], off: usize, ty: u16) -> Option<L3> {
    match ty {
        ETHERTYPE_IPV4 => {
            let ihl = usize::from(*d.get(off)? & 0x0f) * 4;
            let total = usize::from(be16(d, off + 2)?);
            if ihl < IPV4_LEN || d.len() < off + ihl || total < ihl {
                return None;
            }
            Some(L3 {
                off,
                len: ihl,
                v6: false,
                proto: d[off + 9],
                payload: total - ihl,
                frag: u16::from_be_bytes([d[off + 6], d[off + 7]]) & 0x3fff,
            })
        }
        ETHERTYPE_IPV6 if d.len() >= off + IPV6_LEN => Some(L3 {
            off,
            len: IPV6_LEN,
            v6: true,
            proto: d[off + 6],
            payload: usize::from(be16(d, off + 4)?),
            frag: 0,
        }),
        _ => None,
    }
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

    #[test]
    fn vlan_tags_are_skipped_and_short_frames_refused() {
        let mut f = [0u8; 22];
        f[12..14].copy_from_slice(&ETHERTYPE_VLAN.to_be_bytes());
        f[16..18].copy_from_slice(&ETHERTYPE_QINQ.to_be_bytes());
        f[20..22].copy_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
        assert_eq!(l2(&f), Some((22, ETHERTYPE_IPV6)));
        assert_eq!(l2(&f[..20]), None);
        assert_eq!(l3(&f, 22, ETHERTYPE_IPV6), None, "no room for the header");
    }
}
