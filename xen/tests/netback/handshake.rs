//! The xenbus dance: both orders, reconnect after the frontend closed, bad keys.

use std::time::Duration;

use super::harness::*;

fn ping(v: &mut Vif, pool: &Mempool) {
    let data = pattern(7, 1000);
    let m = v.guest_send(pool, &TxPacket::new(&data));
    assert_eq!(bytes(&m), data);
}

#[test]
fn backend_first_then_frontend() {
    let sim = Sim::new("hs-be-first");
    let g = sim.guest(3);
    let (mut nb, ends) = probe_backend(&sim, 3);
    // The toolstack left the frontend Initialising: the backend waits for it.
    assert_eq!(nb.state(), XenbusState::InitWait);
    let dom0 = SimPlatform::connect(sim.paths(), DomId::DOM0).unwrap();
    for (k, v) in [
        ("feature-sg", "1"),
        ("feature-gso-tcpv4", "1"),
        ("feature-gso-tcpv6", "1"),
        ("feature-ipv6-csum-offload", "1"),
        ("feature-rx-copy", "1"),
        ("feature-rx-flip", "0"),
        ("feature-split-event-channels", "1"),
        ("multi-queue-max-queues", "1"),
        ("state", "2"),
        // Set before the frontend connects: xl waits for it to unpause the guest.
        ("hotplug-status", "connected"),
    ] {
        let got = dom0
            .store()
            .read(TxId::NONE, &format!("{}/{k}", nb.path()))
            .unwrap();
        assert_eq!(got, v.as_bytes(), "{k}");
    }
    let mut nf = probe_frontend(&sim, g);
    handshake(&mut nb, &mut nf);
    assert!(nb.carrier());
    assert_eq!(nb.mac(), spec(3).mac);
    assert_eq!(nb.handle(), 0);
    assert!(nb.frontend_rx_notify());
    let mut v = Vif::new(nb, ends, nf);
    ping(&mut v, &pool());
}

#[test]
fn frontend_first_then_backend() {
    let sim = Sim::new("hs-fe-first");
    let g = sim.guest(3);
    let mut nf = probe_frontend(&sim, g);
    // No backend yet: the frontend waits in Initialising.
    assert!(
        !nf.step(Duration::from_millis(20)).unwrap() || nf.state() == XenbusState::Initialising
    );
    assert_eq!(nf.state(), XenbusState::Initialising);
    let (mut nb, ends) = probe_backend(&sim, 3);
    handshake(&mut nb, &mut nf);
    let mut v = Vif::new(nb, ends, nf);
    ping(&mut v, &pool());
}

#[test]
fn reconnect_after_frontend_closed() {
    let sim = Sim::new("hs-reconnect");
    let pool = pool();
    let mut v = connected(&sim, 3);
    ping(&mut v, &pool);
    v.nf.start_close().unwrap();
    pump(&mut v.nb, &mut v.nf, |nb, nf| {
        nb.state() == XenbusState::Closed && nf.state() == XenbusState::Closed
    });
    assert!(!v.nb.carrier());
    // Still the backend's: the vif stays for a reconnect.
    let hotplug = format!("{}/hotplug-status", v.nb.path());
    let got = v.nb.platform().store().read(TxId::NONE, &hotplug).unwrap();
    assert_eq!(got, b"connected");
    // The data path has nothing to work on once closed.
    let mut b = Burst::with_capacity(4);
    assert_eq!(v.rx_once(&pool, &mut b), 0);
    v.nf.restart().unwrap();
    handshake(&mut v.nb, &mut v.nf);
    ping(&mut v, &pool);
    ping(&mut v, &pool);
}

#[test]
fn bad_ring_ref_closes_with_an_error_key() {
    let sim = Sim::new("hs-bad-ref");
    let nb = fake_frontend(
        &sim,
        3,
        &[
            ("request-rx-copy", "1"),
            ("tx-ring-ref", "bogus"),
            ("rx-ring-ref", "9"),
            ("event-channel", "1"),
        ],
    );
    let e = error_key(&sim, &nb);
    assert!(e.contains("tx-ring-ref"), "{e}");
    assert!(!nb.carrier());
}

#[test]
fn missing_keys_and_too_many_queues_close_with_an_error_key() {
    let sim = Sim::new("hs-missing");
    let nb = fake_frontend(&sim, 3, &[("request-rx-copy", "1"), ("tx-ring-ref", "8")]);
    assert!(error_key(&sim, &nb).contains("rx-ring-ref"));
    let nb = fake_frontend(
        &sim,
        4,
        &[("request-rx-copy", "1"), ("multi-queue-num-queues", "99")],
    );
    assert!(error_key(&sim, &nb).contains("multi-queue-num-queues"));
    let nb = fake_frontend(&sim, 5, &[("tx-ring-ref", "8")]);
    assert!(error_key(&sim, &nb).contains("request-rx-copy"));
}

#[test]
fn ungranted_ring_closes_with_an_error_key() {
    let sim = Sim::new("hs-unmapped");
    let nb = fake_frontend(
        &sim,
        3,
        &[
            ("request-rx-copy", "1"),
            ("tx-ring-ref", "100"),
            ("rx-ring-ref", "101"),
            ("event-channel", "1"),
        ],
    );
    let e = error_key(&sim, &nb);
    assert!(e.contains("map") && e.contains("tx-ring-ref"), "{e}");
}

#[test]
fn close_removes_hotplug_status() {
    let sim = Sim::new("hs-close");
    let mut v = connected(&sim, 3);
    let hotplug = format!("{}/hotplug-status", v.nb.path());
    v.nb.close().unwrap();
    assert_eq!(v.nb.state(), XenbusState::Closed);
    let err =
        v.nb.platform()
            .store()
            .read(TxId::NONE, &hotplug)
            .unwrap_err();
    assert!(err.is_not_found(), "{err}");
}
