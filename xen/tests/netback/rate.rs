//! Guest tx rate limiting: the measured rate, the credit extension for packets larger
//! than a period's credit, and the toolstack's `rate` key, at connect and live. Timed on a stepped clock,
//! except one check against the real clock.

use vpmd_xen::backend::xenbus::backend_path;
use vpmd_xen::backend::Rate;

use crate::harness::*;

/// Writes the toolstack's `rate` key of guest 3's vif; the backend's store.
fn write_rate_key(sim: &Sim, value: &str) -> SimPlatform {
    let be = SimPlatform::connect(sim.paths(), DomId::DOM0).unwrap();
    let key = format!("{}/rate", backend_path(DomId::DOM0, DomId(3), 0));
    be.store()
        .write(TxId::NONE, &key, value.as_bytes())
        .unwrap();
    be
}

/// A connected vif whose backend has `rate` (or the toolstack's `key`) on `clock`.
fn limited(sim: &Sim, rate: Option<Rate>, key: Option<&str>, clock: &Clock) -> Vif {
    let g = sim.guest(3);
    if let Some(v) = key {
        write_rate_key(sim, v);
    }
    let (mut nb, ends) = probe_backend_with(
        sim,
        BackendConfig {
            rate,
            clock: clock.clone(),
            ..backend_cfg(3)
        },
    );
    let mut nf = probe_frontend(sim, g);
    handshake(&mut nb, &mut nf);
    Vif::new(nb, ends, nf)
}

/// Keeps the guest's tx ring fed with `size`-byte frames and receives for `until` of
/// `clock`'s time, stepping it by `step` if it is manual; the bytes per second that
/// went.
fn measure(v: &mut Vif, clock: &Clock, size: usize, step: Duration, until: Duration) -> f64 {
    let pool = pool();
    let frame = pattern(7, size);
    let mut bytes = 0usize;
    let t0 = clock.now();
    while clock.now() - t0 < until {
        while v.nf.tx_in_flight(0) < 128 {
            v.nf.send(0, &TxPacket::new(&frame)).unwrap();
        }
        let mut out = Burst::with_capacity(32);
        v.rx_once(&pool, &mut out);
        bytes += out.drain().map(|m| m.pkt_len() as usize).sum::<usize>();
        v.nf.poll(0, &mut Vec::new()).unwrap();
        clock.advance(step);
    }
    bytes as f64 / (clock.now() - t0).as_secs_f64()
}

fn assert_near(got: f64, rate: Rate) {
    let want = rate.bytes_per_sec();
    assert!(
        (got - want).abs() <= want / 10.0,
        "{rate}: measured {got:.0} B/s, want {want:.0}"
    );
}

#[test]
fn measured_rate_is_within_ten_percent_on_a_stepped_clock() {
    let sim = Sim::new("rate-stepped");
    let clock = Clock::manual();
    let rate = Rate::parse("10000/1000", '/').unwrap();
    let mut v = limited(&sim, Some(rate), None, &clock);
    let got = measure(
        &mut v,
        &clock,
        1000,
        Duration::from_micros(100),
        Duration::from_millis(200),
    );
    assert_near(got, rate);
    assert!(v.nb.queue_stats()[0].rx_rate_limited.get() > 0);
    assert_eq!(v.rxc.errors.get(), 0);
}

#[test]
fn measured_rate_is_within_ten_percent_on_the_real_clock() {
    let sim = Sim::new("rate-real");
    let clock = Clock::real();
    let rate = Rate::parse("100000/10000", '/').unwrap();
    let mut v = limited(&sim, Some(rate), None, &clock);
    let got = measure(&mut v, &clock, 1000, Duration::ZERO, Duration::from_secs(1));
    assert_near(got, rate);
}

#[test]
fn a_frame_larger_than_a_period_of_credit_waits_in_the_ring_then_goes() {
    let sim = Sim::new("rate-extension");
    let clock = Clock::manual();
    let mut v = limited(&sim, Rate::parse("1000/1000", '/'), None, &clock);
    let pool = pool();
    let big = pattern(3, 60_000);
    v.nf.send(0, &TxPacket::new(&big)).unwrap();
    let mut periods = 0;
    let got = loop {
        let mut out = Burst::with_capacity(8);
        if v.rx_once(&pool, &mut out) == 1 {
            break out.drain().next().unwrap();
        }
        assert!(
            v.nf.tx_in_flight(0) > 0,
            "the frame is not answered while it waits"
        );
        periods += 1;
        assert!(periods < 1000, "starved");
        clock.advance(Duration::from_millis(1));
    };
    assert_eq!(bytes(&got), big);
    // 60 periods of credit accumulate for it.
    assert!((59..=61).contains(&periods), "{periods} periods");
}

