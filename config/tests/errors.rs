//! Every rejected file names the file, the key path (or line) and the offending value.

use std::path::PathBuf;

use vpmd_config::{Config, ConfigError};

fn error(text: &str) -> String {
    match Config::from_toml_str(text, "fwd.toml") {
        Ok(config) => panic!("accepted {text:?} as {config:?}"),
        Err(e) => e.to_string(),
    }
}

/// `text` is rejected with exactly `expected`.
#[track_caller]
fn rejects(text: &str, expected: &str) {
    assert_eq!(error(text), expected, "for {text:?}");
}

#[test]
fn burst_zero() {
    rejects(
        "[forwarding]\nburst = 0\n",
        "fwd.toml: forwarding.burst: must be between 1 and 512, got 0",
    );
    // Dotted keys at the top level are the same key.
    rejects(
        "forwarding.burst = 513",
        "fwd.toml: forwarding.burst: must be between 1 and 512, got 513",
    );
}

#[test]
fn descriptors_not_a_power_of_two() {
    rejects(
        "[forwarding]\nrxd = 1000",
        "fwd.toml: forwarding.rxd: must be a power of two between 64 and 32768, got 1000",
    );
    rejects(
        "[forwarding]\ntxd = 65536",
        "fwd.toml: forwarding.txd: must be a power of two between 64 and 32768, got 65536",
    );
    rejects(
        "[forwarding]\nrxq = 65",
        "fwd.toml: forwarding.rxq: must be between 1 and 64, got 65",
    );
}

#[test]
fn unknown_mode_lists_valid_ones() {
    rejects(
        "[forwarding]\nmode = \"noisy\"",
        "fwd.toml: forwarding.mode: invalid forwarding mode \"noisy\": \
         expected one of io, mac, macswap, rxonly, txonly, 5tswap, flowgen, csum, icmpecho",
    );
    let e = error("[forwarding]\nport_topology = \"ring\"");
    assert!(e.starts_with("fwd.toml: forwarding.port_topology: "), "{e}");
    assert!(
        e.contains("\"ring\"") && e.contains("paired, chained, loop"),
        "{e}"
    );
    let e = error("[mempool]\nhugepages = \"yes\"");
    assert!(e.starts_with("fwd.toml: mempool.hugepages: "), "{e}");
    assert!(
        e.contains("\"yes\"") && e.contains("auto, never, require"),
        "{e}"
    );
}

#[test]
fn unknown_top_level_key() {
    rejects(
        "colour = \"blue\"",
        "fwd.toml: colour: unknown key; expected one of lcores, port, forwarding, stats, run, mempool",
    );
    let e = error("lcores = \"0,1\"\n\n[colour]\nred = 1\n");
    assert!(e.starts_with("fwd.toml: colour: unknown key"), "{e}");
}

#[test]
fn unknown_nested_key() {
    let e = error("[forwarding]\nburst = 32\ncolour = 1\n");
    assert!(
        e.starts_with("fwd.toml: forwarding.colour: unknown key; expected one of mode, "),
        "{e}"
    );
    let e =
        error("[[port]]\ndevargs = \"net_vpmd_ring0\"\n[[port]]\ndevarg = \"net_vpmd_ring1\"\n");
    assert_eq!(e, "fwd.toml: port[1].devarg: unknown key; expected devargs");
    let e = error("[stats]\nperiod = 1\njsn = \"x.json\"\n");
    assert!(e.starts_with("fwd.toml: stats.jsn: unknown key"), "{e}");
}

#[test]
fn missing_required_key() {
    rejects(
        "[[port]]\ndevargs = \"net_vpmd_ring0\"\n[[port]]\n",
        "fwd.toml: port[1].devargs: required key is missing",
    );
}

