//! Server mode against the test front-end over real Unix sockets: negotiation, memory
//! tables, vring start/stop with positions, enable/disable, memory changes restarting
//! rings, REPLY_ACK, disconnects and unregistering.

mod common;

use std::os::fd::AsFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use vpmd_vhost::device::{DeviceConfig, OFFERED_PROTOCOL_FEATURES};
use vpmd_vhost::frontend::{Frontend, FrontendError, GuestMemory};
use vpmd_vhost::memory::MAX_REGIONS;
use vpmd_vhost::protocol::defs::{proto, status};
use vpmd_vhost::socket::SocketError;
use vpmd_vhost::virtio::{self, bit};
use vpmd_vhost::{ConnState, Reactor, VhostSocket};

fn setup(name: &str) -> (Reactor, vpmd_vhost::Handle, Arc<RecordingSink>, Frontend) {
    let r = Reactor::new().unwrap();
    let sink = RecordingSink::new();
    let path = sock_path(name);
    let h = r
        .register(&path, false, net_config(), sink.clone())
        .unwrap();
    assert_eq!(h.state(), ConnState::Listening);
    let fe = Frontend::connect(&path).unwrap();
    assert!(wait_until(|| h.state() == ConnState::Connected));
    (r, h, sink, fe)
}

#[test]
fn full_handshake_hands_over_translated_rings_and_brings_the_link_up() {
    let (_r, h, sink, mut fe) = setup("handshake");
    negotiate_all(&mut fe);
    assert_eq!(fe.get_queue_num().unwrap(), 2);
    assert_eq!(fe.get_max_mem_slots().unwrap(), MAX_REGIONS as u64);
    let mem = guest_memory();
    fe.set_mem_table(&[&mem]).unwrap();
    // A marker in guest memory, written through the front-end's own mapping.
    mem.write(ring(0).desc, b"vpmd-desc").unwrap();

    let _fds = start_rings(&mut fe, &mem, &[0], 7);
    assert_eq!(sink.running(), vec![0]);
    assert!(
        sink.last_link().is_none(),
        "half a queue pair is not a link"
    );
    let _fds1 = start_rings(&mut fe, &mem, &[1], 0);
    assert_eq!(sink.running(), vec![0, 1]);

    let cfg = sink.config(0).unwrap();
    assert_eq!(
        (cfg.size, cfg.last_avail_idx, cfg.last_used_idx),
        (RING_SIZE, 7, 7)
    );
    assert_eq!(cfg.features, fe.features());
    assert!(cfg.call.is_some());
    let l = ring(0);
    let n = u64::from(RING_SIZE);
    let addr = l.addr(&mem);
    assert_eq!(cfg.mem.uaddr_to_host(addr.desc, 16 * n), Some(cfg.desc));
    assert_eq!(
        cfg.mem.uaddr_to_host(addr.avail, 6 + 2 * n),
        Some(cfg.avail)
    );
    assert_eq!(cfg.mem.uaddr_to_host(addr.used, 6 + 8 * n), Some(cfg.used));
    let mut back = [0u8; 9];
    cfg.mem.read(l.desc, &mut back, &mut 0).unwrap();
    assert_eq!(&back, b"vpmd-desc", "the back-end maps the same memory");

    let (up, info) = sink.last_link().unwrap();
    assert!(up);
    assert_eq!(
        (info.queue_pairs, info.max_queue_pairs, info.mtu),
        (1, 2, 9000)
    );
    assert_eq!(info.mac, Some(MAC));

    let _fds23 = start_rings(&mut fe, &mem, &[2, 3], 0);
    assert_eq!(sink.last_link().unwrap().1.queue_pairs, 2);

    // Status, MTU, RARP, config space.
    fe.set_status(status::ACKNOWLEDGE | status::DRIVER | status::DRIVER_OK)
        .unwrap();
    assert_eq!(fe.get_status().unwrap(), 7);
    fe.net_set_mtu(1400).unwrap();
    let (_, info) = sink.last_link().unwrap();
    assert_eq!((info.mtu, info.status), (1400, 7));
    fe.send_rarp([2, 0, 0, 0, 0, 1]).unwrap();
    assert!(sink.events().contains(&Ev::Rarp([2, 0, 0, 0, 0, 1])));
    let c = fe.get_config(0, 12).unwrap();
    assert_eq!(&c[..6], &MAC);
    assert_eq!(u16::from_le_bytes([c[6], c[7]]), 1, "link up");
    assert_eq!(u16::from_le_bytes([c[8], c[9]]), 2, "max_virtqueue_pairs");
    assert_eq!(u16::from_le_bytes([c[10], c[11]]), 1400, "mtu");
    assert!(
        fe.get_config(20, 8).unwrap().is_empty(),
        "out of range: error reply"
    );
    assert!(fe.set_config(0, 0, &[1; 6]).is_err(), "mac is read-only");
    fe.set_config(0, 1, &[2, 0, 0, 0, 0, 9]).unwrap();
    assert_eq!(&fe.get_config(0, 6).unwrap(), &[2, 0, 0, 0, 0, 9]);

    assert!(sink.violations().is_empty(), "{:?}", sink.violations());
    assert_eq!(
        h.stats().errors.load(std::sync::atomic::Ordering::Relaxed),
        2
    );
}

