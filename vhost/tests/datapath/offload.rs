//! virtio_net_hdr <-> offload flags, both directions.

use vpmd_mempool::{ol_flags, Mempool, TxOffload};
use vpmd_vhost::driver::TxLayout;
use vpmd_vhost::net::NetHdr;
use vpmd_vhost::virtio;

use crate::common::*;

fn csum_hdr(start: u16, offset: u16) -> NetHdr {
    NetHdr {
        flags: virtio::NET_HDR_F_NEEDS_CSUM,
        csum_start: start,
        csum_offset: offset,
        ..NetHdr::default()
    }
}

fn gso_hdr(gso_type: u8, l4_start: u16, l4_len: u16, csum_offset: u16) -> NetHdr {
    NetHdr {
        gso_type,
        gso_size: 1448,
        hdr_len: l4_start + l4_len,
        ..csum_hdr(l4_start, csum_offset)
    }
}

fn one(bed: &mut Bed, hdr: &NetHdr, f: &[u8]) -> vpmd_mempool::Mbuf {
    bed.guest.send(hdr, f, TxLayout::Split).unwrap();
    let mut got = bed.rx_all();
    assert_eq!(got.len(), 1);
    got.pop().unwrap()
}

#[test]
fn rx_needs_csum_at_tcp_or_udp_is_l4_cksum_none_with_lengths() {
    let mut bed = Bed::new(BASE | OFFLOADS);
    for (v4, l4, start, off, l4_len) in [
        (true, L4::Tcp, 34, 16, 20),
        (true, L4::Udp, 34, 6, 8),
        (false, L4::Tcp, 54, 16, 20),
        (false, L4::Udp, 54, 6, 8),
    ] {
        let f = ip_frame(v4, l4, 300);
        let m = one(&mut bed, &csum_hdr(start, off), &f);
        assert_eq!(
            m.ol_flags() & ol_flags::RX_L4_CKSUM_MASK,
            ol_flags::RX_L4_CKSUM_NONE
        );
        assert_eq!(m.ol_flags() & ol_flags::RX_LRO, 0);
        let t = m.tx_offload();
        assert_eq!(
            (t.l2_len, t.l3_len, t.l4_len),
            (14, start - 14, l4_len),
            "{v4} {l4:?}"
        );
        assert_eq!(bytes(&m), f, "the frame is not touched");
    }
}

#[test]
fn rx_gso_is_lro_with_segment_size() {
    let mut bed = Bed::new(BASE | OFFLOADS);
    for (v4, l4, gso, start, l4_len, off) in [
        (true, L4::Tcp, virtio::NET_HDR_GSO_TCPV4, 34, 20, 16),
        (false, L4::Tcp, virtio::NET_HDR_GSO_TCPV6, 54, 20, 16),
        (true, L4::Udp, virtio::NET_HDR_GSO_UDP, 34, 8, 6),
        (
            true,
            L4::Tcp,
            virtio::NET_HDR_GSO_TCPV4 | virtio::NET_HDR_GSO_ECN,
            34,
            20,
            16,
        ),
    ] {
        let f = ip_frame(v4, l4, 9000);
        let m = one(&mut bed, &gso_hdr(gso, start, l4_len, off), &f);
        assert_eq!(
            m.ol_flags(),
            ol_flags::RX_LRO | ol_flags::RX_L4_CKSUM_NONE,
            "gso {gso:#x}"
        );
        let t = m.tx_offload();
        assert_eq!(t.tso_segsz, 1448);
        assert_eq!(
            (t.l2_len, t.l3_len, t.l4_len as u16),
            (14, start - 14, l4_len)
        );
        assert_eq!(bytes(&m), f);
    }
    assert_eq!(bed.rxc.dropped(), 0);
}

#[test]
fn rx_data_valid_is_l4_cksum_good() {
    let mut bed = Bed::new(BASE | OFFLOADS);
    let hdr = NetHdr {
        flags: virtio::NET_HDR_F_DATA_VALID,
        ..NetHdr::default()
    };
    let m = one(&mut bed, &hdr, &ip_frame(true, L4::Udp, 10));
    assert_eq!(m.ol_flags(), ol_flags::RX_L4_CKSUM_GOOD);
}

