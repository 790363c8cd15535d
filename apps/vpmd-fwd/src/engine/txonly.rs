//! `txonly`: send UDP/IPv4 packets built from a template, as testpmd's txonly engine.
//!
//! Ethernet (tx port MAC -> `--eth-peer`), IPv4 198.18.0.1 -> 198.18.0.2 (RFC 2544's
//! benchmarking range, testpmd's defaults), UDP 9 -> 9. `--txpkts` gives the segment
//! lengths; the first segment carries the 42 header bytes. The template is built once;
//! each packet costs one header copy per packet.

use vpmd_mempool::{Burst, Mbuf};

use super::{Engine, StreamCtx};

/// Ethernet + IPv4 + UDP header bytes.
pub const HDR_LEN: usize = 14 + 20 + 8;

/// The txonly engine.
pub struct TxOnly {
    hdr: [u8; HDR_LEN],
}

/// Builds the header template for packets of `total` bytes.
pub fn udp_template(dst: &[u8; 6], src: &[u8; 6], total: u16) -> [u8; HDR_LEN] {
    let mut h = [0u8; HDR_LEN];
    h[..6].copy_from_slice(dst);
    h[6..12].copy_from_slice(src);
    h[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    let ip_len = total.saturating_sub(14);
    let ip = &mut h[14..34];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&ip_len.to_be_bytes());
    ip[8] = 64; // TTL
    ip[9] = 17; // UDP
    ip[12..16].copy_from_slice(&[198, 18, 0, 1]);
    ip[16..20].copy_from_slice(&[198, 18, 0, 2]);
    let csum = ipv4_checksum(ip);
    ip[10..12].copy_from_slice(&csum.to_be_bytes());
    let udp = &mut h[34..42];
    udp[0..2].copy_from_slice(&9u16.to_be_bytes());
    udp[2..4].copy_from_slice(&9u16.to_be_bytes());
    udp[4..6].copy_from_slice(&ip_len.saturating_sub(20).to_be_bytes());
    h
}

/// The RFC 1071 checksum of an IPv4 header whose checksum field is zero.
pub fn ipv4_checksum(hdr: &[u8]) -> u16 {
    let mut sum: u32 = hdr
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]) as u32)
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

impl TxOnly {
    /// One packet of the configured segments, or `None` when the pool is empty.
    fn packet(&self, ctx: &StreamCtx) -> Option<Mbuf> {
        let mut head = ctx.pool.alloc().ok()?;
        head.append(ctx.txpkts[0])?[..HDR_LEN].copy_from_slice(&self.hdr);
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

    fn new(ctx: &StreamCtx) -> Self {
        let total: u16 = ctx.txpkts.iter().sum();
        TxOnly {
            hdr: udp_template(&ctx.peer_mac, &ctx.tx_mac, total),
        }
    }

    #[inline]
    fn fwd(&mut self, pkts: &mut Burst<Mbuf>, ctx: &StreamCtx) {
        if ctx.txpkts.len() == 1 {
            let start = pkts.len();
            let n = ctx.burst.min(pkts.room());
            if ctx.pool.alloc_bulk(pkts, n).is_err() {
                return;
            }
            for m in &mut pkts.as_mut_slice()[start..] {
                if let Some(d) = m.append(ctx.txpkts[0]) {
                    d[..HDR_LEN].copy_from_slice(&self.hdr);
                }
            }
            return;
        }
        while pkts.len() < ctx.burst {
            match self.packet(ctx) {
                Some(m) => {
                    if pkts.push(m).is_err() {
                        break;
                    }
                }
                None => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_has_valid_ip_checksum_and_lengths() {
        let h = udp_template(&[0xaa; 6], &[0xbb; 6], 64);
        assert_eq!(
            ipv4_checksum(&h[14..34]),
            0,
            "a correct header sums to zero"
        );
        assert_eq!(u16::from_be_bytes([h[16], h[17]]), 50);
        assert_eq!(u16::from_be_bytes([h[38], h[39]]), 30);
        assert_eq!(&h[..6], &[0xaa; 6]);
    }
}
