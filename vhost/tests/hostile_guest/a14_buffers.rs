//! 14: buffers outside guest memory, whose end overflows, crossing the end of memory,
//! zero-length with a bogus address; buffers of the wrong direction on either ring.

use super::*;

#[test]
fn buffers_outside_guest_memory() {
    let mut bed = Bed::new(BASE);
    let (gpa, len) = packet_in_guest(&bed, &frame(100, 1));
    let end = bed.guest.mem().end();
    for bad in [
        rd(0, len),
        rd(0x1000, 64),
        rd(end, 64),
        rd(end - 10, 100),
        rd(u64::MAX - 10, 100),
        rd(u64::MAX, 1),
    ] {
        let head = chain(&mut bed.guest.txq, &[then(rd(gpa, len), 1), bad])[0];
        offer(&mut bed.guest.txq, head);
        rx_rejects(&mut bed, head, "bad_descriptors");
    }
    rx_still_serves(&mut bed);
}

#[test]
fn zero_length_buffers_are_skipped_whatever_their_address() {
    let mut bed = Bed::new(BASE);
    let f = frame(100, 2);
    let (gpa, len) = packet_in_guest(&bed, &f);
    let head = chain(
        &mut bed.guest.txq,
        &[
            then(rd(0xdead_beef_0000, 0), 1),
            then(rd(gpa, len), 2),
            rd(u64::MAX, 0),
        ],
    )[0];
    offer(&mut bed.guest.txq, head);
    assert!(bed.rx_all_bytes() == vec![f]);
    assert_eq!(bed.rxc.dropped(), 0);
}

#[test]
fn write_only_buffer_in_a_guest_tx_chain() {
    let mut bed = Bed::new(BASE);
    let (gpa, len) = packet_in_guest(&bed, &frame(100, 3));
    let head = chain(
        &mut bed.guest.txq,
        &[then(rd(gpa, 12), 1), wr(gpa + 12, len - 12)],
    )[0];
    offer(&mut bed.guest.txq, head);
    rx_rejects(&mut bed, head, "bad_descriptors");
    rx_still_serves(&mut bed);
}

#[test]
fn read_only_buffer_in_a_guest_rx_chain() {
    let mut bed = Bed::new(BASE);
    let gpa = bed.guest.mem().alloc(2048).unwrap();
    let head = chain(
        &mut bed.guest.rxq,
        &[then(wr(gpa, 100), 1), rd(gpa + 100, 1900)],
    )[0];
    offer(&mut bed.guest.rxq, head);
    let mut pkts = burst(&bed.pool, &[frame(1000, 1)]);
    assert_eq!(bed.tx_burst(&mut pkts), 1);
    assert_eq!(xstat(&bed.txc, "bad_descriptors"), 1);
    assert_eq!(
        bed.guest.rxq.pop_used().map(|u| (u.id, u.len)),
        Some((head as u32, 0))
    );
    tx_still_serves(&mut bed);
    assert_eq!(bed.pool.stats().in_use, 0);
}

#[test]
fn guest_rx_buffer_outside_memory() {
    let mut bed = Bed::new(BASE | MRG);
    let end = bed.guest.mem().end();
    let head = chain(&mut bed.guest.rxq, &[wr(end - 100, 2048)])[0];
    offer(&mut bed.guest.rxq, head);
    let mut pkts = burst(&bed.pool, &[frame(1000, 1)]);
    assert_eq!(bed.tx_burst(&mut pkts), 1);
    assert_eq!(xstat(&bed.txc, "bad_descriptors"), 1);
    assert_eq!(bed.guest.rxq.pop_used().map(|u| u.len), Some(0));
    tx_still_serves(&mut bed);
}
