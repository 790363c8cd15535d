//! The ethdev contract through the two built-in drivers: state rules, bursts, stats,
//! xstats, reset, and devargs errors.

mod foreign;

use foreign::{Foreign, ForeignBuf};
use vpmd_mempool::{Burst, HugepagePolicy, Mempool, PktBuf, PktPool, PoolConfig};
use vpmd_pmd::drivers::{null::NullDriver, ring::RingDriver};
use vpmd_pmd::{offload, Devargs, DriverFor, PmdError, Port, PortConf, PortState, Registry};

fn pool() -> Mempool {
    Mempool::new(
        "pmd-test",
        &PoolConfig {
            size: 2048,
            cache_size: 0,
            hugepages: HugepagePolicy::Never,
            ..PoolConfig::default()
        },
    )
    .unwrap()
}

/// A started port, its rx and tx queue.
type Started<P> = (
    Port<P>,
    vpmd_pmd::PortRx<<P as PktPool>::Buf>,
    vpmd_pmd::PortTx<<P as PktPool>::Buf>,
);

/// Configures `p` with one queue pair over `pool` and starts it.
fn start<P: PktPool>(mut p: Port<P>, pool: &P) -> Started<P> {
    p.configure(1, 1, PortConf::default()).unwrap();
    let rx = p.rx_queue_setup(0, 512, pool).unwrap();
    let tx = p.tx_queue_setup(0, 512).unwrap();
    p.start().unwrap();
    (p, rx, tx)
}

fn started(reg: &Registry, devargs: &str, id: u16, pool: &Mempool) -> Started<Mempool> {
    start(reg.create_port(devargs, id).unwrap(), pool)
}

#[test]
fn null_rx_makes_sized_packets_and_tx_frees_them() {
    let reg = Registry::with_builtin();
    let pool = pool();
    let (port, mut rx, mut tx) = started(&reg, "net_vpmd_null0,size=128,copy=1", 3, &pool);
    let mut b = Burst::with_capacity(32);
    assert_eq!(rx.rx_burst(&mut b, 32), 32);
    assert!(b
        .as_slice()
        .iter()
        .all(|m| m.pkt_len() == 128 && m.port() == 3));
    assert_eq!(&b.as_slice()[0].data()[..6], &[0xff; 6]);
    assert_eq!(tx.tx_burst(&mut b), 32);
    assert!(b.is_empty());
    let s = port.stats();
    assert_eq!(
        (s.ipackets, s.ibytes, s.opackets, s.obytes),
        (32, 4096, 32, 4096)
    );
    assert_eq!(pool.stats().in_use, 0);
}

#[test]
fn null_rx_counts_nombuf_on_pool_exhaustion() {
    let reg = Registry::with_builtin();
    let small = Mempool::new(
        "tiny",
        &PoolConfig {
            size: 40,
            cache_size: 0,
            hugepages: HugepagePolicy::Never,
            ..PoolConfig::default()
        },
    )
    .unwrap();
    let (port, mut rx, _tx) = started(&reg, "net_vpmd_null0", 0, &small);
    let mut b = Burst::with_capacity(64);
    assert_eq!(rx.rx_burst(&mut b, 32), 32);
    assert_eq!(rx.rx_burst(&mut b, 32), 0);
    assert_eq!(port.stats().rx_nombuf, 32);
    let x = port.xstats();
    assert!(x.contains(&("rx_mbuf_allocation_errors".to_string(), 32)));
}

#[test]
fn ring_pair_carries_packets_both_ways_and_loopback_alone() {
    let reg = Registry::with_builtin();
    let pool = pool();
    let (p0, mut rx0, mut tx0) = started(&reg, "net_vpmd_ring0,peer=net_vpmd_ring1", 0, &pool);
    let (p1, mut rx1, mut tx1) = started(&reg, "net_vpmd_ring1", 1, &pool);
    let mut b = Burst::with_capacity(64);
    pool.alloc_bulk(&mut b, 10).unwrap();
    for m in b.as_mut_slice() {
        m.append(60).unwrap().fill(7);
    }
    assert_eq!(tx0.tx_burst(&mut b), 10);
    assert_eq!(rx0.rx_burst(&mut b, 64), 0, "port 0 does not hear itself");
    assert_eq!(rx1.rx_burst(&mut b, 64), 10);
    assert_eq!(tx1.tx_burst(&mut b), 10);
    assert_eq!(rx0.rx_burst(&mut b, 64), 10);
    assert_eq!(p0.stats().obytes, 600);
    assert_eq!(p1.stats().ipackets, 10);
    let (_p2, mut rx2, mut tx2) = started(&reg, "net_vpmd_ring2", 2, &pool);
    assert_eq!(tx2.tx_burst(&mut b), 10);
    assert_eq!(
        rx2.rx_burst(&mut b, 64),
        10,
        "an unpaired ring port loops back"
    );
}