#[test]
fn rx_needs_csum_elsewhere_is_computed_in_software() {
    // An EtherType vpmd does not parse: the checksum from byte 20 goes at byte 22.
    let mut bed = Bed::new(BASE | OFFLOADS);
    let mut f = frame(501, 7);
    f[22..24].fill(0); // no pseudo-header: the field seeds the sum with 0
    let m = one(&mut bed, &csum_hdr(20, 2), &f);
    let got = bytes(&m);
    assert_eq!(inet_sum(&got[20..]), 0xffff, "the field completes the sum");
    assert_eq!(got[..22], f[..22]);
    assert_eq!(got[24..], f[24..]);
    assert_eq!(m.ol_flags() & ol_flags::RX_L4_CKSUM_MASK, 0);
}

fn with_offload(pool: &Mempool, f: &[u8], flags: u64, t: TxOffload) -> vpmd_mempool::Mbuf {
    let mut m = mbuf(pool, f);
    m.set_ol_flags(flags);
    m.set_tx_offload(t);
    m
}

fn lens(l3: u16, l4: u8, tso: u16) -> TxOffload {
    TxOffload {
        l2_len: 14,
        l3_len: l3,
        l4_len: l4,
        tso_segsz: tso,
    }
}

fn send_one(bed: &mut Bed, m: vpmd_mempool::Mbuf) -> Option<vpmd_vhost::driver::RxFrame> {
    let mut pkts = vpmd_mempool::Burst::with_capacity(1);
    pkts.push(m).unwrap();
    assert_eq!(bed.tx_burst(&mut pkts), 1);
    bed.guest.recv()
}

#[test]
fn tx_tso_becomes_gso_when_the_guest_takes_it() {
    let mut bed = Bed::new(BASE | MRG | OFFLOADS);
    bed.guest.post_rx(64, 4096, 1, false);
    for (v4, gso, l3, flags) in [
        (
            true,
            virtio::NET_HDR_GSO_TCPV4,
            20,
            ol_flags::TX_TCP_SEG | ol_flags::TX_IPV4 | ol_flags::TX_IP_CKSUM,
        ),
        (
            false,
            virtio::NET_HDR_GSO_TCPV6,
            40,
            ol_flags::TX_TCP_SEG | ol_flags::TX_IPV6,
        ),
    ] {
        let f = ip_frame(v4, L4::Tcp, 8000);
        let m = with_offload(&bed.pool, &f, flags, lens(l3, 20, 1448));
        let r = send_one(&mut bed, m).unwrap();
        let start = 14 + l3;
        assert_eq!(
            (r.hdr.flags, r.hdr.gso_type, r.hdr.gso_size, r.hdr.hdr_len),
            (virtio::NET_HDR_F_NEEDS_CSUM, gso, 1448, start + 20)
        );
        assert_eq!((r.hdr.csum_start, r.hdr.csum_offset), (start, 16));
        if v4 {
            assert_eq!(
                inet_sum(&r.data[14..34]),
                0xffff,
                "IPv4 header checksum filled"
            );
            assert_eq!(r.data[..24], f[..24]);
            assert_eq!(r.data[26..], f[26..]);
        } else {
            assert_eq!(r.data, f);
        }
    }
    let f = ip_frame(true, L4::Udp, 3000);
    let m = with_offload(
        &bed.pool,
        &f,
        ol_flags::TX_UDP_SEG | ol_flags::TX_IPV4,
        lens(20, 8, 1472),
    );
    let r = send_one(&mut bed, m).unwrap();
    assert_eq!(
        (r.hdr.gso_type, r.hdr.csum_offset),
        (virtio::NET_HDR_GSO_UDP, 6)
    );
}

