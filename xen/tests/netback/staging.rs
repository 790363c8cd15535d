//! Staging grants through the control ring: a queue's pages staged, traffic both ways
//! with no grant copy (every copy segment armed to fail proves it), the sizes the
//! backend reports, deletion falling back to grant copies, and the bad lists a guest
//! may send (too long, bad or duplicate grants, unknown queue), each refused whole.

use super::harness::*;
use vpmd_mempool::ol_flags;
use vpmd_xen::backend::STAGING_MAX_GRANTS;
use vpmd_xen::netfront::{ctrl::CTRL_PAGES, PAGES_PER_QUEUE};
use vpmd_xen::platform::sim::{CopyFault, Faults};
use vpmd_xen::wire::ctrl::GrefEntry;
use vpmd_xen::wire::defs::*;
use vpmd_xen::wire::grant::GrantStatus;
use vpmd_xen::wire::Entry;

const OK: u32 = XEN_NETIF_CTRL_STATUS_SUCCESS;
const BAD: u32 = XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
/// Tx pages plus rx pages of one queue.
const QUEUE_PAGES: u32 = 512;

/// Guest `domid` with persistent grants and a control ring, its backend's faults.
fn staged_vif(sim: &Sim, domid: u16) -> (Vif, Arc<Faults>) {
    let g = sim.guest_with(
        domid,
        DomainLayout {
            mem_pages: PAGES_PER_QUEUE + CTRL_PAGES,
            grant_frames: 3,
        },
    );
    let faults = Faults::new();
    let p = SimPlatform::with_faults(sim.paths(), DomId::DOM0, Arc::clone(&faults)).unwrap();
    let (mut nb, ends) = Netback::probe(Arc::new(p), backend_cfg(domid)).unwrap();
    let fe = NetfrontConfig {
        ctrl_ring: true,
        persistent_grants: true,
        ..NetfrontConfig::new(0)
    };
    let mut nf = Netfront::probe(g, sim.paths(), fe).unwrap();
    handshake(&mut nb, &mut nf);
    (Vif::new(nb, ends, nf), faults)
}

/// Stages queue 0's pages; the backend's (status, data).
fn stage(v: &mut Vif) -> (u32, u32) {
    let id = v.nf.stage_grants(0).unwrap();
    assert_eq!(v.nb.ctrl_mut().serve(), 1);
    let r = v.nf.ctrl_wait(GUARD).unwrap();
    assert_eq!(r.id, id);
    (r.status, r.data)
}

/// An ADD or DEL of `list` for `queue`; the answer and the entries as written back.
fn gref_list(
    v: &mut Vif,
    kind: u16,
    queue: u32,
    list: &[GrefEntry],
) -> ((u32, u32), Vec<GrefEntry>) {
    let bytes: Vec<u8> = list.iter().flat_map(|e| e.encode()).collect();
    let page = v.nf.ctrl_data(&bytes).unwrap();
    let r = ctrl(v, kind, [queue, page.0, list.len() as u32]);
    let mut back = vec![0u8; bytes.len()];
    let frame = PAGES_PER_QUEUE + 1;
    v.nf.guest()
        .memory()
        .read(frame as usize * XEN_PAGE_SIZE, &mut back)
        .unwrap();
    let entries = back
        .chunks_exact(GrefEntry::SIZE)
        .map(|c| GrefEntry::decode(c.try_into().unwrap()))
        .collect();
    (r, entries)
}

fn entry(gref: u32) -> GrefEntry {
    GrefEntry {
        gref,
        flags: 0,
        status: 0,
    }
}

fn free(v: &mut Vif, queue: u32) -> (u32, u32) {
    ctrl(v, XEN_NETIF_CTRL_TYPE_GET_GREF_MAPPING_SIZE, [queue, 0, 0])
}

/// Frames both ways, every byte checked.
fn traffic(v: &mut Vif, pool: &Mempool, seed: u8) {
    for len in [60, 64, 1514, 4000, 9000] {
        let data = pattern(seed, len);
        let got = v.guest_send(pool, &TxPacket::new(&data));
        assert_eq!(bytes(&got), data, "guest tx of {len} bytes");
        let rx = v.tx_all(vec![mbuf(pool, &data)]);
        assert_eq!(rx.len(), 1);
        assert_eq!(rx[0].data, data, "guest rx of {len} bytes");
    }
}

#[test]
fn staged_pages_are_copied_without_grant_operations() {
    let sim = Sim::new("staging-copy");
    let (mut v, faults) = staged_vif(&sim, 3);
    let pool = pool();
    assert_eq!(free(&mut v, 0), (OK, STAGING_MAX_GRANTS as u32));
    assert_eq!(stage(&mut v), (OK, QUEUE_PAGES));
    assert_eq!(
        free(&mut v, 0),
        (OK, STAGING_MAX_GRANTS as u32 - QUEUE_PAGES)
    );
    // Every grant copy from now on would fail: staged traffic makes none.
    faults.copy_segment(0, CopyFault::Fail(GrantStatus::GENERAL_ERROR));
    traffic(&mut v, &pool, 1);
    assert_eq!(v.ends[0].stats.rx_drop_grant.get(), 0);
    assert_eq!(v.ends[0].stats.tx_grant_errors.get(), 0);
}

