//! The control ring: the handshake that maps it, every request type, the hash extra on
//! guest rx with the Toeplitz value Microsoft's RSS suite publishes, a guest's hash
//! extra on guest tx becoming the buffer's RSS hash, and a reconnect.

use super::harness::*;
use vpmd_mempool::ol_flags;
use vpmd_xen::backend::{HashSettings, STAGING_MAX_GRANTS};
use vpmd_xen::wire::defs::*;
use vpmd_xen::wire::netif::{Extra, ExtraInfo, HashInfo, RxFlags, TxFlags, TxRequest};
use vpmd_xen::wire::Entry;

/// The key of Microsoft's RSS verification suite.
pub const MS_KEY: [u8; 40] = [
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
    0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
    0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
];

const OK: u32 = XEN_NETIF_CTRL_STATUS_SUCCESS;
const ALL_TYPES: u32 = 0xf;

/// An Ethernet frame of `ethertype` carrying `l3`, a TCP or UDP header with the
/// ports, and some payload.
fn frame(ethertype: u16, l3: &[u8], (sp, dp): (u16, u16)) -> Vec<u8> {
    let mut f = vec![0x00, 0x16, 0x3e, 0, 0, 3, 0x00, 0x16, 0x3e, 0, 0, 9];
    f.extend(ethertype.to_be_bytes());
    f.extend(l3);
    f.extend(sp.to_be_bytes());
    f.extend(dp.to_be_bytes());
    f.extend([0; 16]);
    f.extend(pattern(1, 100));
    f
}

/// IPv4 `src -> dst`, protocol `proto`.
fn ipv4(proto: u8, src: [u8; 4], dst: [u8; 4], ports: (u16, u16)) -> Vec<u8> {
    let mut ip = vec![0x45, 0, 0, 140, 0, 1, 0, 0, 64, proto, 0, 0];
    ip.extend(src);
    ip.extend(dst);
    frame(0x0800, &ip, ports)
}

/// IPv6 `src -> dst`, TCP.
fn ipv6_tcp(src: &str, dst: &str, ports: (u16, u16)) -> Vec<u8> {
    let a = |s: &str| s.parse::<std::net::Ipv6Addr>().unwrap().octets();
    let mut ip = vec![0x60, 0, 0, 0, 0, 140, 6, 64];
    ip.extend(a(src));
    ip.extend(a(dst));
    frame(0x86dd, &ip, ports)
}

fn toeplitz(kind: u8, value: u32) -> Option<HashInfo> {
    Some(HashInfo {
        kind,
        algorithm: XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ as u8,
        value: value.to_le_bytes(),
    })
}

/// Toeplitz with the Microsoft key and `flags`.
pub fn configure(v: &mut Vif, flags: u32) {
    let alg = XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ;
    assert_eq!(
        ctrl(v, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM, [alg, 0, 0]).0,
        OK
    );
    assert_eq!(
        ctrl(v, XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS, [flags, 0, 0]).0,
        OK
    );
    let gref = v.nf.ctrl_data(&MS_KEY).unwrap();
    let key = [gref.0, 40, 0];
    assert_eq!(ctrl(v, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, key).0, OK);
}

#[test]
fn the_ring_is_mapped_only_when_the_frontend_makes_one() {
    let sim = Sim::new("ctrl-hs");
    let v = ctrl_vif(&sim, 3, 1);
    let dom0 = SimPlatform::connect(sim.paths(), DomId::DOM0).unwrap();
    let key = format!("{}/feature-ctrl-ring", v.nb.path());
    assert_eq!(dom0.store().read(TxId::NONE, &key).unwrap(), b"1");
    // Linux's netfront makes none.
    let plain = connected(&sim, 4);
    assert!(!plain.nf.has_ctrl_ring() && !plain.nb.ctrl().has_ring());
}

