//! Grant copy: data crosses between the guest's mapping of its memory and the
//! backend's own mapping; every check answers Xen's `GNTST_*` code (ANCHORS 2.4 #25).

use vpmd_xen::platform::{CopySegment, GrantOps, Platform};
use vpmd_xen::wire::grant::{DomId, GrantEntryV1, GrantFlags, GrantRef, GrantStatus};

use super::*;

#[test]
fn copies_move_data_between_two_mappings_both_ways() {
    let sim = Sim::new("copy-ok");
    let (g, be) = (sim.guest(), sim.backend());
    let data = pattern(1, 300);
    g.memory().write(3 * 4096 + 100, &data).unwrap();
    let r = g.grant_access(DomId::DOM0, 3, true).unwrap();
    let (s, got) = copy_from(&be, at(r, 100), 300);
    assert_eq!(s, GrantStatus::OKAY);
    assert_eq!(got, data);

    let w = g.grant_access(DomId::DOM0, 7, false).unwrap();
    let out = pattern(2, 4096);
    assert_eq!(copy_to(&be, &out, at(w, 0)), GrantStatus::OKAY);
    let mut back = vec![0u8; 4096];
    g.memory().read(7 * 4096, &mut back).unwrap();
    assert_eq!(back, out);

    // Pins are gone after the copy: the guest can end access.
    assert_eq!(g.entry(w).unwrap().flags, GrantFlags::PERMIT_ACCESS);
    g.end_access(r).unwrap();
    g.end_access(w).unwrap();
}

#[test]
fn each_check_returns_xens_status() {
    let sim = Sim::new("copy-checks");
    let (g, be) = (sim.guest(), sim.backend());
    let ro = g.grant_access(DomId::DOM0, 1, true).unwrap();
    let rw = g.grant_access(DomId::DOM0, 2, false).unwrap();
    let other = g.grant_access(DomId(7), 2, false).unwrap();
    let past_end = g
        .grant_access(DomId::DOM0, LAYOUT.mem_pages, false)
        .unwrap();
    let huge_frame = g.grant_access(DomId::DOM0, u32::MAX, false).unwrap();
    let never = GrantRef(100);
    let transfer = GrantRef(101);
    g.set_entry(
        transfer,
        GrantEntryV1 {
            flags: GrantFlags::ACCEPT_TRANSFER,
            domid: DomId::DOM0,
            frame: 2,
        },
    )
    .unwrap();
    let entries = LAYOUT.grant_entries();
    let cases: Vec<(&str, GrantPtr, usize, GrantStatus)> = vec![
        (
            "read of a read-only grant",
            at(ro, 0),
            64,
            GrantStatus::OKAY,
        ),
        ("whole page", at(rw, 0), 4096, GrantStatus::OKAY),
        (
            "zero length skips every check",
            at(GrantRef(u32::MAX), 4095),
            0,
            GrantStatus::OKAY,
        ),
        (
            "unknown domain",
            GrantPtr {
                domid: DomId(42),
                ..at(rw, 0)
            },
            8,
            GrantStatus::BAD_DOMAIN,
        ),
        (
            "ref past the table",
            at(GrantRef(entries), 0),
            8,
            GrantStatus::BAD_GNTREF,
        ),
        (
            "ref far past the table",
            at(GrantRef(u32::MAX), 0),
            8,
            GrantStatus::BAD_GNTREF,
        ),
        (
            "entry not in use",
            at(never, 0),
            8,
            GrantStatus::GENERAL_ERROR,
        ),
        (
            "granted to another domain",
            at(other, 0),
            8,
            GrantStatus::GENERAL_ERROR,
        ),
        (
            "transfer entry, not access",
            at(transfer, 0),
            8,
            GrantStatus::GENERAL_ERROR,
        ),
        (
            "frame past guest memory",
            at(past_end, 0),
            8,
            GrantStatus::BAD_PAGE,
        ),
        (
            "frame far past guest memory",
            at(huge_frame, 0),
            8,
            GrantStatus::BAD_PAGE,
        ),
        (
            "crosses the page",
            at(rw, 4000),
            97,
            GrantStatus::BAD_COPY_ARG,
        ),
        (
            "longer than a page",
            at(rw, 0),
            4097,
            GrantStatus::BAD_COPY_ARG,
        ),
        (
            "ends exactly at the page end",
            at(rw, 4000),
            96,
            GrantStatus::OKAY,
        ),
        // Xen claims the grant before checking bounds.
        (
            "bad ref and crossing",
            at(GrantRef(entries), 4000),
            200,
            GrantStatus::BAD_GNTREF,
        ),
    ];
    for (what, ptr, len, want) in cases {
        assert_eq!(copy_from(&be, ptr, len).0, want, "{what}");
    }
    // Writing into a read-only grant.
    assert_eq!(copy_to(&be, b"x", at(ro, 0)), GrantStatus::GENERAL_ERROR);
    assert_eq!(copy_to(&be, b"x", at(rw, 0)), GrantStatus::OKAY);
    // No failed check left a pin behind.
    for r in [ro, rw, other, past_end, huge_frame] {
        assert!(!g.entry(r).unwrap().flags.in_use(), "{r:?}");
    }
}

