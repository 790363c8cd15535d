//! Hostile frontends against netback (ANCHORS 2.4, cases 21-29; 23's multicast flood
//! is in [`mcast_flood`], 29 in [`evtchn_storm`]), one test per check. Each shows the
//! rogue vif disabled with the right reason (carrier off, no more work) or the bad
//! packet dropped with the right status and counter, and that a second guest's vif
//! keeps working both ways.

#[path = "../common/host_dir.rs"]
mod host_dir;

#[path = "../netback/harness.rs"]
mod harness;

mod evtchn_storm;
mod mcast_flood;

use harness::*;
use vpmd_xen::backend::{FatalReason, HashSettings};
use vpmd_xen::wire::defs::*;
use vpmd_xen::wire::grant::GrantRef;
use vpmd_xen::wire::netif::{ExtraFlags, ExtraInfo, TxFlags, TxRequest};
use vpmd_xen::wire::Entry;

/// A rogue guest (3) and a well-behaved one (4), both connected.
fn two(name: &str) -> (Sim, Mempool, Vif, Vif) {
    let sim = Sim::new(name);
    let pool = pool();
    let rogue = connected(&sim, 3);
    let good = connected(&sim, 4);
    (sim, pool, rogue, good)
}

fn req(gref: GrantRef, offset: u16, flags: u16, id: u16, size: u16) -> [u8; 12] {
    TxRequest {
        gref,
        offset,
        flags: TxFlags(flags),
        id,
        size,
    }
    .encode()
}

fn extra(kind: u8, u: [u8; 6]) -> [u8; 12] {
    ExtraInfo {
        kind,
        flags: ExtraFlags::EMPTY,
        u,
    }
    .encode_slot()
}

/// A granted page holding `len` pattern bytes at `offset`: (id, gref).
fn page(v: &mut Vif, offset: u16, len: usize) -> (u16, GrantRef) {
    v.nf.raw_grant(0, offset, &pattern(len as u8, len)).unwrap()
}

/// A granted page of `len` bytes at `offset`, and a request for it.
fn slot(v: &mut Vif, offset: u16, len: usize, flags: u16, size: u16) {
    let (id, gref) = page(v, offset, len);
    v.nf.raw_put(0, req(gref, offset, flags, id, size)).unwrap();
}

/// One rx burst on the rogue's queue after it pushed its slots.
fn serve(v: &mut Vif, pool: &Mempool) -> Vec<Mbuf> {
    v.nf.raw_push(0).unwrap();
    let mut b = Burst::with_capacity(32);
    v.rx_once(pool, &mut b);
    b.drain().collect()
}

/// The vif was disabled for `why`: carrier off, and no more work is done for it.
fn assert_rogue(v: &mut Vif, pool: &Mempool, why: FatalReason) {
    assert_eq!(v.nb.vif().fatal(), Some(why));
    assert!(!v.nb.carrier());
    // Nothing more is taken from its ring, and packets for it are dropped.
    let data = pattern(1, 100);
    v.nf.send(0, &TxPacket::new(&data)).unwrap();
    let mut b = Burst::with_capacity(8);
    assert_eq!(v.rx_once(pool, &mut b), 0);
    let mut out = Burst::with_capacity(8);
    out.push(mbuf(pool, &data)).unwrap();
    assert_eq!(v.tx_once(&mut out), 1);
    assert_eq!(v.txc.errors.get(), 1);
}

/// The bad packet was answered `NETIF_RSP_ERROR` (`slots` responses) and counted.
fn assert_dropped(v: &mut Vif, errors: u64) {
    assert_eq!(v.nb.vif().fatal(), None);
    assert!(v.nb.carrier());
    assert_eq!(v.rxc.errors.get(), 1);
    let mut sink = Vec::new();
    v.nf.poll(0, &mut sink).unwrap();
    assert_eq!(v.nf.tx_stats(0).error, errors);
    assert_eq!(v.nf.tx_in_flight(0), 0);
}

/// A vif still forwards both ways.
fn assert_works(v: &mut Vif, pool: &Mempool) {
    let data = pattern(42, 3000);
    assert_eq!(bytes(&v.guest_send(pool, &TxPacket::new(&data))), data);
    let got = v.tx_all(vec![mbuf(pool, &data)]);
    assert_eq!(got[0].data, data);
}

