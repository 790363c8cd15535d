//! `fwd-null`: io forwarding between two null ports on one forwarding lcore (CPU 1, main
//! lcore on CPU 0): vpmd-fwd with `net_vpmd_null` vs dpdk-testpmd with DPDK's `net_null`,
//! alternating runs. Two figures: the median per-second Rx-pps of port 0 (saturation
//! throughput, noisy here), and the forwarding lcore's busy TSC cycles per packet (the
//! peer-independent efficiency figure PERF-NOTES asks for).

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};

use crate::harness::alternate;
use crate::report::{Better, Figure};
use crate::testpmd::{
    cleanup, cycles_per_packet, hugepages_free, median_mpps, run_sampled, testpmd_null, vpmd_fwd,
    Pps, ANCHOR_HUGEPAGES,
};

/// One run's figures: Mpps per port and cycles per packet.
type Sample = (f64, f64);

fn sample(output: &str, who: &str) -> Result<Sample> {
    let mpps = median_mpps(output, Pps::Rx, 2).with_context(|| who.to_string())?;
    let cpp = cycles_per_packet(output)
        .with_context(|| format!("{who}: no cycles/packet line in:\n{output}"))?;
    Ok((mpps, cpp))
}

fn ours(bin: &Path, secs: u64, huge: bool) -> Result<Sample> {
    let mut c = Command::new(bin);
    c.args([
        "-l",
        "0,1",
        "--vdev",
        "net_vpmd_null0",
        "--vdev",
        "net_vpmd_null1",
        "--nb-cores",
        "1",
        "--stats-period",
        "1",
        "--hugepages",
        if huge { "auto" } else { "never" },
    ]);
    c.env("VPMD_LOG", "warn");
    sample(&run_sampled(c, secs)?, "vpmd-fwd")
}

fn anchor(secs: u64, huge: bool) -> Result<Sample> {
    let mut c = testpmd_null(huge);
    c.args(["--forward-mode=io", "--nb-cores=1", "--stats-period=1"]);
    let out = run_sampled(c, secs);
    cleanup();
    sample(&out?, "dpdk-testpmd")
}

/// Runs `pairs` alternations of `secs` seconds measured each.
pub fn run(pairs: usize, secs: u64) -> Result<Vec<Figure>> {
    let bin = vpmd_fwd()?;
    // Both sides use the same kind of memory: hugepages make DPDK about twice as fast.
    let huge = hugepages_free() >= ANCHOR_HUGEPAGES;
    println!(
        "fwd-null: io forwarding, 2 null ports, main lcore cpu 0, forwarding lcore cpu 1, {secs} s measured per run, {}",
        if huge { "hugepages" } else { "no hugepages (fewer than 320 free): both on normal pages" }
    );
    let mut cycles = (Vec::new(), Vec::new());
    let (a, b) = alternate(
        pairs,
        || {
            let (mpps, cpp) = ours(&bin, secs, huge)?;
            cycles.0.push(cpp);
            Ok(mpps)
        },
        || {
            let (mpps, cpp) = anchor(secs, huge)?;
            cycles.1.push(cpp);
            Ok(mpps)
        },
    )?;
    let anchor_name = "dpdk-testpmd + net_null";
    Ok(vec![
        Figure::compare(
            "fwd-null-io-cycles",
            "cycles/pkt",
            Better::Lower,
            anchor_name,
            cycles.0,
            cycles.1,
        ),
        Figure::compare("fwd-null-io", "Mpps", Better::Higher, anchor_name, a, b),
    ])
}