#[test]
fn deleted_grants_fall_back_to_grant_copies() {
    let sim = Sim::new("staging-del");
    let (mut v, faults) = staged_vif(&sim, 3);
    let pool = pool();
    assert_eq!(stage(&mut v), (OK, QUEUE_PAGES));
    traffic(&mut v, &pool, 2);
    // Delete every staged grant but the last, then it and one that never was; each
    // entry's status comes back in the list.
    let del = XEN_NETIF_CTRL_TYPE_DEL_GREF_MAPPING;
    let mut list = v.nf.staging_list(0).unwrap();
    let last = list.pop().unwrap();
    let (r, back) = gref_list(&mut v, del, 0, &list);
    assert_eq!(r, (OK, QUEUE_PAGES - 1));
    assert!(back.iter().all(|e| u32::from(e.status) == OK));
    let (r, back) = gref_list(&mut v, del, 0, &[last, entry(900)]);
    assert_eq!(r, (OK, 1));
    assert_eq!(u32::from(back[0].status), OK);
    assert_eq!(u32::from(back[1].status), BAD);
    assert_eq!(free(&mut v, 0), (OK, STAGING_MAX_GRANTS as u32));
    traffic(&mut v, &pool, 3);
    // Grant copies again: a failing segment now drops the packet.
    faults.copy_segment(0, CopyFault::Fail(GrantStatus::GENERAL_ERROR));
    v.nf.send(0, &TxPacket::new(&pattern(4, 200))).unwrap();
    let mut b = Burst::with_capacity(32);
    while v.ends[0].stats.rx_drop_grant.get() == 0 {
        v.rx_once(&pool, &mut b);
    }
    assert!(b.is_empty());
}

#[test]
fn bad_lists_are_refused_whole() {
    let sim = Sim::new("staging-bad");
    let (mut v, _faults) = staged_vif(&sim, 3);
    let full = STAGING_MAX_GRANTS as u32;
    let add = XEN_NETIF_CTRL_TYPE_ADD_GREF_MAPPING;
    // More entries than a page holds: refused before anything is read.
    assert_eq!(ctrl(&mut v, add, [0, 0, 513]).0, BAD);
    // A queue the vif does not have.
    assert_eq!(free(&mut v, 1).0, BAD);
    assert_eq!(gref_list(&mut v, add, 1, &[entry(0)]).0 .0, BAD);
    // The guest's own pages, with their flags (tx pages are read-only grants).
    let mine = v.nf.staging_list(0).unwrap();
    let (a, b) = (mine[0], mine[1]);
    // A grant the guest never made, after good ones: none staged.
    assert_eq!(gref_list(&mut v, add, 0, &[a, b, entry(1000)]).0 .0, BAD);
    assert_eq!(free(&mut v, 0), (OK, full));
    // The same grant twice, and a reference beyond any grant table.
    assert_eq!(gref_list(&mut v, add, 0, &[a, a]).0 .0, BAD);
    assert_eq!(gref_list(&mut v, add, 0, &[entry(u32::MAX)]).0 .0, BAD);
    assert_eq!(free(&mut v, 0), (OK, full));
    // Staged once, a grant cannot be staged again.
    assert_eq!(gref_list(&mut v, add, 0, &[a]).0, (OK, 1));
    assert_eq!(gref_list(&mut v, add, 0, &[a]).0 .0, BAD);
    assert_eq!(free(&mut v, 0), (OK, full - 1));
    assert!(v
        .nb
        .ctrl()
        .xstats()
        .iter()
        .any(|(n, c)| n == "ctrl_errors" && *c >= 7));
    // The vif still works.
    let pool = pool();
    traffic(&mut v, &pool, 5);
}

#[test]
fn a_burst_mixing_one_pass_and_walked_packets_keeps_order_and_checks() {
    let sim = Sim::new("staging-mix");
    let (mut v, _faults) = staged_vif(&sim, 3);
    let pool = pool();
    assert_eq!(stage(&mut v), (OK, QUEUE_PAGES));
    // One-slot staged frames take the one-pass path; the 9000-byte frame (several
    // slots) and the 13-byte one (shorter than Ethernet) are walked.
    let frames: Vec<(Vec<u8>, bool)> = vec![
        (pattern(1, 64), false),
        (pattern(2, 60), true),
        (pattern(3, 9000), false),
        (pattern(4, 14), false),
        (pattern(5, 13), false),
        (pattern(6, 1514), true),
    ];
    for (f, csum) in &frames {
        let p = TxPacket {
            csum_blank: *csum,
            ..TxPacket::new(f)
        };
        v.nf.send(0, &p).unwrap();
    }
    let got = v.rx(&pool, frames.len() - 1);
    let expect: Vec<&(Vec<u8>, bool)> = frames.iter().filter(|(f, _)| f.len() >= 14).collect();
    for (m, (f, csum)) in got.iter().zip(expect) {
        assert_eq!(&bytes(m), f);
        let cksum = m.ol_flags() & ol_flags::RX_L4_CKSUM_MASK;
        let want = if *csum { ol_flags::RX_L4_CKSUM_NONE } else { 0 };
        assert_eq!(cksum, want, "{} bytes", f.len());
    }
    assert_eq!(v.ends[0].stats.rx_drop_short.get(), 1);
    // Every request answered, in order: the guest got all its slots back.
    let mut sink = Vec::new();
    v.nf.poll(0, &mut sink).unwrap();
    let s = v.nf.tx_stats(0);
    assert_eq!((s.okay, s.error), (5 + 2, 1), "{s:?}");
}
