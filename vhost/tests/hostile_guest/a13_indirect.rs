//! 13: indirect tables: empty, not a multiple of 16, larger than the ring, nested, with
//! NEXT, not negotiated, outside memory, looping, `next` past the table, wrong direction.
//! And a good table that crosses two memory regions.

use vpmd_vhost::driver::{GuestMemory, BASE_GPA};

use super::*;

fn indirect(addr: u64, len: u32) -> RawDesc {
    RawDesc {
        flags: RawDesc::INDIRECT,
        ..rd(addr, len)
    }
}

/// Writes a table of `descs` (their `next` fields are table indexes) into guest memory.
fn table(bed: &Bed, descs: &[RawDesc]) -> (u64, u32) {
    let bytes: Vec<u8> = descs.iter().flat_map(|d| d.to_bytes()).collect();
    let gpa = bed.guest.mem().alloc(bytes.len().max(16) as u64).unwrap();
    bed.guest.mem().write(gpa, &bytes).unwrap();
    (gpa, bytes.len() as u32)
}

fn offer_indirect(bed: &mut Bed, d: RawDesc) -> u16 {
    let head = chain(&mut bed.guest.txq, &[d])[0];
    offer(&mut bed.guest.txq, head);
    head
}

#[test]
fn malformed_tables_are_bad_chains() {
    let mut bed = Bed::with(BASE | INDIRECT, 64, 2048, 0);
    let (gpa, len) = packet_in_guest(&bed, &frame(100, 1));
    let (good, good_len) = table(&bed, &[rd(gpa, len)]);
    let (nested, nested_len) = table(&bed, &[indirect(good, good_len)]);
    let cases = [
        ("empty", indirect(good, 0)),
        ("17 bytes", indirect(good, 17)),
        ("larger than the ring", indirect(good, 16 * 65)),
        ("nested", indirect(nested, nested_len)),
        (
            "INDIRECT with NEXT",
            RawDesc {
                flags: RawDesc::INDIRECT | RawDesc::NEXT,
                next: 0,
                ..rd(good, good_len)
            },
        ),
    ];
    for (what, d) in cases {
        offer_indirect(&mut bed, d);
        assert!(bed.rx_all_bytes().is_empty(), "{what}");
        assert_eq!(bed.guest.txq.pop_used().map(|u| u.len), Some(0), "{what}");
    }
    assert_eq!(xstat(&bed.rxc, "bad_chains"), 5);
    let (looped, looped_len) = table(&bed, &[then(rd(gpa, 6), 1), then(rd(gpa + 6, 6), 0)]);
    let head = offer_indirect(&mut bed, indirect(looped, looped_len));
    rx_rejects(&mut bed, head, "bad_chains");
    rx_still_serves(&mut bed);
}

#[test]
fn malformed_table_entries_are_bad_descriptors() {
    let mut bed = Bed::with(BASE | INDIRECT, 64, 2048, 0);
    let (gpa, len) = packet_in_guest(&bed, &frame(100, 1));
    let (past, past_len) = table(&bed, &[then(rd(gpa, 6), 2), rd(gpa + 6, len - 6)]);
    let (write, write_len) = table(&bed, &[wr(gpa, len)]);
    let (outside, outside_len) = table(&bed, &[rd(0x1000, len)]);
    // A table whose second entry lies past the end of guest memory.
    let end = bed.guest.mem().end();
    bed.guest
        .mem()
        .write(end - 16, &then(rd(gpa, len), 1).to_bytes())
        .unwrap();
    for d in [
        indirect(past, past_len),
        indirect(write, write_len),
        indirect(outside, outside_len),
        indirect(0x1000, 32),
        indirect(bed.guest.mem().end() - 16, 32),
    ] {
        let head = offer_indirect(&mut bed, d);
        rx_rejects(&mut bed, head, "bad_descriptors");
    }
    rx_still_serves(&mut bed);
}

#[test]
fn indirect_without_the_feature_is_refused() {
    let mut bed = Bed::new(BASE);
    let (gpa, len) = packet_in_guest(&bed, &frame(100, 1));
    let (t, t_len) = table(&bed, &[rd(gpa, len)]);
    let head = offer_indirect(&mut bed, indirect(t, t_len));
    rx_rejects(&mut bed, head, "bad_chains");
    rx_still_serves(&mut bed);
}

#[test]
fn indirect_on_the_guest_rx_ring_read_only_entry() {
    let mut bed = Bed::new(BASE | MRG | INDIRECT);
    let gpa = bed.guest.mem().alloc(2048).unwrap();
    let (t, t_len) = table(&bed, &[then(wr(gpa, 12), 1), rd(gpa + 12, 2000)]);
    let head = chain(&mut bed.guest.rxq, &[indirect(t, t_len)])[0];
    offer(&mut bed.guest.rxq, head);
    let mut pkts = burst(&bed.pool, &[frame(100, 1)]);
    assert_eq!(bed.tx_burst(&mut pkts), 1);
    assert_eq!(xstat(&bed.txc, "bad_descriptors"), 1);
    assert_eq!(bed.guest.rxq.pop_used().map(|u| u.len), Some(0));
    tx_still_serves(&mut bed);
}

#[test]
fn a_table_crossing_two_regions_is_read_entry_by_entry() {
    let mem = GuestMemory::with_regions(&[1 << 20, 1 << 20]).unwrap();
    let mut bed = Bed::in_mem(BASE | INDIRECT, 64, 2048, 0, mem);
    let f = frame(600, 9);
    let (gpa, len) = packet_in_guest(&bed, &f);
    let descs = [
        then(rd(gpa, 5), 1),
        then(rd(gpa + 5, 50), 2),
        rd(gpa + 55, len - 55),
    ];
    let bytes: Vec<u8> = descs.iter().flat_map(|d| d.to_bytes()).collect();
    let at = BASE_GPA + (1 << 20) - 24; // 1.5 entries in the first region
    bed.guest.mem().write(at, &bytes).unwrap();
    let head = offer_indirect(&mut bed, indirect(at, bytes.len() as u32));
    assert!(bed.rx_all_bytes() == vec![f]);
    assert_eq!(bed.guest.txq.pop_used().map(|u| u.id), Some(head as u32));
}
