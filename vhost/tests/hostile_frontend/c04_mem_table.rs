//! ANCHORS 2.4 #4: SET_MEM_TABLE with more than 8 regions, zero-size, overlapping or
//! overflowing regions, regions past the end of their fd, unaligned offsets. Each is
//! refused and the table in use (and the rings on it) stay as they were.

use super::*;
use std::os::fd::BorrowedFd;
use vpmd_vhost::protocol::defs::req;
use vpmd_vhost::protocol::message::{mem_table_payload, MemRegion};

fn table(s: &mut Session, regions: &[MemRegion], fds: &[BorrowedFd<'_>]) -> u64 {
    s.status(req::SET_MEM_TABLE, &mem_table_payload(regions), fds)
}

#[test]
fn bad_tables_are_refused_and_the_old_one_stays() {
    let mut s = session("c04");
    let mem = guest_memory();
    s.fe.set_mem_table(&[&mem]).unwrap();
    let _fds = start_rings(&mut s.fe, &mem, &[0, 1], 0);
    s.sink.take_events();
    let r = mem.region();
    let fd = mem.fd();
    let past_end = MemRegion {
        size: r.size * 2,
        ..r
    };
    let cases: Vec<(&str, Vec<MemRegion>)> = vec![
        ("past the end of the fd", vec![past_end]),
        (
            "offset past the end",
            vec![MemRegion {
                mmap_offset: r.size,
                ..r
            }],
        ),
        ("zero size", vec![MemRegion { size: 0, ..r }]),
        (
            "overlapping gpa",
            vec![
                r,
                MemRegion {
                    uaddr: r.uaddr + (2 << 30),
                    ..r
                },
            ],
        ),
        (
            "overlapping uaddr",
            vec![r, MemRegion { gpa: 1 << 40, ..r }],
        ),
        (
            "gpa overflow",
            vec![MemRegion {
                gpa: u64::MAX - 4095,
                ..r
            }],
        ),
        (
            "uaddr overflow",
            vec![MemRegion {
                uaddr: u64::MAX - 4095,
                ..r
            }],
        ),
        (
            "offset overflow",
            vec![MemRegion {
                mmap_offset: u64::MAX - 4095,
                ..r
            }],
        ),
        (
            "unaligned offset",
            vec![MemRegion {
                mmap_offset: 100,
                size: 4096,
                ..r
            }],
        ),
    ];
    for (what, regions) in &cases {
        let fds = vec![fd; regions.len()];
        assert_eq!(table(&mut s, regions, &fds), 1, "{what}");
    }
    // Nine regions: refused before the fds are even looked at.
    let mut nine = mem_table_payload(&[r; 8]);
    nine[0] = 9;
    assert_eq!(s.status(req::SET_MEM_TABLE, &nine, &[]), 1);
    assert_eq!(s.errors(), cases.len() as u64 + 1);
    assert!(
        s.sink.events().is_empty(),
        "the running rings were not touched"
    );
    assert_eq!(s.sink.config(0).unwrap().mem.len(), 1);
    assert!(s.alive());
}
