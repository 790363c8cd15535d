//! Frames of 64..9000 bytes both ways, in every descriptor layout.

use vpmd_mempool::Burst;
use vpmd_vhost::driver::{GuestMemory, TxLayout};
use vpmd_vhost::net::NetHdr;
use vpmd_vhost::virtqueue::SplitQueue;
use vpmd_vhost::vring::{pack_position, unpack_position};

use crate::common::*;

const SIZES: [usize; 10] = [64, 65, 127, 128, 1500, 1514, 1518, 2048, 4000, 9000];

const LAYOUTS: [TxLayout; 5] = [
    TxLayout::Joined,
    TxLayout::Split,
    TxLayout::Pieces(97),
    TxLayout::Indirect,
    TxLayout::IndirectPieces(1000),
];

#[test]
fn guest_to_host_every_size_and_layout() {
    let mut bed = Bed::with(BASE | INDIRECT, 1024, 2048, 0);
    let mut sent = 0u64;
    for layout in LAYOUTS {
        let frames: Vec<_> = SIZES.iter().map(|&n| frame(n, n as u8)).collect();
        let got = bed.guest_to_host(&frames, layout);
        assert_eq!(got.len(), frames.len(), "{layout:?}");
        for (m, f) in got.iter().zip(&frames) {
            assert!(bytes(m) == *f, "{layout:?}, {} bytes", f.len());
            assert_eq!(m.port(), 3);
            assert_eq!(m.ol_flags(), 0);
            let segs = f.len().div_ceil(2048) as u16;
            assert_eq!(
                m.nb_segs(),
                segs,
                "a frame larger than a buffer becomes a chain"
            );
        }
        sent += frames.len() as u64;
        let done = bed.guest.complete_tx();
        assert_eq!(done.len(), frames.len());
        assert!(
            done.iter().all(|u| u.len == 0),
            "tx chains come back with length 0"
        );
    }
    assert_eq!(xstat(&bed.rxc, "good_packets"), sent);
    let total: u64 = SIZES.iter().map(|&n| n as u64).sum::<u64>() * LAYOUTS.len() as u64;
    assert_eq!(xstat(&bed.rxc, "good_bytes"), total);
    assert_eq!(
        xstat(&bed.rxc, "size_1519_max_packets"),
        3 * LAYOUTS.len() as u64
    );
    assert_eq!(bed.rxc.dropped(), 0);
    assert_eq!(bed.pool.stats().in_use, 0, "every buffer went back");
}

#[test]
fn host_to_guest_mergeable_every_size() {
    let mut bed = Bed::new(BASE | MRG);
    for &n in &SIZES {
        bed.guest.post_rx(16, 1536, 1, false);
        let f = frame(n, 9);
        let mut pkts = burst(&bed.pool, std::slice::from_ref(&f));
        assert_eq!(bed.tx_burst(&mut pkts), 1);
        assert!(pkts.is_empty());
        let got = bed.guest.recv().expect("a frame");
        assert_eq!(got.data, f, "{n} bytes");
        let want = (n + 12).div_ceil(1536) as u16;
        assert_eq!((got.hdr.num_buffers, got.buffers), (want, want));
        assert_eq!(got.hdr.flags, 0);
        assert_eq!(got.hdr.gso_type, 0);
        assert_eq!(bed.guest.recv(), None, "one packet, nothing else used");
    }
    assert_eq!(xstat(&bed.txc, "good_packets"), SIZES.len() as u64);
    assert_eq!(bed.pool.stats().in_use, 0, "sent packets are freed");
}

#[test]
fn host_to_guest_without_mergeable_uses_one_chain_each() {
    let mut bed = Bed::new(BASE | INDIRECT);
    for indirect in [false, true] {
        // Linux "big packets" style: one chain of several descriptors per packet.
        bed.guest.post_rx(SIZES.len(), 9000 + 12, 5, indirect);
        let frames: Vec<_> = SIZES.iter().map(|&n| frame(n, 1)).collect();
        let mut pkts = burst(&bed.pool, &frames);
        assert_eq!(bed.tx_burst(&mut pkts), frames.len());
        for f in &frames {
            let got = bed.guest.recv().unwrap();
            assert_eq!(got.data, *f);
            assert_eq!(got.hdr.num_buffers, 1, "VERSION_1 header says one buffer");
            assert_eq!(got.used_len as usize, f.len() + 12);
        }
    }
}

#[test]
fn legacy_ten_byte_header_both_ways() {
    let mut bed = Bed::new(0);
    assert_eq!(bed.rx.hdr_len(), 10);
    let frames: Vec<_> = [64, 1000, 3000].iter().map(|&n| frame(n, 4)).collect();
    let got = bed.guest_to_host(&frames, TxLayout::Split);
    assert_eq!(got.iter().map(bytes).collect::<Vec<_>>(), frames);
    bed.guest.post_rx(3, 4000, 2, false);
    let mut pkts = burst(&bed.pool, &frames);
    assert_eq!(bed.tx_burst(&mut pkts), 3);
    for f in &frames {
        let r = bed.guest.recv().unwrap();
        assert_eq!(r.data, *f);
        assert_eq!(r.used_len as usize, f.len() + 10);
    }
}