#[test]
fn get_vring_base_stops_the_ring_and_replies_its_position() {
    let (_r, _h, sink, mut fe) = setup("base");
    negotiate_all(&mut fe);
    let mem = guest_memory();
    fe.set_mem_table(&[&mem]).unwrap();
    let _fds = start_rings(&mut fe, &mem, &[0, 1], 100);
    sink.advance(0, 42);
    assert_eq!(fe.get_vring_base(0).unwrap(), 142);
    assert_eq!(sink.running(), vec![1]);
    assert!(sink.events().contains(&Ev::Stop {
        index: 0,
        pos: (142, 142)
    }));
    assert!(!sink.last_link().unwrap().0, "no full queue pair left");
    // A stopped ring answers with its saved position and does not stop twice.
    assert_eq!(fe.get_vring_base(0).unwrap(), 142);
    // Stopped means stopped: enabling does not restart it until it is kicked again.
    fe.set_vring_enable(0, true).unwrap();
    assert_eq!(sink.running(), vec![1]);
    let _again = start_rings(&mut fe, &mem, &[0], 142);
    assert_eq!(sink.config(0).unwrap().last_avail_idx, 142);
    assert!(sink.last_link().unwrap().0);
    assert!(sink.violations().is_empty(), "{:?}", sink.violations());
}

#[test]
fn set_vring_enable_stops_and_restarts_at_the_same_position() {
    let (_r, _h, sink, mut fe) = setup("enable");
    negotiate_all(&mut fe);
    let mem = guest_memory();
    fe.set_mem_table(&[&mem]).unwrap();
    // With protocol features, a kicked ring waits for SET_VRING_ENABLE(1).
    let l = ring(0);
    let fds = RingFds::new();
    fe.set_vring_num(0, 256).unwrap();
    fe.set_vring_base(0, 0).unwrap();
    fe.set_vring_addr(l.addr(&mem)).unwrap();
    fe.set_vring_kick(0, Some(fds.kick.as_fd())).unwrap();
    assert!(sink.running().is_empty(), "started but disabled");
    fe.set_vring_enable(0, true).unwrap();
    assert_eq!(sink.running(), vec![0]);
    sink.advance(0, 9);
    fe.set_vring_enable(0, false).unwrap();
    assert!(sink.running().is_empty());
    fe.set_vring_enable(0, true).unwrap();
    let cfg = sink.config(0).unwrap();
    assert_eq!((cfg.last_avail_idx, cfg.last_used_idx), (9, 9));
    assert!(cfg.call.is_none(), "no call fd was given");
    // A call fd while running: the ring restarts with it, same position.
    fe.set_vring_call(0, Some(fds.call.as_fd())).unwrap();
    let cfg = sink.config(0).unwrap();
    assert!(cfg.call.is_some());
    assert_eq!(cfg.last_avail_idx, 9);
    assert!(matches!(
        set_vring_enable_raw(&mut fe, 0, 2),
        Err(FrontendError::Refused(..))
    ));
    assert!(sink.violations().is_empty(), "{:?}", sink.violations());
}

fn set_vring_enable_raw(fe: &mut Frontend, index: u16, v: u32) -> Result<(), FrontendError> {
    let s = vpmd_vhost::protocol::message::VringState {
        index: u32::from(index),
        num: v,
    };
    fe.request(
        vpmd_vhost::protocol::defs::req::SET_VRING_ENABLE,
        &s.to_bytes(),
        &[],
    )
}

