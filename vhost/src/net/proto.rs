//! The Ethernet / IPv4 / IPv6 / TCP / UDP header walk that offload mapping needs: where
//! L3 and L4 start and how long the L4 header is.
//!
//! Works on a copy of the frame's first bytes that vpmd owns (never on guest memory), and
//! every access is `get`-checked: a truncated or nonsense header is `None` or an unknown
//! L4, never a panic.

/// EtherType of IPv4.
const ETH_P_IP: u16 = 0x0800;
/// EtherType of IPv6.
const ETH_P_IPV6: u16 = 0x86dd;
/// EtherType of an 802.1Q VLAN tag.
const ETH_P_8021Q: u16 = 0x8100;
/// EtherType of an 802.1ad (QinQ) service tag.
const ETH_P_8021AD: u16 = 0x88a8;
/// Ethernet header without tags.
const ETH_HLEN: usize = 14;
/// One VLAN tag.
const VLAN_HLEN: usize = 4;
/// Fixed IPv6 header.
const IPV6_HLEN: usize = 40;
/// IPv4 header without options.
const IPV4_MIN_HLEN: usize = 20;
/// IP protocol number of TCP.
pub(crate) const IPPROTO_TCP: u8 = 6;
/// IP protocol number of UDP.
pub(crate) const IPPROTO_UDP: u8 = 17;
/// IPv6 extension headers skipped on the way to L4: hop-by-hop, routing, destination.
const IPV6_EXT: [u8; 3] = [0, 43, 60];
/// IPv6 fragment header: L4 is not at a fixed place behind it.
const IPV6_FRAG: u8 = 44;
/// Bytes of a UDP header.
const UDP_HLEN: usize = 8;
/// Offset of the checksum in a TCP header.
pub(crate) const TCP_CSUM_OFF: u16 = 16;
/// Offset of the checksum in a UDP header.
pub(crate) const UDP_CSUM_OFF: u16 = 6;
/// Offset of the header checksum in an IPv4 header.
pub(crate) const IPV4_CSUM_OFF: usize = 10;

/// Where a frame's layers start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layers {
    /// Bytes of the Ethernet header with its VLAN tags (L3 starts here).
    pub(crate) l2_len: usize,
    /// Bytes of the IP header with IPv6 extension headers (L4 starts at `l2 + l3`).
    pub(crate) l3_len: usize,
    /// IPv4 (else IPv6).
    pub(crate) ipv4: bool,
    /// `IPPROTO_TCP`, `IPPROTO_UDP`, or 0: unknown, or a fragment.
    pub(crate) l4_proto: u8,
    /// Bytes of the TCP or UDP header (0 when `l4_proto` is 0).
    pub(crate) l4_len: usize,
}

impl Layers {
    /// Where L4 starts.
    pub(crate) fn l4_start(&self) -> usize {
        self.l2_len + self.l3_len
    }
}

#[inline]
fn be16(f: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*f.get(at)?, *f.get(at + 1)?]))
}

/// Walks the headers of an Ethernet frame carrying IPv4 or IPv6; `None` for anything else.
pub(crate) fn parse(f: &[u8]) -> Option<Layers> {
    let mut l2 = ETH_HLEN;
    let mut ether_type = be16(f, l2 - 2)?;
    for _ in 0..2 {
        if ether_type == ETH_P_8021Q || ether_type == ETH_P_8021AD {
            l2 += VLAN_HLEN;
            ether_type = be16(f, l2 - 2)?;
        }
    }
    let (ipv4, l3, proto) = match ether_type {
        ETH_P_IP => {
            let b0 = *f.get(l2)?;
            let ihl = (b0 & 0xf) as usize * 4;
            if b0 >> 4 != 4 || ihl < IPV4_MIN_HLEN {
                return None;
            }
            let fragment = be16(f, l2 + 6)? & 0x3fff != 0;
            let proto = if fragment { 0 } else { *f.get(l2 + 9)? };
            (true, ihl, proto)
        }
        ETH_P_IPV6 => {
            if f.get(l2)? >> 4 != 6 {
                return None;
            }
            let mut next = *f.get(l2 + 6)?;
            let mut l3 = IPV6_HLEN;
            while IPV6_EXT.contains(&next) {
                let at = l2 + l3;
                next = *f.get(at)?;
                l3 += (*f.get(at + 1)? as usize + 1) * 8;
            }
            let proto = if next == IPV6_FRAG { 0 } else { next };
            (false, l3, proto)
        }
        _ => return None,
    };
    let l4 = l2 + l3;
    let (l4_proto, l4_len) = match proto {
        IPPROTO_TCP => match f.get(l4 + 12) {
            Some(&b) if (b >> 4) as usize * 4 >= 20 => (IPPROTO_TCP, (b >> 4) as usize * 4),
            _ => (0, 0),
        },
        IPPROTO_UDP => (IPPROTO_UDP, UDP_HLEN),
        _ => (0, 0),
    };
    Some(Layers {
        l2_len: l2,
        l3_len: l3,
        ipv4,
        l4_proto,
        l4_len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ethernet + VLAN + IPv4 (ihl 6, one option word) + TCP (doff 8).
    fn tcp4_vlan() -> Vec<u8> {
        let mut f = vec![0xa5u8; 128];
        f[12..14].copy_from_slice(&ETH_P_8021Q.to_be_bytes());
        f[16..18].copy_from_slice(&ETH_P_IP.to_be_bytes());
        f[18] = 0x46;
        f[18 + 6..18 + 8].copy_from_slice(&0x4000u16.to_be_bytes()); // DF, offset 0
        f[18 + 9] = IPPROTO_TCP;
        f[18 + 24 + 12] = 8 << 4;
        f
    }

    #[test]
    fn walks_vlan_ipv4_options_and_tcp() {
        let l = parse(&tcp4_vlan()).unwrap();
        assert_eq!(
            l,
            Layers {
                l2_len: 18,
                l3_len: 24,
                ipv4: true,
                l4_proto: IPPROTO_TCP,
                l4_len: 32
            }
        );
        assert_eq!(l.l4_start(), 42);
    }

    #[test]
    fn walks_ipv6_extension_headers_to_udp() {
        let mut f = vec![0u8; 128];
        f[12..14].copy_from_slice(&ETH_P_IPV6.to_be_bytes());
        f[14] = 0x60;
        f[14 + 6] = 0; // hop-by-hop
        f[54] = IPPROTO_UDP;
        f[55] = 0; // 8 bytes
        let l = parse(&f).unwrap();
        assert_eq!((l.l2_len, l.l3_len, l.ipv4), (14, 48, false));
        assert_eq!((l.l4_proto, l.l4_len), (IPPROTO_UDP, 8));
    }

    #[test]
    fn fragments_truncations_and_garbage_are_not_l4() {
        let mut f = tcp4_vlan();
        f[18 + 6] = 0x20; // MF
        assert_eq!(parse(&f).unwrap().l4_proto, 0);
        let f = tcp4_vlan();
        for n in 0..f.len() {
            let _ = parse(&f[..n]);
        }
        assert!(parse(&f[..17]).is_none());
        assert!(parse(&[0xa5; 64]).is_none());
        let mut bad = tcp4_vlan();
        bad[18] = 0x42; // ihl 2
        assert!(parse(&bad).is_none());
    }
}
