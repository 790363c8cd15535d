//! Traffic both ways, every byte checked.

use super::harness::*;
use vpmd_mempool::ol_flags;
use vpmd_xen::wire::defs::{XEN_NETIF_GSO_TYPE_TCPV4, XEN_NETIF_GSO_TYPE_TCPV6};
use vpmd_xen::wire::netif::{GsoInfo, RxFlags};

const SIZES: &[usize] = &[
    14, 15, 60, 127, 128, 129, 1514, 2048, 2049, 4030, 4031, 4096, 4097, 9000, 32768, 65534, 65535,
];

#[test]
fn guest_tx_frames_of_14_to_65535_bytes_arrive_intact() {
    let sim = Sim::new("data-gtx");
    let pool = pool();
    let mut v = connected(&sim, 3);
    for (i, &len) in SIZES.iter().enumerate() {
        let data = pattern(i as u8, len);
        let m = v.guest_send(&pool, &TxPacket::new(&data));
        assert_eq!(m.pkt_len() as usize, len);
        assert_eq!(bytes(&m), data, "{len} bytes");
        // Headers are never split: the first buffer holds the first 128 bytes.
        assert!(m.data_len() as usize >= len.min(128));
    }
    let mut sink = Vec::new();
    v.nf.poll(0, &mut sink).unwrap();
    assert_eq!(v.nf.tx_in_flight(0), 0);
    let s = v.nf.tx_stats(0);
    assert_eq!((s.error, s.dropped, s.packets), (0, 0, SIZES.len() as u64));
    assert_eq!(v.rxc.packets.get(), SIZES.len() as u64);
    assert_eq!(v.rxc.bytes.get(), SIZES.iter().sum::<usize>() as u64);
}

#[test]
fn guest_tx_many_small_slots_and_odd_offsets() {
    let sim = Sim::new("data-gtx-slots");
    let pool = pool();
    let mut v = connected(&sim, 3);
    // 18 following slots is the most netback accepts; headers spread over tiny slots.
    for (len, chunk, offset) in [
        (1500, 80, 0),
        (252, 14, 4000),
        (60000, 3400, 100),
        (300, 16, 4080),
    ] {
        let data = pattern(len as u8, len);
        let p = TxPacket {
            chunk,
            offset,
            ..TxPacket::new(&data)
        };
        let m = v.guest_send(&pool, &p);
        assert_eq!(
            bytes(&m),
            data,
            "{len} bytes in {chunk}-byte slots at {offset}"
        );
        assert!(m.data_len() >= 128);
    }
    // Many packets in flight at once.
    let frames: Vec<Vec<u8>> = (0..100).map(|i| pattern(i, 60 + i as usize * 7)).collect();
    for f in &frames {
        v.nf.send(0, &TxPacket::new(f)).unwrap();
    }
    let got = v.rx(&pool, frames.len());
    for (m, f) in got.iter().zip(&frames) {
        assert_eq!(&bytes(m), f);
    }
}

#[test]
fn guest_rx_frames_of_14_to_65535_bytes_arrive_intact() {
    let sim = Sim::new("data-grx");
    let pool = pool();
    let mut v = connected(&sim, 3);
    let frames: Vec<Vec<u8>> = SIZES
        .iter()
        .enumerate()
        .map(|(i, &l)| pattern(100 + i as u8, l))
        .collect();
    let got = v.tx_all(frames.iter().map(|f| mbuf(&pool, f)).collect());
    assert_eq!(got.len(), frames.len());
    for (p, f) in got.iter().zip(&frames) {
        assert_eq!(p.data.len(), f.len());
        assert_eq!(&p.data, f);
        assert_eq!(p.slots, f.len().div_ceil(4096));
    }
    assert_eq!(v.nf.rx_stats(0).errors, 0);
    assert_eq!(v.txc.packets.get(), frames.len() as u64);
    // Many more packets than the ring holds: the caller keeps what does not fit.
    let frames: Vec<Vec<u8>> = (0..600).map(|i| pattern(i as u8, 60 + i % 1400)).collect();
    let got = v.tx_all(frames.iter().map(|f| mbuf(&pool, f)).collect());
    for (p, f) in got.iter().zip(&frames) {
        assert_eq!(&p.data, f);
    }
}