#[test]
fn a_memory_table_change_restarts_running_rings_at_their_positions() {
    let (_r, _h, sink, mut fe) = setup("memchange");
    negotiate_all(&mut fe);
    let mem = guest_memory();
    fe.set_mem_table(&[&mem]).unwrap();
    let _fds = start_rings(&mut fe, &mem, &[0, 1], 0);
    sink.advance(0, 3);
    sink.advance(1, 5);
    let old = sink.config(0).unwrap().mem;
    sink.take_events();
    let extra = GuestMemory::new(1 << 30, 1 << 16).unwrap();
    fe.set_mem_table(&[&mem, &extra]).unwrap();
    let ev = sink.take_events();
    let stops = ev.iter().filter(|e| matches!(e, Ev::Stop { .. })).count();
    let starts: Vec<_> = ev
        .iter()
        .filter_map(|e| match e {
            Ev::Start {
                index, last_avail, ..
            } => Some((*index, *last_avail)),
            _ => None,
        })
        .collect();
    assert_eq!(stops, 2);
    assert_eq!(starts, vec![(0, 3), (1, 5)]);
    let last_stop = ev
        .iter()
        .rposition(|e| matches!(e, Ev::Stop { .. }))
        .unwrap();
    let first_start = ev
        .iter()
        .position(|e| matches!(e, Ev::Start { .. }))
        .unwrap();
    assert!(
        last_stop < first_start,
        "every ring stops before any restarts"
    );
    assert!(
        !ev.iter().any(|e| matches!(e, Ev::Link { .. })),
        "no link flap"
    );
    let new = sink.config(0).unwrap().mem;
    assert_eq!((old.len(), new.len()), (1, 2));
    assert!(!Arc::ptr_eq(&old, &new));
    assert!(sink.violations().is_empty(), "{:?}", sink.violations());
}

#[test]
fn add_and_remove_regions_beyond_eight() {
    let (_r, _h, sink, mut fe) = setup("memslots");
    negotiate_all(&mut fe);
    assert!(fe.protocol_features() & bit(proto::CONFIGURE_MEM_SLOTS) != 0);
    let regions: Vec<GuestMemory> = (0..12u64)
        .map(|i| GuestMemory::new(i << 20, 1 << 20).unwrap())
        .collect();
    for m in &regions {
        fe.add_mem_reg(m).unwrap();
    }
    // Rings in regions 0 and 3.
    let fds = [RingFds::new(), RingFds::new()];
    let r0 = vpmd_vhost::frontend::VringLayout::at(0, 256, 0x1000);
    let r1 = vpmd_vhost::frontend::VringLayout::at(1, 256, (3 << 20) + 0x1000);
    fe.start_vring(&regions[0], &r0, 0, Some(fds[0].kick.as_fd()), None)
        .unwrap();
    fe.start_vring(&regions[3], &r1, 0, Some(fds[1].kick.as_fd()), None)
        .unwrap();
    assert_eq!(sink.running(), vec![0, 1]);
    assert_eq!(sink.config(0).unwrap().mem.len(), 12);
    sink.advance(1, 4);
    fe.rem_mem_reg(regions[7].region()).unwrap();
    assert_eq!(sink.config(1).unwrap().mem.len(), 11);
    assert_eq!(sink.config(1).unwrap().last_avail_idx, 4);
    assert!(matches!(
        fe.rem_mem_reg(regions[7].region()),
        Err(FrontendError::Refused(..))
    ));
    // Removing the region under ring 1 stops it; adding it back resumes it.
    fe.rem_mem_reg(regions[3].region()).unwrap();
    assert_eq!(sink.running(), vec![0]);
    fe.add_mem_reg(&regions[3]).unwrap();
    assert_eq!(sink.running(), vec![0, 1]);
    assert_eq!(sink.config(1).unwrap().last_avail_idx, 4);
    assert!(sink.violations().is_empty(), "{:?}", sink.violations());
}