#[test]
fn wrong_type() {
    rejects(
        "[forwarding]\nburst = \"32\"",
        "fwd.toml: forwarding.burst: invalid type: string \"32\", \
         expected an integer between 0 and 4294967295",
    );
    rejects(
        "[forwarding]\nburst = -1",
        "fwd.toml: forwarding.burst: invalid value: integer `-1`, \
         expected an integer between 0 and 4294967295",
    );
    rejects(
        "[forwarding]\ntxpkts = 64",
        "fwd.toml: forwarding.txpkts: invalid type: integer `64`, expected an array",
    );
    rejects(
        "[forwarding]\ntxpkts = [64, \"128\"]",
        "fwd.toml: forwarding.txpkts[1]: invalid type: string \"128\", \
         expected an integer between 0 and 4294967295",
    );
    rejects(
        "[stats]\nperiod = 1.5",
        "fwd.toml: stats.period: invalid type: floating point `1.5`, expected a non-negative integer",
    );
    rejects(
        "forwarding = 5",
        "fwd.toml: forwarding: invalid type: integer `5`, expected a table",
    );
    rejects(
        "[forwarding]\nmode = 3",
        "fwd.toml: forwarding.mode: invalid type: integer `3`, expected a forwarding mode name",
    );
    let e = error("lcores = 0");
    assert!(
        e.starts_with("fwd.toml: lcores: invalid type: integer `0`"),
        "{e}"
    );
}

#[test]
fn bad_mac() {
    rejects(
        "[forwarding]\neth_peer = { 0 = \"02:00:00:00:00\" }",
        "fwd.toml: forwarding.eth_peer.0: invalid MAC address \"02:00:00:00:00\": \
         expected six hex octets like 02:00:00:00:00:01",
    );
    let e = error("[forwarding.eth_peer]\n0 = \"02:00:00:00:00:01\"\n1 = \"02:00:00:00:00:zz\"\n");
    assert!(
        e.starts_with("fwd.toml: forwarding.eth_peer.1: invalid MAC address"),
        "{e}"
    );
    assert!(e.contains("\"02:00:00:00:00:zz\""), "{e}");
    rejects(
        "[forwarding.eth_peer]\neth1 = \"02:00:00:00:00:01\"\n",
        "fwd.toml: forwarding.eth_peer: invalid port id \"eth1\": expected an integer between 0 and 65535",
    );
}

#[test]
fn txpkts_limits() {
    rejects(
        "[mempool]\ndata_room = 9000\n[forwarding]\ntxpkts = [9000, 700]\n",
        "fwd.toml: forwarding.txpkts: segments must total at most 9600 bytes, got 9700 ([9000, 700])",
    );
    rejects(
        "[forwarding]\ntxpkts = [64, 10]",
        "fwd.toml: forwarding.txpkts[1]: must be between 14 and 9000, got 10",
    );
    rejects(
        "[forwarding]\ntxpkts = [4096]",
        "fwd.toml: forwarding.txpkts[0]: a segment must fit in one mbuf \
         (mempool.data_room = 2048), got 4096",
    );
    rejects(
        "[forwarding]\ntxpkts = []",
        "fwd.toml: forwarding.txpkts: must list at least one segment length, got []",
    );
    rejects(
        "[forwarding]\ntxpkts = [20]",
        "fwd.toml: forwarding.txpkts[0]: the first segment holds the Ethernet/IPv4/UDP headers: at least 42 bytes, got 20",
    );
    rejects(
        "[forwarding]\nmode = \"flowgen\"\ntxpkts = [42]",
        "fwd.toml: forwarding.txpkts: flowgen sends one segment of the total less the 4-byte FCS: \
         it must be between 42 and mempool.data_room (2048) bytes, got 42 - 4 = 38",
    );
    rejects(
        "[forwarding]\nmode = \"flowgen\"\ntxpkts = [2000, 100]",
        "fwd.toml: forwarding.txpkts: flowgen sends one segment of the total less the 4-byte FCS: \
         it must be between 42 and mempool.data_room (2048) bytes, got 2100 - 4 = 2096",
    );
    rejects(
        "[forwarding]\nflowgen_flows = 0",
        "fwd.toml: forwarding.flowgen_flows: must be at least 1, got 0",
    );
    rejects(
        "[forwarding]\ntxonly_multi_flow = 1",
        "fwd.toml: forwarding.txonly_multi_flow: invalid type: integer `1`, expected a boolean",
    );
    rejects(
        "[forwarding]\nrxq = 2\ntxq = 1",
        "fwd.toml: forwarding.txq: must equal forwarding.rxq (2), got 1",
    );
}

