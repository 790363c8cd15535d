//! `fwd-modes`: testpmd's forwarding modes on two null ports and one forwarding lcore
//! (CPU 1, main lcore on CPU 0): vpmd-fwd with `net_vpmd_null` vs dpdk-testpmd with
//! DPDK's `net_null`, alternating runs per mode, both given the same application flags
//! (mode, burst, `--eth-peer` of both ports, one core, stats every second). Two figures
//! per mode: the median per-second rate of port 0 (saturation throughput, noisy here;
//! Tx-pps for the generators txonly and flowgen, Rx-pps for every other mode), and the
//! forwarding lcore's busy TSC cycles per packet (the peer-independent figure PERF-NOTES
//! asks for).
//!
//! How the two null PMDs compare (DPDK 22.11 `net_null`): both hand out packets of `size`
//! bytes (default 64) straight from the pool without writing them, and free what is sent,
//! so io, mac, macswap, rxonly and txonly do the same work on both. Known asymmetries:
//! - rx data is whatever the pool's buffers hold, zeros at first on both: 5tswap, csum and
//!   icmpecho see non-IP frames and only do their L2 work (icmpecho drops everything), so
//!   their figures measure parsing and dispatch, not the L3/L4 paths;
//! - cycles/packet divides by received packets, except for txonly and flowgen where
//!   testpmd divides by sent packets and vpmd-fwd by the larger of the two per burst,
//!   the same count when a null port fills every burst;
//! - `copy=1` (not used here) writes zeros in DPDK and a broadcast header in vpmd, and
//!   DPDK 22.11's `net_null` counts no bytes: no figure here reads either.

use std::fmt;
use std::path::Path;
use std::process::Command;
use std::str::FromStr;

use anyhow::{Context, Result};

use crate::harness::alternate;
use crate::report::{Better, Figure};
use crate::testpmd::{
    cleanup, cycles_per_packet, hugepages_free, median_mpps, run_sampled, testpmd_null, vpmd_fwd,
    Pps, ANCHOR_HUGEPAGES,
};

/// A forwarding mode both vpmd-fwd and dpdk-testpmd 22.11 have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Io,
    Mac,
    MacSwap,
    RxOnly,
    TxOnly,
    FiveTupleSwap,
    Csum,
    FlowGen,
    IcmpEcho,
}

impl Mode {
    const ALL: [Mode; 9] = [
        Mode::Io,
        Mode::Mac,
        Mode::MacSwap,
        Mode::RxOnly,
        Mode::TxOnly,
        Mode::FiveTupleSwap,
        Mode::Csum,
        Mode::FlowGen,
        Mode::IcmpEcho,
    ];

    /// The `--forward-mode` name both apps take.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Io => "io",
            Mode::Mac => "mac",
            Mode::MacSwap => "macswap",
            Mode::RxOnly => "rxonly",
            Mode::TxOnly => "txonly",
            Mode::FiveTupleSwap => "5tswap",
            Mode::Csum => "csum",
            Mode::FlowGen => "flowgen",
            Mode::IcmpEcho => "icmpecho",
        }
    }

    /// The rate that says how fast the mode goes: generators by what they send.
    fn rate(self) -> Pps {
        match self {
            Mode::TxOnly | Mode::FlowGen => Pps::Tx,
            _ => Pps::Rx,
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Mode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Self::ALL.iter().map(|m| m.name()).collect();
                format!("expected one of {}", names.join(", "))
            })
    }
}

/// What every run of one mode shares.
#[derive(Debug, Clone, Copy)]
pub struct Opts {
    /// Seconds measured per run, after the first stats sample.
    pub secs: u64,
    /// Packets per burst.
    pub burst: u32,
}

/// Destination MACs of ports 0 and 1 (`--eth-peer`), written by mac, txonly and flowgen.
const PEERS: [&str; 2] = ["0,02:00:00:00:00:10", "1,02:00:00:00:00:11"];

/// The application flags both apps take in the same spelling (vpmd-fwd reads testpmd's).
fn app_flags(mode: Mode, burst: u32) -> Vec<String> {
    let mut v = vec![
        format!("--forward-mode={mode}"),
        format!("--burst={burst}"),
        "--nb-cores=1".into(),
        "--stats-period=1".into(),
    ];
    v.extend(PEERS.iter().map(|p| format!("--eth-peer={p}")));
    v
}

/// One run's figures: Mpps of port 0 and cycles per packet.
type Sample = (f64, f64);

fn sample(output: &str, mode: Mode, who: &str) -> Result<Sample> {
    let mpps = median_mpps(output, mode.rate(), 2).with_context(|| format!("{who} {mode}"))?;
    let cpp = cycles_per_packet(output)
        .with_context(|| format!("{who} {mode}: no cycles/packet line in:\n{output}"))?;
    Ok((mpps, cpp))
}

