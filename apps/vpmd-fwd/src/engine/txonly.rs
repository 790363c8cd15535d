//! `txonly`: send UDP/IPv4 packets built from a template, as testpmd's txonly engine.
//!
//! Ethernet (tx port MAC -> `--eth-peer`), IPv4 198.18.0.1 -> 198.18.0.2 (RFC 2544's
//! benchmarking range, testpmd's defaults), UDP 9 -> 9. `--txpkts` gives the segment
//! lengths; the first segment carries the 42 header bytes. The template is built once;
//! each packet costs one header copy per packet. With `--txonly-multi-flow` the IPv4
//! source varies per packet as in testpmd 22.11 (`(dst | var << 8) + lcore id`, `var`
//! a byte), so an RSS receiver spreads the load; the header checksum is then redone.

use vpmd_mempool::{lcore, Burst, Mbuf};

use super::inet::{set_ipv4_checksum, udp4_header, Udp4Flow, ETH_HLEN, IPV4_HLEN, UDP4_HDR_LEN};
use super::{Engine, StreamCtx};
use crate::stream::StreamStats;

/// testpmd's `tx_ip_dst_addr`.
const DST_IP: [u8; 4] = [198, 18, 0, 2];

/// The txonly engine.
pub struct TxOnly {
    hdr: [u8; UDP4_HDR_LEN],
    multi_flow: bool,
    /// testpmd's per-lcore `_ip_var`; per stream here, each stream being on one lcore.
    ip_var: u8,
}

impl TxOnly {
    /// Writes the headers of the next packet into `d` (at least `UDP4_HDR_LEN` bytes).
    #[inline]
    fn stamp(&mut self, d: &mut [u8], lcore: u32) {
        d[..UDP4_HDR_LEN].copy_from_slice(&self.hdr);
        if self.multi_flow {
            let src =
                (u32::from_be_bytes(DST_IP) | u32::from(self.ip_var) << 8).wrapping_add(lcore);
            self.ip_var = self.ip_var.wrapping_add(1);
            let ip = &mut d[ETH_HLEN..ETH_HLEN + IPV4_HLEN];
            ip[12..16].copy_from_slice(&src.to_be_bytes());
            set_ipv4_checksum(ip);
        }
    }

    /// One packet of the configured segments, or `None` when the pool is empty.
    fn packet(&mut self, ctx: &StreamCtx, lcore: u32) -> Option<Mbuf> {
        let mut head = ctx.pool.alloc().ok()?;
        self.stamp(head.append(ctx.txpkts[0])?, lcore);
        for &len in &ctx.txpkts[1..] {
            let mut seg = ctx.pool.alloc().ok()?;
            seg.append(len)?;
            head.chain(seg).ok()?;
        }
        Some(head)
    }
}

impl Engine for TxOnly {
    const NAME: &'static str = "txonly";
    const RECEIVES: bool = false;
    const GENERATES: bool = true;

    fn new(ctx: &StreamCtx) -> Self {
        let flow = Udp4Flow {
            dst_mac: ctx.peer_mac,
            src_mac: ctx.tx_mac,
            src_ip: [198, 18, 0, 1],
            dst_ip: DST_IP,
            src_port: 9,
            dst_port: 9,
        };
        TxOnly {
            hdr: udp4_header(&flow, ctx.txpkts.iter().sum()),
            multi_flow: ctx.txonly_multi_flow,
            ip_var: 0,
        }
    }

    #[inline]
    fn fwd(&mut self, pkts: &mut Burst<Mbuf>, ctx: &StreamCtx, _stats: &StreamStats) {
        // testpmd adds `rte_lcore_id()`; a control thread (tx-first) counts as lcore 0.
        let lcore = lcore::current().unwrap_or(0);
        if ctx.txpkts.len() == 1 {
            let start = pkts.len();
            let n = ctx.burst.min(pkts.room());
            if ctx.pool.alloc_bulk(pkts, n).is_err() {
                return;
            }
            for m in &mut pkts.as_mut_slice()[start..] {
                if let Some(d) = m.append(ctx.txpkts[0]) {
                    self.stamp(d, lcore);
                }
            }
            return;
        }
        while pkts.len() < ctx.burst {
            match self.packet(ctx, lcore) {
                Some(m) => {
                    if pkts.push(m).is_err() {
                        break;
                    }
                }
                None => break,
            }
        }
    }

    #[inline]
    fn sent(&mut self, offered: usize, sent: usize) {
        if self.multi_flow {
            // Unsent packets give their sources back, as testpmd does.
            self.ip_var = self.ip_var.wrapping_sub((offered - sent) as u8);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::inet::{ipv4_checksum, sum};
    use super::super::tests::{ctx, frame};
    use super::*;

    #[test]
    fn template_has_valid_ip_checksum_and_lengths() {
        let c = ctx(&[64]);
        let h = TxOnly::new(&c).hdr;
        assert!(
            sum(&h[14..34]).verifies(0),
            "a correct header sums to 0xffff"
        );
        assert_eq!(u16::from_be_bytes([h[16], h[17]]), 50);
        assert_eq!(u16::from_be_bytes([h[38], h[39]]), 30);
        assert_eq!(&h[..6], &c.peer_mac);
    }

    #[test]
    fn multi_flow_varies_the_source_per_packet_with_valid_checksums() {
        let mut c = ctx(&[64]);
        c.burst = 300;
        c.txonly_multi_flow = true;
        let stats = StreamStats::default();
        let mut e = TxOnly::new(&c);
        let mut pkts = Burst::with_capacity(300);
        e.fwd(&mut pkts, &c, &stats);
        assert_eq!(pkts.len(), 300);
        let srcs: Vec<[u8; 4]> = pkts
            .as_slice()
            .iter()
            .map(|m| {
                let d = frame(m);
                let ip = &d[14..34];
                assert_eq!(ipv4_checksum(ip), u16::from_be_bytes([ip[10], ip[11]]));
                assert_eq!(&ip[16..20], &DST_IP, "the destination stays");
                ip[12..16].try_into().unwrap()
            })
            .collect();
        // 198.18.var.2 (+ lcore 0 on this test thread): 256 sources, then around again.
        assert_eq!(srcs[0], [198, 18, 0, 2]);
        assert_eq!(srcs[1], [198, 18, 1, 2]);
        assert_eq!(srcs[255], [198, 18, 255, 2]);
        assert_eq!(srcs[256], srcs[0]);
        let distinct: std::collections::BTreeSet<_> = srcs.iter().collect();
        assert_eq!(distinct.len(), 256);
        // Two unsent packets hand their sources back.
        e.sent(300, 298);
        pkts.clear();
        c.burst = 1;
        e.fwd(&mut pkts, &c, &stats);
        assert_eq!(&frame(&pkts.as_slice()[0])[26..30], &srcs[298]);
    }

    #[test]
    fn without_multi_flow_every_packet_is_the_template() {
        let c = ctx(&[64, 100]);
        let mut e = TxOnly::new(&c);
        let mut pkts = Burst::with_capacity(c.burst);
        e.fwd(&mut pkts, &c, &StreamStats::default());
        assert_eq!(pkts.len(), c.burst);
        for m in pkts.as_slice() {
            assert_eq!(m.pkt_len(), 164);
            assert_eq!(m.nb_segs(), 2);
            assert_eq!(&frame(m)[..UDP4_HDR_LEN], &e.hdr);
        }
    }
}
