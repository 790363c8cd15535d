//! 18: a guest that never posts receive buffers, and one that keeps its transmit ring
//! full: each call does a bounded amount of work and returns.

use vpmd_vhost::driver::TxLayout;
use vpmd_vhost::net::MAX_BURST;

use super::*;

#[test]
fn guest_that_never_posts_receive_buffers() {
    let mut bed = Bed::new(BASE | MRG);
    let mut pkts = burst(&bed.pool, &[frame(64, 1), frame(1500, 2)]);
    for _ in 0..1000 {
        assert_eq!(bed.tx_burst(&mut pkts), 0);
    }
    assert_eq!(pkts.len(), 2);
    assert_eq!(bed.tx.position(), (0, 0));
    assert_eq!(bed.rx_interrupts(), 0);
    assert_eq!(bed.pool.stats().in_use, 2);
}

#[test]
fn guest_that_keeps_its_tx_ring_full() {
    let mut bed = Bed::new(BASE);
    let mut total = 0;
    for round in 0..200 {
        while bed
            .guest
            .queue_frame(
                &Default::default(),
                &frame(64, round as u8),
                TxLayout::Joined,
            )
            .is_some()
        {}
        bed.guest.publish_tx();
        let got = bed.rx_burst(usize::MAX);
        assert!(got.len() <= MAX_BURST);
        total += got.len();
        bed.guest.complete_tx();
    }
    assert_eq!(total, 200 * MAX_BURST);
}
