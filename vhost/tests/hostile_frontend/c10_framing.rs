//! ANCHORS 2.4 #10: sizes that do not match the request, oversized sizes, unknown and
//! unimplemented requests, requests needing features not negotiated, bad header flags,
//! a header whose payload never arrives, truncated messages and floods. None may stop
//! another socket of the same control thread from being served.

use super::*;
use std::io::Write;
use std::time::{Duration, Instant};
use vpmd_vhost::frontend::Frontend;
use vpmd_vhost::protocol::defs::{proto, req, NEED_REPLY_MASK};
use vpmd_vhost::protocol::message::{encode, Header};
use vpmd_vhost::virtio::bit;
use vpmd_vhost::ReactorConfig;

#[test]
fn payload_size_mismatches_are_refused_and_the_session_goes_on() {
    let mut s = session("c10-size");
    assert_eq!(s.status(req::SET_FEATURES, &[0; 4], &[]), 1);
    assert_eq!(s.status(req::SET_VRING_NUM, &[0; 12], &[]), 1);
    assert_eq!(s.status(req::SET_OWNER, &[0; 8], &[]), 1);
    assert_eq!(s.status(req::SET_VRING_ADDR, &[0; 32], &[]), 1);
    assert_eq!(s.status(req::SET_MEM_TABLE, &[0; 4], &[]), 1);
    assert_eq!(
        s.status(req::SET_CONFIG, &[0; 12], &[]),
        1,
        "header says 0, fine"
    );
    assert_eq!(s.errors(), 6);
    assert!(s.alive());
}

#[test]
fn unknown_and_unimplemented_requests() {
    let mut s = session("c10-unknown");
    // Asked: a failure status. Not asked: ignored.
    assert_eq!(s.status(99, &[1, 2, 3], &[]), 1);
    assert_eq!(s.status(req::SET_VRING_ENDIAN, &state(0, 0), &[]), 1);
    s.fe.send_raw(99, 0, &[0; 16], &[]).unwrap();
    s.fe.send_raw(req::POSTCOPY_LISTEN, 0, &[], &[]).unwrap();
    assert!(s.alive());
    let st = s.handle.stats();
    assert_eq!(st.unsupported.load(Ordering::Relaxed), 4);
    assert_eq!(s.errors(), 0);
    // An unimplemented request that always has a reply (the front-end would wait).
    s.fe.send_raw(req::SET_LOG_BASE, 0, &[0; 16], &[]).unwrap();
    assert!(s.closed());
}

#[test]
fn requests_gated_by_features_not_negotiated() {
    let r = Reactor::new().unwrap();
    let sink = RecordingSink::new();
    let h = r
        .register(sock_path("c10-gate"), false, net_config(), sink.clone())
        .unwrap();
    let mut fe = Frontend::connect(h.path()).unwrap();
    fe.negotiate(net_features(), bit(proto::REPLY_ACK)).unwrap();
    let mem = guest_memory();
    assert!(fe.add_mem_reg(&mem).is_err());
    assert!(fe.send_rarp([1; 6]).is_err());
    assert!(fe.net_set_mtu(1500).is_err());
    assert!(fe.set_status(1).is_err());
    assert!(fe.reset_device().is_err());
    assert!(sink.events().is_empty());
    fe.send_raw(req::GET_QUEUE_NUM, 0, &[], &[]).unwrap();
    assert!(fe.is_closed_by_peer(Duration::from_secs(5)));
}

#[test]
fn bad_headers_close_the_connection() {
    // The reply flag on a request: refused.
    let mut s = session("c10-hdr");
    let flags = NEED_REPLY_MASK | vpmd_vhost::protocol::defs::REPLY_MASK;
    s.fe.send_raw(req::SET_OWNER, flags, &[], &[]).unwrap();
    assert_eq!(s.fe.recv_reply(req::SET_OWNER).unwrap(), 1u64.to_ne_bytes());
    // A payload larger than any request.
    let mut h = Header::new(req::SET_FEATURES, 0, 1 << 20)
        .to_bytes()
        .to_vec();
    h.extend_from_slice(&[0; 64]);
    s.fe.stream().write_all(&h).unwrap();
    assert!(s.closed());
    assert_eq!(s.handle.stats().dropped.load(Ordering::Relaxed), 1);
    // Another protocol version.
    let mut s = session("c10-version");
    let mut h = Header::new(req::GET_FEATURES, 0, 0);
    h.flags = 2;
    s.fe.stream().write_all(&h.to_bytes()).unwrap();
    assert!(s.closed());
}

