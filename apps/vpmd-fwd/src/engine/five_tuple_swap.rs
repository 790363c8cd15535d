//! `5tswap`: swap source and destination at every layer present: MAC, IPv4 or IPv6
//! address, TCP or UDP port (testpmd's 5tswap).
//!
//! Parsing stops at the first layer that is not one of these, or that the first segment
//! does not hold whole; a later IPv4 fragment has no ports to swap. Swapping the two halves of a pair leaves every checksum valid
//! (the sums are the same), so none is touched.

use vpmd_mempool::{Burst, Mbuf};

use super::inet::{l2, l3, IPPROTO_TCP, IPPROTO_UDP};
use super::{Engine, StreamCtx};
use crate::stream::StreamStats;

/// The 5tswap engine.
pub struct FiveTupleSwap;

/// Swaps the `n`-byte fields at `a` and `a + n`.
#[inline]
fn swap_pair(d: &mut [u8], a: usize, n: usize) {
    let (x, y) = d[a..a + 2 * n].split_at_mut(n);
    x.swap_with_slice(y);
}

/// Swaps what `d` holds of the 5-tuple.
#[inline]
fn swap(d: &mut [u8]) {
    if d.len() < 12 {
        return;
    }
    swap_pair(d, 0, 6);
    let Some(ip) = l2(d).and_then(|(off, ty)| l3(d, off, ty)) else {
        return;
    };
    if ip.v6 {
        swap_pair(d, ip.off + 8, 16);
    } else {
        swap_pair(d, ip.off + 12, 4);
    }
    let l4 = ip.off + ip.len;
    if (ip.proto == IPPROTO_TCP || ip.proto == IPPROTO_UDP)
        && ip.has_l4_header()
        && d.len() >= l4 + 4
    {
        swap_pair(d, l4, 2);
    }
}

impl Engine for FiveTupleSwap {
    const NAME: &'static str = "5tswap";

    fn new(_: &StreamCtx) -> Self {
        FiveTupleSwap
    }

    #[inline]
    fn fwd(&mut self, pkts: &mut Burst<Mbuf>, _ctx: &StreamCtx, _stats: &StreamStats) {
        for m in pkts.as_mut_slice() {
            if let Some(d) = m.data_mut() {
                swap(d);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{ctx, frame, packet};
    use super::*;

    const A: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];
    const B: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0b];

    fn eth(dst: [u8; 6], src: [u8; 6], ty: u16) -> Vec<u8> {
        let mut f = [dst, src].concat();
        f.extend_from_slice(&ty.to_be_bytes());
        f
    }

    fn ipv4(proto: u8, src: [u8; 4], dst: [u8; 4], l4: &[u8]) -> Vec<u8> {
        let mut h = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, proto, 0xab, 0xcd];
        h[2..4].copy_from_slice(&((20 + l4.len()) as u16).to_be_bytes());
        h.extend_from_slice(&src);
        h.extend_from_slice(&dst);
        h.extend_from_slice(l4);
        h
    }

    fn ipv6(proto: u8, src: [u8; 16], dst: [u8; 16], l4: &[u8]) -> Vec<u8> {
        let mut h = vec![0x60, 0, 0, 0];
        h.extend_from_slice(&(l4.len() as u16).to_be_bytes());
        h.extend_from_slice(&[proto, 64]);
        h.extend_from_slice(&src);
        h.extend_from_slice(&dst);
        h.extend_from_slice(l4);
        h
    }

    /// TCP/UDP header start: ports 1000 -> 2000, then recognisable bytes.
    const L4: [u8; 20] = [
        0x03, 0xe8, 0x07, 0xd0, 1, 2, 3, 4, 5, 6, 7, 8, 0x50, 9, 10, 11, 12, 13, 14, 15,
    ];
    const L4_SWAPPED: [u8; 20] = [
        0x07, 0xd0, 0x03, 0xe8, 1, 2, 3, 4, 5, 6, 7, 8, 0x50, 9, 10, 11, 12, 13, 14, 15,
    ];

    fn run(input: &[u8]) -> Vec<u8> {
        let c = ctx(&[64]);
        let mut pkts = Burst::with_capacity(4);
        pkts.push(packet(&c.pool, input)).unwrap();
        FiveTupleSwap.fwd(&mut pkts, &c, &StreamStats::default());
        frame(&pkts.as_slice()[0])
    }

    #[test]
    fn swaps_mac_ipv4_and_udp_exactly() {
        let mut f = eth(A, B, 0x0800);
        f.extend(ipv4(17, [10, 0, 0, 1], [10, 0, 0, 2], &L4));
        let mut want = eth(B, A, 0x0800);
        want.extend(ipv4(17, [10, 0, 0, 2], [10, 0, 0, 1], &L4_SWAPPED));
        assert_eq!(run(&f), want);
    }

    #[test]
    fn swaps_mac_ipv6_and_tcp_exactly() {
        let (s, d) = ([0x20; 16], [0xfe; 16]);
        let mut f = eth(A, B, 0x86dd);
        f.extend(ipv6(6, s, d, &L4));
        let mut want = eth(B, A, 0x86dd);
        want.extend(ipv6(6, d, s, &L4_SWAPPED));
        assert_eq!(run(&f), want);
    }

    #[test]
    fn swaps_behind_a_vlan_tag() {
        let mut f = eth(A, B, 0x8100);
        f.extend_from_slice(&[0x00, 0x05, 0x08, 0x00]);
        f.extend(ipv4(6, [1, 1, 1, 1], [2, 2, 2, 2], &L4));
        let mut want = eth(B, A, 0x8100);
        want.extend_from_slice(&[0x00, 0x05, 0x08, 0x00]);
        want.extend(ipv4(6, [2, 2, 2, 2], [1, 1, 1, 1], &L4_SWAPPED));
        assert_eq!(run(&f), want);
    }

    #[test]
    fn stops_at_the_first_unknown_layer() {
        // ICMP: addresses swap, the bytes after the IP header do not.
        let mut f = eth(A, B, 0x0800);
        f.extend(ipv4(1, [1, 1, 1, 1], [2, 2, 2, 2], &L4));
        let mut want = eth(B, A, 0x0800);
        want.extend(ipv4(1, [2, 2, 2, 2], [1, 1, 1, 1], &L4));
        assert_eq!(run(&f), want);
        // ARP: only the MACs.
        let mut f = eth(A, B, 0x0806);
        f.extend_from_slice(&[7; 28]);
        let mut want = eth(B, A, 0x0806);
        want.extend_from_slice(&[7; 28]);
        assert_eq!(run(&f), want);
        // A later fragment: its first bytes are data, not ports.
        let mut frag = ipv4(17, [1, 1, 1, 1], [2, 2, 2, 2], &L4);
        frag[6..8].copy_from_slice(&[0x00, 0xb9]);
        let mut f = eth(A, B, 0x0800);
        f.extend_from_slice(&frag);
        frag[12..20].rotate_left(4);
        let mut want = eth(B, A, 0x0800);
        want.extend(frag);
        assert_eq!(run(&f), want);
        // An IPv4 header cut short: only the MACs.
        let mut f = eth(A, B, 0x0800);
        f.extend_from_slice(&[0x45, 0, 0, 40, 0, 0]);
        let mut want = eth(B, A, 0x0800);
        want.extend_from_slice(&[0x45, 0, 0, 40, 0, 0]);
        assert_eq!(run(&f), want);
    }
}
