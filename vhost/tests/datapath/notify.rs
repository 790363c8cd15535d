//! Kick suppression while polling, interrupts only when the guest asks, EVENT_IDX.

use vpmd_vhost::driver::TxLayout;

use crate::common::*;

#[test]
fn polling_keeps_kicks_off_without_event_idx() {
    let mut bed = Bed::new(BASE);
    assert_eq!(bed.guest.txq.used_flags() & 1, 1, "NO_NOTIFY set at start");
    for round in 0..20u8 {
        for i in 0..30 {
            bed.guest
                .queue_frame(&Default::default(), &frame(64, i), TxLayout::Joined)
                .unwrap();
        }
        assert!(
            !bed.guest.publish_tx(),
            "round {round}: the guest would kick"
        );
        assert_eq!(bed.rx_all().len(), 30);
        bed.guest.complete_tx();
    }
}

#[test]
fn polling_keeps_kicks_off_with_event_idx() {
    let mut bed = Bed::new(BASE | EVENT_IDX);
    assert_eq!(bed.guest.txq.avail_event(), 256, "last_avail + size");
    for round in 0..20u8 {
        // Up to a full ring at once: avail.idx never crosses avail_event.
        let n = if round % 2 == 0 { 256 } else { 7 };
        for i in 0..n {
            bed.guest
                .queue_frame(&Default::default(), &frame(64, i as u8), TxLayout::Joined)
                .unwrap();
        }
        assert!(
            !bed.guest.publish_tx(),
            "round {round}: the guest would kick"
        );
        assert_eq!(bed.rx_all().len(), n);
        let (last_avail, _) = bed.rx.position();
        assert_eq!(bed.guest.txq.avail_event(), last_avail.wrapping_add(256));
        bed.guest.complete_tx();
    }
}

#[test]
fn interrupts_only_when_the_guest_asks_and_once_per_burst() {
    let mut bed = Bed::new(BASE);
    bed.guest.rxq.set_no_interrupt(true);
    bed.guest.post_rx(64, 2048, 1, false);
    let frames: Vec<_> = (0..5).map(|i| frame(100, i)).collect();
    let mut pkts = burst(&bed.pool, &frames);
    assert_eq!(bed.tx_burst(&mut pkts), 5);
    assert_eq!(bed.rx_interrupts(), 0);
    bed.guest.rxq.set_no_interrupt(false);
    let mut pkts = burst(&bed.pool, &frames);
    assert_eq!(bed.tx_burst(&mut pkts), 5);
    assert_eq!(bed.rx_interrupts(), 1, "one per burst, not per packet");
    assert_eq!(xstat(&bed.txc, "guest_notifications"), 1);
    // The guest's tx ring: returning used tx buffers interrupts too, unless suppressed.
    bed.guest.txq.set_no_interrupt(true);
    bed.guest_to_host(&frames, TxLayout::Joined);
    assert_eq!(bed.tx_interrupts(), 0);
    bed.guest.txq.set_no_interrupt(false);
    bed.guest_to_host(&frames, TxLayout::Joined);
    assert_eq!(bed.tx_interrupts(), 1);
    assert_eq!(xstat(&bed.rxc, "guest_notifications"), 1);
}

#[test]
fn event_idx_interrupts_when_used_idx_passes_used_event() {
    let mut bed = Bed::new(BASE | EVENT_IDX);
    bed.guest.post_rx(200, 2048, 1, false);
    let send = |bed: &mut Bed, n: usize| {
        let frames: Vec<_> = (0..n).map(|i| frame(80, i as u8)).collect();
        let mut pkts = burst(&bed.pool, &frames);
        assert_eq!(bed.tx_burst(&mut pkts), n);
        bed.rx_interrupts()
    };
    // The first decision after start always interrupts.
    bed.guest.rxq.set_used_event(1000);
    assert_eq!(send(&mut bed, 1), 1);
    // used.idx is 1; "interrupt me once the element at 3 is used".
    bed.guest.rxq.set_used_event(3);
    assert_eq!(send(&mut bed, 1), 1, "1 -> 2 does not pass 3");
    assert_eq!(send(&mut bed, 3), 2, "2 -> 5 passes 3");
    assert_eq!(send(&mut bed, 4), 2, "5 -> 9: event 3 is behind");
    bed.guest.rxq.set_used_event(9);
    assert_eq!(send(&mut bed, 1), 3, "9 -> 10 passes 9");
    assert_eq!(xstat(&bed.txc, "guest_notifications"), 3);
}

#[test]
fn event_idx_across_index_wrap() {
    let mut bed = Bed::with(BASE | EVENT_IDX, 64, 2048, 65530);
    bed.guest.post_rx(60, 2048, 1, false);
    let frames: Vec<_> = (0..4).map(|i| frame(80, i)).collect();
    let mut pkts = burst(&bed.pool, &frames);
    assert_eq!(bed.tx_burst(&mut pkts), 4); // first decision: interrupt; used.idx 65534
    bed.guest.rxq.set_used_event(1);
    let mut pkts = burst(&bed.pool, &frames);
    assert_eq!(bed.tx_burst(&mut pkts), 4); // 65534 -> 2 passes 1
    assert_eq!(bed.rx_interrupts(), 2);
    assert_eq!(bed.tx.position(), (2, 2));
}

#[test]
fn enable_notifications_for_an_lcore_going_to_sleep() {
    for features in [BASE, BASE | EVENT_IDX] {
        let ev = features & EVENT_IDX != 0;
        let mut bed = Bed::new(features);
        assert!(!bed.rx.enable_notifications(), "nothing pending");
        bed.guest
            .queue_frame(&Default::default(), &frame(64, 1), TxLayout::Joined)
            .unwrap();
        assert!(
            bed.guest.publish_tx(),
            "kicks are on again (event_idx {ev})"
        );
        assert!(bed.rx.enable_notifications(), "an entry is waiting");
        assert_eq!(bed.rx.avail_pending(), 1);
        bed.rx.disable_notifications();
        bed.guest
            .queue_frame(&Default::default(), &frame(64, 2), TxLayout::Joined)
            .unwrap();
        assert!(!bed.guest.publish_tx(), "polling again (event_idx {ev})");
        assert_eq!(bed.rx_all().len(), 2);
    }
}
