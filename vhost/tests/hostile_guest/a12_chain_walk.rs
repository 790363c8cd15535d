//! 12: chains that loop, `next` out of range, chains longer than the ring, more buffers
//! than vpmd gathers, frames longer than any real one; on both rings.

use super::*;

#[test]
fn descriptor_loop_on_the_guest_tx_ring() {
    let mut bed = Bed::new(BASE);
    let (gpa, len) = packet_in_guest(&bed, &frame(100, 1));
    for descs in [
        vec![then(rd(gpa, 6), 1), then(rd(gpa + 6, len - 6), 0)],
        vec![then(rd(gpa, len), 0)],
        vec![
            then(rd(gpa, 4), 1),
            then(rd(gpa + 4, 4), 2),
            then(rd(gpa + 8, 4), 1),
        ],
    ] {
        let head = chain(&mut bed.guest.txq, &descs)[0];
        offer(&mut bed.guest.txq, head);
        rx_rejects(&mut bed, head, "bad_chains");
    }
    rx_still_serves(&mut bed);
}

#[test]
fn next_out_of_range() {
    let mut bed = Bed::new(BASE);
    let (gpa, len) = packet_in_guest(&bed, &frame(100, 1));
    for next in [256, 4096, u16::MAX] {
        let head = chain(&mut bed.guest.txq, &[then(rd(gpa, len), next)])[0];
        offer(&mut bed.guest.txq, head);
        rx_rejects(&mut bed, head, "bad_descriptors");
    }
    rx_still_serves(&mut bed);
}

#[test]
fn a_chain_as_long_as_the_ring_is_served() {
    // Every descriptor of a 16-entry ring in one chain: legal, and the limit.
    let mut bed = Bed::with(BASE, 16, 2048, 0);
    let f = frame(100, 3);
    let (gpa, len) = packet_in_guest(&bed, &f);
    let mut descs: Vec<_> = (0..15)
        .map(|k| then(rd(gpa + k, 1), k as u16 + 1))
        .collect();
    descs.push(rd(gpa + 15, len - 15));
    let head = chain(&mut bed.guest.txq, &descs)[0];
    offer(&mut bed.guest.txq, head);
    assert!(bed.rx_all_bytes() == vec![f]);
    assert_eq!(bed.rxc.dropped(), 0);
}

#[test]
fn more_buffers_than_vpmd_gathers() {
    let mut bed = Bed::with(BASE | INDIRECT, 512, 2048, 0);
    let (gpa, _) = packet_in_guest(&bed, &frame(2000, 4));
    let mut descs: Vec<_> = (0..299)
        .map(|k| then(rd(gpa + 4 * k, 4), k as u16 + 1))
        .collect();
    descs.push(rd(gpa + 4 * 299, 4));
    let head = chain(&mut bed.guest.txq, &descs)[0];
    offer(&mut bed.guest.txq, head);
    rx_rejects(&mut bed, head, "bad_chains");
    rx_still_serves(&mut bed);
}

#[test]
fn frame_longer_than_max_frame_len() {
    let mut bed = Bed::new(BASE);
    let gpa = bed.guest.mem().alloc(70_000).unwrap();
    let head = chain(&mut bed.guest.txq, &[rd(gpa, 70_000)])[0];
    offer(&mut bed.guest.txq, head);
    rx_rejects(&mut bed, head, "too_big_packets");
    // And as many 64 KiB descriptors as the ring holds, for a 4 GiB claim: same.
    let mut descs: Vec<_> = (0..100).map(|k| then(rd(gpa, 65536), k + 1)).collect();
    descs.push(rd(gpa, 1));
    let head = chain(&mut bed.guest.txq, &descs)[0];
    offer(&mut bed.guest.txq, head);
    rx_rejects(&mut bed, head, "too_big_packets");
    rx_still_serves(&mut bed);
}

#[test]
fn descriptor_loop_on_the_guest_rx_ring() {
    let mut bed = Bed::new(BASE | MRG);
    // Zero-length buffers: the loop never gathers room, so only the ttl ends it.
    let gpa = bed.guest.mem().alloc(64).unwrap();
    let looped = chain(
        &mut bed.guest.rxq,
        &[then(wr(gpa, 0), 1), then(wr(gpa + 16, 0), 0)],
    )[0];
    offer(&mut bed.guest.rxq, looped);
    let mut pkts = burst(&bed.pool, &[frame(100, 1)]);
    assert_eq!(bed.tx_burst(&mut pkts), 1, "taken: dropped and counted");
    assert_eq!(xstat(&bed.txc, "bad_chains"), 1);
    assert_eq!(
        bed.guest.rxq.pop_used(),
        Some(Used {
            id: looped as u32,
            len: 0
        })
    );
    tx_still_serves(&mut bed);
    assert_eq!(bed.pool.stats().in_use, 0);
}

#[test]
fn a_bad_chain_in_the_middle_of_a_mergeable_packet_returns_them_all() {
    let mut bed = Bed::new(BASE | MRG);
    bed.guest.post_rx(2, 512, 1, false);
    let bad = chain(&mut bed.guest.rxq, &[then(wr(0x100, 512), 300)])[0];
    offer(&mut bed.guest.rxq, bad);
    let mut pkts = burst(&bed.pool, &[frame(1400, 1)]);
    assert_eq!(bed.tx_burst(&mut pkts), 1);
    assert_eq!(xstat(&bed.txc, "bad_descriptors"), 1);
    let mut lens = Vec::new();
    while let Some(u) = bed.guest.rxq.pop_used() {
        lens.push(u.len);
    }
    assert_eq!(lens, [0, 0, 0], "the good two and the bad one, all empty");
    tx_still_serves(&mut bed);
}

#[test]
fn loops_after_enough_room_are_not_walked() {
    // Placing a packet stops once it fits; the rest of the chain is not read.
    let mut bed = Bed::new(BASE);
    let gpa = bed.guest.mem().alloc(2048).unwrap();
    let head = chain(
        &mut bed.guest.rxq,
        &[then(wr(gpa, 2048), 1), then(wr(gpa, 16), 1)],
    )[0];
    offer(&mut bed.guest.rxq, head);
    let mut pkts = burst(&bed.pool, &[frame(100, 1)]);
    assert_eq!(bed.tx_burst(&mut pkts), 1);
    assert_eq!(bed.txc.dropped(), 0);
    assert_eq!(bed.guest.rxq.pop_used().map(|u| u.len), Some(112));
}