// ---- 21: slot counts and ring indexes ----

#[test]
fn c21_request_count_beyond_the_ring_disables_the_vif() {
    let (_s, pool, mut rogue, mut good) = two("c21-prod");
    rogue.nf.raw_set_req_prod(0, 257).unwrap();
    let mut b = Burst::with_capacity(8);
    assert_eq!(rogue.rx_once(&pool, &mut b), 0);
    assert_rogue_after_reset(&mut rogue, &pool, FatalReason::ImpossibleRequests);
    assert_works(&mut good, &pool);
}

/// As [`assert_rogue`], for a ring whose `req_prod` was forged.
fn assert_rogue_after_reset(v: &mut Vif, pool: &Mempool, why: FatalReason) {
    assert_eq!(v.nb.vif().fatal(), Some(why));
    assert!(!v.nb.carrier());
    let mut b = Burst::with_capacity(8);
    assert_eq!(v.rx_once(pool, &mut b), 0);
}

/// A packet of `1 + follow` slots of 20 bytes each.
fn chain(v: &mut Vif, follow: usize) {
    let total = 20 * (1 + follow);
    let (id, gref) = page(v, 0, 20);
    v.nf.raw_put(0, req(gref, 0, NETTXF_MORE_DATA, id, total as u16))
        .unwrap();
    for i in 0..follow {
        let (id, gref) = page(v, 0, 20);
        let more = if i + 1 < follow { NETTXF_MORE_DATA } else { 0 };
        v.nf.raw_put(0, req(gref, 0, more, id, 20)).unwrap();
    }
}

#[test]
fn c21_eighteen_following_slots_pass_nineteen_are_dropped() {
    let (_s, pool, mut rogue, mut good) = two("c21-drop");
    chain(&mut rogue, 18);
    let got = serve(&mut rogue, &pool);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].pkt_len(), 20 * 19);
    chain(&mut rogue, 19);
    assert!(serve(&mut rogue, &pool).is_empty());
    assert_eq!(rogue.ends[0].stats.rx_drop_slots.get(), 1);
    assert_dropped(&mut rogue, 20);
    assert_works(&mut rogue, &pool);
    assert_works(&mut good, &pool);
}

#[test]
fn c21_more_than_twenty_following_slots_disable_the_vif() {
    let (_s, pool, mut rogue, mut good) = two("c21-fatal");
    chain(&mut rogue, 20);
    assert!(serve(&mut rogue, &pool).is_empty());
    assert_eq!(
        rogue.nb.vif().fatal(),
        None,
        "20 following slots are only dropped"
    );
    chain(&mut rogue, 21);
    assert!(serve(&mut rogue, &pool).is_empty());
    assert_rogue(&mut rogue, &pool, FatalReason::TooManySlots);
    assert_works(&mut good, &pool);
}

#[test]
fn c21_more_data_past_req_prod_disables_the_vif() {
    let (_s, pool, mut rogue, mut good) = two("c21-more");
    slot(&mut rogue, 0, 100, NETTXF_MORE_DATA, 200);
    assert!(serve(&mut rogue, &pool).is_empty());
    assert_rogue(&mut rogue, &pool, FatalReason::ChainBeyondProd);
    assert_works(&mut good, &pool);
}

// ---- 22: sizes and offsets ----

#[test]
fn c22_fragment_larger_than_the_frame_is_dropped() {
    let (_s, pool, mut rogue, mut good) = two("c22-frag");
    slot(&mut rogue, 0, 100, NETTXF_MORE_DATA, 100);
    slot(&mut rogue, 0, 200, 0, 200);
    assert!(serve(&mut rogue, &pool).is_empty());
    assert_eq!(rogue.ends[0].stats.rx_drop_frag_size.get(), 1);
    assert_dropped(&mut rogue, 2);
    assert_works(&mut good, &pool);
}

