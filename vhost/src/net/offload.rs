//! `virtio_net_hdr` <-> packet buffer offload metadata, with the meanings of DPDK 22.11
//! vhost's compliant mode (`RTE_VHOST_USER_NET_COMPLIANT_OL_FLAGS`, net_vhost's default):
//! what a guest sends arrives with *Rx* flags; what goes to a guest is described by the
//! *Tx* flags the application set.
//!
//! rx (guest -> vpmd, [`apply_rx`]), applied to vpmd's own copy of the frame:
//! - `NEEDS_CSUM` at a TCP or UDP header vpmd finds (`csum_start` = L4 start,
//!   `csum_offset` = that protocol's field): `RX_L4_CKSUM_NONE` (data intact, checksum not
//!   filled in) and the l2/l3/l4 lengths. Anywhere else (tunnels, other protocols) vpmd
//!   computes the checksum in software and stores it in the frame.
//! - `DATA_VALID` (drivers should not send it; if they do): `RX_L4_CKSUM_GOOD`.
//! - GSO `TCPV4`/`TCPV6`/`UDP`: `RX_LRO | RX_L4_CKSUM_NONE`, `tso_segsz = gso_size`, and
//!   the l2/l3/l4 lengths.
//! - Refused (the caller drops the packet, `bad_headers`): `NEEDS_CSUM` without
//!   `VIRTIO_NET_F_CSUM` or with `csum_start + csum_offset + 2` beyond the frame
//!   (CVE-2024-11614's class); a GSO type that is unknown, not negotiated (HOST_TSO4,
//!   HOST_TSO6, HOST_UFO), with `gso_size` 0, or that the headers contradict. A GSO frame
//!   passed on without its metadata would be an oversize frame nobody can send.
//!
//! tx (vpmd -> guest, [`tx_plan`]); the packet buffer is never written (it may be shared):
//! - `TX_TCP_SEG` / `TX_UDP_SEG` with `tso_segsz`: gso_type `TCPV4`/`TCPV6` (by
//!   `TX_IPV4`/`TX_IPV6`, else the IP version in the packet) or `UDP`, `gso_size`,
//!   `hdr_len = l2+l3+l4` and `NEEDS_CSUM` at the L4 checksum, when the guest negotiated
//!   GUEST_TSO4 / GUEST_TSO6 / GUEST_UFO and GUEST_CSUM. Otherwise the packet is dropped
//!   (`offload_drops`): vpmd has no software segmentation.
//! - `TX_TCP_CKSUM` / `TX_UDP_CKSUM`: `NEEDS_CSUM` with `csum_start = l2+l3` when the guest
//!   negotiated GUEST_CSUM; otherwise vpmd computes the checksum in software (the field
//!   holds the pseudo-header sum, DPDK's convention) and patches the guest's copy.
//! - `TX_IP_CKSUM` (IPv4): always computed in software into the guest's copy; virtio has
//!   no IP header checksum offload.
//! - `TX_SCTP_CKSUM` is left alone: SCTP's CRC32c is no virtio offload and vpmd does not
//!   compute it.

use vpmd_mempool::{ol_flags, PktBuf, TxOffload};
use vpmd_pmd::csum::{self, Csum};

use crate::virtio::{self, has};

use super::hdr::NetHdr;
use super::proto::{self, IPPROTO_TCP, IPPROTO_UDP, IPV4_CSUM_OFF, TCP_CSUM_OFF, UDP_CSUM_OFF};

/// Leading bytes of a frame copied for the header walk (Ethernet with two tags, IPv6 with
/// extension headers, a TCP header with options).
const HDR_WINDOW: usize = 256;

/// Longest IPv4 header.
const IPV4_MAX_HLEN: usize = 60;

/// The header contradicts the frame or the negotiated features.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BadHeader;

/// The packet asks for an offload the guest cannot take, or its lengths do not fit it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OffloadDrop;

/// A checksum to patch into the guest's copy: (offset in the frame, value).
pub(crate) type Patch = Option<(u32, u16)>;

/// How a packet goes to the guest: its header, and the checksums vpmd fills in itself.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TxPlan {
    pub(crate) hdr: NetHdr,
    pub(crate) ip_csum: Patch,
    pub(crate) l4_csum: Patch,
}

