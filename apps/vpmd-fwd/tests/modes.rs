//! The forwarding modes beyond io/mac/macswap, each run by the binary for a second on two
//! ring ports joined to each other (null ports for txonly), as a user would.

mod common;

use common::field;
use std::process::{Command, Output};

use serde_json::Value;

fn fwd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vpmd-fwd"))
        .args(args)
        .env("VPMD_LOG", "warn")
        .output()
        .expect("vpmd-fwd runs")
}

/// Runs `mode` (plus `extra` flags) on two joined ring ports, seeded by `--tx-first`;
/// checks the exit status and returns stdout and the JSON statistics.
fn run_on_rings(mode: &str, extra: &[&str]) -> (String, Value) {
    run_on("0,1", &RINGS, mode, &[extra, &["--tx-first"]].concat())
}

/// Two ring ports joined to each other.
const RINGS: [&str; 2] = ["net_vpmd_ring0,peer=net_vpmd_ring1", "net_vpmd_ring1"];

/// Runs `mode` (plus `extra` flags) on lcores `lcores` with a port per `vdevs` devargs;
/// checks the exit status and returns stdout and the JSON statistics.
fn run_on(lcores: &str, vdevs: &[&str], mode: &str, extra: &[&str]) -> (String, Value) {
    let dir = std::env::temp_dir().join(format!(
        "vpmd-modes-{mode}-{}-{}",
        extra.join(""),
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("stats.json");
    let mut args = vec!["-l", lcores];
    for v in vdevs {
        args.extend(["--vdev", v]);
    }
    args.extend([
        "--forward-mode",
        mode,
        "--duration",
        "1",
        "--stats-period",
        "0",
        "--stats-json",
        json.to_str().unwrap(),
    ]);
    args.extend_from_slice(extra);
    let o = fwd(&args);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{mode}: {}\n{out}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains(&format!("{mode} packet forwarding")), "{out}");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    (out, v)
}

fn acc(v: &Value, key: &str) -> u64 {
    v["accumulated"][key].as_u64().unwrap()
}

/// Modes that send back what they receive: packets keep circulating, none is lost.
#[test]
fn five_tuple_swap_and_csum_keep_packets_circulating() {
    for mode in ["5tswap", "csum"] {
        let (out, v) = run_on_rings(mode, &[]);
        assert!(acc(&v, "rx_packets") > 1_000, "{mode}: {v}");
        assert_eq!(acc(&v, "tx_dropped"), 0, "{mode}: {v}");
        // Only the two --tx-first bursts are still in the rings.
        assert_eq!(
            acc(&v, "tx_packets"),
            acc(&v, "rx_packets") + 64,
            "{mode}: {v}"
        );
        let csum = mode == "csum";
        assert_eq!(out.contains("Bad-ipcsum: 0"), csum, "{out}");
        assert_eq!(
            out.matches("Bad-l4csum: 0").count(),
            if csum { 2 } else { 0 }
        );
        for p in v["ports"].as_array().unwrap() {
            let f = &p["forward"];
            if csum {
                // txonly's packets are well formed.
                assert_eq!(f["bad_ip_csum"], 0, "{v}");
                assert_eq!(f["bad_l4_csum"], 0, "{v}");
            } else {
                assert!(f.get("bad_ip_csum").is_none(), "{v}");
            }
        }
    }
}

#[test]
fn flowgen_sends_and_frees_what_arrives() {
    let (_, v) = run_on_rings("flowgen", &["--flowgen-flows", "16"]);
    for p in v["ports"].as_array().unwrap() {
        assert!(p["forward"]["tx_packets"].as_u64().unwrap() > 1_000, "{v}");
        assert!(p["forward"]["rx_packets"].as_u64().unwrap() > 1_000, "{v}");
    }
}

/// Ring ports carry only txonly's UDP: icmpecho takes it in and answers nothing.
/// (A guest pinging the app is in `xen_sim.rs`.)
#[test]
fn icmpecho_drops_what_is_not_arp_or_echo() {
    let (_, v) = run_on_rings("icmpecho", &[]);
    assert_eq!(acc(&v, "rx_packets"), 64, "the --tx-first bursts: {v}");
    assert_eq!(acc(&v, "tx_packets"), 64, "the --tx-first bursts only: {v}");
}

#[test]
fn txonly_multi_flow_reaches_the_null_port() {
    let o = fwd(&[
        "-l",
        "0,1",
        "--vdev",
        "net_vpmd_null0,no-rx=1,copy=1",
        "--port-topology",
        "loop",
        "--forward-mode",
        "txonly",
        "--txonly-multi-flow",
        "--duration",
        "1",
        "--stats-period",
        "0",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    let n = field(&out, "TX-packets:");
    assert!(n > 1000, "{out}");
}

/// `--pipeline` on lcores 1 (rx) and 2 (worker): `-l 0,1,2` also on a 2-CPU machine.
const PIPELINE: [&str; 3] = ["--pipeline", "--nb-cores", "2"];

/// Ring ports: every packet received is forwarded, those still in a stream's ring at
/// stop included, so only the --tx-first bursts are sent and not received.
#[test]
fn pipeline_on_ring_ports_forwards_every_packet() {
    let (out, v) = run_on(
        "0,1,2",
        &RINGS,
        "io",
        &[&PIPELINE[..], &["--tx-first"]].concat(),
    );
    assert!(acc(&v, "rx_packets") > 1_000, "{v}");
    assert_eq!(
        acc(&v, "tx_packets") + acc(&v, "tx_dropped") + acc(&v, "rx_ring_full"),
        acc(&v, "rx_packets") + 64,
        "{v}"
    );
    // Which lcore polls rx and which runs the engine, per stream.
    assert!(
        out.contains("lcore 1: pipeline RX P=0/Q=0 -> ring"),
        "{out}"
    );
    assert!(
        out.contains("lcore 2: io ring from RX P=0/Q=0 -> TX P=1/Q=0"),
        "{out}"
    );
    assert!(out.contains("RX-ring-full: "), "{out}");
}

/// Null ports receive as fast as asked: the rings overflow, and every packet received is
/// sent, dropped at tx or dropped at a full ring; after stop the pool has every mbuf back.
#[test]
fn pipeline_on_null_ports_counts_every_packet_and_leaks_no_mbuf() {
    let (_, v) = run_on(
        "0,1,2",
        &["net_vpmd_null0", "net_vpmd_null1"],
        "macswap",
        &PIPELINE,
    );
    let rx = acc(&v, "rx_packets");
    assert!(rx > 1_000, "{v}");
    assert_eq!(
        rx,
        acc(&v, "tx_packets") + acc(&v, "tx_dropped") + acc(&v, "rx_ring_full"),
        "{v}"
    );
    let m = &v["mbufs_in_use"];
    assert_eq!(m["after_stop"], m["before_start"], "{v}");
}

#[test]
fn pipeline_needs_two_forwarding_cores() {
    fails_with(
        &[
            "-l",
            "0,1",
            "--pipeline",
            "--vdev",
            "net_vpmd_null0",
            "--vdev",
            "net_vpmd_null1",
        ],
        "forwarding.pipeline: --pipeline runs each stream on an rx lcore and a worker lcore: \
         it needs --nb-cores (forwarding.nb_cores) of at least 2, got 1",
    );
}

#[track_caller]
fn fails_with(args: &[&str], needle: &str) {
    let o = fwd(args);
    assert!(!o.status.success(), "expected failure for {args:?}");
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains(needle),
        "stderr for {args:?} lacks {needle:?}:\n{e}"
    );
}

#[test]
fn bad_mode_values_name_the_key_and_value() {
    let ports = ["--vdev", "net_vpmd_null0", "--vdev", "net_vpmd_null1"];
    let with = |extra: &[&'static str]| [&ports[..], extra].concat();
    fails_with(
        &with(&["--forward-mode", "noisy"]),
        "invalid forwarding mode \"noisy\": expected one of io, mac, macswap, rxonly, txonly, 5tswap, flowgen, csum, icmpecho",
    );
    fails_with(
        &with(&["--flowgen-flows", "0"]),
        "forwarding.flowgen_flows: must be at least 1, got 0",
    );
    fails_with(
        &with(&["--flowgen-flows", "many"]),
        "invalid value 'many' for '--flowgen-flows <N>'",
    );
    fails_with(
        &with(&["--forward-mode", "flowgen", "--txpkts", "42"]),
        "forwarding.txpkts: flowgen sends one segment of the total less the 4-byte FCS",
    );
}
