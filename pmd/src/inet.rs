//! The one Ethernet / IPv4 / IPv6 header walk of vpmd: the vhost offload mapping, the Xen
//! hash and vpmd-fwd's engines all start from [`l2`] and [`l3`].
//!
//! Works on bytes vpmd owns (a frame's first segment, or a copy of a guest frame's first
//! bytes). Every access is `get`-checked: a short or nonsense header is `None`, never a
//! panic. Nothing here trusts a length field beyond what the bytes hold: [`L3::payload`]
//! is the IP header's claim, for callers that go on to read that much.

/// Ethernet header length without tags.
pub const ETH_HLEN: usize = 14;
/// IPv4 header length without options.
pub const IPV4_HLEN: usize = 20;
/// IPv6 fixed header length.
pub const IPV6_HLEN: usize = 40;
/// UDP header length.
pub const UDP_HLEN: usize = 8;
/// TCP header length without options.
pub const TCP_HLEN: usize = 20;

/// EtherType of IPv4.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// EtherType of ARP.
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// EtherType of IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
/// EtherType of an 802.1Q VLAN tag.
const ETHERTYPE_VLAN: u16 = 0x8100;
/// EtherType of an 802.1ad (QinQ) service tag.
const ETHERTYPE_QINQ: u16 = 0x88a8;
/// One VLAN tag.
const VLAN_HLEN: usize = 4;

/// IP protocol number of ICMP.
pub const IPPROTO_ICMP: u8 = 1;
/// IP protocol number of TCP.
pub const IPPROTO_TCP: u8 = 6;
/// IP protocol number of UDP.
pub const IPPROTO_UDP: u8 = 17;
/// IPv6 extension headers [`L3::l4`] skips: hop-by-hop, routing, destination options.
const IPV6_EXT: [u8; 3] = [0, 43, 60];
/// IPv6 fragment header: L4 is not at a fixed place behind it.
const IPV6_FRAG: u8 = 44;

/// The big-endian `u16` at `off`.
#[inline]
pub fn be16(d: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*d.get(off)?, *d.get(off + 1)?]))
}

/// The L2 header length (Ethernet plus any VLAN/QinQ tags) and the EtherType after it.
#[inline]
pub fn l2(d: &[u8]) -> Option<(usize, u16)> {
    let mut off = ETH_HLEN;
    let mut ty = be16(d, off - 2)?;
    while ty == ETHERTYPE_VLAN || ty == ETHERTYPE_QINQ {
        off += VLAN_HLEN;
        ty = be16(d, off - 2)?;
    }
    Some((off, ty))
}

/// An IPv4 or IPv6 header whose fixed part (IPv4: with its options) is whole in the
/// frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L3 {
    /// Offset of the IP header.
    pub off: usize,
    /// Its length (IPv4 options included; IPv6 extension headers are not: see
    /// [`L3::l4`]).
    pub len: usize,
    /// Whether it is IPv6.
    pub v6: bool,
    /// The protocol of the next header.
    pub proto: u8,
    /// IPv4 fragment bits: more-fragments and the offset (0 when not a fragment, and
    /// for IPv6, whose fragments are an extension header).
    pub frag: u16,
    /// The header's length field: IPv4 total length, IPv6 payload length.
    length: u16,
}

impl L3 {
    /// Whether the L4 header follows (not a later IPv4 fragment).
    #[inline]
    pub fn has_l4_header(&self) -> bool {
        self.frag & 0x1fff == 0
    }

    /// Bytes after the IP header that the IP header says belong to it; `None` for an
    /// IPv4 total length shorter than the header.
    #[inline]
    pub fn payload(&self) -> Option<usize> {
        if self.v6 {
            Some(usize::from(self.length))
        } else {
            usize::from(self.length).checked_sub(self.len)
        }
    }

    /// The L4 protocol and the bytes from the IP header to it, past IPv6 hop-by-hop,
    /// routing and destination-options headers. The protocol is 0 for any fragment
    /// (its L4 header is not at a fixed place, or not in it); `None` if an extension
    /// header runs past `d`.
    #[inline]
    pub fn l4(&self, d: &[u8]) -> Option<(u8, usize)> {
        if !self.v6 {
            return Some((if self.frag != 0 { 0 } else { self.proto }, self.len));
        }
        let (mut next, mut len) = (self.proto, self.len);
        while IPV6_EXT.contains(&next) {
            let at = self.off + len;
            next = *d.get(at)?;
            len += (usize::from(*d.get(at + 1)?) + 1) * 8;
        }
        Some((if next == IPV6_FRAG { 0 } else { next }, len))
    }
}

