//! Fault injection: a grant revoked mid-batch, the n-th segment failing with a chosen
//! status, a failed map, notifications dropped, held and delayed.

use std::sync::Arc;
use std::time::Duration;

use vpmd_xen::platform::evtchn::{EventChannel, EventChannels, Port};
use vpmd_xen::platform::sim::{CopyFault, Faults, NotifyFault, SimPlatform};
use vpmd_xen::platform::{CopySegment, GrantError, GrantOps, Platform};
use vpmd_xen::wire::grant::{DomId, GrantFlags, GrantStatus};

use super::*;

#[test]
fn the_nth_segment_fails_with_the_chosen_status() {
    let sim = Sim::new("fault-segment");
    let (g, be) = (sim.guest(), sim.backend());
    let r = g.grant_access(DomId::DOM0, 5, true).unwrap();
    g.memory().write(5 * 4096, &pattern(4, 64)).unwrap();
    // One segment before arming, so counting from "now" is visible.
    assert_eq!(copy_from(&be, at(r, 0), 8).0, GrantStatus::OKAY);
    be.faults()
        .copy_segment(2, CopyFault::Fail(GrantStatus::EAGAIN));
    let mut bufs = [[0u8; 64]; 4];
    let mut segs: Vec<CopySegment<'_>> = bufs
        .iter_mut()
        .map(|b| CopySegment::from_grant(at(r, 0), b))
        .collect();
    be.grants().copy(&mut segs).unwrap();
    let st: Vec<GrantStatus> = segs.iter().map(|s| s.status()).collect();
    assert_eq!(
        st,
        [
            GrantStatus::OKAY,
            GrantStatus::OKAY,
            GrantStatus::EAGAIN,
            GrantStatus::OKAY
        ]
    );
    drop(segs);
    assert_eq!(bufs[2], [0; 64], "the failed segment copied nothing");
    assert_eq!(bufs[3].to_vec(), pattern(4, 64));
    // Once only.
    assert_eq!(copy_from(&be, at(r, 0), 8).0, GrantStatus::OKAY);
}

#[test]
fn a_grant_revoked_mid_batch_fails_the_rest() {
    let sim = Sim::new("fault-revoke");
    let (g, be) = (sim.guest(), sim.backend());
    let r = g.grant_access(DomId::DOM0, 6, false).unwrap();
    be.faults().copy_segment(
        1,
        CopyFault::Revoke {
            domid: GUEST,
            gref: r,
        },
    );
    let data = pattern(5, 3 * 100);
    let mut segs: Vec<CopySegment<'_>> = data
        .chunks(100)
        .enumerate()
        .map(|(i, c)| CopySegment::to_grant(c, at(r, 100 * i as u16)))
        .collect();
    be.grants().copy(&mut segs).unwrap();
    let st: Vec<GrantStatus> = segs.iter().map(|s| s.status()).collect();
    assert_eq!(
        st,
        [
            GrantStatus::OKAY,
            GrantStatus::GENERAL_ERROR,
            GrantStatus::GENERAL_ERROR
        ]
    );
    let mut page = vec![0u8; 300];
    g.memory().read(6 * 4096, &mut page).unwrap();
    assert_eq!(page[..100], data[..100]);
    assert_eq!(page[100..], [0; 200]);
    assert_eq!(g.entry(r).unwrap().flags, GrantFlags::EMPTY);
}

#[test]
fn a_guest_revoking_under_a_mapping_fails_later_copies() {
    let sim = Sim::new("fault-revoke-mapped");
    let (g, be) = (sim.guest(), sim.backend());
    let r = g.grant_access(DomId::DOM0, 6, false).unwrap();
    let m = be.grants().map(GUEST, &[r], true).unwrap();
    g.revoke(r).unwrap();
    assert_eq!(copy_to(&be, b"x", at(r, 0)), GrantStatus::GENERAL_ERROR);
    // The mapping itself stays valid until unmapped, as with Xen.
    m.as_ref().write(0, b"still").unwrap();
    be.grants().unmap(m).unwrap();
}

#[test]
fn the_nth_map_fails() {
    let sim = Sim::new("fault-map");
    let (g, be) = (sim.guest(), sim.backend());
    let r = g.grant_access(DomId::DOM0, 1, false).unwrap();
    be.faults().map(1, GrantStatus::NO_SPACE);
    let first = be.grants().map(GUEST, &[r], true).unwrap();
    drop(first);
    match be.grants().map(GUEST, &[r], true) {
        Err(GrantError::Map { index: 0, status }) => assert_eq!(status, GrantStatus::NO_SPACE),
        other => panic!("{other:?}"),
    }
    assert!(!g.entry(r).unwrap().flags.in_use());
    be.grants().map(GUEST, &[r], true).unwrap();
}

#[test]
fn notifications_are_dropped_held_and_delayed() {
    let sim = Sim::new("fault-notify");
    let g = sim.guest();
    let faults = Faults::new();
    let be = SimPlatform::with_faults(sim.paths(), DomId::DOM0, Arc::clone(&faults)).unwrap();
    let fe = g.alloc_unbound(DomId::DOM0).unwrap();
    let bk = be.events().bind_interdomain(GUEST, fe.port()).unwrap();

    faults.notify(bk.port(), 1, NotifyFault::Drop);
    bk.notify().unwrap(); // 0th: delivered
    assert!(fe.wait(Some(GUARD)).unwrap());
    bk.notify().unwrap(); // 1st: dropped
    assert!(!fe.pending().unwrap());

    faults.notify(bk.port(), 0, NotifyFault::Hold);
    bk.notify().unwrap();
    assert!(!fe.pending().unwrap());
    assert_eq!(faults.release_held().unwrap(), 1);
    assert!(fe.pending().unwrap());

    faults.notify(bk.port(), 0, NotifyFault::Delay(Duration::from_millis(20)));
    bk.notify().unwrap();
    assert!(
        fe.wait(Some(GUARD)).unwrap(),
        "a delayed event still arrives"
    );

    // Faults on one port leave the others alone.
    faults.notify(Port(999), 0, NotifyFault::Drop);
    bk.notify().unwrap();
    assert!(fe.wait(Some(GUARD)).unwrap());
}