fn ours(bin: &Path, mode: Mode, o: Opts, huge: bool) -> Result<Sample> {
    let mut c = Command::new(bin);
    c.args([
        "-l",
        "0,1",
        "--vdev",
        "net_vpmd_null0",
        "--vdev",
        "net_vpmd_null1",
    ]);
    c.args(["--hugepages", if huge { "auto" } else { "never" }]);
    c.args(app_flags(mode, o.burst));
    c.env("VPMD_LOG", "warn");
    sample(&run_sampled(c, o.secs)?, mode, "vpmd-fwd")
}

fn anchor(mode: Mode, o: Opts, huge: bool) -> Result<Sample> {
    let mut c = testpmd_null(huge);
    c.args(app_flags(mode, o.burst));
    let out = run_sampled(c, o.secs);
    cleanup();
    sample(&out?, mode, "dpdk-testpmd")
}

/// Runs `pairs` alternations of each mode in `modes`; prints a table of the medians.
pub fn run(pairs: usize, modes: &[Mode], o: Opts) -> Result<Vec<Figure>> {
    let bin = vpmd_fwd()?;
    // Both sides use the same kind of memory: hugepages make DPDK about twice as fast.
    let huge = hugepages_free() >= ANCHOR_HUGEPAGES;
    println!(
        "fwd-modes: 2 null ports, main lcore cpu 0, forwarding lcore cpu 1, burst {}, {} s measured per run, {}",
        o.burst,
        o.secs,
        if huge { "hugepages" } else { "no hugepages (fewer than 320 free): both on normal pages" }
    );
    let anchor_name = "dpdk-testpmd + net_null";
    let mut figures = Vec::new();
    for &mode in modes {
        println!("{mode}: vpmd-fwd / dpdk-testpmd, {pairs} pairs");
        let mut cycles = (Vec::new(), Vec::new());
        let (a, b) = alternate(
            pairs,
            || {
                let (mpps, cpp) = ours(&bin, mode, o, huge)?;
                cycles.0.push(cpp);
                Ok(mpps)
            },
            || {
                let (mpps, cpp) = anchor(mode, o, huge)?;
                cycles.1.push(cpp);
                Ok(mpps)
            },
        )?;
        let name = format!("fwd-modes-{mode}");
        figures.push(Figure::compare(
            &name,
            "Mpps",
            Better::Higher,
            anchor_name,
            a,
            b,
        ));
        figures.push(Figure::compare(
            format!("{name}-cycles"),
            "cycles/pkt",
            Better::Lower,
            anchor_name,
            cycles.0,
            cycles.1,
        ));
    }
    print_table(modes, &figures);
    Ok(figures)
}

/// One row per mode from its (Mpps, cycles) figure pair; ratios above 1 favour vpmd.
fn print_table(modes: &[Mode], figures: &[Figure]) {
    println!(
        "\n{:<9} {:<6} {:>9} {:>9} {:>6}   {:>12} {:>12} {:>6}",
        "mode", "rate", "vpmd Mpps", "DPDK Mpps", "ratio", "vpmd cyc/pkt", "DPDK cyc/pkt", "ratio"
    );
    for (mode, f) in modes.iter().zip(figures.chunks_exact(2)) {
        let (mpps, cyc) = (&f[0], &f[1]);
        println!(
            "{:<9} {:<6} {:>9.2} {:>9.2} {:>6.2}   {:>12.1} {:>12.1} {:>6.2}",
            mode.name(),
            mode.rate().label(),
            mpps.ours,
            mpps.anchor,
            mpps.ratio(),
            cyc.ours,
            cyc.anchor,
            cyc.ratio()
        );
    }
    println!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_names_round_trip_and_pick_their_rate() {
        for m in Mode::ALL {
            assert_eq!(m.name().parse::<Mode>(), Ok(m));
        }
        assert!("noisy".parse::<Mode>().unwrap_err().contains("5tswap"));
        assert_eq!(Mode::TxOnly.rate(), Pps::Tx);
        assert_eq!(Mode::FlowGen.rate(), Pps::Tx);
        assert_eq!(Mode::RxOnly.rate(), Pps::Rx);
        assert_eq!(Mode::Mac.rate(), Pps::Rx);
    }

    #[test]
    fn both_apps_get_the_same_mode_burst_and_peers() {
        let f = app_flags(Mode::Mac, 64);
        assert_eq!(f[0], "--forward-mode=mac");
        assert!(f.contains(&"--burst=64".to_string()));
        assert!(f.contains(&"--eth-peer=1,02:00:00:00:00:11".to_string()));
    }
}