#[test]
fn reply_ack_reports_a_refusal_and_keeps_the_session() {
    let (_r, h, sink, mut fe) = setup("replyack");
    negotiate_all(&mut fe);
    let e = fe.set_vring_num(0, 5).unwrap_err();
    assert!(
        matches!(e, FrontendError::Refused("SET_VRING_NUM", 1)),
        "{e}"
    );
    assert_eq!(fe.get_queue_num().unwrap(), 2, "still talking");
    assert_eq!(h.state(), ConnState::Connected);
    assert_eq!(
        h.stats().errors.load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    assert!(sink.events().is_empty());
}

#[test]
fn without_reply_ack_a_refusal_closes_the_session_and_stops_its_rings() {
    let (_r, h, sink, mut fe) = setup("noack");
    let want = OFFERED_PROTOCOL_FEATURES & !bit(proto::REPLY_ACK);
    fe.negotiate(net_features(), want).unwrap();
    let mem = guest_memory();
    fe.set_mem_table(&[&mem]).unwrap();
    let _fds = start_rings(&mut fe, &mem, &[0, 1], 0);
    assert!(sink.wait_for(|e| e.iter().any(|e| matches!(e, Ev::Link { up: true, .. }))));
    fe.set_vring_num(2, 1000).unwrap(); // not a power of two; nobody to tell
    assert!(fe.is_closed_by_peer(Duration::from_secs(5)));
    assert!(sink.wait_for(|e| matches!(e.last(), Some(Ev::Link { up: false, .. }))));
    assert!(sink.running().is_empty());
    assert!(wait_until(|| h.state() == ConnState::Listening));
    let st = h.stats();
    assert_eq!(st.errors.load(std::sync::atomic::Ordering::Relaxed), 1);
    assert_eq!(st.dropped.load(std::sync::atomic::Ordering::Relaxed), 1);
}

#[test]
fn disconnect_stops_rings_reports_link_down_and_the_next_session_is_fresh() {
    let (_r, h, sink, mut fe) = setup("disconnect");
    negotiate_all(&mut fe);
    let mem = guest_memory();
    fe.set_mem_table(&[&mem]).unwrap();
    let _fds = start_rings(&mut fe, &mem, &[0, 1, 2], 0);
    drop(fe);
    assert!(sink.wait_for(|e| matches!(e.last(), Some(Ev::Link { up: false, .. }))));
    assert!(sink.running().is_empty());
    let stops = sink
        .events()
        .iter()
        .filter(|e| matches!(e, Ev::Stop { .. }))
        .count();
    assert_eq!(stops, 3);
    assert!(wait_until(|| h.state() == ConnState::Listening));
    // A new front-end starts from nothing: no memory table, no features.
    let mut fe = Frontend::connect(h.path()).unwrap();
    fe.set_reply_ack(false);
    assert!(wait_until(|| h.state() == ConnState::Connected));
    negotiate_all(&mut fe);
    let l = ring(0);
    let k = RingFds::new();
    fe.set_vring_num(0, 256).unwrap();
    fe.set_vring_addr(l.addr(&mem)).unwrap();
    fe.set_vring_kick(0, Some(k.kick.as_fd())).unwrap();
    fe.set_vring_enable(0, true).unwrap();
    assert!(
        sink.running().is_empty(),
        "no memory table in this session yet"
    );
    fe.set_mem_table(&[&mem]).unwrap();
    assert_eq!(sink.running(), vec![0]);
    assert_eq!(
        h.stats()
            .sessions
            .load(std::sync::atomic::Ordering::Relaxed),
        2
    );
    assert!(sink.violations().is_empty(), "{:?}", sink.violations());
}

#[test]
fn a_second_front_end_is_refused_while_one_is_connected() {
    let (_r, h, _sink, mut fe) = setup("second");
    negotiate_all(&mut fe);
    let mut other = Frontend::connect(h.path()).unwrap();
    assert!(other.is_closed_by_peer(Duration::from_secs(5)));
    assert_eq!(
        h.stats()
            .refused_connections
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    assert_eq!(fe.get_queue_num().unwrap(), 2, "the first is unaffected");
}

#[test]
fn a_front_end_without_protocol_features_gets_rings_started_on_kick() {
    let (_r, _h, sink, mut fe) = setup("legacy");
    let offered = fe.get_features().unwrap();
    assert!(virtio::has(offered, virtio::VHOST_USER_F_PROTOCOL_FEATURES));
    fe.request(vpmd_vhost::protocol::defs::req::SET_OWNER, &[], &[])
        .unwrap();
    fe.set_features(bit(virtio::F_VERSION_1)).unwrap();
    let mem = guest_memory();
    fe.set_mem_table(&[&mem]).unwrap();
    let _fds = start_rings(&mut fe, &mem, &[0, 1], 0);
    assert!(sink.wait_for(|e| e.iter().any(|e| matches!(e, Ev::Link { up: true, .. }))));
    assert_eq!(sink.config(1).unwrap().features, bit(virtio::F_VERSION_1));
}

#[test]
fn features_do_not_change_under_running_rings_and_must_have_been_offered() {
    let (_r, _h, sink, mut fe) = setup("features");
    negotiate_all(&mut fe);
    let f = fe.features();
    assert!(fe.set_features(f | bit(virtio::F_RING_PACKED)).is_err());
    let mem = guest_memory();
    fe.set_mem_table(&[&mem]).unwrap();
    let _fds = start_rings(&mut fe, &mem, &[0], 0);
    fe.set_features(f).unwrap(); // the same set again is fine (QEMU sends it per pair)
    assert!(fe.set_features(f & !bit(virtio::NET_F_MRG_RXBUF)).is_err());
    assert!(fe.set_protocol_features(bit(proto::LOG_SHMFD)).is_err());
    assert_eq!(sink.running(), vec![0]);
}

#[test]
fn reset_device_and_reset_owner_stop_everything() {
    let (_r, _h, sink, mut fe) = setup("reset");
    negotiate_all(&mut fe);
    let mem = guest_memory();
    fe.set_mem_table(&[&mem]).unwrap();
    let _fds = start_rings(&mut fe, &mem, &[0, 1], 0);
    fe.reset_device().unwrap();
    assert!(sink.running().is_empty());
    assert!(!sink.last_link().unwrap().0);
    fe.set_features(fe.features()).unwrap();
    let _fds = start_rings(&mut fe, &mem, &[0, 1], 0);
    assert_eq!(sink.running(), vec![0, 1]);
    fe.reset_owner().unwrap();
    assert!(sink.running().is_empty());
    assert!(sink.violations().is_empty(), "{:?}", sink.violations());
}

#[test]
fn unregister_stops_rings_and_removes_the_socket_file() {
    let sink = RecordingSink::new();
    let path = sock_path("unregister");
    // Through the process-wide reactor, as the glue does.
    let h = VhostSocket::register(&path, false, net_config(), sink.clone()).unwrap();
    let mut fe = Frontend::connect(&path).unwrap();
    negotiate_all(&mut fe);
    let mem = guest_memory();
    fe.set_mem_table(&[&mem]).unwrap();
    let _fds = start_rings(&mut fe, &mem, &[0, 1], 0);
    h.unregister();
    assert!(
        sink.running().is_empty(),
        "stopped before unregister returned"
    );
    assert!(!sink.last_link().unwrap().0);
    assert!(!path.exists());
    assert!(fe.is_closed_by_peer(Duration::from_secs(5)));
}

#[test]
fn stale_socket_files_are_replaced_live_ones_and_other_files_refused() {
    let r = Reactor::new().unwrap();
    let path = sock_path("stale");
    drop(UnixListener::bind(&path).unwrap()); // leaves a dead socket file
    let h = r
        .register(&path, false, net_config(), RecordingSink::new())
        .unwrap();
    assert!(UnixStream::connect(&path).is_ok());
    let e = r
        .register(&path, false, net_config(), RecordingSink::new())
        .unwrap_err();
    assert!(matches!(e, SocketError::InUse(_)), "{e}");
    drop(h);
    assert!(!path.exists());
    std::fs::write(&path, b"not a socket").unwrap();
    let e = r
        .register(&path, false, net_config(), RecordingSink::new())
        .unwrap_err();
    assert!(matches!(e, SocketError::NotASocket(_)), "{e}");
    std::fs::remove_file(&path).unwrap();
    let bad = DeviceConfig {
        queue_pairs: 2,
        features: bit(virtio::F_VERSION_1),
        mtu: None,
        mac: None,
    };
    let e = r
        .register(&path, false, bad, RecordingSink::new())
        .unwrap_err();
    assert!(matches!(e, SocketError::Config(_)), "{e}");
}
