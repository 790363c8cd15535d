//! The shipped example, a file using every key, defaults, and the TOML round trip.

use std::path::{Path, PathBuf};
use std::time::Duration;

use vpmd_config::{
    Config, ForwardMode, ForwardingConfig, HugepageMode, MacAddr, MempoolConfig, PortConfig,
    PortTopology, RunConfig, StatsConfig,
};

#[test]
fn defaults_are_valid() {
    let config = Config::default();
    config.validate().unwrap();
    assert_eq!(config.lcores.to_string(), "0,1");
    assert_eq!(config.forwarding.mode, ForwardMode::Io);
    assert_eq!(config.forwarding.burst, 32);
    assert_eq!(config.stats.interval(), Some(Duration::from_secs(1)));
    assert_eq!(config.run.limit(), None);
}

#[test]
fn empty_file_is_the_default_config() {
    assert_eq!(
        Config::from_toml_str("", "empty.toml").unwrap(),
        Config::default()
    );
    let sections_only = "[forwarding]\n[stats]\n[run]\n[mempool]\n";
    assert_eq!(
        Config::from_toml_str(sections_only, "x.toml").unwrap(),
        Config::default()
    );
}

#[test]
fn shipped_example_parses_and_validates() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/fwd.toml");
    let config = Config::from_file(&path).unwrap();
    config.validate().unwrap();
    assert_eq!(config.lcores.ids(), [0, 1]);
    let devargs: Vec<&str> = config.ports.iter().map(|p| p.devargs.as_str()).collect();
    assert_eq!(devargs, ["net_vpmd_ring0", "net_vpmd_ring1"]);
    assert_eq!(config.forwarding.mode, ForwardMode::Io);
    assert_eq!(config.forwarding.nb_cores, 1);
    assert!(config.forwarding.tx_first);
    assert_eq!(
        config.forwarding.eth_peer.get(&1),
        Some(&MacAddr::new([2, 0, 0, 0, 0, 2]))
    );
    assert_eq!(config.run.limit(), Some(Duration::from_secs(10)));
}

const FULL: &str = r#"
lcores = "0-3"

[[port]]
devargs = "net_vpmd_null0,size=64"

[[port]]
devargs = "net_vpmd_null1,size=128"

[forwarding]
mode = "mac"
nb_cores = 3
burst = 64
txpkts = [42, 50, 1000]
txonly_multi_flow = true
flowgen_flows = 7
port_topology = "chained"
eth_peer = { 0 = "02:00:00:00:00:01", 1 = "02:00:00:00:0a:Bc" }
rxq = 2
txq = 2
tx_first = true
disable_link_check = true
pipeline = true
rxd = 512
txd = 2048

[stats]
period = 0
json = "out/stats.json"

[run]
duration = 5
interactive = true
auto_start = true

[mempool]
mbufs = 8192
cache = 512
data_room = 9216
headroom = 256
hugepages = "require"
"#;

fn full() -> Config {
    Config {
        lcores: "0-3".parse().unwrap(),
        ports: vec![
            PortConfig {
                devargs: "net_vpmd_null0,size=64".into(),
            },
            PortConfig {
                devargs: "net_vpmd_null1,size=128".into(),
            },
        ],
        forwarding: ForwardingConfig {
            mode: ForwardMode::Mac,
            nb_cores: 3,
            burst: 64,
            txpkts: vec![42, 50, 1000],
            txonly_multi_flow: true,
            flowgen_flows: 7,
            port_topology: PortTopology::Chained,
            eth_peer: [
                (0, MacAddr::new([2, 0, 0, 0, 0, 1])),
                (1, MacAddr::new([2, 0, 0, 0, 0x0a, 0xbc])),
            ]
            .into(),
            rxq: 2,
            txq: 2,
            rxd: 512,
            txd: 2048,
            tx_first: true,
            disable_link_check: true,
            pipeline: true,
        },
        stats: StatsConfig {
            period: 0,
            json: Some(PathBuf::from("out/stats.json")),
        },
        run: RunConfig {
            duration: Some(5),
            interactive: true,
            auto_start: true,
        },
        mempool: MempoolConfig {
            mbufs: 8192,
            cache: 512,
            data_room: 9216,
            headroom: 256,
            hugepages: HugepageMode::Require,
        },
    }
}

#[test]
fn every_key_parses() {
    let config = Config::from_toml_str(FULL, "full.toml").unwrap();
    assert_eq!(config, full());
    assert_eq!(config.stats.interval(), None);
}

#[test]
fn eth_peer_as_a_section() {
    let text = "[forwarding.eth_peer]\n3 = \"02:00:00:00:00:03\"\n";
    let config = Config::from_toml_str(text, "peer.toml").unwrap();
    assert_eq!(
        config.forwarding.eth_peer.get(&3),
        Some(&"02:00:00:00:00:03".parse().unwrap())
    );
}

#[test]
fn serializes_back_to_the_same_config() {
    for config in [Config::default(), full()] {
        let text = toml::to_string(&config).unwrap();
        assert_eq!(
            Config::from_toml_str(&text, "round-trip.toml").unwrap(),
            config,
            "{text}"
        );
    }
}

#[test]
fn cli_overrides_then_validate() {
    let mut config = Config::from_toml_str(FULL, "full.toml").unwrap();
    config.forwarding.burst = "0".parse().unwrap();
    config.forwarding.mode = "txonly".parse().unwrap();
    let peer: vpmd_config::EthPeer = "7,02:00:00:00:00:07".parse().unwrap();
    config.forwarding.eth_peer.insert(peer.port, peer.mac);
    let err = config.validate().unwrap_err();
    assert_eq!(err.key_path(), Some("forwarding.burst"));
    assert_eq!(
        err.with_origin("command line").to_string(),
        "command line: forwarding.burst: must be between 1 and 512, got 0"
    );
}
