//! `csum`: check and fill IPv4, TCP and UDP checksums in software, then forward
//! (testpmd's csum engine with its default software checksums).
//!
//! Checking follows the rx offload flags: `BAD` counts, `GOOD` and `NONE` (not filled,
//! data intact) do not, and with no verdict (`UNKNOWN`, all vpmd's soft ports) the engine
//! checks itself. Then, as testpmd, it writes the tx port's MAC and `--eth-peer`, fills
//! every checksum of an Ethernet / VLAN* / IPv4|IPv6 / TCP|UDP frame (a zero UDP-over-IPv4
//! checksum means "none" and stays), and leaves only `TX_IPV4`/`TX_IPV6` and the header
//! lengths in the offload fields, so no tx port takes an rx verdict for a request. Counts
//! go to the stream's `bad_ip_csum`/`bad_l4_csum` (testpmd's Bad-ipcsum/Bad-l4csum).
//! Frames that are not IP, or whose headers are not whole in the first segment, get no
//! checksum work (only the MACs and the cleared flags).

use vpmd_mempool::{ol_flags, Burst, Mbuf, TxOffload};

use super::inet::{
    be16, l2, l3, packet_sum, pseudo, sum, IPPROTO_TCP, IPPROTO_UDP, TCP_HLEN, UDP_HLEN,
};
use super::{set_macs, Engine, StreamCtx};
use crate::stream::StreamStats;

/// The csum engine.
pub struct Csum;

/// What the rx flags say about one checksum.
fn verdict(flags: u64, mask: u64, bad: u64, good: u64) -> Option<bool> {
    match flags & mask {
        f if f == bad => Some(true),
        f if f == good || f == mask => Some(false),
        _ => None,
    }
}

/// Checks and fills one frame's checksums; returns (bad IP, bad L4).
fn process(m: &mut Mbuf) -> (bool, bool) {
    let rx = m.ol_flags();
    let ip_verdict = verdict(
        rx,
        ol_flags::RX_IP_CKSUM_MASK,
        ol_flags::RX_IP_CKSUM_BAD,
        ol_flags::RX_IP_CKSUM_GOOD,
    );
    let l4_verdict = verdict(
        rx,
        ol_flags::RX_L4_CKSUM_MASK,
        ol_flags::RX_L4_CKSUM_BAD,
        ol_flags::RX_L4_CKSUM_GOOD,
    );
    m.set_ol_flags(0);
    m.set_tx_offload(TxOffload::default());
    let d = m.data();
    let Some((l2_len, ip)) = l2(d).and_then(|(off, ty)| Some((off, l3(d, off, ty)?))) else {
        return (ip_verdict == Some(true), l4_verdict == Some(true));
    };
    let l4 = ip.off + ip.len;
    let hdr = &d[ip.off..l4];
    let mut bad_ip = ip_verdict == Some(true);
    let mut ip_fill = None;
    if !ip.v6 {
        let old = be16(hdr, 10).unwrap_or(0);
        let s = sum(hdr).without(old);
        bad_ip = ip_verdict.unwrap_or_else(|| !s.verifies(old));
        ip_fill = Some(s.checksum());
    }
    // The L4 checksum field, when the header is whole in this segment. A fragment's
    // checksum covers the whole datagram, which no one fragment holds: left alone.
    let field = match ip.proto {
        _ if ip.frag != 0 => None,
        IPPROTO_UDP if d.len() >= l4 + UDP_HLEN => Some(l4 + 6),
        IPPROTO_TCP if d.len() >= l4 + TCP_HLEN => Some(l4 + 16),
        _ => None,
    };
    let mut bad_l4 = l4_verdict == Some(true);
    let mut l4_fill = None;
    if let Some(f) = field {
        let old = be16(d, f).unwrap_or(0);
        let udp_unchecked = ip.proto == IPPROTO_UDP && !ip.v6 && old == 0;
        if !udp_unchecked {
            let sum = ip
                .payload()
                .and_then(|n| packet_sum(m, l4, n, pseudo(hdr, &ip, n)));
            if let Some(s) = sum {
                let s = s.without(old);
                bad_l4 = l4_verdict.unwrap_or_else(|| !s.verifies(old));
                // A computed 0 is sent as 0xffff: 0 would mean "no checksum" for UDP.
                l4_fill = Some((
                    f,
                    match s.checksum() {
                        0 => 0xffff,
                        c => c,
                    },
                ));
            }
        }
    }
    let l3_len = ip.len as u16;
    let l4_len = match ip.proto {
        IPPROTO_TCP => d.get(l4 + 12).map_or(0, |o| (o >> 4) * 4),
        IPPROTO_UDP => UDP_HLEN as u8,
        _ => 0,
    };
    let flags = if ip.v6 {
        ol_flags::TX_IPV6
    } else {
        ol_flags::TX_IPV4
    };
    if let Some(d) = m.data_mut() {
        if let Some(c) = ip_fill {
            d[ip.off + 10..ip.off + 12].copy_from_slice(&c.to_be_bytes());
        }
        if let Some((f, c)) = l4_fill {
            d[f..f + 2].copy_from_slice(&c.to_be_bytes());
        }
    }
    m.set_ol_flags(flags);
    m.set_tx_offload(TxOffload {
        l2_len: u8::try_from(l2_len).unwrap_or(u8::MAX),
        l3_len,
        l4_len,
        tso_segsz: 0,
    });
    (bad_ip, bad_l4)
}

