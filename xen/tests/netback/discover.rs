//! Without `domid=`: the port finds its vifs by watching its domain's `backend/vif`,
//! binds the first waiting one, and the next once the toolstack removes it.

use std::collections::HashMap;

use vpmd_pmd::{Devargs, Driver, EthDev};
use vpmd_xen::backend::discover::VifSearch;
use vpmd_xen::platform::sim::remove_vif;

use super::harness::*;

fn port(sim: &Sim, devargs: &str, id: u16) -> Box<dyn EthDev> {
    let dir = sim.paths().xenstore.parent().unwrap().display().to_string();
    let args: Devargs = format!("{devargs},sim={dir}").parse().unwrap();
    vpmd_xen::XenDriver.probe(&args, id).unwrap()
}

fn xstats(dev: &dyn EthDev) -> HashMap<String, u64> {
    dev.xstats().into_iter().collect()
}

/// Waits (bounded by the guard) until `f` holds for the port's xstats.
fn wait_xstats(dev: &dyn EthDev, what: &str, f: impl Fn(&HashMap<String, u64>) -> bool) {
    let end = Instant::now() + GUARD;
    while !f(&xstats(dev)) {
        assert!(
            Instant::now() < end,
            "hang waiting for {what}: {:?}",
            xstats(dev)
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn read(st: &impl XenStore, key: &str) -> Option<Vec<u8>> {
    st.read(TxId::NONE, key).ok()
}

#[test]
fn probe_returns_at_once_and_a_vif_created_later_connects() {
    let sim = Sim::new("disc-late");
    let mut dev = port(&sim, "net_vpmd_xen0", 0);
    assert!(!dev.link().up);
    assert_eq!(
        dev.info().mac,
        [0x02, 0x76, 0x70, 0x6d, 0, 0],
        "the port's own MAC"
    );
    let g = sim.guest(4);
    let mut nf = probe_frontend(&sim, g);
    nf.wait_connected(GUARD).unwrap();
    wait_xstats(dev.as_ref(), "link", |x| x["xenbus_state"] == 4);
    let x = xstats(dev.as_ref());
    assert_eq!((x["vif_binds"], x["vif_domid"]), (1, 4));
    assert!(dev.link().up);
    let dom0 = SimPlatform::connect(sim.paths(), DomId::DOM0).unwrap();
    let be = "/local/domain/0/backend/vif/4/0";
    assert_eq!(
        read(dom0.store(), &format!("{be}/hotplug-status")).as_deref(),
        Some(&b"connected"[..])
    );
    dev.close().unwrap();
    assert_eq!(read(dom0.store(), &format!("{be}/hotplug-status")), None);
}

#[test]
fn a_port_closed_while_searching_stops_at_once() {
    let sim = Sim::new("disc-close");
    let mut dev = port(&sim, "net_vpmd_xen0", 0);
    let t = Instant::now();
    dev.close().unwrap();
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
}

#[test]
fn devid_filters_and_served_vifs_are_passed_over() {
    let sim = Sim::new("disc-devid");
    let dom0 = SimPlatform::connect(sim.paths(), DomId::DOM0).unwrap();
    let st = dom0.store();
    // Domain 5's vif 0 is served already (features advertised); domain 6's vif 0 has
    // the wrong id for the filter.
    create_vif(st, &spec(5)).unwrap();
    st.write(
        TxId::NONE,
        "/local/domain/0/backend/vif/5/0/feature-rx-copy",
        b"1",
    )
    .unwrap();
    create_vif(st, &spec(6)).unwrap();
    create_vif(
        st,
        &VifSpec {
            devid: 1,
            ..spec(7)
        },
    )
    .unwrap();
    let mut one = VifSearch::start(st, DomId::DOM0, Some(1), "test", 0).unwrap();
    assert_eq!(one.waiting(st).unwrap(), [(DomId(7), 1)]);
    one.stop(st);
    let mut any = VifSearch::start(st, DomId::DOM0, None, "test", 1).unwrap();
    assert_eq!(any.waiting(st).unwrap(), [(DomId(6), 0), (DomId(7), 1)]);
    any.skip("/local/domain/0/backend/vif/6/0");
    assert_eq!(any.waiting(st).unwrap(), [(DomId(7), 1)]);
    any.stop(st);
}

#[test]
fn malformed_entries_are_skipped_not_fatal() {
    let sim = Sim::new("disc-bad");
    let dom0 = SimPlatform::connect(sim.paths(), DomId::DOM0).unwrap();
    let st = dom0.store();
    for key in [
        "/local/domain/0/backend/vif/guest/0/state",
        "/local/domain/0/backend/vif/70000/0/state",
        "/local/domain/0/backend/vif/3/x/state",
    ] {
        st.write(TxId::NONE, key, b"1").unwrap();
    }
    create_vif(st, &spec(8)).unwrap();
    let mut s = VifSearch::start(st, DomId::DOM0, None, "test", 1).unwrap();
    assert_eq!(s.waiting(st).unwrap(), [(DomId(8), 0)]);
    s.stop(st);
}

#[test]
fn a_vif_whose_keys_are_bad_is_skipped_and_the_next_bound() {
    let sim = Sim::new("disc-badmac");
    let dom0 = SimPlatform::connect(sim.paths(), DomId::DOM0).unwrap();
    create_vif(dom0.store(), &spec(3)).unwrap();
    dom0.store()
        .write(
            TxId::NONE,
            "/local/domain/0/backend/vif/3/0/mac",
            b"not-a-mac",
        )
        .unwrap();
    let mut dev = port(&sim, "net_vpmd_xen0", 0);
    let mut nf = probe_frontend(&sim, sim.guest(4));
    nf.wait_connected(GUARD).unwrap();
    assert_eq!(xstats(dev.as_ref())["vif_domid"], 4);
    dev.close().unwrap();
}

/// The lowest searching port takes the next guest, whatever order the ports were
/// probed in, and two ports never take the same vif; a port whose guest was destroyed
/// is first again for the next one.
#[test]
fn the_lowest_searching_port_takes_the_next_guest() {
    let sim = Sim::new("disc-order");
    let dom0 = SimPlatform::connect(sim.paths(), DomId::DOM0).unwrap();
    let mut ports: Vec<_> = [2, 0, 1]
        .map(|id| (id, port(&sim, &format!("net_vpmd_xen{id}"), id)))
        .into_iter()
        .collect();
    ports.sort_by_key(|(id, _)| *id);
    let doms = |ports: &[(u16, Box<dyn EthDev>)]| {
        ports
            .iter()
            .map(|(_, d)| xstats(d.as_ref())["vif_domid"])
            .collect::<Vec<_>>()
    };
    let mut guests = Vec::new();
    for (dom, want) in [(7, [7, 0, 0]), (8, [7, 8, 0])] {
        let mut nf = probe_frontend(&sim, sim.guest(dom));
        nf.wait_connected(GUARD).unwrap();
        guests.push(nf);
        wait_xstats(
            ports[want.iter().filter(|&&d| d != 0).count() - 1]
                .1
                .as_ref(),
            "bind",
            |x| x["xenbus_state"] == 4,
        );
        assert_eq!(doms(&ports), want);
    }
    // Guest 7 is destroyed; port 0 searches again and is ahead of port 2.
    drop(guests.remove(0));
    remove_vif(dom0.store(), &spec(7)).unwrap();
    wait_xstats(ports[0].1.as_ref(), "the vif let go", |x| {
        x["vif_domid"] == 0
    });
    let mut nf = probe_frontend(&sim, sim.guest(9));
    nf.wait_connected(GUARD).unwrap();
    wait_xstats(ports[0].1.as_ref(), "domain 9", |x| x["xenbus_state"] == 4);
    assert_eq!(doms(&ports), [9, 8, 0]);
    for (_, d) in &mut ports {
        d.close().unwrap();
    }
}

/// `xl destroy` then `xl create`: the toolstack removes the vif, the port lets it go
/// without re-creating its directory, binds the new guest's vif, and its queue (set
/// up once, before either guest) carries the new guest's packets.
#[test]
fn a_removed_vif_is_let_go_and_the_next_guest_bound() {
    let sim = Sim::new("disc-rebind");
    let dom0 = SimPlatform::connect(sim.paths(), DomId::DOM0).unwrap();
    let mut dev = port(&sim, "net_vpmd_xen0", 0);
    let pool = pool();
    let mut rxq = dev.rx_queue_setup(0, 256, &pool, Arc::default()).unwrap();
    let mut from_guest = |nf: &mut Netfront, data: &[u8]| {
        nf.send(0, &TxPacket::new(data)).unwrap();
        let mut b = Burst::with_capacity(32);
        let end = Instant::now() + GUARD;
        while rxq.rx_burst(&mut b, 32) == 0 {
            assert!(Instant::now() < end, "no packet from the guest");
            nf.step(Duration::from_millis(1)).unwrap();
        }
        let got = bytes(&b.drain().next().unwrap());
        got
    };

    let mut first = probe_frontend(&sim, sim.guest(3));
    first.wait_connected(GUARD).unwrap();
    wait_xstats(dev.as_ref(), "domain 3", |x| x["xenbus_state"] == 4);
    assert_eq!(from_guest(&mut first, &pattern(3, 60)), pattern(3, 60));

    // The guest is destroyed: its memory goes, then the toolstack removes the vif.
    // The backend directory alone first: nothing the frontend wrote changes, the
    // backend must see its own directory go.
    drop(first);
    let be3 = "/local/domain/0/backend/vif/3/0";
    dom0.store().rm(TxId::NONE, be3).unwrap();
    wait_xstats(dev.as_ref(), "the vif let go", |x| x["vif_domid"] == 0);
    assert!(!dev.link().up);
    let fe3 = "/local/domain/3/device/vif/0";
    dom0.store().rm(TxId::NONE, fe3).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        read(dom0.store(), be3),
        None,
        "the removed directory came back"
    );

    let mut next = probe_frontend(&sim, sim.guest(9));
    next.wait_connected(GUARD).unwrap();
    wait_xstats(dev.as_ref(), "domain 9", |x| x["xenbus_state"] == 4);
    let x = xstats(dev.as_ref());
    assert_eq!((x["vif_binds"], x["vif_domid"]), (2, 9));
    assert_eq!(from_guest(&mut next, &pattern(9, 1400)), pattern(9, 1400));
    dev.close().unwrap();
}

/// A port named by `domid=` serves that vif only: once it is removed the port stays
/// down and writes nothing under the removed directory.
#[test]
fn a_named_port_does_not_recreate_its_removed_vif() {
    let sim = Sim::new("disc-named");
    let dom0 = SimPlatform::connect(sim.paths(), DomId::DOM0).unwrap();
    let g = sim.guest(3);
    let mut dev = port(&sim, "net_vpmd_xen0,domid=3", 0);
    let mut nf = probe_frontend(&sim, g);
    nf.wait_connected(GUARD).unwrap();
    drop(nf);
    remove_vif(dom0.store(), &spec(3)).unwrap();
    wait_xstats(dev.as_ref(), "Closed", |x| x["xenbus_state"] == 6);
    dev.close().unwrap();
    assert_eq!(read(dom0.store(), "/local/domain/0/backend/vif/3/0"), None);
}