#[test]
fn the_toolstack_rate_key_wins_and_a_bad_one_refuses_the_connection() {
    let sim = Sim::new("rate-key");
    let clock = Clock::manual();
    let mut v = limited(&sim, None, Some("1000,1000"), &clock);
    let pool = pool();
    let frame = pattern(4, 1500);
    v.nf.send(0, &TxPacket::new(&frame)).unwrap();
    let mut out = Burst::with_capacity(8);
    assert_eq!(
        v.rx_once(&pool, &mut out),
        0,
        "1500 bytes exceed one period"
    );
    clock.advance(Duration::from_millis(1));
    assert_eq!(v.rx_once(&pool, &mut out), 1);
    assert_eq!(bytes(&out.drain().next().unwrap()), frame);

    let sim = Sim::new("rate-bad-key");
    let g = sim.guest(3);
    let be = write_rate_key(&sim, "fast");
    let (mut nb, _ends) = probe_backend(&sim, 3);
    let mut nf = probe_frontend(&sim, g);
    pump(&mut nb, &mut nf, |nb, _| {
        matches!(nb.state(), XenbusState::Closing | XenbusState::Closed)
    });
    let err = be
        .store()
        .read(TxId::NONE, &format!("{}/error", nb.path()))
        .unwrap();
    let err = String::from_utf8(err).unwrap();
    assert!(err.contains("/rate") && err.contains("bytes,usec"), "{err}");
}

/// Rewrites the `rate` key and runs the backend's control plane until the watch
/// event was handled.
fn rewrite_rate(sim: &Sim, v: &mut Vif, value: &str) {
    write_rate_key(sim, value);
    // The watch event is queued once the write returns; drain what has arrived.
    while v.nb.poll_events(Duration::from_millis(20)).unwrap() {}
}

#[test]
fn a_live_rate_change_is_followed_within_ten_percent_and_a_bad_one_is_ignored() {
    let sim = Sim::new("rate-live");
    let clock = Clock::manual();
    let mut v = limited(&sim, None, Some("10000,1000"), &clock);
    let step = Duration::from_micros(100);
    let span = Duration::from_millis(200);
    for key in ["40000,1000", "2000,1000", "20000,500"] {
        rewrite_rate(&sim, &mut v, key);
        // The first period after a change may still spend credit of the old rate.
        measure(&mut v, &clock, 1000, step, Duration::from_millis(10));
        let got = measure(&mut v, &clock, 1000, step, span);
        assert_near(got, Rate::parse(key, ',').unwrap());
    }
    rewrite_rate(&sim, &mut v, "fast");
    assert_eq!(v.nb.rate_key_invalid(), 1);
    let got = measure(&mut v, &clock, 1000, step, span);
    assert_near(got, Rate::parse("20000,500", ',').unwrap());
    assert_eq!(v.nb.state(), XenbusState::Connected);

    // Removing the key lifts the limit (no devarg rate here).
    let be = SimPlatform::connect(sim.paths(), DomId::DOM0).unwrap();
    be.store()
        .rm(TxId::NONE, &format!("{}/rate", v.nb.path()))
        .unwrap();
    while v.nb.poll_events(Duration::from_millis(20)).unwrap() {}
    let got = measure(&mut v, &clock, 1000, step, span);
    assert!(got > 100_000.0 * 10.0, "unlimited: {got:.0} B/s");
    assert_eq!(v.rxc.errors.get(), 0);
}

/// As [`measure`], on queue `q` of a multi-queue vif.
fn measure_queue(v: &mut Vif, clock: &Clock, q: u16, step: Duration, until: Duration) -> f64 {
    let pool = pool();
    let frame = pattern(5, 1000);
    let (mut bytes, t0) = (0usize, clock.now());
    while clock.now() - t0 < until {
        while v.nf.tx_in_flight(q) < 128 {
            v.nf.send(q, &TxPacket::new(&frame)).unwrap();
        }
        let mut out = Burst::with_capacity(32);
        let e = &mut v.ends[usize::from(q)];
        if let Some(r) = e.rx.enter() {
            r.rx_burst(&pool, &mut out, 32, &v.rxc, &mut Vec::new());
        }
        e.rx.exit(0);
        bytes += out.drain().map(|m| m.pkt_len() as usize).sum::<usize>();
        v.nf.poll(q, &mut Vec::new()).unwrap();
        clock.advance(step);
    }
    bytes as f64 / (clock.now() - t0).as_secs_f64()
}

#[test]
fn a_live_rate_change_reaches_every_queue() {
    let sim = Sim::new("rate-live-mq");
    let clock = Clock::manual();
    let g = sim.guest_with(
        3,
        DomainLayout {
            mem_pages: 2 * vpmd_xen::netfront::PAGES_PER_QUEUE,
            grant_frames: 3,
        },
    );
    write_rate_key(&sim, "10000,1000");
    let (mut nb, ends) = probe_backend_with(
        &sim,
        BackendConfig {
            max_queues: 2,
            clock: clock.clone(),
            ..backend_cfg(3)
        },
    );
    let fe = NetfrontConfig {
        queues: 2,
        split_evtchn: true,
        ..NetfrontConfig::new(0)
    };
    let mut nf = Netfront::probe(g, sim.paths(), fe).unwrap();
    handshake(&mut nb, &mut nf);
    let mut v = Vif::new(nb, ends, nf);
    let each_queue_near = |v: &mut Vif, key: &str| {
        let step = Duration::from_micros(100);
        for q in 0..2 {
            measure_queue(v, &clock, q, step, Duration::from_millis(10));
            let got = measure_queue(v, &clock, q, step, Duration::from_millis(200));
            assert_near(got, Rate::parse(key, ',').unwrap());
        }
    };
    each_queue_near(&mut v, "10000,1000");
    rewrite_rate(&sim, &mut v, "30000,1000");
    each_queue_near(&mut v, "30000,1000");
}
