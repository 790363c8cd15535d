//! `vpmd-fwd` with no arguments, as a new user (and CI) runs it: the Xen + vhost-user
//! demo forwards both ways, reports each guest, exits 0 and leaves nothing behind.

use std::path::PathBuf;
use std::process::Command;

/// The frames received on the guest line starting with `guest`.
fn received(out: &str, guest: &str) -> u64 {
    let line = out
        .lines()
        .find(|l| l.starts_with(guest))
        .unwrap_or_else(|| panic!("no line for the {guest}:\n{out}"));
    let n = line
        .split_once("received ")
        .and_then(|(_, r)| r.split(' ').next())
        .and_then(|n| n.parse().ok());
    n.unwrap_or_else(|| panic!("no received count in {line:?}"))
}

#[test]
fn no_arguments_forwards_between_a_xen_and_a_vhost_guest() {
    // A private TMPDIR, so "nothing left behind" is checked on this run alone.
    let tmp =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("demo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_vpmd-fwd"))
        .env("TMPDIR", &tmp)
        .env("VPMD_LOG", "warn")
        .output()
        .expect("vpmd-fwd runs");
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{out}\n{err}");
    assert!(
        out.contains("NIC statistics for port 1"),
        "live stats:\n{out}"
    );
    assert!(out.contains("Accumulated forward statistics"), "{out}");
    let xen = received(&out, "Xen guest");
    let vhost = received(&out, "vhost-user guest");
    assert!(xen > 0 && vhost > 0, "packets moved both ways:\n{out}");
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    std::fs::remove_dir_all(&tmp).unwrap();
}
