//! Multi-queue with per-queue keys, split and shared event channels, and poll mode's
//! notification discipline.

use super::harness::*;
use vpmd_xen::platform::shm::SharedMem;
use vpmd_xen::wire::ring::field;

/// Queue `q`'s traffic both ways, every byte checked.
fn round_trip(v: &mut Vif, pool: &Mempool, q: u16, seed: u8) {
    let qi = usize::from(q);
    let data = pattern(seed, 5000 + usize::from(q) * 100);
    v.nf.send(q, &TxPacket::new(&data)).unwrap();
    let end = Instant::now() + GUARD;
    let mut got = Burst::with_capacity(8);
    while got.is_empty() {
        assert!(Instant::now() < end, "queue {q}: nothing received");
        let mut bufs = Vec::new();
        let e = &mut v.ends[qi];
        if let Some(r) = e.rx.enter() {
            r.rx_burst(pool, &mut got, 8, &v.rxc, &mut bufs);
        }
        e.rx.exit(0);
    }
    assert_eq!(bytes(&got.pop().unwrap()), data);
    // Nothing arrived on another queue.
    for (i, e) in v.ends.iter_mut().enumerate().filter(|(i, _)| *i != qi) {
        let mut b = Burst::with_capacity(8);
        if let Some(r) = e.rx.enter() {
            assert_eq!(
                r.rx_burst(pool, &mut b, 8, &v.rxc, &mut Vec::new()),
                0,
                "queue {i}"
            );
        }
        e.rx.exit(0);
    }
    let mut b = Burst::with_capacity(8);
    b.push(mbuf(pool, &data)).unwrap();
    let e = &mut v.ends[qi];
    assert_eq!(e.tx.enter().unwrap().tx_burst(&mut b, &v.txc), 1);
    e.tx.exit(0);
    let mut rx = Vec::new();
    v.nf.recv(q, &mut rx, 1, GUARD).unwrap();
    assert_eq!(rx[0].data, data);
}

fn mq(name: &str, split: bool) {
    let sim = Sim::new(name);
    let pool = pool();
    let g = sim.guest_with(
        3,
        DomainLayout {
            mem_pages: 4 * PAGES, // what 4 queues would need
            grant_frames: 3,
        },
    );
    let (mut nb, ends) = probe_backend_with(
        &sim,
        BackendConfig {
            max_queues: 2,
            split_evtchn: split,
            ..backend_cfg(3)
        },
    );
    let cfg = NetfrontConfig {
        queues: 4, // capped at the backend's 2
        split_evtchn: true,
        ..NetfrontConfig::new(0)
    };
    let mut nf = Netfront::probe(g, sim.paths(), cfg).unwrap();
    handshake(&mut nb, &mut nf);
    assert_eq!((nb.connected_queues(), nf.queues()), (2, 2));
    let mut v = Vif::new(nb, ends, nf);
    for round in 0..3 {
        round_trip(&mut v, &pool, 0, round);
        round_trip(&mut v, &pool, 1, round + 50);
    }
}

const PAGES: u32 = vpmd_xen::netfront::PAGES_PER_QUEUE;

#[test]
fn two_queues_with_split_event_channels() {
    mq("mq-split", true);
}

#[test]
fn two_queues_sharing_one_event_channel_each() {
    mq("mq-shared", false);
}

/// The backend busy-polls: it never asks the frontend for notifications (req_event
/// stays where the frontend initialised it), yet it notifies the frontend as
/// rsp_event asks.
#[test]
fn poll_mode_never_arms_req_event_but_honours_rsp_event() {
    let sim = Sim::new("poll-mode");
    let pool = pool();
    let mut v = connected(&sim, 3);
    for i in 0..200 {
        let data = pattern(i as u8, 100 + i);
        assert_eq!(bytes(&v.guest_send(&pool, &TxPacket::new(&data))), data);
    }
    // SHARED_RING_INIT sets req_event to 1: crossing it once is the only event.
    assert!(v.nf.tx_stats(0).notify <= 1, "{:?}", v.nf.tx_stats(0));
    let mem: &SharedMem = v.nf.guest().memory();
    let tx_ring = 0; // frame of queue 0's tx ring
    assert_eq!(
        mem.load_u32(
            tx_ring + field::REQ_EVENT,
            std::sync::atomic::Ordering::Acquire
        ),
        Ok(1)
    );
    // The frontend waits on its channel after each poll (rsp_event armed): the
    // backend notifies.
    let before = v.ends[0].stats.notify.get();
    let got = v.tx_all((0..50).map(|i| mbuf(&pool, &pattern(i, 300))).collect());
    assert_eq!(got.len(), 50);
    assert!(v.ends[0].stats.notify.get() > before);
}
