//! `copy-threshold`: guest tx fragments of at least the threshold grant-mapped into
//! mbufs (external buffers), their requests answered once the mbufs are freed, on any
//! thread; map failures answered `NETIF_RSP_ERROR`; a vif closed with mbufs still out.

use super::harness::*;
use vpmd_mempool::ol_flags;
use vpmd_xen::backend::QueueCounters;
use vpmd_xen::wire::grant::{GrantRef, GrantStatus};
use vpmd_xen::wire::netif::{TxFlags, TxRequest};
use vpmd_xen::wire::Entry;

/// A connected vif whose backend maps fragments of at least `threshold` bytes, and the
/// backend's platform (for fault injection).
fn zc_vif(sim: &Sim, domid: u16, threshold: u16) -> (Vif, Arc<SimPlatform>) {
    let g = sim.guest(domid);
    let p = Arc::new(SimPlatform::connect(sim.paths(), DomId::DOM0).unwrap());
    let cfg = BackendConfig {
        copy_threshold: threshold,
        ..backend_cfg(domid)
    };
    let (mut nb, ends) = Netback::probe(Arc::clone(&p), cfg).unwrap();
    let mut nf = probe_frontend(sim, g);
    handshake(&mut nb, &mut nf);
    (Vif::new(nb, ends, nf), p)
}

fn stats(v: &Vif) -> Arc<QueueCounters> {
    Arc::clone(&v.nb.queue_stats()[0])
}

/// Segments over guest pages in the chain.
fn mapped_segments(m: &Mbuf) -> usize {
    m.segments()
        .filter(|s| s.ol_flags() & ol_flags::EXTERNAL != 0)
        .count()
}

/// An rx burst (which answers freed fragments), then the guest collects responses.
fn settle(v: &mut Vif, pool: &Mempool) {
    let mut b = Burst::with_capacity(32);
    assert_eq!(v.rx_once(pool, &mut b), 0);
    let mut got = Vec::new();
    v.nf.poll(0, &mut got).unwrap();
    assert!(got.is_empty());
}

/// Grants of the guest the backend has pinned (while connected, its two ring pages too).
fn pinned(v: &Vif) -> usize {
    let g = v.nf.guest();
    (0..LAYOUT.grant_frames * 512)
        .filter_map(|r| g.entry(GrantRef(r)))
        .filter(|e| e.flags.in_use())
        .count()
}

#[test]
fn frames_above_and_below_the_threshold_both_ways_every_byte_checked() {
    let sim = Sim::new("zc-data");
    let pool = pool();
    let (mut v, _p) = zc_vif(&sim, 3, 512);
    let rings = pinned(&v);
    // (length, slot size): Linux's layout (first slot at 0x42, then pages), and small
    // slots around the threshold.
    let cases = [
        (60, 4096),
        (128, 4096),
        (129, 4096),
        (640, 4096),
        (641, 4096),
        (1514, 4096),
        (4030, 4096),
        (9000, 4096),
        (65535, 4096),
        (3000, 511),
        (3000, 512),
        (3000, 700),
        (1500, 80),
    ];
    let mut held = Vec::new();
    let mut expect_mapped = 0;
    for (i, &(len, chunk)) in cases.iter().enumerate() {
        let data = pattern(i as u8, len);
        let p = TxPacket {
            chunk,
            ..TxPacket::new(&data)
        };
        let m = v.guest_send(&pool, &p);
        assert_eq!(bytes(&m), data, "{len} bytes in {chunk}-byte slots");
        // The headers are copied, into the first buffer, never mapped.
        assert!(m.data_len() as usize >= len.min(128));
        assert_eq!(m.ol_flags() & ol_flags::EXTERNAL, 0);
        // Every byte past the first 128 of a slot of >= 512 such bytes is mapped.
        let n = mapped_segments(&m);
        assert_eq!(n > 0, len > 128 + 511 && chunk >= 512, "{len}/{chunk}: {n}");
        expect_mapped += usize::from(n > 0);
        held.push((m, data));
    }
    let s = stats(&v);
    assert_eq!(s.tx_zerocopy_sent.get(), expect_mapped as u64);
    assert_eq!(s.tx_zerocopy_success.get(), 0);
    // Back to the guest: vpmd tx reads the mapped pages, then frees the mbufs.
    let (mbufs, frames): (Vec<Mbuf>, Vec<Vec<u8>>) = held.into_iter().unzip();
    let got = v.tx_all(mbufs);
    assert_eq!(got.len(), frames.len());
    for (r, f) in got.iter().zip(&frames) {
        assert_eq!(&r.data, f);
    }
    settle(&mut v, &pool);
    assert_eq!(v.nf.tx_in_flight(0), 0);
    let t = v.nf.tx_stats(0);
    assert_eq!((t.error, t.dropped), (0, 0));
    assert_eq!(s.tx_zerocopy_success.get(), expect_mapped as u64);
    assert_eq!(s.tx_zerocopy_fail.get(), 0);
    assert_eq!(pool.stats().in_use, 0);
    assert_eq!(pinned(&v), rings);
}