#[test]
fn a_stalled_half_message_blocks_nobody_and_times_out() {
    let reactor = Reactor::with_config(ReactorConfig {
        partial_message_timeout: Duration::from_millis(800),
        ..ReactorConfig::default()
    })
    .unwrap();
    let mut stuck = session_on(reactor.clone(), "c10-stuck");
    let mem = guest_memory();
    stuck.fe.set_mem_table(&[&mem]).unwrap();
    let _fds = start_rings(&mut stuck.fe, &mem, &[0, 1], 0);
    // A header announcing 8 bytes, then nothing.
    let h = Header::new(req::SET_FEATURES, 0, 8).to_bytes();
    let t = Instant::now();
    stuck.fe.stream().write_all(&h).unwrap();
    // Meanwhile another front-end on the same control thread does a whole handshake.
    let mut other = session_on(reactor, "c10-other");
    other.fe.set_mem_table(&[&mem]).unwrap();
    let _ofds = start_rings(&mut other.fe, &mem, &[0, 1], 0);
    assert_eq!(other.sink.running(), vec![0, 1]);
    assert!(
        t.elapsed() < Duration::from_millis(300),
        "served while the other stalls"
    );
    // The stalled one is dropped after the timeout, its rings stopped.
    assert!(stuck.closed());
    assert!(t.elapsed() >= Duration::from_millis(750));
    assert!(stuck.sink.running().is_empty());
    assert!(!stuck.sink.last_link().unwrap().0);
    assert_eq!(stuck.handle.stats().dropped.load(Ordering::Relaxed), 1);
    assert!(other.alive());
}

#[test]
fn a_truncated_message_then_eof_ends_the_session_cleanly() {
    let mut s = session("c10-trunc");
    let mem = guest_memory();
    s.fe.set_mem_table(&[&mem]).unwrap();
    let _fds = start_rings(&mut s.fe, &mem, &[0, 1], 0);
    let m = encode(req::SET_VRING_ADDR, 0, &ring(2).addr(&mem).to_bytes());
    s.fe.stream().write_all(&m[..20]).unwrap();
    s.fe.stream().shutdown(std::net::Shutdown::Both).unwrap();
    assert!(s
        .sink
        .wait_for(|e| matches!(e.last(), Some(Ev::Link { up: false, .. }))));
    assert!(s.sink.running().is_empty());
    assert!(wait_until(|| s.handle.state() == ConnState::Listening));
}

#[test]
fn a_flood_from_one_front_end_does_not_starve_another() {
    let reactor = Reactor::new().unwrap();
    let mut flood = session_on(reactor.clone(), "c10-flood");
    let burst: Vec<u8> = (0..5000)
        .flat_map(|_| encode(req::SET_OWNER, 0, &[]))
        .collect();
    let mut w = flood.fe.stream().try_clone().unwrap();
    let writer = std::thread::spawn(move || w.write_all(&burst).unwrap());
    let mut other = session_on(reactor, "c10-calm");
    let mem = guest_memory();
    other.fe.set_mem_table(&[&mem]).unwrap();
    let _fds = start_rings(&mut other.fe, &mem, &[0, 1], 0);
    assert_eq!(other.sink.running(), vec![0, 1]);
    writer.join().unwrap();
    assert!(flood.alive(), "the flooder is served too, in turn");
    let msgs = flood.handle.stats().messages.load(Ordering::Relaxed);
    assert!(msgs >= 5000, "{msgs}");
}
