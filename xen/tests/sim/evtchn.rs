//! Event channels: a frontend allocates a port for the backend, the backend binds it,
//! and notifications cross both ways.

use std::time::Duration;

use vpmd_xen::platform::evtchn::{EventChannel, EventChannels, EvtchnError, Port};
use vpmd_xen::platform::Platform;
use vpmd_xen::wire::grant::DomId;

use super::*;

#[test]
fn notify_and_wait_across_two_endpoints() {
    let sim = Sim::new("evtchn");
    let (g, be) = (sim.guest(), sim.backend());
    let fe = g.alloc_unbound(DomId::DOM0).unwrap();
    let bk = be.events().bind_interdomain(GUEST, fe.port()).unwrap();
    assert!(!fe.pending().unwrap() && !bk.pending().unwrap());

    bk.notify().unwrap();
    assert!(fe.wait(Some(GUARD)).unwrap());
    assert!(!fe.pending().unwrap(), "consumed");
    assert!(!bk.pending().unwrap(), "a notify does not wake the sender");

    // Notifications before a wait coalesce into one event.
    for _ in 0..3 {
        fe.notify().unwrap();
    }
    assert!(bk.wait(None).unwrap());
    assert!(!bk.wait(Some(Duration::ZERO)).unwrap());
    bk.unmask().unwrap();

    // A second channel is independent of the first.
    let fe2 = g.alloc_unbound(DomId::DOM0).unwrap();
    assert_ne!(fe2.port(), fe.port());
    let bk2 = be.events().bind_interdomain(GUEST, fe2.port()).unwrap();
    assert_ne!(bk2.port(), bk.port());
    bk2.notify().unwrap();
    assert!(fe2.wait(Some(GUARD)).unwrap());
    assert!(!fe.pending().unwrap());
}

/// As in Xen, a notification on a port its remote has not bound yet is lost: Linux's
/// netfront kicks its backend before the backend connects, and the backend must not
/// count on that event.
#[test]
fn a_notify_before_the_bind_is_dropped() {
    let sim = Sim::new("evtchn-early");
    let (g, be) = (sim.guest(), sim.backend());
    let fe = g.alloc_unbound(DomId::DOM0).unwrap();
    fe.notify().unwrap();
    let bk = be.events().bind_interdomain(GUEST, fe.port()).unwrap();
    assert!(!bk.pending().unwrap());
    fe.notify().unwrap();
    assert!(bk.wait(Some(GUARD)).unwrap());
}

#[test]
fn binding_checks_domain_port_and_owner() {
    let sim = Sim::new("evtchn-bind");
    let (g, be) = (sim.guest(), sim.backend());
    let fe = g.alloc_unbound(DomId::DOM0).unwrap();
    let for_someone_else = g.alloc_unbound(DomId(9)).unwrap();
    let ev = be.events();
    assert!(matches!(
        ev.bind_interdomain(DomId(42), Port(1)),
        Err(EvtchnError::NoDomain(DomId(42)))
    ));
    assert!(matches!(
        ev.bind_interdomain(GUEST, Port(77)),
        Err(EvtchnError::BadPort { .. })
    ));
    assert!(matches!(
        ev.bind_interdomain(GUEST, for_someone_else.port()),
        Err(EvtchnError::BadPort { .. })
    ));
    ev.bind_interdomain(GUEST, fe.port()).unwrap();
    assert!(
        matches!(
            ev.bind_interdomain(GUEST, fe.port()),
            Err(EvtchnError::BadPort { .. })
        ),
        "a port binds once"
    );
}