#[test]
fn half_a_ctrl_key_pair_or_a_bad_ring_ref_closes_naming_the_key() {
    let sim = Sim::new("ctrl-keys");
    let base = [
        ("request-rx-copy", "1"),
        ("tx-ring-ref", "8"),
        ("rx-ring-ref", "9"),
        ("event-channel", "1"),
    ];
    for (domid, extra, named) in [
        (3, [("ctrl-ring-ref", "10"), ("", "")], "event-channel-ctrl"),
        (4, [("event-channel-ctrl", "2"), ("", "")], "ctrl-ring-ref"),
        (
            5,
            [("ctrl-ring-ref", "x"), ("event-channel-ctrl", "2")],
            "ctrl-ring-ref",
        ),
        (
            6,
            [("ctrl-ring-ref", "9999"), ("event-channel-ctrl", "2")],
            "ctrl-ring-ref",
        ),
    ] {
        let keys: Vec<_> = base
            .iter()
            .chain(&extra)
            .filter(|k| !k.0.is_empty())
            .copied()
            .collect();
        let nb = fake_frontend(&sim, domid, &keys);
        let e = error_key(&sim, &nb);
        assert!(e.contains(&format!("vif/0/{named}")), "{e}");
    }
}

#[test]
fn every_request_type_is_answered() {
    let sim = Sim::new("ctrl-types");
    let mut v = ctrl_vif(&sim, 3, 2);
    const NS: u32 = XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED;
    assert_eq!(
        ctrl(&mut v, XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS, [0; 3]),
        (OK, ALL_TYPES)
    );
    configure(&mut v, ALL_TYPES);
    assert_eq!(
        ctrl(&mut v, XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE, [0; 3]),
        (OK, 128)
    );
    let size = [4, 0, 0];
    assert_eq!(
        ctrl(&mut v, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE, size).0,
        OK
    );
    let entries: Vec<u8> = [1u32, 0, 1].iter().flat_map(|e| e.to_le_bytes()).collect();
    let gref = v.nf.ctrl_data(&entries).unwrap();
    let set = [gref.0, 3, 1];
    assert_eq!(
        ctrl(&mut v, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, set).0,
        OK
    );
    // Staging grants (tests/netback/staging.rs): queue 1 of 2 has room for them.
    let size = ctrl(&mut v, XEN_NETIF_CTRL_TYPE_GET_GREF_MAPPING_SIZE, [1, 0, 0]);
    assert_eq!(size, (OK, STAGING_MAX_GRANTS as u32));
    for kind in [XEN_NETIF_CTRL_TYPE_INVALID, 11, 0xffff] {
        assert_eq!(ctrl(&mut v, kind, [1, 2, 3]), (NS, 0), "type {kind}");
    }
    let mut key = [0; 40];
    key.copy_from_slice(&MS_KEY);
    assert_eq!(
        v.nb.ctrl().settings(),
        HashSettings {
            algorithm: XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ,
            flags: ALL_TYPES,
            key,
            mapping: vec![0, 1, 0, 1],
        }
    );
    assert_eq!(v.nb.ctrl().queue_for_hash(5), Some(1));
    assert_eq!(v.nb.ctrl().queue_for_hash(6), Some(0));
    // A shorter key is zero-padded; none clears it.
    let gref = v.nf.ctrl_data(&[0xff; 8]).unwrap();
    assert_eq!(
        ctrl(&mut v, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, [gref.0, 8, 0]).0,
        OK
    );
    assert_eq!(
        v.nb.ctrl().settings().key[..9],
        [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0]
    );
    assert_eq!(
        ctrl(&mut v, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, [gref.0, 0, 0]).0,
        OK
    );
    assert_eq!(v.nb.ctrl().settings().key, [0; 40]);
    // Algorithm none: no hashing, no queue.
    let none = [XEN_NETIF_CTRL_HASH_ALGORITHM_NONE, 0, 0];
    assert_eq!(
        ctrl(&mut v, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM, none).0,
        OK
    );
    assert_eq!(v.nb.ctrl().queue_for_hash(5), None);
    let x: std::collections::HashMap<_, _> = v.nb.ctrl().xstats().into_iter().collect();
    assert_eq!((x["ctrl_requests"], x["ctrl_errors"]), (14, 3));
    assert_eq!(x["ctrl_not_supported"], 3);
    assert_eq!(x["hash_mapping_size"], 4);
}