#[test]
fn c22_fragment_crossing_its_page_disables_the_vif() {
    let (_s, pool, mut rogue, mut good) = two("c22-cross");
    slot(&mut rogue, 0, 100, NETTXF_MORE_DATA, 300);
    slot(&mut rogue, 4000, 96, 0, 200);
    assert!(serve(&mut rogue, &pool).is_empty());
    assert_rogue(&mut rogue, &pool, FatalReason::CrossPage);
    assert_works(&mut good, &pool);
}

#[test]
fn c22_first_slot_crossing_its_page_disables_the_vif() {
    let (_s, pool, mut rogue, mut good) = two("c22-cross1");
    slot(&mut rogue, 4000, 96, 0, 200);
    assert!(serve(&mut rogue, &pool).is_empty());
    assert_rogue(&mut rogue, &pool, FatalReason::CrossPage);
    assert_works(&mut good, &pool);
}

#[test]
fn c22_zero_length_fragment_is_skipped_not_delivered() {
    let (_s, pool, mut rogue, mut good) = two("c22-zero");
    let a = pattern(60, 60);
    let b = pattern(40, 40);
    let (id, gref) = rogue.nf.raw_grant(0, 0, &a).unwrap();
    rogue
        .nf
        .raw_put(0, req(gref, 0, NETTXF_MORE_DATA, id, 100))
        .unwrap();
    // A zero-length slot naming a grant that does not exist (XSA-448).
    rogue
        .nf
        .raw_put(0, req(GrantRef(9999), 0, NETTXF_MORE_DATA, 200, 0))
        .unwrap();
    let (id, gref) = rogue.nf.raw_grant(0, 0, &b).unwrap();
    rogue.nf.raw_put(0, req(gref, 0, 0, id, 40)).unwrap();
    let got = serve(&mut rogue, &pool);
    assert_eq!(got.len(), 1);
    assert_eq!(bytes(&got[0]), [a, b].concat());
    assert_eq!(rogue.ends[0].stats.rx_zero_frags.get(), 1);
    assert_eq!(rogue.nb.vif().fatal(), None);
    assert_works(&mut good, &pool);
}

// ---- 23: extra info ----

fn with_extra(name: &str, x: Option<[u8; 12]>, why: FatalReason) {
    let (_s, pool, mut rogue, mut good) = two(name);
    slot(&mut rogue, 0, 100, NETTXF_EXTRA_INFO, 100);
    if let Some(x) = x {
        rogue.nf.raw_put(0, x).unwrap();
    }
    assert!(serve(&mut rogue, &pool).is_empty());
    assert_rogue(&mut rogue, &pool, why);
    assert_works(&mut good, &pool);
}

#[test]
fn c23_extra_of_type_zero_disables_the_vif() {
    with_extra(
        "c23-zero",
        Some(extra(0, [0; 6])),
        FatalReason::InvalidExtraType,
    );
}

#[test]
fn c23_extra_of_unknown_type_disables_the_vif() {
    with_extra(
        "c23-unknown",
        Some(extra(XEN_NETIF_EXTRA_TYPE_MAX, [0; 6])),
        FatalReason::InvalidExtraType,
    );
}

#[test]
fn c23_missing_extra_disables_the_vif() {
    with_extra("c23-missing", None, FatalReason::MissingExtra);
}

#[test]
fn c23_gso_of_size_zero_disables_the_vif() {
    let gso = extra(
        XEN_NETIF_EXTRA_TYPE_GSO,
        [0, 0, XEN_NETIF_GSO_TYPE_TCPV4, 0, 0, 0],
    );
    with_extra("c23-gso0", Some(gso), FatalReason::GsoSizeZero);
}

#[test]
fn c23_gso_of_unknown_type_disables_the_vif() {
    let gso = extra(XEN_NETIF_EXTRA_TYPE_GSO, [0xa8, 0x05, 9, 0, 0, 0]);
    with_extra("c23-gsotype", Some(gso), FatalReason::BadGsoType);
}

// ---- 24: headers ----

#[test]
fn c24_first_slot_shorter_than_an_ethernet_header_is_dropped() {
    let (_s, pool, mut rogue, mut good) = two("c24-short");
    slot(&mut rogue, 0, 10, NETTXF_MORE_DATA, 110);
    slot(&mut rogue, 0, 100, 0, 100);
    assert!(serve(&mut rogue, &pool).is_empty());
    assert_eq!(rogue.ends[0].stats.rx_drop_short.get(), 1);
    assert_dropped(&mut rogue, 2);
    assert_works(&mut good, &pool);
}

