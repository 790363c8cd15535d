//! `flowgen`: generate UDP/IPv4 packets over `--flowgen-flows` flows and free whatever
//! arrives (testpmd's flowgen).
//!
//! As in testpmd: 00:01:02:03:04:00 -> 00:01:02:03:04:01, 10.254.0.0 -> 10.253.0.0 + flow,
//! UDP 1000 -> 1001 without a checksum, one segment of the `--txpkts` total less the
//! 4-byte FCS. Each packet takes the next flow; packets the tx queue refuses hand their
//! flows back, so the flows stay evenly spread.

use vpmd_mempool::{Burst, Mbuf};

use super::inet::{set_ipv4_checksum, udp4_header, Udp4Flow, ETH_HLEN, IPV4_HLEN, UDP4_HDR_LEN};
use super::{Engine, StreamCtx};
use crate::stream::StreamStats;

/// testpmd's `cfg_ip_dst`: flow `i` goes to this address plus `i`.
const DST_BASE: [u8; 4] = [10, 253, 0, 0];

/// The flowgen engine.
pub struct FlowGen {
    hdr: [u8; UDP4_HDR_LEN],
    len: u16,
    flows: u32,
    next_flow: u32,
}

impl Engine for FlowGen {
    const NAME: &'static str = "flowgen";
    const GENERATES: bool = true;

    fn new(ctx: &StreamCtx) -> Self {
        // The config keeps the total - 4 between the header size and the data room.
        let len = ctx.txpkts.iter().sum::<u16>() - 4;
        let flow = Udp4Flow {
            dst_mac: [0, 1, 2, 3, 4, 1],
            src_mac: [0, 1, 2, 3, 4, 0],
            src_ip: [10, 254, 0, 0],
            dst_ip: DST_BASE,
            src_port: 1000,
            dst_port: 1001,
        };
        FlowGen {
            hdr: udp4_header(&flow, len),
            len,
            flows: ctx.flowgen_flows.max(1),
            next_flow: 0,
        }
    }

    #[inline]
    fn fwd(&mut self, pkts: &mut Burst<Mbuf>, ctx: &StreamCtx, _stats: &StreamStats) {
        Mbuf::free_bulk(pkts);
        let n = ctx.burst.min(pkts.room());
        if ctx.pool.alloc_bulk(pkts, n).is_err() {
            return;
        }
        for m in pkts.as_mut_slice() {
            let Some(d) = m.append(self.len) else {
                continue;
            };
            d[..UDP4_HDR_LEN].copy_from_slice(&self.hdr);
            let dst = u32::from_be_bytes(DST_BASE).wrapping_add(self.next_flow);
            let ip = &mut d[ETH_HLEN..ETH_HLEN + IPV4_HLEN];
            ip[16..20].copy_from_slice(&dst.to_be_bytes());
            set_ipv4_checksum(ip);
            self.next_flow += 1;
            if self.next_flow == self.flows {
                self.next_flow = 0;
            }
        }
    }

    #[inline]
    fn sent(&mut self, offered: usize, sent: usize) {
        let flows = u64::from(self.flows);
        let back = (offered - sent) as u64 % flows;
        // In u64: `flows` may be up to u32::MAX.
        self.next_flow = ((u64::from(self.next_flow) + flows - back) % flows) as u32;
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::inet::ipv4_checksum;
    use super::super::tests::{ctx, frame, packet};
    use super::*;

    #[test]
    fn makes_exactly_n_flows_each_k_times() {
        let mut c = ctx(&[64]);
        c.flowgen_flows = 5;
        c.burst = 7;
        let stats = StreamStats::default();
        let mut e = FlowGen::new(&c);
        let mut per_dst: BTreeMap<[u8; 4], usize> = BTreeMap::new();
        let mut pkts = Burst::with_capacity(c.burst);
        // 5 flows * 7 packets each = 35 packets = 5 bursts of 7.
        for _ in 0..5 {
            // Received packets are freed, not sent.
            pkts.push(packet(&c.pool, &[0xee; 60])).unwrap();
            e.fwd(&mut pkts, &c, &stats);
            assert_eq!(pkts.len(), 7);
            for m in pkts.drain() {
                let d = frame(&m);
                assert_eq!(d.len(), 60, "--txpkts 64 less the FCS");
                let ip = &d[14..34];
                assert_eq!(ipv4_checksum(ip), u16::from_be_bytes([ip[10], ip[11]]));
                assert_eq!(&ip[12..16], &[10, 254, 0, 0]);
                assert_eq!(u16::from_be_bytes([ip[2], ip[3]]), 46);
                assert_eq!(&d[34..36], &1000u16.to_be_bytes());
                *per_dst.entry(ip[16..20].try_into().unwrap()).or_default() += 1;
            }
            e.sent(7, 7);
        }
        let want: BTreeMap<[u8; 4], usize> = (0..5).map(|i| ([10, 253, 0, i], 7)).collect();
        assert_eq!(per_dst, want);
    }

    #[test]
    fn refused_packets_hand_their_flows_back() {
        let mut c = ctx(&[64]);
        c.flowgen_flows = 4;
        c.burst = 3;
        let stats = StreamStats::default();
        let mut e = FlowGen::new(&c);
        let mut pkts = Burst::with_capacity(c.burst);
        e.fwd(&mut pkts, &c, &stats);
        // Flows 0, 1, 2 offered; only flow 0 taken: the next burst starts at flow 1.
        e.sent(3, 1);
        pkts.clear();
        e.fwd(&mut pkts, &c, &stats);
        let dsts: Vec<u8> = pkts.as_slice().iter().map(|m| frame(m)[33]).collect();
        assert_eq!(dsts, [1, 2, 3]);
    }
}