/// A checksum as stored: complemented, and never 0 (RFC 768; 0xffff is the same value in
/// one's complement, so this is right for TCP too).
#[inline]
fn finish(c: &Csum) -> u16 {
    match !c.fold() {
        0 => 0xffff,
        v => v,
    }
}

/// Maps the header a guest sent with `m` (already filled) onto `m`'s offload metadata.
/// With `sw_csum`, a partial TCP/UDP checksum is completed in the buffer instead of
/// being left to an rx checksum offload downstream.
pub(crate) fn apply_rx<B: PktBuf>(
    h: &NetHdr,
    m: &mut B,
    features: u64,
    sw_csum: bool,
) -> Result<(), BadHeader> {
    let needs_csum = h.flags & virtio::NET_HDR_F_NEEDS_CSUM != 0;
    if !needs_csum && h.gso_type == virtio::NET_HDR_GSO_NONE {
        if h.flags & virtio::NET_HDR_F_DATA_VALID != 0 {
            m.set_ol_flags(m.ol_flags() | ol_flags::RX_L4_CKSUM_GOOD);
        }
        return Ok(());
    }
    let pkt_len = m.pkt_len();
    let mut win = [0u8; HDR_WINDOW];
    let n = csum::gather(m, 0, &mut win);
    let layers = proto::parse(win.get(..n).unwrap_or_default());
    let mut flags = 0;
    let mut lens = TxOffload::default();
    if let Some(l) = layers {
        lens.l2_len = l.l2_len as u8;
        lens.l3_len = l.l3_len as u16;
        lens.l4_len = l.l4_len as u8;
    }
    if needs_csum {
        let (start, off) = (h.csum_start as u32, h.csum_offset as u32);
        if !has(features, virtio::NET_F_CSUM) || start + off + 2 > pkt_len {
            return Err(BadHeader);
        }
        let at_l4 = layers.is_some_and(|l| {
            l.l4_start() as u32 == start
                && ((l.l4_proto == IPPROTO_TCP && off == TCP_CSUM_OFF as u32)
                    || (l.l4_proto == IPPROTO_UDP && off == UDP_CSUM_OFF as u32))
        });
        let leave_partial = at_l4 && (!sw_csum || h.gso_type != virtio::NET_HDR_GSO_NONE);
        if leave_partial || !fill_checksum(m, start, off) {
            flags |= ol_flags::RX_L4_CKSUM_NONE;
        } else if at_l4 {
            flags |= ol_flags::RX_L4_CKSUM_GOOD;
        }
    } else if h.flags & virtio::NET_HDR_F_DATA_VALID != 0 {
        flags |= ol_flags::RX_L4_CKSUM_GOOD;
    }
    if h.gso_type != virtio::NET_HDR_GSO_NONE {
        let l = layers.ok_or(BadHeader)?;
        let ok = match h.gso_type & !virtio::NET_HDR_GSO_ECN {
            virtio::NET_HDR_GSO_TCPV4 => {
                has(features, virtio::NET_F_HOST_TSO4) && l.ipv4 && l.l4_proto == IPPROTO_TCP
            }
            virtio::NET_HDR_GSO_TCPV6 => {
                has(features, virtio::NET_F_HOST_TSO6) && !l.ipv4 && l.l4_proto == IPPROTO_TCP
            }
            virtio::NET_HDR_GSO_UDP => {
                has(features, virtio::NET_F_HOST_UFO) && l.l4_proto == IPPROTO_UDP
            }
            _ => false,
        };
        if !ok || h.gso_size == 0 {
            return Err(BadHeader);
        }
        flags =
            (flags & !ol_flags::RX_L4_CKSUM_MASK) | ol_flags::RX_LRO | ol_flags::RX_L4_CKSUM_NONE;
        lens.tso_segsz = h.gso_size;
    }
    m.set_ol_flags(m.ol_flags() | flags);
    m.set_tx_offload(lens);
    Ok(())
}

/// Computes the checksum from `start` to the end of `m` and stores it at `start + off`;
/// false if the field is not in the first segment (it then stays partial).
fn fill_checksum<B: PktBuf>(m: &mut B, start: u32, off: u32) -> bool {
    let v = finish(&csum::sum_packet(m, start, m.pkt_len()));
    let at = (start + off) as usize;
    match m.data_mut().and_then(|d| d.get_mut(at..at + 2)) {
        Some(field) => {
            field.copy_from_slice(&v.to_be_bytes());
            true
        }
        None => false,
    }
}