// ---- 25: grants ----

#[test]
fn c25_revoked_grant_drops_the_packet() {
    let (_s, pool, mut rogue, mut good) = two("c25-revoke");
    let (id, gref) = page(&mut rogue, 0, 100);
    rogue.nf.guest().revoke(gref).unwrap();
    rogue.nf.raw_put(0, req(gref, 0, 0, id, 100)).unwrap();
    assert!(serve(&mut rogue, &pool).is_empty());
    assert_eq!(rogue.ends[0].stats.rx_drop_grant.get(), 1);
    assert_dropped(&mut rogue, 1);
    assert_works(&mut rogue, &pool);
    assert_works(&mut good, &pool);
}

#[test]
fn c25_revoked_rx_buffer_grants_fail_their_responses_only() {
    let (_s, pool, mut rogue, mut good) = two("c25-rx-revoke");
    for g in rogue.nf.raw_rx_grants(0).unwrap() {
        rogue.nf.guest().revoke(g).unwrap();
    }
    let mut b = Burst::with_capacity(8);
    b.push(mbuf(&pool, &pattern(5, 6000))).unwrap();
    assert_eq!(rogue.tx_once(&mut b), 1);
    // Both pages failed: NETIF_RSP_ERROR in their slots, the packet lost.
    assert_eq!(rogue.ends[0].stats.tx_grant_errors.get(), 2);
    let mut got = Vec::new();
    rogue.nf.poll(0, &mut got).unwrap();
    assert!(got.is_empty());
    assert_eq!(rogue.nf.rx_stats(0).errors, 1);
    // A guest's own bad buffers are not a protocol violation.
    assert_eq!(rogue.nb.vif().fatal(), None);
    assert!(rogue.nb.carrier());
    assert_works(&mut good, &pool);
}

// ---- 26: the guest rx ring ----

#[test]
fn c26_no_rx_buffers_posted_keeps_packets_with_the_caller() {
    let sim = Sim::new("c26-empty");
    let pool = pool();
    let mut rogue = connected_with(
        &sim,
        3,
        NetfrontConfig {
            rx_buffers: 0,
            ..NetfrontConfig::new(0)
        },
    );
    let mut good = connected(&sim, 4);
    let mut b = Burst::with_capacity(8);
    b.push(mbuf(&pool, &pattern(1, 100))).unwrap();
    assert_eq!(rogue.tx_once(&mut b), 0);
    assert_eq!(b.len(), 1);
    assert_eq!(rogue.nb.vif().fatal(), None);
    assert_works(&mut good, &pool);
}

#[test]
fn c26_one_free_slot_never_takes_a_packet_needing_two() {
    let sim = Sim::new("c26-one");
    let pool = pool();
    let mut rogue = connected_with(
        &sim,
        3,
        NetfrontConfig {
            rx_buffers: 1,
            ..NetfrontConfig::new(0)
        },
    );
    let mut good = connected(&sim, 4);
    let data = pattern(9, 6000);
    let mut b = Burst::with_capacity(8);
    b.push(mbuf(&pool, &data)).unwrap();
    // XSA-392: one posted buffer and a two-page packet: not taken, nothing consumed.
    for _ in 0..3 {
        assert_eq!(rogue.tx_once(&mut b), 0);
    }
    assert_eq!(b.len(), 1);
    rogue.nf.set_rx_buffers(0, 256).unwrap();
    let mut sink = Vec::new();
    rogue.nf.poll(0, &mut sink).unwrap();
    assert_eq!(rogue.tx_once(&mut b), 1);
    let mut got = Vec::new();
    rogue.nf.recv(0, &mut got, 1, GUARD).unwrap();
    assert_eq!(got[0].data, data);
    assert_works(&mut good, &pool);
}