#[test]
fn tx_tso_the_guest_cannot_take_is_dropped() {
    let no_tso4 = OFFLOADS & !virtio::bit(virtio::NET_F_GUEST_TSO4);
    let mut bed = Bed::new(BASE | MRG | no_tso4);
    bed.guest.post_rx(8, 4096, 1, false);
    let f = ip_frame(true, L4::Tcp, 5000);
    let tso = with_offload(
        &bed.pool,
        &f,
        ol_flags::TX_TCP_SEG | ol_flags::TX_IPV4,
        lens(20, 20, 1448),
    );
    let f6 = ip_frame(false, L4::Tcp, 5000);
    let zero_mss = with_offload(
        &bed.pool,
        &f6,
        ol_flags::TX_TCP_SEG | ol_flags::TX_IPV6,
        lens(40, 20, 0),
    );
    let plain = mbuf(&bed.pool, &frame(100, 1));
    let mut pkts = vpmd_mempool::Burst::with_capacity(3);
    for m in [tso, zero_mss, plain] {
        pkts.push(m).unwrap();
    }
    assert_eq!(bed.tx_burst(&mut pkts), 3);
    assert_eq!(xstat(&bed.txc, "offload_drops"), 2);
    assert_eq!(bed.guest.recv().unwrap().data, frame(100, 1));
    assert_eq!(bed.pool.stats().in_use, 0);
}

fn bit_guest_csum() -> u64 {
    virtio::bit(virtio::NET_F_GUEST_CSUM)
}

#[test]
fn tx_checksum_offload_is_needs_csum_with_guest_csum() {
    let mut bed = Bed::new(BASE | MRG | bit_guest_csum());
    bed.guest.post_rx(8, 2048, 1, false);
    let f = ip_frame(true, L4::Tcp, 333);
    let m = with_offload(
        &bed.pool,
        &f,
        ol_flags::TX_TCP_CKSUM | ol_flags::TX_IPV4,
        lens(20, 20, 0),
    );
    let r = send_one(&mut bed, m).unwrap();
    assert_eq!(
        (
            r.hdr.flags,
            r.hdr.csum_start,
            r.hdr.csum_offset,
            r.hdr.gso_type
        ),
        (virtio::NET_HDR_F_NEEDS_CSUM, 34, 16, 0)
    );
    assert_eq!(r.data, f, "left for the guest to complete");
}

#[test]
fn tx_checksums_are_computed_when_the_guest_cannot_take_them() {
    // No GUEST_CSUM; a pool with odd-sized buffers, so the sum crosses odd boundaries.
    let mut bed = Bed::new(BASE | MRG);
    let odd = pool(256, 101);
    bed.guest.post_rx(16, 4096, 1, false);
    for (v4, l4, l3, flags) in [
        (
            true,
            L4::Udp,
            20,
            ol_flags::TX_UDP_CKSUM | ol_flags::TX_IPV4 | ol_flags::TX_IP_CKSUM,
        ),
        (
            true,
            L4::Tcp,
            20,
            ol_flags::TX_TCP_CKSUM | ol_flags::TX_IPV4,
        ),
        (
            false,
            L4::Tcp,
            40,
            ol_flags::TX_TCP_CKSUM | ol_flags::TX_IPV6,
        ),
        (
            false,
            L4::Udp,
            40,
            ol_flags::TX_UDP_CKSUM | ol_flags::TX_IPV6,
        ),
    ] {
        let f = ip_frame(v4, l4, 1001);
        assert!(!l4_checksum_ok(&f, v4));
        let m = with_offload(&odd, &f, flags, lens(l3, 0, 0));
        assert!(m.nb_segs() > 10);
        let r = send_one(&mut bed, m).unwrap();
        assert_eq!(r.hdr.flags, 0);
        assert!(l4_checksum_ok(&r.data, v4), "{v4} {l4:?}");
        if flags & ol_flags::TX_IP_CKSUM != 0 {
            assert_eq!(inet_sum(&r.data[14..34]), 0xffff);
        }
    }
}

#[test]
fn tx_offload_lengths_beyond_the_packet_are_dropped() {
    let mut bed = Bed::new(BASE | MRG | OFFLOADS);
    bed.guest.post_rx(8, 2048, 1, false);
    let f = ip_frame(true, L4::Tcp, 0); // 54 bytes
    let m = with_offload(&bed.pool, &f, ol_flags::TX_TCP_CKSUM, lens(60, 20, 0));
    let mut pkts = vpmd_mempool::Burst::with_capacity(1);
    pkts.push(m).unwrap();
    assert_eq!(bed.tx_burst(&mut pkts), 1);
    assert_eq!(xstat(&bed.txc, "offload_drops"), 1);
    assert!(bed.guest.recv().is_none());
}