/// Works out the header (and software checksums) for sending `m` to a guest that
/// negotiated `features`.
pub(crate) fn tx_plan<B: PktBuf>(m: &B, features: u64) -> Result<TxPlan, OffloadDrop> {
    let f = m.ol_flags();
    let mut plan = TxPlan::default();
    let wanted =
        ol_flags::TX_TCP_SEG | ol_flags::TX_UDP_SEG | ol_flags::TX_L4_MASK | ol_flags::TX_IP_CKSUM;
    if f & wanted == 0 {
        return Ok(plan);
    }
    let t = m.tx_offload();
    let (l2, l3, l4) = (t.l2_len as u32, t.l3_len as u32, t.l4_len as u32);
    let pkt_len = m.pkt_len();
    let start = l2 + l3;
    if start > pkt_len || start > u16::MAX as u32 {
        return Err(OffloadDrop);
    }
    let ipv4 = if f & ol_flags::TX_IPV4 != 0 {
        true
    } else if f & ol_flags::TX_IPV6 != 0 {
        false
    } else {
        let mut v = [0u8];
        csum::gather(m, l2, &mut v) == 1 && v[0] >> 4 == 4
    };
    if f & ol_flags::TX_IP_CKSUM != 0 && ipv4 {
        let mut ip = [0u8; IPV4_MAX_HLEN];
        let ip = ip.get_mut(..l3 as usize).ok_or(OffloadDrop)?;
        if l3 < 20 || csum::gather(m, l2, ip) != ip.len() {
            return Err(OffloadDrop);
        }
        ip[IPV4_CSUM_OFF..IPV4_CSUM_OFF + 2].fill(0);
        let mut c = Csum::default();
        c.add(ip);
        plan.ip_csum = Some((l2 + IPV4_CSUM_OFF as u32, !c.fold()));
    }
    let seg = f & (ol_flags::TX_TCP_SEG | ol_flags::TX_UDP_SEG);
    let l4_req = f & ol_flags::TX_L4_MASK;
    let tcp = if seg != 0 {
        f & ol_flags::TX_TCP_SEG != 0
    } else {
        l4_req == ol_flags::TX_TCP_CKSUM
    };
    let csum_off = if tcp { TCP_CSUM_OFF } else { UDP_CSUM_OFF };
    if seg != 0 {
        let (gso_type, feature) = match (tcp, ipv4) {
            (true, true) => (virtio::NET_HDR_GSO_TCPV4, virtio::NET_F_GUEST_TSO4),
            (true, false) => (virtio::NET_HDR_GSO_TCPV6, virtio::NET_F_GUEST_TSO6),
            (false, _) => (virtio::NET_HDR_GSO_UDP, virtio::NET_F_GUEST_UFO),
        };
        let hdrs = start + l4;
        if !has(features, feature)
            || !has(features, virtio::NET_F_GUEST_CSUM)
            || t.tso_segsz == 0
            || l4 == 0
            || hdrs > pkt_len
        {
            return Err(OffloadDrop);
        }
        plan.hdr = NetHdr {
            flags: virtio::NET_HDR_F_NEEDS_CSUM,
            gso_type,
            hdr_len: hdrs as u16,
            gso_size: t.tso_segsz,
            csum_start: start as u16,
            csum_offset: csum_off,
            num_buffers: 0,
        };
    } else if l4_req == ol_flags::TX_TCP_CKSUM || l4_req == ol_flags::TX_UDP_CKSUM {
        if start + csum_off as u32 + 2 > pkt_len {
            return Err(OffloadDrop);
        }
        if has(features, virtio::NET_F_GUEST_CSUM) {
            plan.hdr.flags = virtio::NET_HDR_F_NEEDS_CSUM;
            plan.hdr.csum_start = start as u16;
            plan.hdr.csum_offset = csum_off;
        } else {
            let c = csum::sum_packet(m, start, pkt_len);
            plan.l4_csum = Some((start + csum_off as u32, finish(&c)));
        }
    }
    Ok(plan)
}