/// A vif whose frontend keeps `rx_buffers` posted, its backend's timers on `clock`.
fn starving(sim: &Sim, rx_buffers: u32, drain: Duration, stall: Duration, clock: &Clock) -> Vif {
    connected_cfg(
        sim,
        BackendConfig {
            rx_drain: drain,
            rx_stall: stall,
            clock: clock.clone(),
            ..backend_cfg(3)
        },
        NetfrontConfig {
            rx_buffers,
            ..NetfrontConfig::new(0)
        },
    )
}

/// Offers one `len`-byte packet; how many the backend took (sent or dropped).
fn offer(v: &mut Vif, pool: &Mempool, len: usize) -> usize {
    let mut b = Burst::with_capacity(8);
    b.push(mbuf(pool, &pattern(5, len))).unwrap();
    v.tx_once(&mut b)
}

/// Posts buffers again: the carrier comes back at the next burst, which delivers.
fn assert_resumes(v: &mut Vif, pool: &Mempool) {
    v.nf.set_rx_buffers(0, 256).unwrap();
    v.nf.poll(0, &mut Vec::new()).unwrap();
    let data = pattern(6, 6000);
    let got = v.tx_all(vec![mbuf(pool, &data)]);
    assert_eq!(got[0].data, data);
    assert!(v.nb.carrier());
}

#[test]
fn c26_no_rx_buffers_drain_after_10_s_and_stall_the_carrier_after_60_s() {
    let sim = Sim::new("c26-timers");
    let pool = pool();
    let clock = Clock::manual();
    let mut rogue = starving(
        &sim,
        0,
        Duration::from_secs(10),
        Duration::from_secs(60),
        &clock,
    );
    let mut good = connected(&sim, 4);
    let stats = Arc::clone(&rogue.nb.queue_stats()[0]);
    let ms = Duration::from_millis;
    assert_eq!(offer(&mut rogue, &pool, 100), 0);
    clock.advance(ms(9_999));
    assert_eq!(
        offer(&mut rogue, &pool, 100),
        0,
        "kept before the drain timeout"
    );
    clock.advance(ms(1));
    assert_eq!(
        offer(&mut rogue, &pool, 100),
        1,
        "dropped at the drain timeout"
    );
    assert_eq!((stats.tx_drained.get(), rogue.txc.errors.get()), (1, 1));
    assert!(rogue.nb.carrier());
    clock.advance(ms(49_999));
    assert_eq!(offer(&mut rogue, &pool, 100), 1);
    assert!(rogue.nb.carrier(), "not stalled before 60 s");
    clock.advance(ms(1));
    assert_eq!(offer(&mut rogue, &pool, 100), 1);
    assert!(!rogue.nb.carrier(), "stalled at 60 s");
    assert_eq!((stats.tx_stalls.get(), stats.tx_drained.get()), (1, 3));
    assert_eq!(
        rogue.nb.vif().fatal(),
        None,
        "a stall is not a protocol violation"
    );
    assert_works(&mut good, &pool);
    assert_resumes(&mut rogue, &pool);
}

#[test]
fn c26_one_free_slot_does_not_defeat_the_configured_stall_timer() {
    let sim = Sim::new("c26-one-stall");
    let pool = pool();
    let clock = Clock::manual();
    let (drain, stall) = (Duration::from_millis(50), Duration::from_millis(200));
    let mut rogue = starving(&sim, 1, drain, stall, &clock);
    // A two-page packet never fits the one posted buffer: no progress.
    assert_eq!(offer(&mut rogue, &pool, 6000), 0);
    clock.advance(drain);
    assert_eq!(offer(&mut rogue, &pool, 6000), 1, "drained");
    clock.advance(stall - drain);
    assert_eq!(offer(&mut rogue, &pool, 6000), 1);
    assert!(!rogue.nb.carrier(), "stalled despite the free slot");
    // The free slot holds a small packet, but the queue stays stalled until the ring
    // has room for what stalled it.
    assert_eq!(offer(&mut rogue, &pool, 100), 1);
    assert!(!rogue.nb.carrier());
    assert_eq!(rogue.nb.queue_stats()[0].tx_drained.get(), 3);
    assert_resumes(&mut rogue, &pool);
}

