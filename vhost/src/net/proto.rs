//! Where a frame's L3 and L4 start and how long the L4 header is: the offload mapping's
//! view of [`vpmd_pmd::inet`]'s header walk.
//!
//! Works on a copy of the frame's first bytes that vpmd owns (never on guest memory); a
//! truncated or nonsense header is `None` or an unknown L4, never a panic.

use vpmd_pmd::inet::{l2, l3, TCP_HLEN, UDP_HLEN};
pub(crate) use vpmd_pmd::inet::{IPPROTO_TCP, IPPROTO_UDP};

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

/// Walks the headers of an Ethernet frame carrying IPv4 or IPv6; `None` for anything else.
pub(crate) fn parse(f: &[u8]) -> Option<Layers> {
    let (l2_len, ty) = l2(f)?;
    let ip = l3(f, l2_len, ty)?;
    let (proto, l3_len) = ip.l4(f)?;
    let l4 = l2_len + l3_len;
    let (l4_proto, l4_len) = match proto {
        IPPROTO_TCP => match f.get(l4 + 12) {
            Some(&b) if usize::from(b >> 4) * 4 >= TCP_HLEN => {
                (IPPROTO_TCP, usize::from(b >> 4) * 4)
            }
            _ => (0, 0),
        },
        IPPROTO_UDP => (IPPROTO_UDP, UDP_HLEN),
        _ => (0, 0),
    };
    Some(Layers {
        l2_len,
        l3_len,
        ipv4: !ip.v6,
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
        f[12..14].copy_from_slice(&0x8100u16.to_be_bytes());
        f[16..18].copy_from_slice(&0x0800u16.to_be_bytes());
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
        f[12..14].copy_from_slice(&0x86ddu16.to_be_bytes());
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
