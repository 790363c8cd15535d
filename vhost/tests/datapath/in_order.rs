//! `VIRTIO_F_IN_ORDER`: buffers are used in the order the guest made them available; the
//! guest's tx ring reports each burst by its last used element only.

use vpmd_vhost::driver::TxLayout;
use vpmd_vhost::net::NetHdr;
use vpmd_vhost::virtio::{self, bit};

use crate::common::*;

const IN_ORDER: u64 = bit(virtio::F_IN_ORDER);

#[test]
fn guest_tx_bursts_are_reported_by_their_last_used_element() {
    let mut bed = Bed::new(BASE | IN_ORDER);
    let frames: Vec<_> = (0..40).map(|i| frame(64 + i, i as u8)).collect();
    let heads: Vec<u16> = frames
        .iter()
        .map(|f| {
            bed.guest
                .send(&NetHdr::default(), f, TxLayout::Joined)
                .expect("room")
        })
        .collect();
    let first = bed.rx_burst(32);
    assert_eq!(first.len(), 32);
    assert_eq!(bed.guest.txq.used_idx(), 32);
    assert_eq!(bed.guest.txq.used_elem(31).id, heads[31] as u32);
    let rest = bed.rx_all_bytes();
    assert_eq!(rest.len(), 8);
    assert_eq!(bed.guest.txq.used_idx(), 40);
    assert_eq!(bed.guest.txq.used_elem(39).id, heads[39] as u32);
    let got: Vec<_> = first.as_slice().iter().map(bytes).chain(rest).collect();
    assert!(got == frames, "every frame, in order");
    let done = bed.guest.complete_tx();
    let ids: Vec<u32> = done.iter().map(|u| u.id).collect();
    let want: Vec<u32> = heads.iter().map(|&h| h as u32).collect();
    assert_eq!(ids, want, "used in the order made available");
    assert_eq!(bed.rxc.dropped(), 0);
}

#[test]
fn guest_rx_gets_every_element_with_its_length_in_order() {
    let mut bed = Bed::new(BASE | MRG | IN_ORDER);
    bed.guest.post_rx(64, 1536, 1, false);
    let frames: Vec<_> = [64, 1500, 3000, 60, 9000]
        .iter()
        .map(|&n| frame(n, n as u8))
        .collect();
    let mut pkts = burst(&bed.pool, &frames);
    assert_eq!(bed.tx_burst(&mut pkts), frames.len());
    for f in &frames {
        let got = bed.guest.recv().expect("a frame");
        assert_eq!(got.data, *f, "{} bytes", f.len());
    }
    assert_eq!(bed.guest.recv(), None);
    assert_eq!(bed.txc.dropped(), 0);
}
