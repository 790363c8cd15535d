//! ANCHORS 2.4 #1: SET_VRING_NUM of 0, above 32768 or not a power of two is refused at
//! the message (never "used anyway"); repeated SET_VRING_NUM is harmless.

use super::*;
use vpmd_vhost::protocol::defs::req;

#[test]
fn bad_ring_sizes_are_refused_and_never_reach_the_data_path() {
    let mut s = session("c01");
    for bad in [0, 3, 1000, 32769, 65536, 0x8000_0000, u32::MAX] {
        assert_eq!(
            s.status(req::SET_VRING_NUM, &state(0, bad), &[]),
            1,
            "{bad}"
        );
    }
    assert_eq!(s.errors(), 7);
    for good in [1, 256, 32768, 256, 256] {
        assert_eq!(
            s.status(req::SET_VRING_NUM, &state(0, good), &[]),
            0,
            "{good}"
        );
    }
    let mem = guest_memory();
    s.fe.set_mem_table(&[&mem]).unwrap();
    let _fds = start_rings(&mut s.fe, &mem, &[0], 0);
    assert_eq!(s.sink.config(0).unwrap().size, 256);
    // The size of a running ring does not change under the data path.
    assert_eq!(s.status(req::SET_VRING_NUM, &state(0, 512), &[]), 1);
    assert_eq!(s.sink.config(0).unwrap().size, 256);
}