/// Guest rx with Toeplitz on: each frame's hash extra, as the suite publishes it.
#[test]
fn guest_rx_frames_carry_the_toeplitz_hash() {
    let sim = Sim::new("ctrl-grx");
    let pool = pool();
    let mut v = ctrl_vif(&sim, 3, 1);
    // Before any setting: no extra.
    let tcp = ipv4(6, [66, 9, 149, 187], [161, 142, 100, 80], (2794, 1766));
    let got = v.tx_all(vec![mbuf(&pool, &tcp)]);
    assert_eq!((got[0].hash, got[0].slots), (None, 1));
    configure(&mut v, ALL_TYPES);
    let udp = ipv4(17, [199, 92, 111, 2], [65, 69, 140, 83], (14230, 4739));
    let v6 = ipv6_tcp("3ffe:2501:200:1fff::7", "3ffe:2501:200:3::1", (2794, 1766));
    let mut arp = tcp.clone();
    arp[12..14].copy_from_slice(&[0x08, 0x06]);
    let big = ipv4(6, [24, 19, 198, 95], [12, 22, 207, 184], (12898, 38024))
        .into_iter()
        .chain(pattern(3, 6000))
        .collect::<Vec<_>>();
    let frames = [&tcp, &udp, &v6, &arp, &big];
    let got = v.tx_all(frames.iter().map(|f| mbuf(&pool, f)).collect());
    let want = [
        toeplitz(1, 0x51ccc178),
        toeplitz(0, 0xd718262a),
        toeplitz(3, 0x40207d3d),
        None,
        toeplitz(1, 0x5c2b394a),
    ];
    for ((p, f), w) in got.iter().zip(frames).zip(want) {
        assert_eq!(&p.data, f);
        assert_eq!(p.hash, w);
        assert_eq!(p.flags.contains(RxFlags::EXTRA_INFO), w.is_some());
    }
    assert_eq!(got[4].slots, 3, "two pages and the extra");
    assert_eq!(v.ends[0].stats.tx_hash_extras.get(), 4);
    // Addresses only: the TCP frame hashes as IPv4.
    let flags = [XEN_NETIF_CTRL_HASH_TYPE_IPV4, 0, 0];
    assert_eq!(
        ctrl(&mut v, XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS, flags).0,
        OK
    );
    let got = v.tx_all(vec![mbuf(&pool, &tcp), mbuf(&pool, &v6)]);
    assert_eq!((got[0].hash, got[1].hash), (toeplitz(0, 0x323e8fc2), None));
}

#[test]
fn gso_and_hash_extras_follow_the_first_slot_in_order() {
    let sim = Sim::new("ctrl-gso");
    let pool = pool();
    let mut v = ctrl_vif(&sim, 3, 1);
    configure(&mut v, ALL_TYPES);
    let data = ipv4(6, [38, 27, 205, 30], [209, 142, 163, 6], (48228, 2217))
        .into_iter()
        .chain(pattern(4, 9000))
        .collect::<Vec<_>>();
    let mut m = mbuf(&pool, &data);
    m.set_ol_flags(ol_flags::TX_TCP_SEG | ol_flags::TX_IPV4);
    m.set_tx_offload(vpmd_mempool::TxOffload {
        tso_segsz: 1448,
        ..Default::default()
    });
    let got = v.tx_all(vec![m]);
    assert_eq!(got[0].data, data);
    assert_eq!(got[0].gso.map(|g| g.size), Some(1448));
    assert_eq!(got[0].hash, toeplitz(1, 0xafc7327f));
    assert_eq!(got[0].slots, 3 + 2);
}

