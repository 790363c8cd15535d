//! Guest and device on two threads: the orderings of the ring indexes carry the data.

use std::time::{Duration, Instant};

use vpmd_vhost::driver::TxLayout;

use crate::common::*;

const N: usize = 20_000;

fn numbered(i: usize) -> Vec<u8> {
    let mut f = frame(64 + (i * 131) % 1400, i as u8);
    f[14..18].copy_from_slice(&(i as u32).to_le_bytes());
    f
}

#[test]
fn guest_to_host_across_threads() {
    let mut bed = Bed::with(BASE | MRG | EVENT_IDX, 256, 2048, 0);
    let mut guest = std::mem::replace(
        &mut bed.guest,
        vpmd_vhost::driver::NetGuest::new(BASE, 8).unwrap(),
    );
    let sender = std::thread::spawn(move || {
        let mut i = 0;
        while i < N {
            while i < N && guest.txq.free_descs() > 0 {
                guest
                    .queue_frame(&Default::default(), &numbered(i), TxLayout::Joined)
                    .unwrap();
                i += 1;
            }
            guest.publish_tx();
            guest.complete_tx();
            std::hint::spin_loop();
        }
        guest
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut next = 0;
    while next < N {
        assert!(Instant::now() < deadline, "stuck at {next}");
        for m in bed.rx_burst(32).drain() {
            assert_eq!(bytes(&m), numbered(next));
            next += 1;
        }
    }
    sender.join().unwrap();
    assert_eq!(xstat(&bed.rxc, "good_packets"), N as u64);
}

#[test]
fn host_to_guest_across_threads() {
    let mut bed = Bed::with(BASE | MRG | EVENT_IDX, 256, 2048, 0);
    let mut guest = std::mem::replace(
        &mut bed.guest,
        vpmd_vhost::driver::NetGuest::new(BASE, 8).unwrap(),
    );
    let receiver = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut next = 0;
        while next < N {
            assert!(Instant::now() < deadline, "stuck at {next}");
            let free = guest.rxq.free_descs();
            if free > 32 {
                guest.post_rx(free, 1024, 1, false);
            }
            while let Some(r) = guest.recv() {
                assert_eq!(r.data, numbered(next));
                next += 1;
            }
        }
    });
    let mut i = 0;
    let mut pending = vpmd_mempool::Burst::with_capacity(32);
    while i < N || !pending.is_empty() {
        while i < N && pending.room() > 0 {
            pending.push(mbuf(&bed.pool, &numbered(i))).unwrap();
            i += 1;
        }
        bed.tx_burst(&mut pending);
    }
    receiver.join().unwrap();
    assert_eq!(xstat(&bed.txc, "good_packets"), N as u64);
}
