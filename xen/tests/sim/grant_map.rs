//! Grant map: pages mapped into the backend are the guest's pages, the guest sees them
//! in use (and may not reclaim them) until unmapped, and failures are all or nothing.

use std::sync::atomic::Ordering;

use vpmd_xen::platform::sim::GuestError;
use vpmd_xen::platform::{GrantError, GrantOps, Platform};
use vpmd_xen::wire::grant::{DomId, GrantFlags, GrantRef, GrantStatus};

use super::*;

#[test]
fn mapped_pages_are_the_guests_pages_and_stay_pinned() {
    let sim = Sim::new("map-ok");
    let (g, be) = (sim.guest(), sim.backend());
    let a = g.grant_access(DomId::DOM0, 9, false).unwrap();
    let b = g.grant_access(DomId::DOM0, 4, false).unwrap();
    g.memory().write(9 * 4096, b"ring").unwrap();
    let m = be.grants().map(GUEST, &[a, b], true).unwrap();
    let mem = m.as_ref();
    assert_eq!(mem.len(), 8192);
    let mut buf = [0u8; 4];
    mem.read(0, &mut buf).unwrap();
    assert_eq!(&buf, b"ring");
    // The backend writes the second page (frame 4); the guest sees it.
    mem.write(4096 + 8, b"resp").unwrap();
    mem.atomic_u32(4096 + 12)
        .unwrap()
        .store(0x1234, Ordering::Release);
    g.memory().read(4 * 4096 + 8, &mut buf).unwrap();
    assert_eq!(&buf, b"resp");
    assert_eq!(
        g.memory().load_u32(4 * 4096 + 12, Ordering::Acquire),
        Ok(0x1234)
    );

    let pinned = GrantFlags::PERMIT_ACCESS | GrantFlags::READING | GrantFlags::WRITING;
    assert_eq!(g.entry(a).unwrap().flags, pinned);
    assert_eq!(g.end_access(a), Err(GuestError::InUse(a)));
    be.grants().unmap(m).unwrap();
    assert_eq!(g.entry(a).unwrap().flags, GrantFlags::PERMIT_ACCESS);
    g.end_access(a).unwrap();
    g.end_access(b).unwrap();
    assert_eq!(g.end_access(b), Err(GuestError::NotGranted(b)));
}

#[test]
fn read_only_maps_and_overlapping_pins() {
    let sim = Sim::new("map-ro");
    let (g, be) = (sim.guest(), sim.backend());
    let r = g.grant_access(DomId::DOM0, 2, true).unwrap();
    let m = be.grants().map(GUEST, &[r], false).unwrap();
    assert!(!m.as_ref().writable());
    assert!(m.as_ref().write(0, b"x").is_err());
    // A copy from the same grant pins it again and leaves the map's pin in place.
    assert_eq!(copy_from(&be, at(r, 0), 8).0, GrantStatus::OKAY);
    assert_eq!(
        g.entry(r).unwrap().flags,
        GrantFlags::PERMIT_ACCESS | GrantFlags::READONLY | GrantFlags::READING
    );
    drop(m);
    assert!(!g.entry(r).unwrap().flags.in_use());
}

#[test]
fn map_failures_name_the_reference_and_leave_nothing_pinned() {
    let sim = Sim::new("map-fail");
    let (g, be) = (sim.guest(), sim.backend());
    let good = g.grant_access(DomId::DOM0, 1, false).unwrap();
    let ro = g.grant_access(DomId::DOM0, 2, true).unwrap();
    let bad_frame = g.grant_access(DomId::DOM0, 99, false).unwrap();
    let cases = [
        (vec![good, GrantRef(9999)], 1, GrantStatus::BAD_GNTREF),
        (vec![good, ro], 1, GrantStatus::GENERAL_ERROR), // writable map of r/o grant
        (vec![good, good, bad_frame], 2, GrantStatus::BAD_PAGE),
        (vec![GrantRef(200)], 0, GrantStatus::GENERAL_ERROR),
    ];
    for (refs, want_index, want) in cases {
        match be.grants().map(GUEST, &refs, true) {
            Err(GrantError::Map { index, status }) => {
                assert_eq!((index, status), (want_index, want), "{refs:?}")
            }
            other => panic!("{refs:?}: {other:?}"),
        }
        assert!(!g.entry(good).unwrap().flags.in_use(), "{refs:?}");
    }
    let unknown = be.grants().map(DomId(77), &[good], true).unwrap_err();
    assert!(matches!(
        unknown,
        GrantError::Map {
            index: 0,
            status: GrantStatus::BAD_DOMAIN
        }
    ));
    assert!(matches!(
        be.grants().map(GUEST, &[], true),
        Err(GrantError::Invalid(_))
    ));
}

#[test]
fn data_pages_map_one_by_one_each_with_its_status() {
    use vpmd_mempool::ExtMem;
    let sim = Sim::new("map-pages");
    let (g, be) = (sim.guest(), sim.backend());
    let a = g.grant_access(DomId::DOM0, 5, true).unwrap();
    let b = g.grant_access(DomId::DOM0, 6, true).unwrap();
    g.memory().write(6 * 4096 + 100, b"payload").unwrap();
    let mut out = Vec::new();
    be.grants()
        .map_pages(GUEST, &[a, GrantRef(9999), b], &mut out);
    assert_eq!(out.len(), 3);
    assert_eq!(out[1].as_ref().err(), Some(&GrantStatus::BAD_GNTREF));
    // Each page is the whole granted frame, pinned read-only until unmapped.
    let (base, len) = out[2].as_ref().unwrap().bytes();
    assert_eq!(len, 4096);
    // SAFETY: the page is mapped and pinned while `out` holds it; nothing writes it.
    let got = unsafe { std::slice::from_raw_parts(base.as_ptr().add(100), 7) };
    assert_eq!(got, b"payload");
    let reading = GrantFlags::PERMIT_ACCESS | GrantFlags::READONLY | GrantFlags::READING;
    assert_eq!(g.entry(b).unwrap().flags, reading);
    assert_eq!(g.end_access(b), Err(GuestError::InUse(b)));
    let mut pages: Vec<_> = out.into_iter().flatten().collect();
    be.grants().unmap_pages(&mut pages).unwrap();
    assert!(pages.is_empty());
    g.end_access(a).unwrap();
    g.end_access(b).unwrap();
}
