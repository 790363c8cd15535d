//! `vpmd-fwd --demo qemu`: a QEMU Linux guest on the vhost-user port pings the simulated
//! Xen guest through vpmd, the demo exits 0 on the guest's PASS and leaves nothing
//! behind; without QEMU it says what is missing. Its own test binary, so it does not
//! share the forwarding CPU with the other demo's test. About 5-10 s under TCG.

use std::path::PathBuf;
use std::process::{Command, Output};

use vpmd_qemu_harness::missing_prerequisites;

/// Runs `vpmd-fwd --demo qemu` with `TMPDIR` set to `tmp` and `env` added.
fn demo(tmp: &PathBuf, env: &[(&str, &str)]) -> (Output, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_vpmd-fwd"))
        .args(["--demo", "qemu"])
        .env("TMPDIR", tmp)
        .env("VPMD_LOG", "warn")
        .envs(env.iter().copied())
        .output()
        .expect("vpmd-fwd runs");
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    (o, out, err)
}

/// A private, empty TMPDIR, so "nothing left behind" is checked on this run alone.
fn private_tmp(name: &str) -> PathBuf {
    let tmp =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    tmp
}

#[test]
fn qemu_guest_pings_the_xen_guest_through_vpmd() {
    if let Some(why) = missing_prerequisites() {
        // CI runs ./setup.sh, which installs the harness's packages: missing there is a
        // broken set-up, not a reason to skip.
        assert!(
            std::env::var_os("CI").is_none(),
            "--demo qemu needs the QEMU harness in CI: {why}"
        );
        eprintln!("skipped: --demo qemu needs the QEMU harness: {why}");
        return;
    }
    let tmp = private_tmp("demo-qemu");
    let (o, out, err) = demo(&tmp, &[]);
    assert!(o.status.success(), "{out}\n{err}");
    assert!(
        out.contains("NIC statistics for port 1"),
        "live stats:\n{out}"
    );
    let ping = out
        .lines()
        .find(|l| l.contains("VPMD-RESULT ping "))
        .unwrap_or_else(|| panic!("no ping result:\n{out}"));
    assert!(
        ping.contains("PASS") && ping.contains("received=10") && ping.contains("loss=0%"),
        "{ping}"
    );
    assert!(out.contains("frames: port 0 (Xen guest)"), "{out}");
    println!(
        "{}",
        out.lines().rev().find(|l| l.contains("PASS")).unwrap()
    );
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    std::fs::remove_dir_all(&tmp).unwrap();
}

#[test]
fn without_qemu_it_says_what_is_missing() {
    let tmp = private_tmp("demo-qemu-missing");
    let (o, out, err) = demo(&tmp, &[("PATH", "/nonexistent")]);
    assert!(!o.status.success(), "{out}\n{err}");
    assert!(
        err.contains("qemu-system-x86_64") && err.contains("./setup.sh"),
        "{err}"
    );
    std::fs::remove_dir_all(&tmp).unwrap();
}
