//! 16: virtio-net header fields that contradict the frame or the features: checksum
//! positions past the frame, GSO with size 0, unknown or unnegotiated GSO types, GSO
//! types the headers contradict, checksum requests without the feature.

use vpmd_vhost::driver::TxLayout;
use vpmd_vhost::net::NetHdr;
use vpmd_vhost::virtio::{self, bit};

use super::*;

fn hdr(flags: u8, gso_type: u8, gso_size: u16, csum_start: u16, csum_offset: u16) -> NetHdr {
    NetHdr {
        flags,
        gso_type,
        hdr_len: 54,
        gso_size,
        csum_start,
        csum_offset,
        num_buffers: 0,
    }
}

fn rejects(bed: &mut Bed, h: NetHdr, f: &[u8], what: &str) {
    let head = bed.guest.send(&h, f, TxLayout::Split).unwrap();
    let before = xstat(&bed.rxc, "bad_headers");
    assert!(bed.rx_all_bytes().is_empty(), "{what}: dropped");
    assert_eq!(
        xstat(&bed.rxc, "bad_headers"),
        before + 1,
        "{what}: counted"
    );
    let u = bed.guest.complete_tx();
    assert_eq!(u.len(), 1, "{what}");
    assert_eq!((u[0].id, u[0].len), (head as u32, 0), "{what}: returned");
    assert_eq!(bed.pool.stats().in_use, 0, "{what}: no buffer leaked");
}

const CSUM: u8 = virtio::NET_HDR_F_NEEDS_CSUM;

#[test]
fn offload_fields_that_lie_are_dropped() {
    let mut bed = Bed::with(BASE | OFFLOADS, 256, 256, 0); // multi-segment frames too
    let tcp4 = ip_frame(true, L4::Tcp, 1000);
    let udp4 = ip_frame(true, L4::Udp, 1000);
    let tcp6 = ip_frame(false, L4::Tcp, 1000);
    let n = tcp4.len() as u16;
    let cases: [(&str, NetHdr, &[u8]); 11] = [
        ("csum_start past the end", hdr(CSUM, 0, 0, n, 0), &tcp4),
        (
            "csum field past the end",
            hdr(CSUM, 0, 0, 34, n - 35),
            &tcp4,
        ),
        ("csum_start at the end", hdr(CSUM, 0, 0, n - 1, 0), &tcp4),
        (
            "csum 0xffff/0xffff",
            hdr(CSUM, 0, 0, u16::MAX, u16::MAX),
            &tcp4,
        ),
        (
            "gso_size 0",
            hdr(CSUM, virtio::NET_HDR_GSO_TCPV4, 0, 34, 16),
            &tcp4,
        ),
        ("unknown gso type", hdr(CSUM, 2, 1448, 34, 16), &tcp4),
        ("gso type 0x7f", hdr(0, 0x7f, 1448, 0, 0), &tcp4),
        (
            "TCPV4 on UDP",
            hdr(CSUM, virtio::NET_HDR_GSO_TCPV4, 1448, 34, 6),
            &udp4,
        ),
        (
            "TCPV6 on IPv4",
            hdr(CSUM, virtio::NET_HDR_GSO_TCPV6, 1448, 34, 16),
            &tcp4,
        ),
        (
            "TCPV4 on IPv6",
            hdr(CSUM, virtio::NET_HDR_GSO_TCPV4, 1448, 54, 16),
            &tcp6,
        ),
        (
            "GSO on a non-IP frame",
            hdr(0, virtio::NET_HDR_GSO_TCPV4, 1448, 0, 0),
            &frame(2000, 1),
        ),
    ];
    for (what, h, f) in cases {
        rejects(&mut bed, h, f, what);
    }
    rx_still_serves(&mut bed);
}

#[test]
fn offloads_the_guest_did_not_negotiate_are_dropped() {
    let csum_only = BASE | bit(virtio::NET_F_CSUM);
    let mut bed = Bed::new(csum_only);
    let tcp4 = ip_frame(true, L4::Tcp, 3000);
    let udp4 = ip_frame(true, L4::Udp, 3000);
    rejects(
        &mut bed,
        hdr(CSUM, virtio::NET_HDR_GSO_TCPV4, 1448, 34, 16),
        &tcp4,
        "TSO4",
    );
    rejects(
        &mut bed,
        hdr(CSUM, virtio::NET_HDR_GSO_UDP, 1448, 34, 6),
        &udp4,
        "UFO",
    );
    let mut none = Bed::new(BASE);
    rejects(
        &mut none,
        hdr(CSUM, 0, 0, 34, 16),
        &tcp4,
        "NEEDS_CSUM without CSUM",
    );
    // A checksum request the guest did negotiate goes through.
    let m = {
        bed.guest
            .send(&hdr(CSUM, 0, 0, 34, 16), &tcp4, TxLayout::Joined)
            .unwrap();
        bed.rx_all()
    };
    assert_eq!(m.len(), 1);
}

#[test]
fn the_header_is_read_once_from_a_local_copy() {
    // A header that straddles descriptors in three pieces and lies about GSO: the
    // decision and the metadata come from one copy, so the verdict is consistent.
    let mut bed = Bed::new(BASE | OFFLOADS);
    let h = hdr(CSUM, virtio::NET_HDR_GSO_TCPV4, 0, 34, 16);
    bed.guest
        .send(&h, &ip_frame(true, L4::Tcp, 100), TxLayout::Pieces(5))
        .unwrap();
    assert!(bed.rx_all_bytes().is_empty());
    assert_eq!(xstat(&bed.rxc, "bad_headers"), 1);
}