#[test]
fn a_mapped_fragment_is_answered_only_once_its_mbuf_is_freed() {
    let sim = Sim::new("zc-hold");
    let pool = pool();
    let (mut v, _p) = zc_vif(&sim, 3, 256);
    let rings = pinned(&v);
    let small = pattern(1, 200);
    let big = pattern(2, 3000);
    v.nf.send(0, &TxPacket::new(&small)).unwrap();
    v.nf.send(0, &TxPacket::new(&big)).unwrap();
    let got = v.rx(&pool, 2);
    assert_eq!((bytes(&got[0]), bytes(&got[1])), (small, big.clone()));
    assert_eq!((mapped_segments(&got[0]), mapped_segments(&got[1])), (0, 1));
    for _ in 0..5 {
        settle(&mut v, &pool);
    }
    // The copied frame is answered; the mapped one waits, its grant pinned.
    assert_eq!(v.nf.tx_stats(0).okay, 1);
    assert_eq!(v.nf.tx_in_flight(0), 1);
    assert_eq!(pinned(&v), rings + 1);
    // A clone keeps the page too.
    let [a, b]: [Mbuf; 2] = got.try_into().unwrap();
    let c = b.clone_in(&pool).unwrap();
    drop((a, b));
    settle(&mut v, &pool);
    assert_eq!(v.nf.tx_in_flight(0), 1);
    assert_eq!(bytes(&c), big);
    drop(c);
    settle(&mut v, &pool);
    assert_eq!(v.nf.tx_stats(0).okay, 2);
    assert_eq!(v.nf.tx_in_flight(0), 0);
    assert_eq!(pinned(&v), rings);
    assert_eq!(stats(&v).tx_zerocopy_success.get(), 1);
    assert_eq!(pool.stats().in_use, 0);
}

#[test]
fn mbufs_freed_on_another_thread_are_answered_by_the_next_burst() {
    let sim = Sim::new("zc-thread");
    let pool = pool();
    let (mut v, _p) = zc_vif(&sim, 3, 1024);
    let frames: Vec<Vec<u8>> = (0..8)
        .map(|i| pattern(i, 5000 + 100 * i as usize))
        .collect();
    for f in &frames {
        v.nf.send(0, &TxPacket::new(f)).unwrap();
    }
    let got = v.rx(&pool, frames.len());
    let want = frames.clone();
    let t = std::thread::spawn(move || {
        for (m, f) in got.iter().zip(&want) {
            assert_eq!(&bytes(m), f);
        }
        let mut b = Burst::with_capacity(8);
        for m in got {
            b.push(m).unwrap();
        }
        Mbuf::free_bulk(&mut b);
    });
    t.join().unwrap();
    settle(&mut v, &pool);
    assert_eq!(v.nf.tx_in_flight(0), 0);
    let t = v.nf.tx_stats(0);
    assert_eq!((t.okay, t.error), (16, 0), "two data slots per frame");
    let s = stats(&v);
    assert_eq!(
        (s.tx_zerocopy_sent.get(), s.tx_zerocopy_success.get()),
        (8, 8)
    );
    assert_eq!(pool.stats().in_use, 0);
}

fn req(gref: GrantRef, offset: u16, flags: TxFlags, id: u16, size: u16) -> [u8; 12] {
    TxRequest {
        gref,
        offset,
        flags,
        id,
        size,
    }
    .encode()
}

