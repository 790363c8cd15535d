//! `icmpecho`: answer ARP requests and ICMP echo requests, drop everything else
//! (testpmd's icmpecho), so a guest can ping the app.
//!
//! ARP (Ethernet/IPv4) requests for any address get a reply from the tx port's MAC. IPv4
//! echo requests come back with MACs and addresses swapped (a multicast destination is
//! answered from a unicast source next to the requester's, as testpmd), type 0 and the
//! ICMP checksum updated incrementally (RFC 1624), which is valid when the request's was.
//! Dropped frames go back to the pool.

use vpmd_mempool::{Burst, Mbuf};

use super::inet::{
    be16, l2, l3, set_ipv4_checksum, Csum, ETHERTYPE_ARP, ETHERTYPE_IPV4, IPPROTO_ICMP,
};
use super::{Engine, StreamCtx};
use crate::stream::StreamStats;

const ARP_LEN: usize = 28;
const ARP_HRD_ETHER: u16 = 1;
const ARP_OP_REQUEST: u16 = 1;
const ARP_OP_REPLY: u16 = 2;
const ICMP_ECHO_REQUEST: u8 = 8;
const ICMP_ECHO_REPLY: u8 = 0;

/// The icmpecho engine.
pub struct IcmpEcho;

/// Turns an ARP request at `a` into its reply from `mac`; false if it is not one.
fn arp_reply(d: &mut [u8], a: usize, mac: &[u8; 6]) -> bool {
    if d.len() < a + ARP_LEN
        || be16(d, a) != Some(ARP_HRD_ETHER)
        || be16(d, a + 2) != Some(ETHERTYPE_IPV4)
        || d[a + 4] != 6
        || d[a + 5] != 4
        || be16(d, a + 6) != Some(ARP_OP_REQUEST)
    {
        return false;
    }
    d.copy_within(6..12, 0);
    d[6..12].copy_from_slice(mac);
    d[a + 6..a + 8].copy_from_slice(&ARP_OP_REPLY.to_be_bytes());
    // Sender (hardware, IP) at 8..18, target at 18..28: the requester becomes the target,
    // the port the sender of the address asked about.
    d.copy_within(a + 8..a + 14, a + 18);
    d[a + 8..a + 14].copy_from_slice(mac);
    let (sip, tip) = d[a + 14..a + 28].split_at_mut(10);
    sip[..4].swap_with_slice(&mut tip[..4]);
    true
}

/// Turns an ICMP echo request into its reply; false if it is not one.
fn echo_reply(d: &mut [u8], ip_off: usize, ty: u16) -> bool {
    // Only whole datagrams: a reply to one fragment would not reassemble.
    let Some(ip) =
        l3(d, ip_off, ty).filter(|ip| !ip.v6 && ip.proto == IPPROTO_ICMP && ip.frag == 0)
    else {
        return false;
    };
    let icmp = ip.off + ip.len;
    if d.len() < icmp + 4 || d[icmp] != ICMP_ECHO_REQUEST || d[icmp + 1] != 0 {
        return false;
    }
    let (dst, src) = d[..12].split_at_mut(6);
    dst.swap_with_slice(src);
    let h = &mut d[ip.off..icmp];
    let requester = u32::from_be_bytes([h[12], h[13], h[14], h[15]]);
    if h[16] & 0xf0 == 0xe0 {
        // Never answer from a multicast address: pick a unicast neighbour of the
        // requester (testpmd's rule), which changes the header checksum.
        let src = requester & !3 | if requester & 3 == 1 { 2 } else { 1 };
        h[12..16].copy_from_slice(&src.to_be_bytes());
        h[16..20].copy_from_slice(&requester.to_be_bytes());
        set_ipv4_checksum(h);
    } else {
        // A swap keeps the header sum, and so its checksum.
        let (s, t) = h[12..20].split_at_mut(4);
        s.swap_with_slice(t);
    }
    d[icmp] = ICMP_ECHO_REPLY;
    // RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), m the type/code word.
    let mut s = Csum::default();
    s.word(!be16(d, icmp + 2).unwrap_or(0));
    s.word(!(u16::from(ICMP_ECHO_REQUEST) << 8));
    s.word(u16::from(ICMP_ECHO_REPLY) << 8);
    d[icmp + 2..icmp + 4].copy_from_slice(&s.checksum().to_be_bytes());
    true
}

/// Turns `frame`, an ARP request (for any address) or an ICMP echo request, into its
/// reply in place, answering ARP as `mac`; false if it is neither. The engine's whole
/// logic on one frame, also what the `qemu` demo's simulated Xen guest answers pings with.
pub fn answer_ping(frame: &mut [u8], mac: &[u8; 6]) -> bool {
    match l2(frame) {
        Some((off, ETHERTYPE_ARP)) => arp_reply(frame, off, mac),
        Some((off, ty)) => echo_reply(frame, off, ty),
        None => false,
    }
}

/// Makes `m` its reply; false if it gets none (and is to be dropped).
fn reply(m: &mut Mbuf, mac: &[u8; 6]) -> bool {
    m.data_mut().is_some_and(|d| answer_ping(d, mac))
}

impl Engine for IcmpEcho {
    const NAME: &'static str = "icmpecho";

    fn new(_: &StreamCtx) -> Self {
        IcmpEcho
    }

