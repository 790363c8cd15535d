//! ANCHORS 2.4 #9: ADD_MEM_REG up to the advertised 509 slots and one past it, overlaps,
//! and removing what is not there. (Removing the region under a running ring is in
//! `server.rs`: the ring stops and resumes when the region comes back.)

use super::*;
use std::os::fd::AsFd;
use vpmd_vhost::memory::MAX_REGIONS;
use vpmd_vhost::protocol::defs::req;
use vpmd_vhost::protocol::message::{single_region_payload, MemRegion};

#[test]
fn slots_beyond_the_advertised_maximum_are_refused() {
    let mut s = session("c09");
    assert_eq!(s.fe.get_max_mem_slots().unwrap(), 509);
    // One memfd, cut into 4 KiB regions by offset.
    let n = MAX_REGIONS as u64 + 1;
    let file = vpmd_vhost::frontend::GuestMemory::new(0, n * 4096).unwrap();
    let region = |i: u64| MemRegion {
        gpa: i * 4096,
        size: 4096,
        uaddr: 0x7f00_0000_0000 + i * 4096,
        mmap_offset: i * 4096,
    };
    for i in 0..MAX_REGIONS as u64 {
        let p = single_region_payload(region(i));
        assert_eq!(s.status(req::ADD_MEM_REG, &p, &[file.fd()]), 0, "slot {i}");
    }
    let p = single_region_payload(region(n - 1));
    assert_eq!(s.status(req::ADD_MEM_REG, &p, &[file.fd()]), 1, "slot 510");
    // Overlapping an existing region.
    let p = single_region_payload(MemRegion {
        uaddr: 0x10_0000_0000,
        ..region(3)
    });
    assert_eq!(s.status(req::ADD_MEM_REG, &p, &[file.fd()]), 1);
    let p = single_region_payload(region(2));
    assert_eq!(s.status(req::REM_MEM_REG, &p, &[]), 0);
    assert_eq!(s.status(req::REM_MEM_REG, &p, &[]), 1, "already removed");
    assert_eq!(
        s.status(req::ADD_MEM_REG, &p, &[file.fd()]),
        0,
        "a free slot again"
    );
    assert_eq!(s.errors(), 3);
    let _ = file.fd().as_fd();
}
