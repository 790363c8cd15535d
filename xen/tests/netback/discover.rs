//! Without `domid=`: the port finds its vif by watching its domain's `backend/vif`.

use vpmd_pmd::{Devargs, Driver, EthDev};
use vpmd_xen::backend::discover::first_vif;

use super::harness::*;

fn dir(sim: &Sim) -> String {
    sim.paths().xenstore.parent().unwrap().display().to_string()
}

/// Probes a port with `devargs` in a thread, runs `toolstack` once it is waiting (or
/// not: the watch finds a vif either way), and returns the port.
fn probe_while(sim: &Sim, devargs: &str, toolstack: impl FnOnce()) -> Box<dyn EthDev> {
    let args: Devargs = format!("{devargs},sim={}", dir(sim)).parse().unwrap();
    std::thread::scope(|s| {
        let port = s.spawn(|| vpmd_xen::XenDriver.probe(&args, 0));
        std::thread::sleep(Duration::from_millis(50));
        toolstack();
        port.join().unwrap().unwrap()
    })
}

#[test]
fn a_vif_created_after_the_port_is_found_and_connects() {
    let sim = Sim::new("disc-late");
    let g = Arc::new(Guest::create(sim.paths(), DomId(4), LAYOUT).unwrap());
    let dom0 = SimPlatform::connect(sim.paths(), DomId::DOM0).unwrap();
    let mut dev = probe_while(&sim, "net_vpmd_xen0", || {
        create_vif(dom0.store(), &spec(4)).unwrap()
    });
    let mut nf = probe_frontend(&sim, g);
    nf.wait_connected(GUARD).unwrap();
    let be = "/local/domain/0/backend/vif/4/0";
    let hotplug = dom0
        .store()
        .read(TxId::NONE, &format!("{be}/hotplug-status"));
    assert_eq!(hotplug.unwrap(), b"connected");
    dev.close().unwrap();
}

#[test]
fn devid_filters_and_served_vifs_are_skipped() {
    let sim = Sim::new("disc-devid");
    let dom0 = SimPlatform::connect(sim.paths(), DomId::DOM0).unwrap();
    let st = dom0.store();
    // Domain 5's vif 0 is served already (InitWait); domain 6's vif 0 has the wrong id.
    create_vif(st, &spec(5)).unwrap();
    st.write(TxId::NONE, "/local/domain/0/backend/vif/5/0/state", b"2")
        .unwrap();
    create_vif(st, &spec(6)).unwrap();
    let wanted = VifSpec {
        devid: 1,
        ..spec(7)
    };
    let found = std::thread::scope(|s| {
        let found = s.spawn(|| first_vif(st, DomId::DOM0, Some(1)));
        std::thread::sleep(Duration::from_millis(50));
        create_vif(st, &wanted).unwrap();
        found.join().unwrap().unwrap()
    });
    assert_eq!(found, (DomId(7), 1));
    // Without a filter, the lowest waiting vif.
    assert_eq!(first_vif(st, DomId::DOM0, None).unwrap(), (DomId(6), 0));
}

#[test]
fn a_malformed_entry_is_an_error_naming_its_key() {
    let sim = Sim::new("disc-bad");
    let dom0 = SimPlatform::connect(sim.paths(), DomId::DOM0).unwrap();
    let st = dom0.store();
    for (key, why) in [
        ("/local/domain/0/backend/vif/guest/0/state", "vif/guest:"),
        ("/local/domain/0/backend/vif/70000/0/state", "vif/70000:"),
        ("/local/domain/0/backend/vif/3/x/state", "vif/3/x:"),
    ] {
        st.write(TxId::NONE, key, b"1").unwrap();
        let e = first_vif(st, DomId::DOM0, None).unwrap_err().to_string();
        assert!(e.contains(why), "{key}: {e}");
        st.rm(TxId::NONE, "/local/domain/0/backend/vif").unwrap();
    }
}
