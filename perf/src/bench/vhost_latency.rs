//! `vhost-latency`: round-trip latency through a vhost-user back-end that loops frames
//! back, probed by vpmd's own front-end ([`crate::probe`]) at fixed offered rates.
//!
//! Back-end, alternately: (a) vpmd-fwd with `net_vpmd_vhost0` or (b) dpdk-testpmd with
//! `net_vhost0`, io forwarding with port 0 looped to itself (main lcore CPU 0, forwarding
//! lcore CPU 1). The prober busy-polls on CPU 0 (the back-ends' main lcores only print
//! statistics there). Per rate, the medians over runs of p50, p99, p99.9 and the maximum
//! (µs, lower is better), and a PNG of both back-ends' latency distributions (all runs of
//! a rate merged). Optionally one throughput figure: the front-end sending flat out,
//! the back-end in rxonly counting (Mpps the back-end receives).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use hdrhistogram::Histogram;
use vpmd_vhost::vuser::{self, Vuser};

use super::vhost::{Backend, Shape, BACKEND_PREFIX};
use crate::harness::{alternate, pin};
use crate::plot::{self, Series};
use crate::probe::{self, rtt_histogram, Probe};
use crate::report::{Better, Figure};
use crate::testpmd::{active_median_mpps, remove_runtime_dir, spawn};

const ANCHOR: &str = "dpdk-testpmd + net_vhost";
/// Probing before the measured part of a run (connection, first-touch, caches).
const WARMUP: Duration = Duration::from_millis(500);
/// How long a back-end may take to accept the front-end.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The quantiles reported, by name (1.0 is the maximum).
const REPORTED: [(&str, f64); 4] = [("p50", 0.5), ("p99", 0.99), ("p99.9", 0.999), ("max", 1.0)];
/// Quantiles drawn in the plot (x = 1/(1-q)).
const CURVE: [f64; 11] = [
    0.0, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9995, 0.9999, 0.99995,
];

/// What to measure.
#[derive(Debug, Clone)]
pub struct Opts {
    /// Seconds measured per run, after the warm-up.
    pub secs: u64,
    /// Offered rates, Mpps.
    pub rates: Vec<f64>,
    /// Frame length.
    pub pkt_len: u16,
    /// Also measure the front-end as a saturating generator.
    pub generator: bool,
    /// Where the vhost-user socket is created.
    pub dir: PathBuf,
    /// Where the latency plot goes.
    pub plot: PathBuf,
}

/// One queue pair of `pkt_len` frames.
fn shape(pkt_len: u16) -> Shape {
    Shape { pkt_len, queues: 1 }
}

