//! A frontend in a second process (this test binary, re-run as a child) and a backend
//! here: the guest's memory and grant table are the child's memfds, handed over by the
//! sim host; the two sides meet through xenstore and an event channel.

use std::process::Command;

use vpmd_xen::platform::evtchn::{EventChannel, EventChannels, Port};
use vpmd_xen::platform::sim::Guest;
use vpmd_xen::platform::xenstore::{TxId, XenStore, XsClient};
use vpmd_xen::platform::Platform;
use vpmd_xen::wire::grant::{DomId, GrantRef, GrantStatus};

use super::*;

/// Set in the child's environment: the sim directory.
const CHILD_ENV: &str = "VPMD_XEN_SIM_FRONTEND_DIR";
const FE: &str = "/local/domain/3/device/vif/0";

fn num(xs: &XsClient, key: &str) -> u32 {
    let v = xs.read(TxId::NONE, &format!("{FE}/{key}")).unwrap();
    String::from_utf8(v).unwrap().parse().unwrap()
}

/// The frontend's half; a no-op unless run as the child.
#[test]
fn frontend() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let paths = SimPaths::in_dir(std::path::Path::new(&dir));
    let g = Guest::create(&paths, GUEST, LAYOUT).unwrap();
    g.memory().write(2 * 4096 + 40, &pattern(7, 1000)).unwrap();
    let tx_gref = g.grant_access(DomId::DOM0, 2, true).unwrap();
    let rx_gref = g.grant_access(DomId::DOM0, 5, false).unwrap();
    let ch = g.alloc_unbound(DomId::DOM0).unwrap();
    let xs = XsClient::connect(&paths.xenstore).unwrap();
    xs.write(
        TxId::NONE,
        &format!("{FE}/tx-ring-ref"),
        tx_gref.0.to_string().as_bytes(),
    )
    .unwrap();
    xs.write(
        TxId::NONE,
        &format!("{FE}/rx-ring-ref"),
        rx_gref.0.to_string().as_bytes(),
    )
    .unwrap();
    xs.write(
        TxId::NONE,
        &format!("{FE}/event-channel"),
        ch.port().to_string().as_bytes(),
    )
    .unwrap();
    xs.write(TxId::NONE, &format!("{FE}/state"), b"3").unwrap();

    // The backend has copied into our page when it notifies us.
    assert!(ch.wait(Some(GUARD)).unwrap(), "no event from the backend");
    let mut got = vec![0u8; 500];
    g.memory().read(5 * 4096 + 8, &mut got).unwrap();
    let ok = got == pattern(8, 500);
    g.end_access(tx_gref).unwrap();
    g.end_access(rx_gref).unwrap();
    xs.write(
        TxId::NONE,
        &format!("{FE}/result"),
        if ok { b"ok" } else { b"bad" },
    )
    .unwrap();
}

#[test]
fn backend_and_frontend_in_two_processes() {
    let sim = Sim::new("two-processes");
    let be = sim.backend();
    let xs = be.store();
    xs.watch(&format!("{FE}/state"), "fe-state").unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["two_processes::frontend", "--exact", "--nocapture"])
        .env(CHILD_ENV, sim.paths().hyp.parent().unwrap())
        .spawn()
        .unwrap();

    // Wait for the frontend to say it is initialised.
    loop {
        let e = xs
            .read_watch(Some(GUARD))
            .unwrap()
            .expect("frontend never got ready");
        assert_eq!(e.token, "fe-state");
        if xs.read(TxId::NONE, &e.path).ok().as_deref() == Some(b"3") {
            break;
        }
    }
    let tx_gref = GrantRef(num(xs, "tx-ring-ref"));
    let rx_gref = GrantRef(num(xs, "rx-ring-ref"));
    let port = Port(num(xs, "event-channel"));

    let (s, data) = copy_from(&be, at(tx_gref, 40), 1000);
    assert_eq!((s, data), (GrantStatus::OKAY, pattern(7, 1000)));
    assert_eq!(
        copy_from(&be, at(tx_gref, 4000), 200).0,
        GrantStatus::BAD_COPY_ARG
    );
    assert_eq!(
        copy_to(&be, b"no", at(tx_gref, 0)),
        GrantStatus::GENERAL_ERROR
    );
    assert_eq!(
        copy_to(&be, &pattern(8, 500), at(rx_gref, 8)),
        GrantStatus::OKAY
    );
    let ch = be.events().bind_interdomain(GUEST, port).unwrap();
    ch.notify().unwrap();

    let status = child.wait().unwrap();
    assert!(status.success(), "frontend process failed: {status}");
    assert_eq!(xs.read(TxId::NONE, &format!("{FE}/result")).unwrap(), b"ok");
}
