//! A hostile guest against the vhost data path, one module per case of ANCHORS 2.4
//! (vhost data plane, 11-18). Every case sends the bad input, then checks that it was
//! counted under its own counter, that the chain went back to the guest with length 0
//! where there is a valid id to return, that no buffer leaked, and that the queue still
//! serves good packets afterwards.

#[path = "../guest_common/mod.rs"]
mod common;

mod a11_avail_index;
mod a12_chain_walk;
mod a13_indirect;
mod a14_buffers;
mod a15_short_header;
mod a16_header_fields;
mod a17_double_fetch;
mod a18_starvation;

use vpmd_vhost::driver::{DriverQueue, RawDesc, Used};
use vpmd_vhost::net::NetHdr;

use common::*;

/// Writes `descs` at descriptor indexes taken from `q`; `next` in each is an index into
/// `descs` (mapped to the real indexes), so tests can link, loop or point anywhere.
/// Returns the real indexes. `next` values >= `descs.len()` are written as they are.
pub fn chain(q: &mut DriverQueue, descs: &[RawDesc]) -> Vec<u16> {
    let idx: Vec<u16> = descs.iter().map(|_| q.take_desc().unwrap()).collect();
    for (d, &i) in descs.iter().zip(&idx) {
        let next = idx.get(d.next as usize).copied().unwrap_or(d.next);
        q.write_desc(i, RawDesc { next, ..*d });
    }
    idx
}

/// Makes `head` available and publishes it.
pub fn offer(q: &mut DriverQueue, head: u16) {
    q.push_head(head);
    q.publish(false);
}

/// Guest memory holding a default header and `frame`: (address, total length).
pub fn packet_in_guest(bed: &Bed, frame: &[u8]) -> (u64, u32) {
    let mut b = NetHdr::default().emit().to_vec();
    b.truncate(bed.guest.hdr_len());
    b.extend_from_slice(frame);
    let gpa = bed.guest.mem().alloc(b.len() as u64).unwrap();
    bed.guest.mem().write(gpa, &b).unwrap();
    (gpa, b.len() as u32)
}

/// A device-readable descriptor.
pub fn rd(addr: u64, len: u32) -> RawDesc {
    RawDesc {
        addr,
        len,
        flags: 0,
        next: 0,
    }
}

/// `d` with NEXT pointing at `next` (an index into the same `chain` call).
pub fn then(d: RawDesc, next: u16) -> RawDesc {
    RawDesc {
        flags: d.flags | RawDesc::NEXT,
        next,
        ..d
    }
}

/// A device-writable descriptor.
pub fn wr(addr: u64, len: u32) -> RawDesc {
    RawDesc {
        flags: RawDesc::WRITE,
        ..rd(addr, len)
    }
}

/// Dequeues everything and checks that nothing was delivered, that `counter` went up by
/// one, and that the guest got `head` back with length 0.
pub fn rx_rejects(bed: &mut Bed, head: u16, counter: &str) {
    let before = xstat(&bed.rxc, counter);
    assert!(
        bed.rx_all_bytes().is_empty(),
        "{counter}: nothing delivered"
    );
    assert_eq!(xstat(&bed.rxc, counter), before + 1, "{counter} counted");
    assert_eq!(
        bed.guest.txq.pop_used(),
        Some(Used {
            id: head as u32,
            len: 0
        }),
        "{counter}: the chain comes back empty"
    );
    assert_eq!(bed.pool.stats().in_use, 0, "{counter}: no buffer leaked");
}

/// The guest's tx ring still carries a good frame.
pub fn rx_still_serves(bed: &mut Bed) {
    let f = frame(300, 0x5a);
    let (gpa, len) = packet_in_guest(bed, &f);
    let head = chain(&mut bed.guest.txq, &[rd(gpa, len)])[0];
    offer(&mut bed.guest.txq, head);
    assert!(bed.rx_all_bytes() == vec![f], "the queue still serves");
    assert_eq!(bed.guest.txq.pop_used().map(|u| u.id), Some(head as u32));
}

/// The guest's rx ring still takes a good packet.
pub fn tx_still_serves(bed: &mut Bed) {
    assert_eq!(bed.guest.post_rx(1, 2048, 1, false), 1);
    let f = frame(300, 0x5b);
    let mut pkts = burst(&bed.pool, std::slice::from_ref(&f));
    assert_eq!(bed.tx_burst(&mut pkts), 1);
    let r = bed.guest.recv().expect("a frame");
    assert!(r.data == f, "the queue still serves");
}
