//! 16-bit index wrap-around: queues started just below 65535.

use vpmd_vhost::driver::{GuestMemory, TxLayout};

use crate::common::*;

fn run(features: u64, size: u16, start: u16, n: usize) {
    let mem = GuestMemory::new(64 << 20).unwrap();
    let mut bed = Bed::in_mem(features, size, 2048, start, mem);
    let frames: Vec<_> = (0..n)
        .map(|i| frame(64 + (i * 37) % 3000, i as u8))
        .collect();
    let (mut sent, mut got) = (0, Vec::new());
    while got.len() < n {
        while sent < n && bed.guest.txq.free_descs() >= 2 {
            bed.guest
                .queue_frame(&Default::default(), &frames[sent], TxLayout::Split)
                .unwrap();
            sent += 1;
        }
        bed.guest.publish_tx();
        got.extend(bed.rx_all());
        bed.guest.complete_tx();
    }
    assert!(got.iter().map(bytes).collect::<Vec<_>>() == frames);
    let end = start.wrapping_add(n as u16);
    assert_eq!(bed.rx.position(), (end, end));
    assert_eq!(bed.guest.txq.used_idx(), end);

    let mut pkts = vpmd_mempool::Burst::with_capacity(64);
    let (mut queued, mut received) = (0, Vec::new());
    while received.len() < n {
        while queued < n && pkts.room() > 0 {
            pkts.push(mbuf(&bed.pool, &frames[queued])).unwrap();
            queued += 1;
        }
        let free = bed.guest.rxq.free_descs();
        bed.guest.post_rx(free, 1024, 1, false);
        bed.tx_burst(&mut pkts);
        while let Some(r) = bed.guest.recv() {
            received.push(r.data);
        }
    }
    assert!(received == frames);
    assert_eq!(bed.txc.dropped(), 0);
}

#[test]
fn indexes_wrap_past_65535_both_ways() {
    run(BASE | MRG, 16, 65530, 300);
    run(BASE | MRG | EVENT_IDX | INDIRECT, 256, 65500, 700);
}

#[test]
fn largest_ring_from_the_last_index() {
    run(BASE | MRG, 32768, 65535, 100);
}