impl Engine for Csum {
    const NAME: &'static str = "csum";

    fn new(_: &StreamCtx) -> Self {
        Csum
    }

    #[inline]
    fn fwd(&mut self, pkts: &mut Burst<Mbuf>, ctx: &StreamCtx, stats: &StreamStats) {
        set_macs(pkts, &ctx.peer_mac, &ctx.tx_mac);
        let (mut bad_ip, mut bad_l4) = (0, 0);
        for m in pkts.as_mut_slice() {
            let (ip, l4) = process(m);
            bad_ip += u64::from(ip);
            bad_l4 += u64::from(l4);
        }
        stats.bad_ip_csum.add(bad_ip);
        stats.bad_l4_csum.add(bad_l4);
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{ctx, frame, naive, packet};
    use super::*;

    /// An Ethernet/IPv4 frame around `l4` (protocol `proto`), both checksums right,
    /// followed by 4 bytes of Ethernet padding.
    fn v4(proto: u8, l4: &[u8], csum_at: usize) -> Vec<u8> {
        let mut f = vec![0xff; 12];
        f.extend_from_slice(&[0x08, 0x00]);
        let mut ip = vec![0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, proto, 0, 0];
        ip[2..4].copy_from_slice(&((20 + l4.len()) as u16).to_be_bytes());
        ip.extend_from_slice(&[192, 168, 1, 1, 10, 0, 0, 7]);
        let c = naive(&ip);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        let mut l4 = l4.to_vec();
        let mut ph = ip[12..20].to_vec();
        ph.extend_from_slice(&[0, proto]);
        ph.extend_from_slice(&(l4.len() as u16).to_be_bytes());
        ph.extend_from_slice(&l4);
        let c = naive(&ph);
        l4[csum_at..csum_at + 2].copy_from_slice(&c.to_be_bytes());
        f.extend(ip);
        f.extend(l4);
        f.extend_from_slice(&[0xee; 4]);
        f
    }

    /// An Ethernet/IPv6/TCP frame, checksum right.
    fn v6_tcp(payload: &[u8]) -> Vec<u8> {
        let mut tcp = vec![
            0x30, 0x39, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0x20, 0,
        ];
        tcp.extend_from_slice(&[0, 0, 0, 0]);
        tcp.extend_from_slice(payload);
        let (src, dst) = ([0x20; 16], [0xfd; 16]);
        let mut ph = [src, dst].concat();
        ph.extend_from_slice(&(tcp.len() as u32).to_be_bytes());
        ph.extend_from_slice(&[0, 0, 0, 6]);
        ph.extend_from_slice(&tcp);
        let c = naive(&ph);
        tcp[16..18].copy_from_slice(&c.to_be_bytes());
        let mut f = vec![0xff; 12];
        f.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0]);
        f.extend_from_slice(&(tcp.len() as u16).to_be_bytes());
        f.extend_from_slice(&[6, 64]);
        f.extend_from_slice(&src);
        f.extend_from_slice(&dst);
        f.extend(tcp);
        f
    }

    fn udp(payload: &[u8]) -> Vec<u8> {
        let mut u = vec![0x04, 0xd2, 0x16, 0x2e, 0, 0, 0, 0];
        u[4..6].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        u.extend_from_slice(payload);
        u
    }

    /// Runs csum over `pkts`; returns them and the bad IP and L4 counts.
    fn run(pkts: Vec<Mbuf>) -> (Vec<Mbuf>, u64, u64) {
        let c = ctx(&[64]);
        let stats = StreamStats::default();
        let mut b = Burst::with_capacity(32);
        for m in pkts {
            b.push(m).unwrap();
        }
        Csum.fwd(&mut b, &c, &stats);
        (
            b.drain().collect(),
            stats.bad_ip_csum.get(),
            stats.bad_l4_csum.get(),
        )
    }

    fn one(bytes: &[u8], flags: u64) -> (Vec<u8>, Mbuf, u64, u64) {
        let c = ctx(&[64]);
        let mut m = packet(&c.pool, bytes);
        m.set_ol_flags(flags);
        let (mut out, ip, l4) = run(vec![m]);
        let m = out.pop().unwrap();
        (frame(&m), m, ip, l4)
    }

    /// `got` equals `want` except the MACs, which csum rewrites.
    fn same_past_macs(got: &[u8], want: &[u8]) {
        assert_eq!(&got[..6], &[2, 0, 0, 0, 0, 1], "destination: --eth-peer");
        assert_eq!(&got[6..12], &[2, 0, 0, 0, 0, 0xaa], "source: the tx port");
        assert_eq!(&got[12..], &want[12..]);
    }

    #[test]
    fn good_udp4_passes_unchanged_with_tx_metadata() {
        let f = v4(17, &udp(b"hello, world!"), 6);
        let (got, m, ip, l4) = one(&f, 0);
        assert_eq!((ip, l4), (0, 0));
        same_past_macs(&got, &f);
        assert_eq!(m.ol_flags(), ol_flags::TX_IPV4);
        let t = m.tx_offload();
        assert_eq!((t.l2_len, t.l3_len, t.l4_len), (14, 20, 8));
    }

    #[test]
    fn corrupted_ipv4_header_checksum_is_counted_and_fixed() {
        let good = v4(17, &udp(b"abc"), 6);
        let mut bad = good.clone();
        bad[24] ^= 0x5a;
        let (got, _, ip, l4) = one(&bad, 0);
        assert_eq!((ip, l4), (1, 0));
        same_past_macs(&got, &good);
    }

    #[test]
    fn corrupted_udp_and_tcp_checksums_are_counted_and_fixed() {
        let good = v4(17, &udp(b"odd length payload!"), 6);
        let mut bad = good.clone();
        bad[40] ^= 0x01;
        let (got, _, ip, l4) = one(&bad, 0);
        assert_eq!((ip, l4), (0, 1));
        same_past_macs(&got, &good);

        let good = v6_tcp(b"GET / HTTP/1.1\r\n");
        let mut bad = good.clone();
        bad[54 + 16] ^= 0xff;
        let (got, m, ip, l4) = one(&bad, 0);
        assert_eq!((ip, l4), (0, 1));
        same_past_macs(&got, &good);
        assert_eq!(m.ol_flags(), ol_flags::TX_IPV6);
        assert_eq!(m.tx_offload().l4_len, 20);
    }

    #[test]
    fn checksum_spanning_segments_is_checked_and_filled() {
        let good = v4(17, &udp(&[0x3c; 301]), 6);
        let mut bad = good.clone();
        bad[41] = 0;
        bad[40] = 0x12;
        let c = ctx(&[64]);
        // Split at an odd offset inside the payload.
        let mut m = packet(&c.pool, &bad[..57]);
        m.chain(packet(&c.pool, &bad[57..])).unwrap();
        let (out, ip, l4) = run(vec![m]);
        assert_eq!((ip, l4), (0, 1));
        same_past_macs(&frame(&out[0]), &good);
    }

    #[test]
    fn rx_flags_decide_when_they_give_a_verdict() {
        let good = v4(17, &udp(b"x"), 6);
        // The port says bad: counted even though the bytes are right (as testpmd).
        let (_, _, ip, l4) = one(&good, ol_flags::RX_IP_CKSUM_BAD | ol_flags::RX_L4_CKSUM_BAD);
        assert_eq!((ip, l4), (1, 1));
        // The port says good: trusted, yet the checksum is filled right anyway.
        let mut bad = good.clone();
        bad[24] ^= 1;
        let (got, _, ip, l4) = one(
            &bad,
            ol_flags::RX_IP_CKSUM_GOOD | ol_flags::RX_L4_CKSUM_GOOD,
        );
        assert_eq!((ip, l4), (0, 0));
        same_past_macs(&got, &good);
    }

    #[test]
    fn partial_checksum_from_a_guest_is_completed() {
        // A guest's checksum offload leaves the pseudo-header sum in the field (NONE).
        let good = v4(6, &[[0u8; 20].as_slice(), b"data"].concat(), 16);
        let mut partial = good.clone();
        partial[46] = 0x50;
        let ph_sum = !naive(&[&partial[26..34], &[0, 6, 0, 24][..]].concat());
        partial[50..52].copy_from_slice(&ph_sum.to_be_bytes());
        let fixed = {
            let mut g = partial.clone();
            let mut ph = g[26..34].to_vec();
            ph.extend_from_slice(&[0, 6, 0, 24]);
            g[50..52].copy_from_slice(&[0, 0]);
            ph.extend_from_slice(&g[34..58]);
            g[50..52].copy_from_slice(&naive(&ph).to_be_bytes());
            g
        };
        let (got, m, ip, l4) = one(&partial, ol_flags::RX_L4_CKSUM_NONE);
        assert_eq!((ip, l4), (0, 0));
        same_past_macs(&got, &fixed);
        assert_eq!(m.ol_flags() & ol_flags::RX_L4_CKSUM_MASK, 0);
    }

    #[test]
    fn fragments_keep_their_l4_checksum() {
        let mut f = v4(17, &udp(b"first fragment"), 6);
        f[20] = 0x20; // more fragments (the IP checksum is redone below)
        f[40] ^= 0xff; // wrong for this fragment alone, yet not ours to judge
        f[24..26].copy_from_slice(&[0, 0]);
        let c = naive(&f[14..34]);
        f[24..26].copy_from_slice(&c.to_be_bytes());
        let (got, _, ip, l4) = one(&f, 0);
        assert_eq!((ip, l4), (0, 0));
        same_past_macs(&got, &f);
    }

    #[test]
    fn zero_udp4_checksum_means_none_and_stays() {
        let mut f = v4(17, &udp(b"no checksum"), 6);
        f[40..42].copy_from_slice(&[0, 0]);
        let (got, _, ip, l4) = one(&f, 0);
        assert_eq!((ip, l4), (0, 0));
        same_past_macs(&got, &f);
    }

    #[test]
    fn other_frames_are_forwarded_with_flags_cleared() {
        let arp = [[0xffu8; 12].as_slice(), &[0x08, 0x06], &[1; 28]].concat();
        let (got, m, ip, l4) = one(&arp, ol_flags::RX_L4_CKSUM_BAD);
        assert_eq!((ip, l4), (0, 1), "the rx verdict still counts");
        same_past_macs(&got, &arp);
        assert_eq!(m.ol_flags(), 0);
    }
}
