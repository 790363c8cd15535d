//! 11: the available index jumping more than a ring ahead; head indexes out of range.

use vpmd_vhost::net::rx;

use super::*;

#[test]
fn avail_index_more_than_a_ring_ahead_disables_the_guest_tx_queue() {
    let mut bed = Bed::new(BASE);
    bed.guest.txq.set_avail_idx(257);
    for _ in 0..3 {
        assert!(bed.rx_burst(32).is_empty());
    }
    assert!(bed.rx.is_broken());
    assert_eq!(xstat(&bed.rxc, "bad_avail_idx"), 1, "counted once");
    assert_eq!(bed.rx.avail_pending(), 0);
    assert_eq!(bed.rx.position(), (0, 0));
    assert_eq!(bed.pool.stats().in_use, 0);
    // Even a sane index afterwards is not served: only a restart of the ring is.
    bed.guest.txq.set_avail_idx(1);
    let mut out = vpmd_mempool::Burst::with_capacity(32);
    assert_eq!(
        rx::dequeue_burst(&mut bed.rx, &bed.pool, &mut out, 32, 0, &bed.rxc),
        0
    );
    // The other queue of the device is not affected.
    tx_still_serves(&mut bed);
}

#[test]
fn avail_index_more_than_a_ring_ahead_disables_the_guest_rx_queue() {
    let mut bed = Bed::new(BASE | MRG);
    bed.guest.rxq.set_avail_idx(60000);
    let mut pkts = burst(&bed.pool, &[frame(64, 1), frame(64, 2)]);
    assert_eq!(bed.tx_burst(&mut pkts), 0);
    assert_eq!(pkts.len(), 2, "the packets stay with the caller");
    assert!(bed.tx.is_broken());
    assert_eq!(xstat(&bed.txc, "bad_avail_idx"), 1);
    rx_still_serves(&mut bed);
}

#[test]
fn a_full_ring_exactly_is_not_a_jump() {
    let mut bed = Bed::with(BASE, 16, 2048, 65530);
    for i in 0..16 {
        bed.guest
            .queue_frame(
                &Default::default(),
                &frame(64, i),
                vpmd_vhost::driver::TxLayout::Joined,
            )
            .unwrap();
    }
    bed.guest.publish_tx();
    assert_eq!(bed.rx_all_bytes().len(), 16);
    assert!(!bed.rx.is_broken());
}

#[test]
fn head_index_out_of_range_is_consumed_without_a_used_element() {
    let mut bed = Bed::new(BASE);
    bed.guest.txq.push_head(256);
    bed.guest.txq.push_head(u16::MAX);
    bed.guest.txq.publish(false);
    assert!(bed.rx_all_bytes().is_empty());
    assert_eq!(xstat(&bed.rxc, "bad_descriptors"), 2);
    assert_eq!(bed.rx.position(), (2, 0), "no valid id to return");
    assert_eq!(bed.guest.txq.pop_used(), None);
    rx_still_serves(&mut bed);
    assert_eq!(bed.rx.position(), (3, 1));
}

#[test]
fn head_index_out_of_range_on_the_guest_rx_ring_costs_one_packet() {
    let mut bed = Bed::new(BASE);
    bed.guest.rxq.push_head(1000);
    bed.guest.rxq.publish(false);
    bed.guest.post_rx(1, 2048, 1, false);
    let frames = [frame(64, 1), frame(64, 2)];
    let mut pkts = burst(&bed.pool, &frames);
    assert_eq!(bed.tx_burst(&mut pkts), 2);
    assert_eq!(xstat(&bed.txc, "bad_descriptors"), 1);
    assert!(bed.guest.recv().unwrap().data == frames[1]);
    assert_eq!(bed.pool.stats().in_use, 0);
}