#[test]
fn c26_rx_request_count_beyond_the_ring_disables_the_vif() {
    let (_s, pool, mut rogue, mut good) = two("c26-prod");
    rogue.nf.raw_set_rx_req_prod(0, 1000).unwrap();
    let mut b = Burst::with_capacity(8);
    b.push(mbuf(&pool, &pattern(1, 100))).unwrap();
    // Taken and dropped: the vif is dead.
    assert_eq!(rogue.tx_once(&mut b), 1);
    assert_rogue_after_reset(&mut rogue, &pool, FatalReason::RxImpossibleRequests);
    assert_works(&mut good, &pool);
}

// ---- 28: xenstore ----

/// A fake frontend's keys for one queue under `dir` ("" for the flat layout).
fn queue_keys(dir: &str) -> Vec<(String, &'static str)> {
    [
        ("tx-ring-ref", "8"),
        ("rx-ring-ref", "9"),
        ("event-channel", "1"),
    ]
    .into_iter()
    .map(|(k, v)| (format!("{dir}{k}"), v))
    .collect()
}

/// The error key of a backend (2 queues allowed) whose frontend wrote `keys`.
fn c28_error(sim: &Sim, domid: u16, keys: &[(String, &str)]) -> String {
    let keys: Vec<(&str, &str)> = keys.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let cfg = BackendConfig {
        max_queues: 2,
        ..backend_cfg(domid)
    };
    let nb = fake_frontend_with(sim, cfg, &keys);
    assert!(!nb.carrier());
    error_key(sim, &nb)
}

#[test]
fn c28_mixed_flat_and_per_queue_keys_close_naming_the_missing_key() {
    let sim = Sim::new("c28-mixed");
    let rx_copy = ("request-rx-copy".to_string(), "1");
    // Two queues announced, flat keys written: queue-0's are missing.
    let mut keys = queue_keys("");
    keys.extend([rx_copy.clone(), ("multi-queue-num-queues".into(), "2")]);
    let e = c28_error(&sim, 3, &keys);
    assert!(e.contains("queue-0/tx-ring-ref"), "{e}");
    // One queue (no count), per-queue keys written: the flat ones are missing.
    let mut keys = queue_keys("queue-0/");
    keys.push(rx_copy.clone());
    let e = c28_error(&sim, 4, &keys);
    assert!(e.contains("vif/0/tx-ring-ref"), "{e}");
    // Two queues, only queue-0 complete: nothing is mapped, queue-1 is named.
    let mut keys = queue_keys("queue-0/");
    keys.extend([rx_copy, ("multi-queue-num-queues".into(), "2")]);
    let e = c28_error(&sim, 5, &keys);
    assert!(e.contains("queue-1/tx-ring-ref"), "{e}");
}

#[test]
fn c28_malformed_mac_refuses_the_vif() {
    let sim = Sim::new("c28-mac");
    sim.guest(3);
    let be = SimPlatform::connect(sim.paths(), DomId::DOM0).unwrap();
    let dir = vpmd_xen::backend::xenbus::backend_path(DomId::DOM0, DomId(3), 0);
    for bad in [
        "",
        "00:16:3e:00:00",
        "00:16:3e:00:00:zz",
        "00-16-3e-00-00-03",
    ] {
        be.store()
            .write(TxId::NONE, &format!("{dir}/mac"), bad.as_bytes())
            .unwrap();
        let p = Arc::new(SimPlatform::connect(sim.paths(), DomId::DOM0).unwrap());
        let Err(e) = Netback::probe(p, backend_cfg(3)) else {
            panic!("{bad:?} accepted");
        };
        let e = e.to_string();
        assert!(e.contains("/mac"), "{bad:?}: {e}");
    }
}