/// Connects as soon as the back-end listens on `sock`.
fn connect(sock: &Path, cfg: &vuser::Config) -> Result<Vuser> {
    let start = Instant::now();
    loop {
        match Vuser::connect(sock, cfg) {
            Ok(v) => return Ok(v),
            Err(e) if start.elapsed() > CONNECT_TIMEOUT => {
                return Err(e).with_context(|| format!("connecting to {}", sock.display()))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// Starts the back-end, runs `f` with a connected front-end on a thread pinned to CPU 0,
/// stops the back-end; returns what `f` returned and the back-end's output.
fn with_backend<T: Send + 'static>(
    backend: Command,
    sock: &Path,
    cfg: vuser::Config,
    f: impl FnOnce(&mut Vuser) -> Result<T> + Send + 'static,
) -> Result<(T, String)> {
    let _ = std::fs::remove_file(sock);
    let b = spawn(backend)?;
    let sock = sock.to_path_buf();
    let prober = std::thread::spawn(move || -> Result<T> {
        pin(0)?;
        let mut v = connect(&sock, &cfg)?;
        f(&mut v)
    });
    let res = prober
        .join()
        .map_err(|_| anyhow::anyhow!("prober panicked"));
    let out = b.stop();
    remove_runtime_dir(BACKEND_PREFIX);
    Ok((res??, out?))
}

/// One probing run; prints its summary.
fn probe_once(who: &Backend, sock: &Path, o: &Opts, rate: f64) -> Result<Probe> {
    let cfg = vuser::Config {
        frame_len: o.pkt_len,
        ..vuser::Config::default()
    };
    let measure = Duration::from_secs(o.secs);
    let (p, _) = with_backend(
        who.command(sock, "io", shape(o.pkt_len), false),
        sock,
        cfg,
        move |v| probe::probe(v, rate * 1e6, WARMUP, measure),
    )?;
    eprintln!(
        "    {who:?} {rate} Mpps: p50 {:.2} us, p99 {:.2}, p99.9 {:.2}, max {:.2}; {} sent, {} lost, {} reordered, {} foreign",
        p.us(0.5),
        p.us(0.99),
        p.us(0.999),
        p.us(1.0),
        p.sent,
        p.lost(),
        p.reordered,
        p.foreign
    );
    Ok(p)
}

/// One saturating run between vpmd's front-end on CPU 0 and `who`, `pkt_len`-byte
/// frames. Guest TX (`guest_tx`): the front-end sends flat out for `secs` (+1) seconds
/// into `who` in rxonly; Mpps the back-end received (its median Rx-pps). Guest RX: `who`
/// in txonly sends into the front-end, which sinks; Mpps the front-end received over
/// `secs` seconds after the warm-up. Also returns the back-end's output.
pub(crate) fn saturate_once(
    who: &Backend,
    sock: &Path,
    guest_tx: bool,
    secs: u64,
    pkt_len: u16,
) -> Result<(f64, String)> {
    let cfg = vuser::Config {
        frame_len: pkt_len,
        ..vuser::Config::default()
    };
    let mode = if guest_tx { "rxonly" } else { "txonly" };
    let (peer, out) = with_backend(
        who.command(sock, mode, shape(pkt_len), false),
        sock,
        cfg,
        move |v| {
            Ok(if guest_tx {
                probe::generate(v, Duration::from_secs(secs + 1))
            } else {
                probe::sink(v, WARMUP, Duration::from_secs(secs))
            })
        },
    )?;
    if !guest_tx {
        eprintln!("    {who:?} txonly: front-end received {peer:.2} Mpps");
        return Ok((peer, out));
    }
    let mpps = active_median_mpps(&out, 1).with_context(|| format!("{who:?} rxonly"))?;
    eprintln!("    {who:?} generator: back-end {mpps:.2} Mpps, front-end saw {peer:.2} Mpps used");
    Ok((mpps, out))
}

/// The percentile figures of one rate, from per-run histograms.
fn figures(rate: f64, ours: &[Probe], anchor: &[Probe]) -> Vec<Figure> {
    REPORTED
        .iter()
        .map(|&(name, q)| {
            Figure::compare(
                format!("vhost-latency-{rate}Mpps-{name}"),
                "us",
                Better::Lower,
                ANCHOR,
                ours.iter().map(|p| p.us(q)).collect(),
                anchor.iter().map(|p| p.us(q)).collect(),
            )
        })
        .collect()
}

/// The percentile curve of all runs in `runs`: (1/(1-q), µs).
fn curve(runs: &[Probe]) -> Result<Vec<(f64, f64)>> {
    let mut all: Histogram<u64> = rtt_histogram();
    for p in runs {
        all.add(&p.rtt_ns).context("merging histograms")?;
    }
    Ok(CURVE
        .iter()
        .map(|&q| {
            let x = 1.0 / (1.0 - q);
            (x, all.value_at_quantile(q) as f64 / 1e3)
        })
        .collect())
}

/// Every rate (and the generator figure), alternating the back-ends `pairs` times.
pub fn run(pairs: usize, o: &Opts) -> Result<Vec<Figure>> {
    let vpmd = Backend::vpmd_fwd()?;
    let dpdk = Backend::TestpmdNetVhost;
    std::fs::create_dir_all(&o.dir)?;
    let sock = o.dir.join("vhost-latency.sock");
    println!(
        "vhost-latency: {} B frames, io loop on one queue pair, {} s measured per run after {} ms warm-up; \
         prober = vpmd's front-end (vuser) on cpu 0, back-end main lcore cpu 0, forwarding lcore cpu 1",
        o.pkt_len,
        o.secs,
        WARMUP.as_millis()
    );
    let mut figs = Vec::new();
    let mut series = Vec::new();
    for &rate in &o.rates {
        eprintln!("  offered {rate} Mpps:");
        let (mut ours, mut anchor) = (Vec::new(), Vec::new());
        alternate(
            pairs,
            || {
                let p = probe_once(&vpmd, &sock, o, rate)?;
                let p50 = p.us(0.5);
                ours.push(p);
                Ok(p50)
            },
            || {
                let p = probe_once(&dpdk, &sock, o, rate)?;
                let p50 = p.us(0.5);
                anchor.push(p);
                Ok(p50)
            },
        )?;
        figs.extend(figures(rate, &ours, &anchor));
        series.push(Series {
            label: format!("vpmd net_vpmd_vhost, {rate} Mpps"),
            points: curve(&ours)?,
        });
        series.push(Series {
            label: format!("DPDK net_vhost, {rate} Mpps"),
            points: curve(&anchor)?,
        });
    }
    plot::lines(
        &o.plot,
        &format!(
            "vhost-user round trip, {} B, io loop (prober cpu 0, back-end cpu 1)",
            o.pkt_len
        ),
        (
            "1/(1-quantile): 2 = p50, 10 = p90, 100 = p99, 1000 = p99.9",
            "round trip (µs)",
        ),
        plot::YScale::Log,
        &series,
    )?;
    println!("plot: {}", o.plot.display());
    if o.generator {
        eprintln!("  generator (front-end txonly -> back-end rxonly):");
        let (a, b) = alternate(
            pairs,
            || Ok(saturate_once(&vpmd, &sock, true, o.secs, o.pkt_len)?.0),
            || Ok(saturate_once(&dpdk, &sock, true, o.secs, o.pkt_len)?.0),
        )?;
        figs.push(Figure::compare(
            format!("vhost-vuser-guest2host-{}B", o.pkt_len),
            "Mpps",
            Better::Higher,
            ANCHOR,
            a,
            b,
        ));
    }
    let _ = std::fs::remove_file(&sock);
    Ok(figs)
}
