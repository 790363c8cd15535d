//! ANCHORS 2.4 #3 (CVE-2019-14818, CVE-2022-0669): messages with more or fewer fds than
//! their payload calls for are refused, and every fd they carried is closed.

use super::*;
use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;
use vpmd_vhost::protocol::defs::req;
use vpmd_vhost::protocol::message::{mem_table_payload, single_region_payload};

/// Sends `request` carrying one end of a socket pair, drops our copy of it, and says
/// whether the back-end closed its copy (the other end then reads EOF).
fn fd_closed_after(
    s: &mut Session,
    request: u32,
    payload: &[u8],
    extra: &[BorrowedFd<'_>],
) -> (u64, bool) {
    let (mine, theirs) = UnixStream::pair().unwrap();
    let mut fds = vec![theirs.as_fd()];
    fds.extend_from_slice(extra);
    let status = s.status(request, payload, &fds);
    drop(theirs);
    mine.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut b = [0u8; 1];
    let eof = matches!((&mine).read(&mut b), Ok(0));
    (status, eof)
}

#[test]
fn stray_and_missing_fds_are_refused_and_stray_ones_closed() {
    let mut s = session("c03");
    let mem = guest_memory();
    // An fd where none is allowed.
    assert_eq!(
        fd_closed_after(&mut s, req::SET_VRING_NUM, &state(0, 256), &[]),
        (1, true)
    );
    // A kick with the "no fd" bit set and an fd anyway.
    assert_eq!(
        fd_closed_after(&mut s, req::SET_VRING_KICK, &0x100u64.to_ne_bytes(), &[]),
        (1, true)
    );
    // Two fds for one kick.
    let e = vpmd_vhost::frontend::eventfd().unwrap();
    assert_eq!(
        fd_closed_after(
            &mut s,
            req::SET_VRING_CALL,
            &0u64.to_ne_bytes(),
            &[e.as_fd()]
        ),
        (1, true)
    );
    // REM_MEM_REG may carry one fd: accepted or not, it is closed.
    let (_, closed) = fd_closed_after(
        &mut s,
        req::REM_MEM_REG,
        &single_region_payload(mem.region()),
        &[],
    );
    assert!(closed);
    // An unknown request's fds are closed too.
    assert_eq!(fd_closed_after(&mut s, 99, &[], &[]), (1, true));
    // Missing fds.
    assert_eq!(s.status(req::SET_VRING_CALL, &1u64.to_ne_bytes(), &[]), 1);
    assert_eq!(
        s.status(req::ADD_MEM_REG, &single_region_payload(mem.region()), &[]),
        1
    );
    let two = mem_table_payload(&[mem.region(), mem.region()]);
    assert_eq!(s.status(req::SET_MEM_TABLE, &two, &[mem.fd()]), 1);
    // More fds than any message carries.
    let many: Vec<std::fs::File> = (0..10)
        .map(|_| vpmd_vhost::frontend::eventfd().unwrap())
        .collect();
    let fds: Vec<BorrowedFd<'_>> = many.iter().map(|f| f.as_fd()).collect();
    assert_eq!(s.status(req::SET_OWNER, &[], &fds), 1);
    assert!(s.alive());
    assert!(s.sink.events().is_empty());
}

#[test]
fn an_fd_on_a_request_that_needs_a_reply_closes_the_connection_and_the_fd() {
    let mut s = session("c03-get");
    let (mine, theirs) = UnixStream::pair().unwrap();
    s.fe.send_raw(req::GET_FEATURES, 0, &[], &[theirs.as_fd()])
        .unwrap();
    drop(theirs);
    assert!(s.closed());
    mine.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    assert!(matches!((&mine).read(&mut [0u8; 1]), Ok(0)));
}