#[test]
fn c28_state_flapping_never_wedges_the_backend() {
    let (sim, pool, mut rogue, mut good) = two("c28-flap");
    let guest = SimPlatform::connect(sim.paths(), DomId(3)).unwrap();
    let key = format!("{}/state", rogue.nf.path());
    let states: [&[u8]; 9] = [b"5", b"4", b"1", b"6", b"4", b"3", b"garbage", b"99", b"2"];
    for round in 0..60 {
        let s = states[round % states.len()];
        guest.store().write(TxId::NONE, &key, s).unwrap();
        // Sometimes several changes arrive before the backend looks: it acts on the
        // latest only.
        if round % 3 != 1 {
            rogue.nb.frontend_changed().unwrap();
        }
        let st = rogue.nb.state();
        assert!(
            st != XenbusState::Connected || rogue.nb.connected_queues() == 1,
            "round {round}: {st:?}"
        );
        assert!(st == XenbusState::Connected || !rogue.nb.carrier());
        let mut b = Burst::with_capacity(4);
        assert_eq!(rogue.rx_once(&pool, &mut b), 0);
        assert_works(&mut good, &pool);
    }
    // The guest settles: it closes and connects afresh (new ports and grants), as a
    // re-plugged netfront does.
    guest.store().write(TxId::NONE, &key, b"6").unwrap();
    rogue.nb.frontend_changed().unwrap();
    assert_eq!(rogue.nb.state(), XenbusState::Closed);
    rogue.nf.restart().unwrap();
    handshake(&mut rogue.nb, &mut rogue.nf);
    assert!(rogue.nb.carrier());
    assert_eq!(rogue.nb.vif().fatal(), None);
    assert_works(&mut rogue, &pool);
}

// ---- 27: the control ring (XSA-270) ----

const INVALID: u32 = XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
const OK: u32 = XEN_NETIF_CTRL_STATUS_SUCCESS;

/// A rogue guest (3) with a control ring of `queues` queues, Toeplitz chosen and a
/// mapping of `size` entries; a well-behaved guest (4).
fn two_ctrl(name: &str, queues: u16, size: u32) -> (Sim, Mempool, Vif, Vif) {
    let sim = Sim::new(name);
    let pool = pool();
    let mut rogue = ctrl_vif(&sim, 3, queues);
    let good = connected(&sim, 4);
    let alg = [XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ, 0, 0];
    assert_eq!(
        ctrl(&mut rogue, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM, alg).0,
        OK
    );
    let size = [size, 0, 0];
    assert_eq!(
        ctrl(&mut rogue, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE, size).0,
        OK
    );
    (sim, pool, rogue, good)
}

/// `SET_HASH_MAPPING` of `entries` at `offset`, claiming `len` of them.
fn set_mapping(v: &mut Vif, entries: &[u32], len: u32, offset: u32) -> u32 {
    let bytes: Vec<u8> = entries.iter().flat_map(|e| e.to_le_bytes()).collect();
    let gref = v.nf.ctrl_data(&bytes).unwrap();
    ctrl(
        v,
        XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING,
        [gref.0, len, offset],
    )
    .0
}

/// The rejected requests changed nothing, were counted, and both vifs still work.
fn assert_refused(
    rogue: &mut Vif,
    good: &mut Vif,
    pool: &Mempool,
    errors: u64,
    before: &HashSettings,
) {
    assert_eq!(&rogue.nb.ctrl().settings(), before);
    let x: std::collections::HashMap<_, _> = rogue.nb.ctrl().xstats().into_iter().collect();
    assert_eq!(x["ctrl_errors"], errors);
    assert_eq!(rogue.nb.vif().fatal(), None);
    assert_works(rogue, pool);
    assert_works(good, pool);
}

#[test]
fn c27_hash_key_longer_than_40_bytes_is_refused() {
    let (_s, pool, mut rogue, mut good) = two_ctrl("c27-key", 1, 0);
    let before = rogue.nb.ctrl().settings();
    let gref = rogue.nf.ctrl_data(&[0xaa; 64]).unwrap();
    for len in [41, 64, 4096, u32::MAX] {
        let r = ctrl(
            &mut rogue,
            XEN_NETIF_CTRL_TYPE_SET_HASH_KEY,
            [gref.0, len, 0],
        );
        assert_eq!(r, (INVALID, 0), "len {len}");
    }
    assert_refused(&mut rogue, &mut good, &pool, 4, &before);
    let r = ctrl(
        &mut rogue,
        XEN_NETIF_CTRL_TYPE_SET_HASH_KEY,
        [gref.0, 40, 0],
    );
    assert_eq!(r.0, OK);
    assert_eq!(rogue.nb.ctrl().settings().key, [0xaa; 40]);
}

