//! vpmd-fwd as a user runs it: the binary, real arguments, its output and exit code.

mod common;

use common::field;
use std::process::{Command, Output};

fn fwd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vpmd-fwd"))
        .args(args)
        .env("VPMD_LOG", "warn")
        .output()
        .expect("vpmd-fwd runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn io_forwarding_between_ring_ports_conserves_every_packet() {
    let dir = std::env::temp_dir().join(format!("vpmd-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("stats.json");
    let o = fwd(&[
        "-l",
        "0,1",
        "--vdev",
        "net_vpmd_ring0,peer=net_vpmd_ring1",
        "--vdev",
        "net_vpmd_ring1",
        "--forward-mode",
        "io",
        "--tx-first",
        "--duration",
        "2",
        "--stats-period",
        "1",
        "--stats-json",
        json.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("NIC statistics for port 1"), "{out}");
    // Not a terminal: plain appended blocks, no screen control.
    assert!(!out.contains('\x1b'), "{out}");
    assert!(
        out.contains("Accumulated forward statistics for all ports"),
        "{out}"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let acc = &v["accumulated"];
    let (rx, tx) = (
        acc["rx_packets"].as_u64().unwrap(),
        acc["tx_packets"].as_u64().unwrap(),
    );
    assert!(rx > 10_000, "packets should circulate: {v}");
    assert_eq!(acc["tx_dropped"], 0);
    // io forwarding sends every packet it receives; the only packets sent but not (yet)
    // received are the --tx-first bursts, one of 32 per stream, still in the rings.
    assert_eq!(tx, rx + 2 * 32, "{v}");
    for p in v["ports"].as_array().unwrap() {
        assert_eq!(p["ierrors"], 0);
        assert_eq!(p["rx_nombuf"], 0);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn macswap_on_null_ports_with_config_file() {
    let dir = std::env::temp_dir().join(format!("vpmd-e2e-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("fwd.toml");
    std::fs::write(
        &cfg,
        "lcores = \"0,1\"\n[[port]]\ndevargs = \"net_vpmd_null0,copy=1\"\n[forwarding]\nmode = \"macswap\"\nport_topology = \"loop\"\n[stats]\nperiod = 0\n[run]\nduration = 1\n",
    )
    .unwrap();
    let o = fwd(&["--config", cfg.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("macswap packet forwarding"), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn txonly_multi_segment_packets_reach_the_null_port() {
    let o = fwd(&[
        "-l",
        "0,1",
        "--vdev",
        "net_vpmd_null0,no-rx=1",
        "--port-topology",
        "loop",
        "--forward-mode",
        "txonly",
        "--txpkts",
        "64,128,256",
        "--duration",
        "1",
        "--stats-period",
        "0",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let n = field(&out, "TX-packets:");
    assert!(n > 1000, "{out}");
}

/// On a terminal (a pty from util-linux `script`) each periodic block clears the screen
/// and homes the cursor first, as testpmd, so the view redraws in place.
#[test]
fn periodic_stats_redraw_in_place_on_a_terminal() {
    let cmd = format!(
        "{} -l 0,1 --vdev net_vpmd_null0 --port-topology loop --disable-link-check \
         --stats-period 1 --duration 2",
        env!("CARGO_BIN_EXE_vpmd-fwd")
    );
    let o = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env("VPMD_LOG", "warn")
        .output()
        .expect("util-linux script runs");
    assert!(o.status.success(), "{}", stderr(&o));
    // The pty turns each newline into CR LF.
    let out = String::from_utf8_lossy(&o.stdout).replace("\r\n", "\n");
    assert!(
        out.contains("\x1b[2J\x1b[1;1H\n  ######################## NIC statistics for port 0"),
        "{out:?}"
    );
}

fn fails_with(args: &[&str], needle: &str) {
    let o = fwd(args);
    assert!(!o.status.success(), "expected failure for {args:?}");
    let e = stderr(&o);
    assert!(
        e.contains(needle),
        "stderr for {args:?} lacks {needle:?}:\n{e}"
    );
}

#[test]
fn bad_vdev_names_the_driver_key_and_value() {
    fails_with(&["--vdev", "net_nope0"], "device net_nope0: unknown driver (known drivers: net_vpmd_null, net_vpmd_ring, net_vpmd_vhost, net_vpmd_xen)");
    fails_with(
        &["--vdev", "net_vpmd_null0,colour=blue"],
        "unknown key 'colour' (valid keys: size, copy, no-rx)",
    );
    fails_with(
        &["--vdev", "net_vpmd_null0,size=big"],
        "bad value 'big' for key 'size'",
    );
}

#[test]
fn bad_core_list_and_bad_options_are_refused() {
    fails_with(
        &["-l", "1-0", "--vdev", "net_vpmd_null0"],
        "invalid value '1-0' for '-l <CORES>'",
    );
    fails_with(
        &["-l", "0", "--vdev", "net_vpmd_null0"],
        "lcores: must list at least 2 cores",
    );
    fails_with(
        &["--burst", "0", "--vdev", "net_vpmd_null0"],
        "forwarding.burst: must be between 1 and 512, got 0",
    );
    fails_with(
        &["--vdev", "net_vpmd_null0"],
        "paired needs an even number of ports",
    );
    fails_with(
        &["--forward-mode", "warp", "--vdev", "net_vpmd_null0"],
        "warp",
    );
}

#[test]
fn bad_config_file_names_the_file_and_key() {
    let dir = std::env::temp_dir().join(format!("vpmd-e2e-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("bad.toml");
    std::fs::write(&cfg, "[forwarding]\nburts = 32\n").unwrap();
    fails_with(
        &["--config", cfg.to_str().unwrap()],
        "bad.toml: forwarding.burts: unknown key",
    );
    fails_with(
        &["--config", "/nonexistent/fwd.toml"],
        "fwd.toml: cannot read",
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_null_demo_still_runs() {
    let o = fwd(&["--demo", "null"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("running the demo"), "{out}");
    assert!(out.contains("Forward statistics for port 1"), "{out}");
}