#[test]
fn header_split_across_tiny_receive_descriptors() {
    // ANY_LAYOUT: the 12-byte header spans three descriptors of the guest's buffer.
    let mut bed = Bed::new(BASE | MRG);
    assert_eq!(bed.guest.post_rx(6, 200, 40, false), 6); // 5-byte descriptors
    let f = frame(1000, 2);
    let mut pkts = burst(&bed.pool, std::slice::from_ref(&f));
    assert_eq!(bed.tx_burst(&mut pkts), 1);
    let r = bed.guest.recv().unwrap();
    assert!(r.data == f);
    assert_eq!(r.hdr.num_buffers, 6);
}

#[test]
fn multi_segment_buffers_both_ways() {
    // A small data room: frames become long chains on rx; chains are walked on tx.
    let mut bed = Bed::with(BASE | MRG, 256, 128, 0);
    let frames: Vec<_> = [64, 200, 1500, 9000].iter().map(|&n| frame(n, 5)).collect();
    let got = bed.guest_to_host(&frames, TxLayout::Pieces(333));
    for (m, f) in got.iter().zip(&frames) {
        assert_eq!(m.nb_segs() as usize, f.len().div_ceil(128));
        assert_eq!(bytes(m), *f);
    }
    let mut pkts = Burst::with_capacity(4);
    for m in got {
        pkts.push(m).unwrap();
    }
    bed.guest.post_rx(64, 1024, 1, false);
    assert_eq!(bed.tx_burst(&mut pkts), 4);
    for f in &frames {
        assert_eq!(bed.guest.recv().unwrap().data, *f);
    }
    assert_eq!(bed.pool.stats().in_use, 0);
}

#[test]
fn buffers_crossing_memory_regions() {
    // Two adjacent regions: a frame whose buffer straddles the boundary is copied in two
    // pieces; so is a receive buffer.
    let mem = GuestMemory::with_regions(&[4 << 20, 4 << 20]).unwrap();
    let mut bed = Bed::in_mem(BASE | MRG, 64, 2048, 0, mem);
    let boundary = vpmd_vhost::driver::BASE_GPA + (4 << 20);
    let f = frame(3000, 8);
    let start = boundary - 1000;
    let mut bytes_ = NetHdr::default().emit().to_vec();
    bytes_.extend_from_slice(&f);
    bed.guest.mem().write(start, &bytes_).unwrap();
    let head = bed.guest.txq.take_desc().unwrap();
    bed.guest.txq.write_desc(
        head,
        vpmd_vhost::driver::RawDesc {
            addr: start,
            len: bytes_.len() as u32,
            flags: 0,
            next: 0,
        },
    );
    bed.guest.txq.push_head(head);
    bed.guest.txq.publish(false);
    let got = bed.rx_all();
    assert_eq!(got.len(), 1);
    assert_eq!(bytes(&got[0]), f);

    let rx_head = bed.guest.rxq.take_desc().unwrap();
    bed.guest.rxq.write_desc(
        rx_head,
        vpmd_vhost::driver::RawDesc {
            addr: boundary - 100,
            len: 4000,
            flags: vpmd_vhost::driver::RawDesc::WRITE,
            next: 0,
        },
    );
    bed.guest.rxq.push_head(rx_head);
    bed.guest.rxq.publish(false);
    let mut pkts = burst(&bed.pool, std::slice::from_ref(&f));
    assert_eq!(bed.tx_burst(&mut pkts), 1);
    let u = bed.guest.rxq.pop_used().unwrap();
    assert_eq!(u.len, 3012);
    let mut back = vec![0; 3000];
    bed.guest
        .mem()
        .read(boundary - 100 + 12, &mut back)
        .unwrap();
    assert_eq!(back, f);
}

#[test]
fn position_resumes_in_a_new_queue() {
    let mut bed = Bed::new(BASE);
    let frames: Vec<_> = (0..5).map(|i| frame(100, i)).collect();
    assert_eq!(bed.guest_to_host(&frames, TxLayout::Joined).len(), 5);
    let report = pack_position(bed.rx.position().0, bed.rx.position().1);
    assert_eq!(unpack_position(report), (5, 5));
    // The control plane stops the ring and starts it again from the report.
    let mut cfg = bed.guest.tx_config(None);
    (cfg.last_avail_idx, cfg.last_used_idx) = unpack_position(report);
    bed.rx = SplitQueue::new(cfg).unwrap();
    let more: Vec<_> = (0..3).map(|i| frame(200, i)).collect();
    let got = bed.guest_to_host(&more, TxLayout::Joined);
    assert_eq!(got.iter().map(bytes).collect::<Vec<_>>(), more);
    assert_eq!(bed.rx.position(), (8, 8));
}
