//! Two QEMU Linux guests (Debian kernel, busybox initramfs, virtio-net-pci on
//! vhost-user) talking through vpmd-fwd with two `net_vpmd_vhost` ports: ping, then a
//! 16 MiB TCP transfer checked by md5. Under TCG here (the summary line says which
//! accelerator ran); about 20 s.

use vpmd_qemu_harness::{missing_prerequisites, TwoGuests};

#[test]
fn two_guests_ping_and_bulk_through_vpmd_fwd() {
    if let Some(why) = missing_prerequisites() {
        panic!("cannot run the QEMU harness (run ./setup.sh): {why}");
    }
    let switch = format!(
        "{} -l 0,1 --vdev net_vpmd_vhost0,iface=SOCK0 --vdev net_vpmd_vhost1,iface=SOCK1 \
         --forward-mode io --stats-period 5",
        env!("CARGO_BIN_EXE_vpmd-fwd")
    );
    let run = TwoGuests::new(switch)
        .run()
        .unwrap_or_else(|e| panic!("{e}"));
    println!("{}", run.summary.line);
    let s = &run.summary;
    assert!(s.pass, "{}", run.log());
    assert_eq!(s.ping_loss_pct, Some(0.0), "{}", s.line);
    assert_eq!(s.bulk_bytes, Some(16 << 20), "{}", s.line);
}