#[test]
fn full_ring_leaves_unsent_packets_with_the_caller() {
    let reg = Registry::with_builtin();
    let pool = pool();
    let mut p = reg.create_port("net_vpmd_ring5", 0).unwrap();
    p.configure(1, 1, PortConf::default()).unwrap();
    let _rx = p.rx_queue_setup(0, 16, &pool).unwrap();
    let mut tx = p.tx_queue_setup(0, 16).unwrap();
    p.start().unwrap();
    let mut b = Burst::with_capacity(64);
    pool.alloc_bulk(&mut b, 40).unwrap();
    assert_eq!(tx.tx_burst(&mut b), 16);
    assert_eq!(b.len(), 24);
    assert_eq!(p.stats().opackets, 16);
}

#[test]
fn stopped_port_moves_nothing_and_restart_resumes() {
    let reg = Registry::with_builtin();
    let pool = pool();
    let (mut port, mut rx, _tx) = started(&reg, "net_vpmd_null0", 0, &pool);
    let mut b = Burst::with_capacity(64);
    port.stop().unwrap();
    assert_eq!(port.state(), PortState::Stopped);
    assert_eq!(rx.rx_burst(&mut b, 32), 0);
    port.start().unwrap();
    assert_eq!(rx.rx_burst(&mut b, 32), 32);
}

#[test]
fn reconfigure_kills_old_queue_handles() {
    let reg = Registry::with_builtin();
    let pool = pool();
    let (mut port, mut old_rx, _tx) = started(&reg, "net_vpmd_null0", 0, &pool);
    port.stop().unwrap();
    port.configure(2, 2, PortConf::default()).unwrap();
    let mut rxs: Vec<_> = (0..2)
        .map(|q| port.rx_queue_setup(q, 256, &pool).unwrap())
        .collect();
    for q in 0..2 {
        port.tx_queue_setup(q, 256).unwrap();
    }
    port.start().unwrap();
    let mut b = Burst::with_capacity(64);
    assert_eq!(old_rx.rx_burst(&mut b, 32), 0);
    assert_eq!(rxs[1].rx_burst(&mut b, 32), 32);
    assert_eq!(port.stats().rxq[1].packets, 32);
}