    #[inline]
    fn fwd(&mut self, pkts: &mut Burst<Mbuf>, ctx: &StreamCtx, _stats: &StreamStats) {
        pkts.retain_mut(|m| reply(m, &ctx.tx_mac));
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{ctx, frame, naive, packet};
    use super::*;

    const GUEST: [u8; 6] = [0x00, 0x16, 0x3e, 0, 0, 3];
    const PORT: [u8; 6] = [2, 0, 0, 0, 0, 0xaa];

    fn arp(op: u16, sha: [u8; 6], sip: [u8; 4], tha: [u8; 6], tip: [u8; 4]) -> Vec<u8> {
        let mut f = [[0xff; 6], sha].concat();
        f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4]);
        f.extend_from_slice(&op.to_be_bytes());
        for part in [&sha[..], &sip, &tha, &tip] {
            f.extend_from_slice(part);
        }
        f
    }

    /// An echo request from 10.0.0.3 to `dst`, both checksums right.
    fn ping(dst: [u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut f = [PORT, GUEST].concat();
        f.extend_from_slice(&[0x08, 0x00]);
        let mut ip = vec![0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 64, 1, 0, 0, 10, 0, 0, 3];
        ip.extend_from_slice(&dst);
        ip[2..4].copy_from_slice(&((28 + payload.len()) as u16).to_be_bytes());
        let c = naive(&ip);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        let mut icmp = vec![8, 0, 0, 0, 0xbe, 0xef, 0, 1];
        icmp.extend_from_slice(payload);
        let c = naive(&icmp);
        icmp[2..4].copy_from_slice(&c.to_be_bytes());
        f.extend(ip);
        f.extend(icmp);
        f
    }

    /// Runs icmpecho on `frames`; returns what it sends.
    fn run(frames: &[Vec<u8>]) -> Vec<Vec<u8>> {
        run_on(&ctx(&[64]), frames)
    }

    fn run_on(c: &StreamCtx, frames: &[Vec<u8>]) -> Vec<Vec<u8>> {
        let mut b = Burst::with_capacity(32);
        for f in frames {
            b.push(packet(&c.pool, f)).unwrap();
        }
        IcmpEcho.fwd(&mut b, c, &StreamStats::default());
        b.as_slice().iter().map(frame).collect()
    }

    #[test]
    fn arp_request_for_any_address_gets_a_reply_from_the_port() {
        let req = arp(1, GUEST, [10, 0, 0, 3], [0; 6], [10, 0, 0, 99]);
        let got = run(&[req]);
        assert_eq!(got.len(), 1);
        let want = {
            let mut f = [GUEST, PORT].concat();
            f.extend_from_slice(&[0x08, 0x06]);
            f.extend(&arp(2, PORT, [10, 0, 0, 99], GUEST, [10, 0, 0, 3])[14..]);
            f
        };
        assert_eq!(got[0], want);
    }

    #[test]
    fn echo_request_gets_a_reply_with_a_valid_checksum() {
        let got = run(&[ping([10, 0, 0, 1], b"abcdefghijklmnopqrstuvw")]);
        assert_eq!(got.len(), 1);
        let r = &got[0];
        assert_eq!(&r[..12], &[GUEST, PORT].concat(), "MACs swapped");
        let ip = &r[14..34];
        assert_eq!(&ip[12..16], &[10, 0, 0, 1]);
        assert_eq!(&ip[16..20], &[10, 0, 0, 3]);
        assert_eq!(naive(ip), 0, "IP header checksum valid");
        let icmp = &r[34..];
        assert_eq!(icmp[0], 0, "echo reply");
        assert_eq!(naive(icmp), 0, "ICMP checksum valid");
        assert_eq!(&icmp[4..8], &[0xbe, 0xef, 0, 1], "id and sequence kept");
    }

    #[test]
    fn echo_to_a_multicast_group_is_answered_from_a_unicast_neighbour() {
        let got = run(&[ping([224, 0, 0, 1], b"m")]);
        let ip = &got[0][14..34];
        assert_eq!(&ip[12..16], &[10, 0, 0, 1], "10.0.0.3 & !3 | 1");
        assert_eq!(&ip[16..20], &[10, 0, 0, 3]);
        assert_eq!(naive(ip), 0);
        assert_eq!(naive(&got[0][34..]), 0);
    }

    #[test]
    fn everything_else_is_dropped() {
        let reply = arp(2, GUEST, [10, 0, 0, 3], PORT, [10, 0, 0, 1]);
        let mut echo_reply = ping([10, 0, 0, 1], b"x");
        echo_reply[34] = 0;
        let mut udp = ping([10, 0, 0, 1], b"x");
        udp[23] = 17;
        let mut v6 = ping([10, 0, 0, 1], b"x");
        v6[12..14].copy_from_slice(&[0x86, 0xdd]);
        let short = ping([10, 0, 0, 1], b"")[..36].to_vec();
        let mut fragment = ping([10, 0, 0, 1], b"x");
        fragment[20] = 0x20;
        let frames = [reply, echo_reply, udp, v6, short, fragment, vec![0; 10]];
        let c = ctx(&[64]);
        assert!(run_on(&c, &frames).is_empty());
        assert_eq!(c.pool.stats().in_use, 0, "dropped frames were freed");
    }
}
