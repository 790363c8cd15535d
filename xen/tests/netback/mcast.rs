//! Multicast control: the feature keys, `request-multicast-control` followed live,
//! `MCAST_ADD`/`MCAST_DEL` requests answered as netback does, and the guest rx filter
//! (listed groups and broadcast pass, other multicast is dropped and counted).

use super::harness::*;

/// A frame of 60 bytes to `dst`.
fn frame_to(dst: [u8; 6]) -> Vec<u8> {
    let mut f = pattern(dst[5], 60);
    f[..6].copy_from_slice(&dst);
    f
}

/// Runs the backend's control plane until its filter is `on`.
fn await_control(v: &mut Vif, on: bool) {
    let end = Instant::now() + GUARD;
    while v.nb.vif().mcast().control() != on {
        assert!(
            Instant::now() < end,
            "request-multicast-control not applied"
        );
        v.nb.poll_events(Duration::from_millis(2)).unwrap();
    }
}

/// Serves the guest's pending tx requests (extra-only ones deliver nothing) and
/// collects their responses.
fn serve_requests(v: &mut Vif, pool: &Mempool) {
    let mut b = Burst::with_capacity(32);
    assert_eq!(v.rx_once(pool, &mut b), 0, "no packet is delivered");
    v.nf.poll(0, &mut Vec::new()).unwrap();
}

/// Which of `frames` the guest received.
fn delivered(v: &mut Vif, pool: &Mempool, frames: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut b = Burst::with_capacity(32);
    for f in frames {
        b.push(mbuf(pool, f)).unwrap();
    }
    assert_eq!(
        v.tx_once(&mut b),
        frames.len(),
        "filtered frames are taken too"
    );
    let mut got = Vec::new();
    v.nf.poll(0, &mut got).unwrap();
    got.into_iter().map(|p| p.data).collect()
}

const GROUP: [u8; 6] = [0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb];
const OTHER: [u8; 6] = [0x33, 0x33, 0x00, 0x00, 0x00, 0x01];

#[test]
fn groups_added_and_deleted_by_the_guest_steer_the_filter() {
    let sim = Sim::new("mcast-filter");
    let pool = pool();
    let mut v = connected(&sim, 3);
    let be = SimPlatform::connect(sim.paths(), DomId::DOM0).unwrap();
    for k in [
        "feature-multicast-control",
        "feature-dynamic-multicast-control",
    ] {
        let key = format!("{}/{k}", v.nb.path());
        assert_eq!(be.store().read(TxId::NONE, &key).unwrap(), b"1", "{k}");
    }
    let (group, other, bcast) = (frame_to(GROUP), frame_to(OTHER), frame_to([0xff; 6]));
    let unicast = frame_to([0x00, 0x16, 0x3e, 0, 0, 3]);
    let stats = Arc::clone(&v.nb.queue_stats()[0]);

    // No filtering until the guest asks: every multicast frame floods.
    assert_eq!(
        delivered(&mut v, &pool, std::slice::from_ref(&group)),
        vec![group.clone()]
    );

    // Asked while connected: followed through the watch.
    v.nf.request_multicast_control(true).unwrap();
    await_control(&mut v, true);
    let all = [group.clone(), other.clone(), bcast.clone(), unicast.clone()];
    assert_eq!(
        delivered(&mut v, &pool, &all),
        [bcast.clone(), unicast.clone()]
    );
    assert_eq!(stats.tx_mcast_filtered.get(), 2);
    assert_eq!(v.txc.packets.get(), 3, "filtered frames are not sent");

    // MCAST_ADD: answered OKAY, its extra NULL, no packet.
    v.nf.mcast_add(0, GROUP).unwrap();
    serve_requests(&mut v, &pool);
    let s = v.nf.tx_stats(0);
    assert_eq!((s.okay, s.null, s.error), (1, 1, 0));
    assert_eq!(v.nf.tx_in_flight(0), 0);
    assert!(v.nb.vif().mcast().contains(GROUP));
    assert_eq!(delivered(&mut v, &pool, &all[..2]), vec![group.clone()]);
    assert_eq!(stats.tx_mcast_filtered.get(), 3);

    // MCAST_DEL: gone again.
    v.nf.mcast_del(0, GROUP).unwrap();
    serve_requests(&mut v, &pool);
    assert_eq!(v.nf.tx_stats(0).okay, 2);
    assert!(v.nb.vif().mcast().is_empty());
    assert!(delivered(&mut v, &pool, &all[..1]).is_empty());
    assert_eq!((stats.rx_mcast_add.get(), stats.rx_mcast_del.get()), (1, 1));

    // Dynamic control: turned off, multicast floods again.
    v.nf.request_multicast_control(false).unwrap();
    await_control(&mut v, false);
    assert_eq!(delivered(&mut v, &pool, &all[..2]), all[..2]);
    assert_eq!(v.rxc.errors.get(), 0);
    assert_eq!(v.nb.vif().fatal(), None);
}

#[test]
fn the_key_written_before_connecting_is_read_at_connect() {
    let sim = Sim::new("mcast-at-connect");
    let g = sim.guest(3);
    let (mut nb, ends) = probe_backend(&sim, 3);
    let st = SimPlatform::connect(sim.paths(), DomId(3)).unwrap();
    st.store()
        .write(
            TxId::NONE,
            "/local/domain/3/device/vif/0/request-multicast-control",
            b"1",
        )
        .unwrap();
    let mut nf = probe_frontend(&sim, g);
    handshake(&mut nb, &mut nf);
    assert!(nb.vif().mcast().control());
    let pool = pool();
    let mut v = Vif::new(nb, ends, nf);
    assert!(delivered(&mut v, &pool, &[frame_to(GROUP)]).is_empty());
}
