//! Case 29, event-channel storms (XSA-332): a guest that notifies its ports and
//! rewrites a watched key in a tight loop costs its backend a bounded amount of work
//! (ports read with late-EOI backoff, watch events coalesced), the storm is counted as
//! spurious events, and another guest's traffic is untouched.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::harness::*;
use vpmd_xen::backend::late_eoi::MAX_DELAY;
use vpmd_xen::platform::xenstore::COALESCE_AT;

#[test]
fn c29_event_channel_storm_is_bounded_counted_and_harmless() {
    let sim = Sim::new("c29-evtchn-storm");
    let pool = pool();
    let Vif {
        nb: mut rogue_nb,
        ends,
        nf: mut rogue_nf,
        rxc,
        txc,
    } = connected(&sim, 3);
    let mut good = connected(&sim, 4);
    let stop = Arc::new(AtomicBool::new(false));
    let storm = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut notifies = 0u64;
            while !stop.load(Ordering::Relaxed) {
                rogue_nf.raw_notify(0).unwrap();
                notifies += 1;
                if notifies.is_multiple_of(16) {
                    let on = notifies.is_multiple_of(32);
                    rogue_nf.request_multicast_control(on).unwrap();
                }
            }
            (rogue_nf, notifies)
        })
    };

    // The other guest forwards both ways while the rogue's control plane runs.
    let mut data = pattern(9, 1500);
    // Unicast: the rogue asks for multicast filtering below.
    data[0] = 0x02;
    let (t0, mut polls, mut frames, mut queued) = (Instant::now(), 0u64, 0, 0);
    while t0.elapsed() < Duration::from_millis(1500) {
        assert_eq!(bytes(&good.guest_send(&pool, &TxPacket::new(&data))), data);
        assert_eq!(good.tx_all(vec![mbuf(&pool, &data)])[0].data, data);
        frames += 1;
        rogue_nb.poll_events(Duration::ZERO).unwrap();
        polls += 1;
        queued = queued.max(rogue_nb.platform().store().queued_events());
    }
    stop.store(true, Ordering::Relaxed);
    let (rogue_nf, notifies) = storm.join().unwrap();
    assert!(frames > 10, "{frames} frames forwarded");

    let s = &rogue_nb.queue_stats()[0];
    let (events, spurious) = (s.evtchn_events.get(), s.evtchn_spurious.get());
    assert!(notifies > 1000, "storm of {notifies}");
    assert!(
        spurious >= 1 && spurious <= events,
        "{spurious} of {events}"
    );
    // Two ports, each read with a backoff that doubles to a second: a few reads each.
    assert!(events <= 2 * 16, "{events} reads for {notifies} notifies");
    assert!(events <= polls);
    assert!(queued <= COALESCE_AT + 3, "{queued} watch events queued");

    // The rogue is still served: its watch and both directions work.
    let mut rogue = Vif {
        nb: rogue_nb,
        ends,
        nf: rogue_nf,
        rxc,
        txc,
    };
    rogue.nf.request_multicast_control(true).unwrap();
    let end = Instant::now() + GUARD;
    while !rogue.nb.vif().mcast().control() {
        assert!(
            Instant::now() < end,
            "request-multicast-control not followed"
        );
        rogue.nb.poll_events(Duration::from_millis(2)).unwrap();
    }
    assert_eq!(rogue.nb.state(), XenbusState::Connected);
    assert_eq!(rogue.nb.vif().fatal(), None);
    assert_eq!(bytes(&rogue.guest_send(&pool, &TxPacket::new(&data))), data);
    assert_eq!(rogue.tx_all(vec![mbuf(&pool, &data)])[0].data, data);
    // Once the backoff ran out, notifications with work behind them are not spurious.
    let s = &rogue.nb.queue_stats()[0];
    let (events, spurious) = (s.evtchn_events.get(), s.evtchn_spurious.get());
    std::thread::sleep(MAX_DELAY);
    rogue.nf.send(0, &TxPacket::new(&data)).unwrap();
    rogue.rx(&pool, 1);
    rogue.nf.raw_notify(0).unwrap();
    rogue.nb.service_events();
    let s = &rogue.nb.queue_stats()[0];
    assert_eq!(s.evtchn_events.get(), events + 2, "both ports read");
    assert_eq!(s.evtchn_spurious.get(), spurious);
}
