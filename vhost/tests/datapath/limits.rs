//! Full rings, empty rings, exhausted pools, burst clamps, packets too big for the guest.

use vpmd_mempool::Burst;
use vpmd_vhost::driver::TxLayout;
use vpmd_vhost::net::{rx, MAX_BURST};

use crate::common::*;

#[test]
fn enqueue_without_rx_buffers_leaves_every_packet() {
    let mut bed = Bed::new(BASE | MRG);
    let frames: Vec<_> = (0..4).map(|i| frame(100, i)).collect();
    let mut pkts = burst(&bed.pool, &frames);
    assert_eq!(bed.tx_burst(&mut pkts), 0);
    assert_eq!(pkts.len(), 4);
    assert_eq!(bed.tx.position(), (0, 0));
    assert_eq!(bed.rx_interrupts(), 0);
}

#[test]
fn enqueue_takes_what_fits_and_leaves_the_rest_in_order() {
    let mut bed = Bed::new(BASE);
    bed.guest.post_rx(5, 2048, 1, false);
    let frames: Vec<_> = (0..10).map(|i| frame(100, i)).collect();
    let mut pkts = burst(&bed.pool, &frames);
    assert_eq!(bed.tx_burst(&mut pkts), 5);
    assert_eq!(pkts.len(), 5);
    let left: Vec<_> = pkts.as_slice().iter().map(bytes).collect();
    assert_eq!(left, frames[5..]);
    for f in &frames[..5] {
        assert_eq!(bed.guest.recv().unwrap().data, *f);
    }
    bed.guest.post_rx(5, 2048, 1, false);
    assert_eq!(bed.tx_burst(&mut pkts), 5);
    assert!(pkts.is_empty());
    assert_eq!(bed.pool.stats().in_use, 0);
}

#[test]
fn mergeable_packet_that_does_not_fit_waits_for_more_buffers() {
    let mut bed = Bed::new(BASE | MRG);
    bed.guest.post_rx(2, 1024, 1, false);
    let big = frame(5000, 1);
    let mut pkts = burst(&bed.pool, std::slice::from_ref(&big));
    assert_eq!(bed.tx_burst(&mut pkts), 0, "needs 5 buffers, 2 posted");
    assert_eq!(
        bed.tx.position(),
        (0, 0),
        "the two buffers are not consumed"
    );
    bed.guest.post_rx(3, 1024, 1, false);
    assert_eq!(bed.tx_burst(&mut pkts), 1);
    let r = bed.guest.recv().unwrap();
    assert_eq!((r.data, r.buffers), (big, 5));
}

#[test]
fn too_big_without_mergeable_is_dropped_and_the_buffer_kept() {
    let mut bed = Bed::new(BASE);
    bed.guest.post_rx(1, 1524, 1, false);
    let frames = vec![frame(2000, 1), frame(300, 2)];
    let mut pkts = burst(&bed.pool, &frames);
    assert_eq!(bed.tx_burst(&mut pkts), 2);
    assert_eq!(xstat(&bed.txc, "too_big_packets"), 1);
    assert_eq!(bed.guest.recv().unwrap().data, frames[1]);
    assert_eq!(bed.tx.position(), (1, 1));
}

#[test]
fn bursts_are_clamped_to_32_and_to_the_room_left() {
    let mut bed = Bed::new(BASE);
    for i in 0..100 {
        bed.guest
            .send(&Default::default(), &frame(64, i), TxLayout::Joined);
    }
    assert_eq!(bed.rx_burst(1000).len(), MAX_BURST);
    let mut out = Burst::with_capacity(40);
    for m in bed.rx_burst(5).drain() {
        out.push(m).unwrap();
    }
    assert_eq!(out.len(), 5);
    let n = rx::dequeue_burst(&mut bed.rx, &bed.pool, &mut out, 32, 0, &bed.rxc);
    assert_eq!((n, out.len()), (32, 37));
    let n = rx::dequeue_burst(&mut bed.rx, &bed.pool, &mut out, 32, 0, &bed.rxc);
    assert_eq!((n, out.len()), (3, 40), "only the room left");
    assert_eq!(bed.rx.position(), (72, 72));

    bed.guest.post_rx(100, 2048, 1, false);
    let frames: Vec<_> = (0..40).map(|i| frame(64, i)).collect();
    let mut pkts = burst(&bed.pool, &frames);
    assert_eq!(bed.tx_burst(&mut pkts), MAX_BURST);
    assert_eq!(pkts.len(), 8);
}

#[test]
fn exhausted_pool_leaves_frames_in_the_ring() {
    let mut bed = Bed::new(BASE);
    bed.pool = pool(8, 2048);
    let frames: Vec<_> = (0..6).map(|i| frame(3000, i)).collect(); // 2 buffers each
    for f in &frames {
        bed.guest.send(&Default::default(), f, TxLayout::Joined);
    }
    let mut held = Burst::with_capacity(8);
    bed.pool.alloc_bulk(&mut held, 4).unwrap();
    // 4 free: 6 heads are refused all at once.
    assert!(bed.rx_burst(32).is_empty());
    assert_eq!(xstat(&bed.rxc, "mbuf_alloc_failed"), 6);
    assert_eq!(bed.rx.position(), (0, 0));
    // Three heads leave one buffer: the first frame takes it for its second segment;
    // the second frame finds none and waits in the ring with the rest.
    let got = bed.rx_burst(3);
    assert_eq!(got.len(), 1);
    assert_eq!(bytes(&got.as_slice()[0]), frames[0]);
    assert_eq!(bed.rx.position(), (1, 1));
    assert_eq!(xstat(&bed.rxc, "mbuf_alloc_failed"), 7);
    assert_eq!(bed.pool.stats().in_use, 6, "unused heads went back");
    drop(got);
    drop(held);
    let rest = bed.rx_all_bytes();
    assert!(rest == frames[1..], "the waiting frames come out in order");
    assert_eq!(bed.rxc.dropped(), 0);
}

#[test]
fn an_empty_ring_costs_nothing() {
    let mut bed = Bed::new(BASE | EVENT_IDX);
    assert!(bed.rx_burst(32).is_empty());
    let mut pkts = burst(&bed.pool, &[frame(64, 0)]);
    assert_eq!(bed.tx_burst(&mut pkts), 0);
    assert_eq!(
        bed.pool.stats().in_use,
        1,
        "no buffer allocated for nothing"
    );
    assert_eq!(bed.tx_interrupts() + bed.rx_interrupts(), 0);
    let _ = pkts.as_slice()[0].pkt_len();
}
