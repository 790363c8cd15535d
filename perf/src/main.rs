//! `vpmd-bench`: vpmd's benchmarks, each measured beside its anchor in the same run.
//!
//! Every subcommand prints its method and samples, then `RESULT` lines
//! (`ours`, `anchor`, `unit`, `ratio` with > 1 better), and writes JSON with `--json`.

#![forbid(unsafe_code)]

use vpmd_perf::{bench, report};

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

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
    /// Mempool bulk-32 alloc+free vs a crossbeam ArrayQueue free list.
    Mempool {
        /// Milliseconds per sample.
        #[arg(long, default_value_t = 500)]
        ms: u64,
    },
    /// Core-to-core burst hand-off vs crossbeam ArrayQueue.
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
    /// vpmd-fwd vs dpdk-testpmd, io forwarding between two null ports.
    FwdNull {
        /// Seconds per run.
        #[arg(long, default_value_t = 5)]
        secs: u64,
    },
    /// vpmd's vhost PMD vs DPDK net_vhost, same virtio_user peer, three directions.
    VhostVsDpdk {
        /// Seconds of traffic per run.
        #[arg(long, default_value_t = 6)]
        secs: u64,
        /// Frame length.
        #[arg(long, default_value_t = 64)]
        pkt_len: u16,
        /// Queue pairs.
        #[arg(long, default_value_t = 1)]
        queues: u16,
        /// Where the vhost-user socket is created.
        #[arg(long, default_value = "target/vhost-bench")]
        dir: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let figures = match cli.cmd {
        Cmd::Mempool { ms } => bench::mempool::run(cli.pairs, Duration::from_millis(ms)),
        Cmd::Ring { items, sweep, plot } => bench::ring::run(cli.pairs, items, sweep, &plot),
        Cmd::FwdNull { secs } => bench::fwd_null::run(cli.pairs, secs),
        Cmd::VhostVsDpdk {
            secs,
            pkt_len,
            queues,
            dir,
        } => bench::vhost::run(
            cli.pairs,
            secs,
            bench::vhost::Shape { pkt_len, queues },
            &dir,
        ),
    };
    match figures.and_then(|f| report::finish(&f, cli.json.as_deref())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vpmd-bench: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
