//! The harness against a switch nobody here wrote: DPDK's dpdk-testpmd with two
//! net_vhost ports. Boots two QEMU guests (about 20-30 s under TCG), so it is
//! ignored by default:
//!
//!     cargo test -p vpmd-qemu-harness -- --ignored --nocapture

use vpmd_qemu_harness::{missing_prerequisites, TwoGuests, TESTPMD_SWITCH};

#[test]
#[ignore = "boots two QEMU guests (~25 s); run with --ignored"]
fn two_guests_ping_and_bulk_through_dpdk_testpmd() {
    if let Some(why) = missing_prerequisites() {
        panic!("cannot run the QEMU harness: {why}");
    }
    let run = TwoGuests::new(TESTPMD_SWITCH)
        .run()
        .unwrap_or_else(|e| panic!("{e}"));
    println!("{}", run.log());
    let s = &run.summary;
    assert!(s.pass, "{}", run.log());
    assert_eq!(s.ping_loss_pct, Some(0.0), "{}", s.line);
    assert_eq!(s.bulk_bytes, Some(16 << 20), "{}", s.line);
    assert!(s.bulk_kbps.unwrap_or(0) > 0, "{}", s.line);
}