#[test]
fn state_rules_are_enforced_with_clear_errors() {
    let reg = Registry::with_builtin();
    let pool = pool();
    let mut p = reg.create_port("net_vpmd_null0", 7).unwrap();
    assert_eq!(
        p.start().unwrap_err().to_string(),
        "port 7: cannot start while not configured"
    );
    assert!(matches!(
        p.rx_queue_setup(0, 64, &pool),
        Err(PmdError::State { .. })
    ));
    p.configure(1, 1, PortConf::default()).unwrap();
    assert!(matches!(
        p.rx_queue_setup(1, 64, &pool),
        Err(PmdError::Range { .. })
    ));
    let _rx = p.rx_queue_setup(0, 64, &pool).unwrap();
    assert!(p
        .start()
        .unwrap_err()
        .to_string()
        .contains("tx queue 0 was configured but never set up"));
    assert!(p
        .configure(100, 1, PortConf::default())
        .unwrap_err()
        .to_string()
        .contains("nb_rxq 100"));
    let e = p
        .configure(
            1,
            1,
            PortConf {
                rx_offloads: offload::RX_TCP_LRO,
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "port 7: rx offload 'tcp_lro' is not supported by net_vpmd_null"
    );
    p.close().unwrap();
    assert!(p.configure(1, 1, PortConf::default()).is_err());
}

#[test]
fn stats_reset_uses_a_baseline() {
    let reg = Registry::with_builtin();
    let pool = pool();
    let (mut port, mut rx, mut tx) = started(&reg, "net_vpmd_null0", 0, &pool);
    let mut b = Burst::with_capacity(64);
    rx.rx_burst(&mut b, 32);
    tx.tx_burst(&mut b);
    port.stats_reset();
    assert_eq!(port.stats().ipackets, 0);
    rx.rx_burst(&mut b, 8);
    assert_eq!(port.stats().ipackets, 8);
    let x = port.xstats();
    assert_eq!(x[0], ("rx_good_packets".to_string(), 8));
    assert!(x.iter().any(|(k, _)| k == "rx_q0_packets"));
}

#[test]
fn devargs_errors_name_driver_key_and_value() {
    let reg = Registry::with_builtin();
    let err = |s: &str| reg.create_port(s, 0).unwrap_err().to_string();
    assert_eq!(
        err("net_bogus0"),
        "device net_bogus0: unknown driver (known drivers: net_vpmd_null, net_vpmd_ring)"
    );
    assert_eq!(
        err("net_vpmd_null0,colour=red"),
        "device net_vpmd_null0: unknown key 'colour' (valid keys: size, copy, no-rx)"
    );
    assert_eq!(
        err("net_vpmd_null0,size=7"),
        "device net_vpmd_null0: bad value '7' for key 'size': expected an integer in 14..=9000"
    );
    reg.create_port("net_vpmd_ring0,peer=net_vpmd_ring1", 0)
        .unwrap();
    assert_eq!(
        err("net_vpmd_ring1,peer=net_vpmd_ring9"),
        "device net_vpmd_ring1: bad value 'net_vpmd_ring9' for key 'peer': net_vpmd_ring1 is already joined to net_vpmd_ring0"
    );
}

/// A port over a pool that is not `Mempool`, as the DPDK plugin makes one: probed
/// through `DriverFor<P>`, the same state machine and stats, the driver's queues over
/// the foreign buffers.
fn foreign_port<D: DriverFor<Foreign>>(
    d: &D,
    devargs: &str,
    id: u16,
    pool: &Foreign,
) -> Started<Foreign> {
    let args: Devargs = devargs.parse().unwrap();
    let dev = d.probe_for(&args, id).unwrap();
    start(Port::new(id, args, dev), pool)
}

#[test]
fn null_port_over_a_foreign_pool() {
    let pool = Foreign::new("pmd-foreign-null", 2048);
    let (mut port, mut rx, mut tx) =
        foreign_port(&NullDriver, "net_vpmd_null0,size=128,copy=1", 3, &pool);
    let mut b: Burst<ForeignBuf> = Burst::with_capacity(32);
    assert_eq!(rx.rx_burst(&mut b, 32), 32);
    assert!(b
        .as_slice()
        .iter()
        .all(|m| m.pkt_len() == 128 && m.0.port() == 3));
    assert_eq!(&b.as_slice()[0].data()[..6], &[0xff; 6]);
    assert_eq!(pool.in_use(), 32);
    // copy=1 reads every frame through PktBuf::read_into's provided default.
    assert_eq!(tx.tx_burst(&mut b), 32);
    assert!(b.is_empty());
    assert_eq!(pool.in_use(), 0);
    let s = port.stats();
    assert_eq!(
        (s.ipackets, s.ibytes, s.opackets, s.obytes),
        (32, 4096, 32, 4096)
    );
    port.stop().unwrap();
    assert_eq!(rx.rx_burst(&mut b, 32), 0, "the gate works the same");
    port.close().unwrap();
}

#[test]
fn null_rx_checks_the_foreign_pools_data_room() {
    let pool = Foreign::new("pmd-foreign-room", 64);
    let args: Devargs = "net_vpmd_null0,size=9000".parse().unwrap();
    let mut p = Port::new(0, args.clone(), NullDriver.probe_for(&args, 0).unwrap());
    p.configure(1, 1, PortConf::default()).unwrap();
    let e = p.rx_queue_setup(0, 64, &pool).err().unwrap().to_string();
    assert!(
        e.contains(&format!("{}-byte data room", pool.data_room())),
        "{e}"
    );
}

#[test]
fn ring_pair_over_a_foreign_pool() {
    let pool = Foreign::new("pmd-foreign-ring", 2048);
    let drv = RingDriver::<ForeignBuf>::default();
    let (_p0, mut rx0, mut tx0) =
        foreign_port(&drv, "net_vpmd_ring0,peer=net_vpmd_ring1", 0, &pool);
    let (p1, mut rx1, _tx1) = foreign_port(&drv, "net_vpmd_ring1", 1, &pool);
    let mut b = Burst::with_capacity(64);
    pool.alloc_bulk(&mut b, 10).unwrap();
    for m in b.as_mut_slice() {
        m.append(60).unwrap().fill(7);
    }
    assert_eq!(tx0.tx_burst(&mut b), 10);
    assert_eq!(rx0.rx_burst(&mut b, 64), 0);
    assert_eq!(rx1.rx_burst(&mut b, 64), 10);
    assert!(b.as_slice().iter().all(|m| m.data() == [7; 60]));
    assert_eq!((p1.stats().ipackets, p1.stats().ibytes), (10, 600));
    b.clear();
    assert_eq!(pool.in_use(), 0);
}
