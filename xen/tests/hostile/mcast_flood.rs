//! Case 23's multicast flood: a guest that adds and deletes groups without end gets
//! at most `XEN_NETBK_MCAST_MAX` entries, every add beyond answered `NETIF_RSP_ERROR`
//! and counted (netback's `-ENOSPC`, not a fatal error), and nobody else notices.

use crate::harness::*;
use vpmd_xen::wire::defs::XEN_NETBK_MCAST_MAX;

fn group(i: usize) -> [u8; 6] {
    [0x01, 0x00, 0x5e, 0x00, (i >> 8) as u8, i as u8]
}

/// Sends every request `op` makes for `0..n`, serving the ring as it fills.
fn flood(v: &mut Vif, pool: &Mempool, n: usize, op: fn(&mut Vif, usize)) {
    for i in 0..n {
        op(v, i);
        if i % 64 == 63 {
            serve(v, pool);
        }
    }
    serve(v, pool);
}

fn serve(v: &mut Vif, pool: &Mempool) {
    let mut b = Burst::with_capacity(32);
    assert_eq!(v.rx_once(pool, &mut b), 0);
    v.nf.poll(0, &mut Vec::new()).unwrap();
}

#[test]
fn c23_mcast_add_del_flood_is_capped_counted_and_harmless() {
    let sim = Sim::new("c23-mcast-flood");
    let pool = pool();
    let mut rogue = connected(&sim, 3);
    let mut good = connected(&sim, 4);
    rogue.nf.request_multicast_control(true).unwrap();
    let extra = 1000;
    flood(&mut rogue, &pool, XEN_NETBK_MCAST_MAX + extra, |v, i| {
        v.nf.mcast_add(0, group(i)).unwrap()
    });
    let stats = Arc::clone(&rogue.nb.queue_stats()[0]);
    assert_eq!(rogue.nb.vif().mcast().len(), XEN_NETBK_MCAST_MAX);
    assert_eq!(stats.rx_mcast_full.get(), extra as u64);
    let s = rogue.nf.tx_stats(0);
    assert_eq!(
        (s.okay, s.error),
        (XEN_NETBK_MCAST_MAX as u64, extra as u64)
    );
    assert_eq!(s.null, (XEN_NETBK_MCAST_MAX + extra) as u64);

    // Deleting what was never added is fine; the first 64 come out again.
    flood(&mut rogue, &pool, XEN_NETBK_MCAST_MAX + extra, |v, i| {
        v.nf.mcast_del(0, group(i)).unwrap()
    });
    assert!(rogue.nb.vif().mcast().is_empty());
    assert_eq!(
        stats.rx_mcast_del.get(),
        (XEN_NETBK_MCAST_MAX + extra) as u64
    );
    assert!(rogue.nf.mcast_add(0, group(5)).is_ok());
    serve(&mut rogue, &pool);
    assert!(rogue.nb.vif().mcast().contains(group(5)));

    // Not a protocol violation: both vifs keep forwarding.
    assert_eq!(rogue.nb.vif().fatal(), None);
    assert_eq!(rogue.rxc.errors.get(), 0);
    for v in [&mut rogue, &mut good] {
        let data = pattern(42, 3000);
        assert_eq!(bytes(&v.guest_send(&pool, &TxPacket::new(&data))), data);
        let got = v.tx_all(vec![mbuf(&pool, &data)]);
        assert_eq!(got[0].data, data);
    }
    assert!(good.nb.vif().mcast().is_empty());
}
