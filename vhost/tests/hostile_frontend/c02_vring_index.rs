//! ANCHORS 2.4 #2: vring indexes beyond the device, including u32 values that would
//! truncate to a valid u16 (CVE-2020-10723), and the 8-bit index of KICK/CALL/ERR with
//! its reserved bits.

use super::*;
use std::os::fd::AsFd;
use vpmd_vhost::protocol::defs::req;

#[test]
fn out_of_range_indexes_are_refused_without_touching_other_rings() {
    let mut s = session("c02");
    let e = vpmd_vhost::frontend::eventfd().unwrap();
    assert_eq!(s.status(req::SET_VRING_NUM, &state(4, 256), &[]), 1);
    assert_eq!(s.status(req::SET_VRING_NUM, &state(0, 256), &[]), 0);
    // 0x10000 must not alias vring 0.
    assert_eq!(s.status(req::SET_VRING_NUM, &state(0x1_0000, 512), &[]), 1);
    assert_eq!(s.status(req::SET_VRING_BASE, &state(0x1_0000, 9), &[]), 1);
    assert_eq!(s.status(req::SET_VRING_ENABLE, &state(u32::MAX, 1), &[]), 1);
    assert_eq!(
        s.status(req::SET_VRING_KICK, &200u64.to_ne_bytes(), &[e.as_fd()]),
        1
    );
    assert_eq!(
        s.status(req::SET_VRING_CALL, &0x200u64.to_ne_bytes(), &[e.as_fd()]),
        1
    );
    assert_eq!(
        s.status(req::SET_VRING_ERR, &0x104u64.to_ne_bytes(), &[]),
        1
    );
    assert_eq!(
        s.status(req::SET_VRING_ERR, &0x101u64.to_ne_bytes(), &[]),
        0
    );
    let mut addr = ring(0).addr(&guest_memory());
    addr.index = 0x1_0000;
    assert_eq!(s.status(req::SET_VRING_ADDR, &addr.to_bytes(), &[]), 1);
    let mem = guest_memory();
    s.fe.set_mem_table(&[&mem]).unwrap();
    let _fds = start_rings(&mut s.fe, &mem, &[0], 3);
    let c = s.sink.config(0).unwrap();
    assert_eq!((c.size, c.last_avail_idx), (256, 3));
    assert_eq!(s.errors(), 8);
    assert!(s.alive());
}

#[test]
fn get_vring_base_of_a_bad_index_closes_the_connection() {
    let mut s = session("c02-get");
    s.fe.send_raw(req::GET_VRING_BASE, 0, &state(77, 0), &[])
        .unwrap();
    assert!(s.closed(), "no vring state to reply with");
}
