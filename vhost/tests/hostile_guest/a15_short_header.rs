//! 15: chains no longer than the virtio-net header; a header split over many descriptors
//! (legal, CVE-2022-2132's other half); receive buffers shorter than the header.

use super::*;

#[test]
fn guest_tx_chain_no_longer_than_the_header() {
    let mut bed = Bed::new(BASE);
    let gpa = bed.guest.mem().alloc(64).unwrap();
    for descs in [
        vec![rd(gpa, 12)],
        vec![rd(gpa, 5)],
        vec![then(rd(gpa, 6), 1), rd(gpa + 6, 6)],
        vec![rd(gpa, 0)],
    ] {
        let head = chain(&mut bed.guest.txq, &descs)[0];
        offer(&mut bed.guest.txq, head);
        rx_rejects(&mut bed, head, "bad_headers");
    }
    rx_still_serves(&mut bed);
}

#[test]
fn legacy_header_is_ten_bytes() {
    let mut bed = Bed::new(0);
    let gpa = bed.guest.mem().alloc(64).unwrap();
    let head = chain(&mut bed.guest.txq, &[rd(gpa, 10)])[0];
    offer(&mut bed.guest.txq, head);
    rx_rejects(&mut bed, head, "bad_headers");
    let head = chain(&mut bed.guest.txq, &[rd(gpa, 11)])[0];
    offer(&mut bed.guest.txq, head);
    assert_eq!(bed.rx_all_bytes().len(), 1, "one byte of frame is a frame");
}

#[test]
fn header_split_over_twelve_descriptors() {
    let mut bed = Bed::new(BASE);
    let f = frame(200, 7);
    let (gpa, len) = packet_in_guest(&bed, &f);
    let mut descs: Vec<_> = (0..12)
        .map(|k| then(rd(gpa + k, 1), k as u16 + 1))
        .collect();
    descs.push(rd(gpa + 12, len - 12));
    let head = chain(&mut bed.guest.txq, &descs)[0];
    offer(&mut bed.guest.txq, head);
    assert!(bed.rx_all_bytes() == vec![f]);
}

#[test]
fn guest_rx_buffer_shorter_than_the_header() {
    for features in [BASE, BASE | MRG] {
        let mut bed = Bed::new(features);
        let gpa = bed.guest.mem().alloc(64).unwrap();
        let head = chain(&mut bed.guest.rxq, &[wr(gpa, 8)])[0];
        offer(&mut bed.guest.rxq, head);
        let mut pkts = burst(&bed.pool, &[frame(64, 1)]);
        assert_eq!(bed.tx_burst(&mut pkts), 1);
        assert_eq!(xstat(&bed.txc, "bad_headers"), 1);
        assert_eq!(bed.guest.rxq.pop_used().map(|u| u.len), Some(0));
        tx_still_serves(&mut bed);
    }
}
