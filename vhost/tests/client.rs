//! Client mode: vpmd connects to a front-end that listens (QEMU `server=on`), retries
//! with back-off while nobody listens, and reconnects as a fresh session after the
//! front-end side restarts.

mod common;

use std::io;
use std::os::unix::net::UnixListener;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::*;
use vpmd_vhost::frontend::Frontend;
use vpmd_vhost::{ConnState, Reactor, ReactorConfig};

fn fast() -> ReactorConfig {
    ReactorConfig {
        reconnect_min: Duration::from_millis(20),
        reconnect_max: Duration::from_millis(200),
        ..ReactorConfig::default()
    }
}

/// Accepts the back-end's connection (waiting up to 5 s).
fn accept(l: &UnixListener) -> Frontend {
    l.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match l.accept() {
            Ok((s, _)) => return Frontend::from_stream(s).unwrap(),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(2))
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
}

#[test]
fn client_mode_waits_for_the_front_end_and_reconnects_after_it_restarts() {
    let r = Reactor::with_config(fast()).unwrap();
    let sink = RecordingSink::new();
    let path = sock_path("client");
    let h = r.register(&path, true, net_config(), sink.clone()).unwrap();
    std::thread::sleep(Duration::from_millis(100)); // a few failed attempts
    assert_eq!(h.state(), ConnState::Reconnecting);

    let listener = UnixListener::bind(&path).unwrap();
    let mut fe = accept(&listener);
    assert!(wait_until(|| h.state() == ConnState::Connected));
    negotiate_all(&mut fe);
    let mem = guest_memory();
    fe.set_mem_table(&[&mem]).unwrap();
    let _fds = start_rings(&mut fe, &mem, &[0, 1], 0);
    assert!(sink.last_link().unwrap().0);

    // The front-end goes away and comes back later on the same path.
    drop(fe);
    drop(listener);
    std::fs::remove_file(&path).unwrap();
    assert!(sink.wait_for(|e| matches!(e.last(), Some(Ev::Link { up: false, .. }))));
    assert!(sink.running().is_empty());
    assert!(wait_until(|| h.state() == ConnState::Reconnecting));
    std::thread::sleep(Duration::from_millis(300)); // back-off grows to its cap

    let listener = UnixListener::bind(&path).unwrap();
    let t = Instant::now();
    let mut fe = accept(&listener);
    assert!(
        t.elapsed() < Duration::from_millis(1000),
        "retries are capped at 200 ms"
    );
    assert!(wait_until(|| h.state() == ConnState::Connected));
    negotiate_all(&mut fe);
    fe.set_mem_table(&[&mem]).unwrap();
    let _fds = start_rings(&mut fe, &mem, &[0, 1], 5);
    assert_eq!(sink.config(0).unwrap().last_avail_idx, 5, "a fresh session");
    assert!(sink.last_link().unwrap().0);
    assert_eq!(h.stats().sessions.load(Ordering::Relaxed), 2);
    assert!(sink.violations().is_empty(), "{:?}", sink.violations());

    // Unregistering a client closes the session and does not touch the path.
    h.unregister();
    assert!(sink.running().is_empty());
    assert!(path.exists());
}

#[test]
fn unregistering_a_client_that_never_connected_is_immediate() {
    let r = Reactor::with_config(fast()).unwrap();
    let h = r
        .register(sock_path("never"), true, net_config(), RecordingSink::new())
        .unwrap();
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(h.state(), ConnState::Reconnecting);
    h.unregister();
}

#[test]
fn a_front_end_that_hangs_up_at_once_is_retried_with_growing_delays() {
    let r = Reactor::with_config(fast()).unwrap();
    let path = sock_path("flap");
    let listener = UnixListener::bind(&path).unwrap();
    listener.set_nonblocking(true).unwrap();
    let h = r
        .register(&path, true, net_config(), RecordingSink::new())
        .unwrap();
    let t = Instant::now();
    let mut accepts = 0;
    while t.elapsed() < Duration::from_millis(700) {
        match listener.accept() {
            Ok((s, _)) => {
                accepts += 1;
                drop(s);
            }
            Err(_) => std::thread::sleep(Duration::from_millis(1)),
        }
    }
    // 20, 40, 80, 160, 200, 200 ms: about 6 (every 20 ms would be 35).
    assert!(
        (3..=10).contains(&accepts),
        "{accepts} reconnects in 700 ms"
    );
    // The back-end may have connected once more, into the listener's backlog.
    let sessions = h.stats().sessions.load(Ordering::Relaxed);
    assert!(sessions == accepts || sessions == accepts + 1, "{sessions}");
}