/// The IP header at `off` for EtherType `ty`: IPv4 (version 4, a header length of at
/// least 20, all of it in `d`) or IPv6 (version 6, 40 bytes in `d`).
#[inline]
pub fn l3(d: &[u8], off: usize, ty: u16) -> Option<L3> {
    let b0 = *d.get(off)?;
    match ty {
        ETHERTYPE_IPV4 => {
            let len = usize::from(b0 & 0x0f) * 4;
            if b0 >> 4 != 4 || len < IPV4_HLEN || d.len() < off + len {
                return None;
            }
            Some(L3 {
                off,
                len,
                v6: false,
                proto: d[off + 9],
                frag: be16(d, off + 6)? & 0x3fff,
                length: be16(d, off + 2)?,
            })
        }
        ETHERTYPE_IPV6 if b0 >> 4 == 6 && d.len() >= off + IPV6_HLEN => Some(L3 {
            off,
            len: IPV6_HLEN,
            v6: true,
            proto: d[off + 6],
            frag: 0,
            length: be16(d, off + 4)?,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ethernet + VLAN + IPv4 (ihl 6, one option word, total 64) + TCP.
    fn tcp4_vlan() -> Vec<u8> {
        let mut f = vec![0xa5u8; 128];
        f[12..14].copy_from_slice(&ETHERTYPE_VLAN.to_be_bytes());
        f[16..18].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
        f[18] = 0x46;
        f[20..22].copy_from_slice(&64u16.to_be_bytes());
        f[24..26].copy_from_slice(&0x4000u16.to_be_bytes()); // DF, offset 0
        f[27] = IPPROTO_TCP;
        f
    }

    #[test]
    fn walks_vlan_and_ipv4_options() {
        let f = tcp4_vlan();
        let (off, ty) = l2(&f).unwrap();
        assert_eq!((off, ty), (18, ETHERTYPE_IPV4));
        let ip = l3(&f, off, ty).unwrap();
        assert_eq!(
            (ip.len, ip.v6, ip.proto, ip.frag),
            (24, false, IPPROTO_TCP, 0)
        );
        assert_eq!(ip.payload(), Some(40));
        assert_eq!(ip.l4(&f), Some((IPPROTO_TCP, 24)));
        assert!(ip.has_l4_header());
    }

    #[test]
    fn qinq_tags_are_skipped_and_short_frames_refused() {
        let mut f = [0u8; 22];
        f[12..14].copy_from_slice(&ETHERTYPE_VLAN.to_be_bytes());
        f[16..18].copy_from_slice(&ETHERTYPE_QINQ.to_be_bytes());
        f[20..22].copy_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
        assert_eq!(l2(&f), Some((22, ETHERTYPE_IPV6)));
        assert_eq!(l2(&f[..20]), None);
        assert_eq!(l3(&f, 22, ETHERTYPE_IPV6), None, "no room for the header");
    }

    #[test]
    fn walks_ipv6_extension_headers_and_stops_at_fragments() {
        let mut f = vec![0u8; 128];
        f[12..14].copy_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
        f[14] = 0x60;
        f[18..20].copy_from_slice(&30u16.to_be_bytes());
        f[20] = 0; // hop-by-hop
        f[54] = IPPROTO_UDP;
        f[55] = 0; // 8 bytes
        let ip = l3(&f, 14, ETHERTYPE_IPV6).unwrap();
        assert_eq!((ip.len, ip.proto, ip.payload()), (40, 0, Some(30)));
        assert_eq!(ip.l4(&f), Some((IPPROTO_UDP, 48)));
        f[54] = IPV6_FRAG;
        assert_eq!(ip.l4(&f), Some((0, 48)));
        assert_eq!(ip.l4(&f[..55]), None, "extension header cut off");
    }

    #[test]
    fn fragments_short_totals_truncations_and_garbage() {
        let mut f = tcp4_vlan();
        f[24] = 0x20; // MF
        let ip = l3(&f, 18, ETHERTYPE_IPV4).unwrap();
        assert_eq!(ip.l4(&f), Some((0, 24)));
        assert!(ip.has_l4_header(), "the first fragment carries L4");
        f[20..22].copy_from_slice(&10u16.to_be_bytes());
        assert_eq!(l3(&f, 18, ETHERTYPE_IPV4).unwrap().payload(), None);
        let f = tcp4_vlan();
        for n in 0..f.len() {
            let _ = l2(&f[..n]).map(|(o, t)| l3(&f[..n], o, t));
        }
        assert!(
            l3(&f[..41], 18, ETHERTYPE_IPV4).is_none(),
            "options cut off"
        );
        assert!(l2(&f[..17]).is_none());
        let mut bad = tcp4_vlan();
        bad[18] = 0x42; // ihl 2
        assert!(l3(&bad, 18, ETHERTYPE_IPV4).is_none());
        bad[18] = 0x65; // version 6 behind an IPv4 EtherType
        assert!(l3(&bad, 18, ETHERTYPE_IPV4).is_none());
        assert!(l3(&[0xa5; 64], 14, 0xa5a5).is_none());
    }
}
