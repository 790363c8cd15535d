//! ANCHORS 2.4 #6: SET_VRING_ADDR outside guest memory, partly mapped, misaligned (also
//! in host memory, when a region's user address is not aligned like its mapping), or
//! asking for dirty logging.

use super::*;
use std::os::fd::AsFd;
use vpmd_vhost::protocol::defs::req;
use vpmd_vhost::protocol::message::{mem_table_payload, VringAddr};

#[test]
fn unmapped_partial_and_misaligned_rings_are_refused() {
    let mut s = session("c06");
    let mem = guest_memory(); // 1 MiB
    s.fe.set_mem_table(&[&mem]).unwrap();
    assert_eq!(s.status(req::SET_VRING_NUM, &state(0, 256), &[]), 0);
    let good = ring(0).addr(&mem);
    let end = mem.uaddr(1 << 20);
    let cases = [
        (
            "outside",
            VringAddr {
                desc: end + 4096,
                ..good
            },
        ),
        (
            "desc table crosses the end",
            VringAddr {
                desc: end - 16 * 128,
                ..good
            },
        ),
        (
            "used ring crosses the end",
            VringAddr {
                used: end - 8,
                ..good
            },
        ),
        (
            "avail ring crosses the end",
            VringAddr {
                avail: end - 6,
                ..good
            },
        ),
        (
            "desc not 16-aligned",
            VringAddr {
                desc: good.desc + 8,
                ..good
            },
        ),
        (
            "avail not 2-aligned",
            VringAddr {
                avail: good.avail + 1,
                ..good
            },
        ),
        (
            "used not 4-aligned",
            VringAddr {
                used: good.used + 2,
                ..good
            },
        ),
        ("dirty log", VringAddr { flags: 1, ..good }),
        ("reserved flags", VringAddr { flags: 4, ..good }),
        ("address 0", VringAddr { desc: 0, ..good }),
    ];
    for (what, a) in &cases {
        assert_eq!(
            s.status(req::SET_VRING_ADDR, &a.to_bytes(), &[]),
            1,
            "{what}"
        );
    }
    assert_eq!(s.status(req::SET_VRING_ADDR, &good.to_bytes(), &[]), 0);
    assert_eq!(s.errors(), cases.len() as u64);
}

#[test]
fn a_region_whose_user_address_is_not_aligned_like_its_mapping_cannot_hold_rings() {
    let mut s = session("c06-host");
    let mem = guest_memory();
    let mut r = mem.region();
    r.uaddr += 8; // the front-end lies about where its mapping starts
    let st = s.status(req::SET_MEM_TABLE, &mem_table_payload(&[r]), &[mem.fd()]);
    assert_eq!(st, 0);
    // 16-aligned in the front-end's numbers, 8 bytes off in the back-end's mapping.
    let d = mem.uaddr(0) + 0x10000 + 16;
    let a = VringAddr {
        index: 0,
        flags: 0,
        desc: d,
        avail: d + 16 * 256,
        used: d + 0x2000,
        log: 0,
    };
    assert_eq!(s.status(req::SET_VRING_NUM, &state(0, 256), &[]), 0);
    assert_eq!(s.status(req::SET_VRING_ADDR, &a.to_bytes(), &[]), 1);
}

#[test]
fn addresses_set_before_the_table_are_checked_when_it_arrives() {
    let mut s = session("c06-late");
    let mem = guest_memory();
    let elsewhere = vpmd_vhost::frontend::GuestMemory::new(0, 1 << 20).unwrap();
    let fds = RingFds::new();
    // Addresses in a mapping the back-end will never see.
    s.fe.start_vring(&elsewhere, &ring(0), 0, Some(fds.kick.as_fd()), None)
        .unwrap();
    s.fe.set_mem_table(&[&mem]).unwrap();
    assert!(s.sink.running().is_empty(), "unmapped ring stays stopped");
    s.fe.set_vring_addr(ring(0).addr(&mem)).unwrap();
    assert_eq!(s.sink.running(), vec![0]);
}