#[test]
fn c27_mapping_size_over_128_is_refused() {
    let (_s, pool, mut rogue, mut good) = two_ctrl("c27-size", 1, 8);
    let before = rogue.nb.ctrl().settings();
    for size in [129, 4096, u32::MAX] {
        let r = ctrl(
            &mut rogue,
            XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE,
            [size, 0, 0],
        );
        assert_eq!(r.0, INVALID, "size {size}");
    }
    assert_refused(&mut rogue, &mut good, &pool, 3, &before);
    let r = ctrl(
        &mut rogue,
        XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE,
        [128, 0, 0],
    );
    assert_eq!(r.0, OK);
}

#[test]
fn c27_mapping_offset_plus_len_overflow_is_refused() {
    let (_s, pool, mut rogue, mut good) = two_ctrl("c27-wrap", 1, 8);
    let before = rogue.nb.ctrl().settings();
    // offset + len wraps a u32 to a small number; past the table; a len whose byte
    // count wraps too.
    for (len, offset) in [
        (2, u32::MAX),
        (u32::MAX, 2),
        (2, 7),
        (9, 0),
        (0x4000_0001, 0),
    ] {
        assert_eq!(
            set_mapping(&mut rogue, &[0, 0], len, offset),
            INVALID,
            "{len} at {offset}"
        );
    }
    assert_refused(&mut rogue, &mut good, &pool, 5, &before);
    assert_eq!(set_mapping(&mut rogue, &[0, 0], 2, 6), OK);
}

#[test]
fn c27_mapping_entry_naming_a_missing_queue_is_refused_whole() {
    let (_s, pool, mut rogue, mut good) = two_ctrl("c27-entry", 2, 4);
    assert_eq!(set_mapping(&mut rogue, &[1, 1, 1, 1], 4, 0), OK);
    let before = rogue.nb.ctrl().settings();
    assert_eq!(set_mapping(&mut rogue, &[0, 0, 2, 0], 4, 0), INVALID);
    assert_eq!(set_mapping(&mut rogue, &[0, u32::MAX], 2, 2), INVALID);
    assert_refused(&mut rogue, &mut good, &pool, 2, &before);
    assert_eq!(rogue.nb.ctrl().queue_for_hash(2), Some(1));
}

#[test]
fn c27_bad_grants_in_key_and_mapping_requests_are_refused() {
    let (_s, pool, mut rogue, mut good) = two_ctrl("c27-gref", 1, 4);
    let before = rogue.nb.ctrl().settings();
    let r = ctrl(&mut rogue, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, [9999, 40, 0]);
    assert_eq!(r.0, INVALID);
    let r = ctrl(
        &mut rogue,
        XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING,
        [9999, 4, 0],
    );
    assert_eq!(r.0, INVALID);
    // The data page's grant revoked behind the backend's back.
    let gref = rogue.nf.ctrl_data(&[0; 16]).unwrap();
    rogue.nf.guest().revoke(gref).unwrap();
    let r = ctrl(
        &mut rogue,
        XEN_NETIF_CTRL_TYPE_SET_HASH_KEY,
        [gref.0, 40, 0],
    );
    assert_eq!(r.0, INVALID);
    assert_eq!(set_mapping(&mut rogue, &[0; 4], 4, 0), INVALID);
    assert_refused(&mut rogue, &mut good, &pool, 4, &before);
}

#[test]
fn c27_control_request_count_beyond_the_ring_disables_the_vif() {
    let (_s, pool, mut rogue, mut good) = two_ctrl("c27-prod", 1, 0);
    rogue.nf.raw_set_ctrl_req_prod(2 + 129).unwrap();
    assert_eq!(rogue.nb.ctrl_mut().serve(), 0);
    assert_rogue_after_reset(&mut rogue, &pool, FatalReason::CtrlImpossibleRequests);
    // Nothing more is served, and its data rings are dead too.
    assert_eq!(rogue.nb.ctrl_mut().serve(), 0);
    let mut out = Burst::with_capacity(8);
    out.push(mbuf(&pool, &pattern(1, 100))).unwrap();
    assert_eq!(rogue.tx_once(&mut out), 1);
    assert_eq!(rogue.txc.errors.get(), 1);
    assert_works(&mut good, &pool);
}