#[test]
fn a_guest_hash_extra_becomes_the_rss_hash() {
    let sim = Sim::new("ctrl-gtx");
    let pool = pool();
    let mut v = connected(&sim, 3);
    for (kind, want) in [(1u8, true), (3, true), (4, false)] {
        let data = pattern(kind, 200);
        let (id, gref) = v.nf.raw_grant(0, 0, &data).unwrap();
        let first = TxRequest {
            gref,
            offset: 0,
            flags: TxFlags(NETTXF_EXTRA_INFO),
            id,
            size: 200,
        };
        v.nf.raw_put(0, first.encode()).unwrap();
        let h = HashInfo {
            kind,
            algorithm: 1,
            value: 0x51ccc178u32.to_le_bytes(),
        };
        let x: [u8; 12] = ExtraInfo::new(Extra::Hash(h), false).encode_slot();
        v.nf.raw_put(0, x).unwrap();
        v.nf.raw_push(0).unwrap();
        let m = v.rx(&pool, 1).pop().unwrap();
        assert_eq!(bytes(&m), data);
        assert_eq!(
            m.ol_flags() & ol_flags::RX_RSS_HASH != 0,
            want,
            "type {kind}"
        );
        if want {
            assert_eq!(m.rss_hash(), 0x51ccc178);
        }
    }
    assert_eq!(v.ends[0].stats.rx_hash_extras.get(), 2);
}

#[test]
fn a_reconnect_starts_from_no_hashing() {
    let sim = Sim::new("ctrl-reconnect");
    let pool = pool();
    let mut v = ctrl_vif(&sim, 3, 1);
    configure(&mut v, ALL_TYPES);
    v.nf.start_close().unwrap();
    pump(&mut v.nb, &mut v.nf, |nb, nf| {
        nb.state() == XenbusState::Closed && nf.state() == XenbusState::Closed
    });
    assert!(!v.nb.ctrl().has_ring());
    v.nf.restart().unwrap();
    handshake(&mut v.nb, &mut v.nf);
    assert!(v.nb.ctrl().has_ring());
    assert_eq!(v.nb.ctrl().settings(), HashSettings::default());
    let tcp = ipv4(6, [66, 9, 149, 187], [161, 142, 100, 80], (2794, 1766));
    assert_eq!(v.tx_all(vec![mbuf(&pool, &tcp)])[0].hash, None);
    configure(&mut v, ALL_TYPES);
    assert_eq!(
        v.tx_all(vec![mbuf(&pool, &tcp)])[0].hash,
        toeplitz(1, 0x51ccc178)
    );
    let x: std::collections::HashMap<_, _> = v.nb.ctrl().xstats().into_iter().collect();
    assert_eq!((x["ctrl_requests"], x["ctrl_errors"]), (6, 0));
}

/// Through the ethdev: the port's control thread answers while the frontend awaits
/// the response on its event channel; the settings show in the xstats.
#[test]
fn the_pmd_control_thread_serves_the_ring() {
    use vpmd_pmd::{Devargs, Driver};
    use vpmd_xen::netfront::{ctrl::CTRL_PAGES, PAGES_PER_QUEUE};
    let sim = Sim::new("ctrl-pmd");
    let layout = DomainLayout {
        mem_pages: PAGES_PER_QUEUE + CTRL_PAGES,
        grant_frames: 2,
    };
    let g = sim.guest_with(3, layout);
    let dir = sim.paths().xenstore.parent().unwrap().display().to_string();
    let args: Devargs = format!("net_vpmd_xen0,domid=3,sim={dir}").parse().unwrap();
    let mut dev = vpmd_xen::XenDriver.probe(&args, 0).unwrap();
    let fe = NetfrontConfig {
        ctrl_ring: true,
        ..NetfrontConfig::new(0)
    };
    let mut nf = Netfront::probe(g, sim.paths(), fe).unwrap();
    nf.wait_connected(GUARD).unwrap();
    let alg = [XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ, 0, 0];
    for (kind, data) in [
        (XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM, alg),
        (XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS, [ALL_TYPES, 0, 0]),
    ] {
        let id = nf.ctrl_send(kind, data).unwrap();
        let r = nf.ctrl_wait(GUARD).unwrap();
        assert_eq!((r.id, r.status), (id, OK));
    }
    let x: std::collections::HashMap<_, _> = dev.xstats().into_iter().collect();
    assert_eq!((x["hash_algorithm"], x["hash_flags"]), (1, 0xf));
    assert_eq!((x["ctrl_requests"], x["ctrl_errors"]), (2, 0));
    dev.close().unwrap();
}