#[test]
fn cores() {
    rejects(
        "lcores = \"3-1\"",
        "fwd.toml: lcores: invalid core list \"3-1\": range 3-1 is reversed",
    );
    rejects(
        "lcores = \"0\"",
        "fwd.toml: lcores: must list at least 2 cores (the main lcore and a forwarding core), got \"0\"",
    );
    rejects(
        "lcores = \"0-2\"\n[forwarding]\nnb_cores = 3",
        "fwd.toml: forwarding.nb_cores: must be between 1 and 2 \
         (lcores \"0-2\" minus the main lcore), got 3",
    );
}

#[test]
fn pipeline_needs_two_cores_and_a_receiving_mode() {
    rejects(
        "lcores = \"0-2\"\n[forwarding]\npipeline = true",
        "fwd.toml: forwarding.pipeline: --pipeline runs each stream on an rx lcore and a \
         worker lcore: it needs --nb-cores (forwarding.nb_cores) of at least 2, got 1",
    );
    rejects(
        "lcores = \"0-2\"\n[forwarding]\npipeline = true\nnb_cores = 2\nmode = \"txonly\"",
        "fwd.toml: forwarding.pipeline: --pipeline hands received packets to the engine, and \
         --forward-mode txonly receives none: drop one of them",
    );
}

#[test]
fn other_values() {
    rejects(
        "[[port]]\ndevargs = \" \"",
        "fwd.toml: port[0].devargs: must name a device, got \" \"",
    );
    rejects(
        "[stats]\njson = \"\"",
        "fwd.toml: stats.json: must be a file path, got \"\"",
    );
    rejects(
        "[run]\nduration = 0",
        "fwd.toml: run.duration: must be at least 1 second (leave it out to run until Ctrl-C), got 0",
    );
    rejects(
        "[mempool]\nmbufs = 0\ncache = 0",
        "fwd.toml: mempool.mbufs: must be at least 1, got 0",
    );
    rejects(
        "[mempool]\ncache = 513",
        "fwd.toml: mempool.cache: must be between 0 and 512, got 513",
    );
    rejects(
        "[mempool]\nmbufs = 300\ncache = 256",
        "fwd.toml: mempool.cache: must be at most mempool.mbufs / 1.5 = 200, got 256",
    );
    rejects(
        "[mempool]\ndata_room = 65535",
        "fwd.toml: mempool.headroom: headroom + data_room must be at most 65535, got 128 + 65535",
    );
}

#[test]
fn invalid_toml_names_the_line() {
    rejects(
        "lcores = \"0,1\"\n\n[forwarding\nburst = 32\n",
        "fwd.toml: line 3: invalid TOML: unclosed table, expected `]`",
    );
    let e = Config::from_toml_str("[forwarding]\nburst = 1\nburst = 2\n", "fwd.toml").unwrap_err();
    assert!(matches!(e, ConfigError::Syntax { line: 3, .. }), "{e:?}");
    assert!(
        e.to_string()
            .starts_with("fwd.toml: line 3: invalid TOML: duplicate key"),
        "{e}"
    );
}

fn scratch_dir() -> PathBuf {
    std::env::temp_dir().join(format!("vpmd-config-test-{}", std::process::id()))
}

#[test]
fn missing_file() {
    let path = scratch_dir().join("absent").join("missing.toml");
    let e = Config::from_file(&path).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("{}: cannot read: No such file or directory", path.display())
    );
    assert!(matches!(
        e,
        ConfigError::Read {
            kind: std::io::ErrorKind::NotFound,
            ..
        }
    ));
}

#[test]
fn file_errors_name_the_path() {
    let dir = scratch_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("fwd.toml");
    std::fs::write(&path, "[forwarding]\nburst = 0\n").unwrap();
    let e = Config::from_file(&path).unwrap_err();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        e.to_string(),
        format!(
            "{}: forwarding.burst: must be between 1 and 512, got 0",
            path.display()
        )
    );
    assert_eq!(e.origin(), Some(path.display().to_string().as_str()));
}