#[test]
fn gso_and_checksum_flags_both_ways() {
    let sim = Sim::new("data-gso");
    let pool = pool();
    let mut v = connected(&sim, 3);
    // Guest -> vpmd: a GSO frame with a blank checksum.
    let mut data = pattern(9, 20000);
    data[12] = 0x08;
    data[13] = 0x00;
    let gso = GsoInfo {
        size: 1448,
        kind: XEN_NETIF_GSO_TYPE_TCPV4,
        pad: 0,
        features: 0,
    };
    let p = TxPacket {
        csum_blank: true,
        gso: Some(gso),
        ..TxPacket::new(&data)
    };
    let m = v.guest_send(&pool, &p);
    assert_eq!(bytes(&m), data);
    assert_eq!(m.ol_flags() & ol_flags::RX_LRO, ol_flags::RX_LRO);
    assert_eq!(
        m.ol_flags() & ol_flags::RX_L4_CKSUM_MASK,
        ol_flags::RX_L4_CKSUM_NONE
    );
    assert_eq!(m.tx_offload().tso_segsz, 1448);
    assert_eq!(v.ends[0].stats.rx_gso_checksum_fixup.get(), 0);
    // The same without csum_blank: netback's fixup counter.
    let p = TxPacket {
        gso: Some(gso),
        ..TxPacket::new(&data)
    };
    v.guest_send(&pool, &p);
    assert_eq!(v.ends[0].stats.rx_gso_checksum_fixup.get(), 1);
    // Checksum-validated frame.
    let p = TxPacket {
        csum_blank: false,
        ..TxPacket::new(&data[..1500])
    };
    let m = v.guest_send(&pool, &p);
    assert_eq!(m.ol_flags() & ol_flags::RX_LRO, 0);

    // vpmd -> guest: the received GSO frame forwarded back keeps its GSO extra.
    let mut fwd = v.guest_send(
        &pool,
        &TxPacket {
            csum_blank: true,
            gso: Some(gso),
            ..TxPacket::new(&data)
        },
    );
    let got = v.tx_all(vec![fwd]);
    assert_eq!(got[0].data, data);
    assert_eq!(
        got[0].gso.map(|g| (g.size, g.kind)),
        Some((1448, XEN_NETIF_GSO_TYPE_TCPV4))
    );
    assert!(got[0]
        .flags
        .contains(RxFlags::CSUM_BLANK | RxFlags::EXTRA_INFO));
    assert_eq!(got[0].slots, data.len().div_ceil(4096) + 1);
    // A TSO request over IPv6 from the app.
    data[12] = 0x86;
    data[13] = 0xdd;
    fwd = mbuf(&pool, &data);
    fwd.set_ol_flags(ol_flags::TX_TCP_SEG | ol_flags::TX_TCP_CKSUM | ol_flags::TX_IPV6);
    fwd.set_tx_offload(vpmd_mempool::TxOffload {
        tso_segsz: 1400,
        ..Default::default()
    });
    let got = v.tx_all(vec![fwd]);
    assert_eq!(got[0].data, data);
    assert_eq!(
        got[0].gso.map(|g| (g.size, g.kind)),
        Some((1400, XEN_NETIF_GSO_TYPE_TCPV6))
    );
    // A plain frame: no flags.
    let got = v.tx_all(vec![mbuf(&pool, &data[..100])]);
    assert_eq!(got[0].flags, RxFlags::EMPTY);
}

#[test]
fn pool_exhaustion_leaves_the_packet_in_the_ring_until_buffers_return() {
    let sim = Sim::new("data-nombuf");
    let small = Mempool::new(
        "xen-small",
        &PoolConfig {
            size: 40,
            cache_size: 0,
            hugepages: HugepagePolicy::Never,
            debug: true,
            ..PoolConfig::default()
        },
    )
    .unwrap();
    let mut v = connected(&sim, 3);
    let a = pattern(1, 65535);
    let held = v.guest_send(&small, &TxPacket::new(&a));
    assert_eq!(bytes(&held), a);
    let b = pattern(2, 65535);
    v.nf.send(0, &TxPacket::new(&b)).unwrap();
    let mut out = Burst::with_capacity(8);
    assert_eq!(v.rx_once(&small, &mut out), 0);
    assert!(v.rxc.nombuf.get() >= 1);
    assert!(v.nf.tx_in_flight(0) > 0, "the frame is not answered yet");
    drop(held);
    let got = v.rx(&small, 1);
    assert_eq!(bytes(&got[0]), b);
    assert_eq!(v.rxc.errors.get(), 0);
}