#[test]
fn a_fragment_that_cannot_be_mapped_fails_its_packet_with_rsp_error() {
    let sim = Sim::new("zc-revoke");
    let pool = pool();
    let (mut v, p) = zc_vif(&sim, 3, 256);
    let rings = pinned(&v);
    // A grant the guest revokes before the backend maps it.
    let data = pattern(9, 2000);
    let (id0, g0) = v.nf.raw_grant(0, 0, &data[..1000]).unwrap();
    let (id1, g1) = v.nf.raw_grant(0, 0, &data[1000..]).unwrap();
    v.nf.raw_put(0, req(g0, 0, TxFlags::MORE_DATA, id0, 2000))
        .unwrap();
    v.nf.raw_put(0, req(g1, 0, TxFlags::EMPTY, id1, 1000))
        .unwrap();
    v.nf.guest().revoke(g1).unwrap();
    v.nf.raw_push(0).unwrap();
    let mut b = Burst::with_capacity(32);
    assert_eq!(v.rx_once(&pool, &mut b), 0);
    let mut got = Vec::new();
    v.nf.poll(0, &mut got).unwrap();
    assert_eq!(v.nf.tx_stats(0).error, 2, "every request of the packet");
    let s = stats(&v);
    assert_eq!((s.rx_drop_grant.get(), v.rxc.errors.get()), (1, 1));
    assert_eq!(s.tx_zerocopy_sent.get(), 0);
    // A map the hypervisor fails (GNTST error) on a well-formed packet: the same.
    p.faults().map(0, GrantStatus::BAD_PAGE);
    v.nf.send(0, &TxPacket::new(&pattern(10, 3000))).unwrap();
    assert_eq!(v.rx_once(&pool, &mut b), 0);
    v.nf.poll(0, &mut got).unwrap();
    assert_eq!(v.nf.tx_stats(0).error, 3);
    assert_eq!(s.rx_drop_grant.get(), 2);
    // The vif is fine: the next frame is mapped and delivered.
    let next = pattern(11, 3000);
    let m = v.guest_send(&pool, &TxPacket::new(&next));
    assert_eq!((bytes(&m), mapped_segments(&m)), (next, 1));
    drop(m);
    settle(&mut v, &pool);
    assert_eq!(v.nf.tx_stats(0).okay, 1);
    assert_eq!(pool.stats().in_use, 0);
    assert_eq!(pinned(&v), rings);
}

#[test]
fn a_vif_closed_with_mbufs_out_keeps_them_readable_until_freed_then_releases_all() {
    let sim = Sim::new("zc-close");
    let pool = pool();
    let (mut v, _p) = zc_vif(&sim, 3, 512);
    let frames: Vec<Vec<u8>> = (0..4).map(|i| pattern(20 + i, 9000)).collect();
    for f in &frames {
        v.nf.send(0, &TxPacket::new(f)).unwrap();
    }
    let held = v.rx(&pool, frames.len());
    assert!(held.iter().all(|m| mapped_segments(m) == 3));
    v.nf.start_close().unwrap();
    pump(&mut v.nb, &mut v.nf, |nb, nf| {
        nb.state() == XenbusState::Closed && nf.state() == XenbusState::Closed
    });
    // The lcores drop the old rings at their next bursts (unmapping the ring pages).
    let mut b = Burst::with_capacity(32);
    assert_eq!((v.rx_once(&pool, &mut b), v.tx_once(&mut b)), (0, 0));
    // The queue is gone, the mbufs are not: their pages stay mapped and pinned.
    let s = stats(&v);
    assert_eq!((s.tx_zerocopy_sent.get(), s.tx_zerocopy_fail.get()), (4, 4));
    assert_eq!(pinned(&v), 12);
    for (m, f) in held.iter().zip(&frames) {
        assert_eq!(&bytes(m), f);
    }
    // Freed on another thread after the close: unmapped there, nothing leaks.
    std::thread::spawn(move || drop(held)).join().unwrap();
    assert_eq!(pinned(&v), 0);
    assert_eq!(pool.stats().in_use, 0);
    assert_eq!(s.tx_zerocopy_success.get(), 0);
}

#[test]
fn a_rogue_vif_still_unmaps_returned_pages_but_writes_no_response() {
    let sim = Sim::new("zc-rogue");
    let pool = pool();
    let (mut v, _p) = zc_vif(&sim, 3, 512);
    let rings = pinned(&v);
    let data = pattern(30, 3000);
    let m = v.guest_send(&pool, &TxPacket::new(&data));
    assert_eq!(mapped_segments(&m), 1);
    // The frontend claims more requests than the ring holds: the vif is disabled.
    let prod = v.nf.raw_req_prod_pvt(0).unwrap();
    v.nf.raw_set_req_prod(0, prod.wrapping_add(300)).unwrap();
    let mut b = Burst::with_capacity(8);
    assert_eq!(v.rx_once(&pool, &mut b), 0);
    assert!(v.nb.vif().is_disabled());
    assert_eq!(bytes(&m), data);
    drop(m);
    assert_eq!(v.rx_once(&pool, &mut b), 0);
    assert_eq!(pinned(&v), rings, "unmapped");
    assert_eq!(
        v.nf.tx_stats(0).okay,
        0,
        "nothing written to a rogue's ring"
    );
    let s = stats(&v);
    assert_eq!((s.tx_zerocopy_sent.get(), s.tx_zerocopy_fail.get()), (1, 1));
    assert_eq!(pool.stats().in_use, 0);
}
