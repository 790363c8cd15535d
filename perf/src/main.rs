//! `vpmd-bench`: vpmd's benchmarks, each measured beside its anchor in the same run.
//!
//! Every subcommand prints its method and samples, then `RESULT` lines
//! (`ours`, `anchor`, `unit`, `ratio` with > 1 better), and writes JSON with `--json`.

#![forbid(unsafe_code)]

use vpmd_perf::{bench, report};

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use vpmd_vhost::vuser::frame::MIN_FRAME_LEN;

#[derive(Debug, Parser)]
#[command(name = "vpmd-bench", about = "vpmd benchmarks beside their anchors")]
struct Cli {
    /// Alternating ours/anchor pairs per figure.
    #[arg(long, default_value_t = 4, global = true)]
    pairs: usize,
    /// Also write the figures as JSON.
    #[arg(long, global = true, value_name = "FILE")]
    json: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Mempool bulk-32 alloc+free vs DPDK rte_mempool (lcore cache; mbuf and raw pools).
    Mempool {
        /// Milliseconds per sample.
        #[arg(long, default_value_t = 500)]
        ms: u64,
    },
    /// Core-to-core burst hand-off vs DPDK rte_ring (SP/SC burst).
    Ring {
        /// Items per sample.
        #[arg(long, default_value_t = 20_000_000)]
        items: u64,
        /// Sweep burst sizes 1..256 and plot.
        #[arg(long)]
        sweep: bool,
        /// Where the sweep's PNG goes.
        #[arg(long, default_value = "target/ring-burst.png")]
        plot: PathBuf,
    },
    /// vpmd-fwd vs dpdk-testpmd, each forwarding mode on two null ports.
    FwdModes {
        /// Modes, comma-separated: io, mac, macswap, rxonly, txonly, 5tswap, csum, flowgen,
        /// icmpecho.
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "io,mac,macswap,rxonly,txonly"
        )]
        modes: Vec<bench::fwd_modes::Mode>,
        /// Seconds measured per run (after the first stats sample).
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=3600))]
        secs: u64,
        /// Packets per burst, for both apps.
        #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=512))]
        burst: u32,
    },
    /// vpmd's vhost PMD vs DPDK net_vhost, same virtio_user peer, three directions.
    VhostVsDpdk(VhostArgs),
    /// (a) stock dpdk-testpmd + vpmd's plugin (net_vpmd_vhost) vs (b) vpmd-fwd and (c)
    /// dpdk-testpmd + net_vhost, in the same run, same virtio_user peer.
    Plugin(VhostArgs),
    /// Round-trip latency through a vhost-user io loop, probed by vpmd's own front-end:
    /// vpmd-fwd + net_vpmd_vhost vs dpdk-testpmd + net_vhost.
    VhostLatency {
        /// Seconds measured per run (after a 0.5 s warm-up).
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=3600))]
        secs: u64,
        /// Offered rates in Mpps, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "0.1,0.5,1", value_parser = parse_rate)]
        rates: Vec<f64>,
        /// Frame length.
        #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u16).range(i64::from(MIN_FRAME_LEN)..=1518))]
        pkt_len: u16,
        /// Skip the generator figure (front-end sending flat out, back-end rxonly).
        #[arg(long)]
        no_generator: bool,
        /// Where the vhost-user socket is created.
        #[arg(long, default_value = "target/vhost-bench")]
        dir: PathBuf,
        /// Where the latency plot goes.
        #[arg(long, default_value = "target/vhost-latency.png")]
        plot: PathBuf,
    },
    /// vpmd's Xen netback PMD with a netfront guest (sim hypervisor), guest TX and RX, vs
    /// Linux netback's published figures and vpmd's vhost PMD with its own peer.
    Xen {
        /// Seconds of traffic per run.
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=3600))]
        secs: u64,
        /// Frame lengths, comma-separated (64: Mpps; others: Gbit/s).
        #[arg(long, value_delimiter = ',', default_value = "64,1500", value_parser = clap::value_parser!(u16).range(i64::from(MIN_FRAME_LEN)..=1518))]
        sizes: Vec<u16>,
        /// Where the sim host's and the vhost-user sockets are created.
        #[arg(long, default_value = "target/xen-bench")]
        dir: PathBuf,
    },
}

/// Options of the vhost back-end comparisons (`vhost-vs-dpdk`, `plugin`).
#[derive(Debug, Args)]
struct VhostArgs {
    /// Seconds of traffic per run.
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u64).range(1..=3600))]
    secs: u64,
    /// Frame length.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u16).range(i64::from(MIN_FRAME_LEN)..=1518))]
    pkt_len: u16,
    /// Queue pairs.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=8))]
    queues: u16,
    /// Scenarios, comma-separated: guest2host, host2guest, loop.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "guest2host,host2guest,loop"
    )]
    scenarios: Vec<bench::vhost::Scenario>,
    /// Where the vhost-user socket is created.
    #[arg(long, default_value = "target/vhost-bench")]
    dir: PathBuf,
}

impl VhostArgs {
    fn opts(self) -> bench::vhost::Opts {
        bench::vhost::Opts {
            secs: self.secs,
            shape: bench::vhost::Shape {
                pkt_len: self.pkt_len,
                queues: self.queues,
            },
            scenarios: self.scenarios,
            dir: self.dir,
        }
    }
}

/// An offered rate in Mpps: a number above 0 and at most 100.
fn parse_rate(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(r) if r > 0.0 && r <= 100.0 => Ok(r),
        _ => Err("expected a rate in Mpps above 0 and at most 100".into()),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let figures = match cli.cmd {
        Cmd::Mempool { ms } => bench::mempool::run(cli.pairs, Duration::from_millis(ms)),
        Cmd::Ring { items, sweep, plot } => bench::ring::run(cli.pairs, items, sweep, &plot),
        Cmd::FwdModes { modes, secs, burst } => {
            bench::fwd_modes::run(cli.pairs, &modes, bench::fwd_modes::Opts { secs, burst })
        }
        Cmd::VhostVsDpdk(a) => bench::vhost::run(cli.pairs, &a.opts()),
        Cmd::Plugin(a) => bench::vhost::run_plugin(cli.pairs, &a.opts()),
        Cmd::VhostLatency {
            secs,
            rates,
            pkt_len,
            no_generator,
            dir,
            plot,
        } => bench::vhost_latency::run(
            cli.pairs,
            &bench::vhost_latency::Opts {
                secs,
                rates,
                pkt_len,
                generator: !no_generator,
                dir,
                plot,
            },
        ),
        Cmd::Xen { secs, sizes, dir } => {
            bench::xen::run(cli.pairs, &bench::xen::Opts { secs, sizes, dir })
        }
    };
    match figures.and_then(|f| report::finish(&f, cli.json.as_deref())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vpmd-bench: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