#[test]
fn a_bad_segment_does_not_stop_its_batch() {
    let sim = Sim::new("copy-batch");
    let (g, be) = (sim.guest(), sim.backend());
    g.memory().write(4 * 4096, &pattern(9, 128)).unwrap();
    let r = g.grant_access(DomId::DOM0, 4, true).unwrap();
    let (mut a, mut b, mut c) = ([0u8; 128], [0xa5u8; 128], [0u8; 128]);
    let mut segs = [
        CopySegment::from_grant(at(r, 0), &mut a),
        CopySegment::from_grant(at(GrantRef(300), 0), &mut b),
        CopySegment::from_grant(at(r, 0), &mut c),
    ];
    be.grants().copy(&mut segs).unwrap();
    let st: Vec<GrantStatus> = segs.iter().map(|s| s.status()).collect();
    assert_eq!(
        st,
        [
            GrantStatus::OKAY,
            GrantStatus::GENERAL_ERROR,
            GrantStatus::OKAY
        ]
    );
    assert_eq!((a.to_vec(), c.to_vec()), (pattern(9, 128), pattern(9, 128)));
    assert_eq!(b, [0xa5; 128], "a failed segment copies nothing");
}

#[test]
fn a_segment_that_never_ran_is_not_ok() {
    let mut buf = [0u8; 4];
    let seg = CopySegment::from_grant(at(GrantRef(8), 0), &mut buf);
    assert_eq!(seg.status(), GrantStatus::GENERAL_ERROR);
}

#[test]
fn a_dead_domain_is_a_bad_domain() {
    let sim = Sim::new("copy-dead");
    let be = sim.backend();
    let g = sim.guest();
    let r = g.grant_access(DomId::DOM0, 1, false).unwrap();
    assert_eq!(copy_from(&be, at(r, 0), 8).0, GrantStatus::OKAY);
    drop(g);
    // The hypervisor marks the domain dead when its creator goes; waiting for that is
    // waiting for the server thread to notice the closed connection.
    let mut status = GrantStatus::OKAY;
    let deadline = std::time::Instant::now() + GUARD;
    while status == GrantStatus::OKAY && std::time::Instant::now() < deadline {
        status = copy_from(&be, at(r, 0), 8).0;
        std::thread::yield_now();
    }
    assert_eq!(status, GrantStatus::BAD_DOMAIN);
    // A new guest with the same id is a new domain with a fresh grant table.
    let g = sim.guest();
    assert_eq!(copy_from(&be, at(r, 0), 8).0, GrantStatus::GENERAL_ERROR);
    let r2 = g.grant_access(DomId::DOM0, 1, false).unwrap();
    assert_eq!(copy_from(&be, at(r2, 0), 8).0, GrantStatus::OKAY);
}
