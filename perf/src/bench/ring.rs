//! `ring`: core-to-core hand-off, producer on CPU 0 and consumer on CPU 1, bursts of 32
//! `u64`s through vpmd's SPSC ring vs DPDK's `rte_ring` created single-producer /
//! single-consumer (`rte_ring_sp_enqueue_burst` / `rte_ring_sc_dequeue_burst`, both
//! threads registered EAL lcores), ns per item and Mpps; the goal is vpmd <= 1.0x DPDK. With `--sweep`, every burst size from 1 to 256 and a
//! PNG plot of ns/item against burst size.

use anyhow::{ensure, Result};
use vpmd_fastpath::spsc;
use vpmd_mempool::Burst;

use crate::dpdk;
use crate::harness::{alternate, on_two_cores};
use crate::plot::{self, Series};
use crate::report::{Better, Figure};

const RING: usize = 1024;
const ANCHOR: &str = "DPDK rte_ring SP/SC burst";

/// Moves `total` items in bursts of `burst`; returns ns per item. The consumer checks
/// the sequence so a broken ring cannot look fast.
fn ours(total: u64, burst: usize) -> Result<f64> {
    let (mut tx, mut rx) = spsc::<u64>(RING)?;
    let producer = move || -> Result<()> {
        let mut b = Burst::with_capacity(burst);
        let mut next = 0u64;
        while next < total || !b.is_empty() {
            while b.room() > 0 && next < total {
                let _ = b.push(next);
                next += 1;
            }
            tx.enqueue_burst(&mut b);
        }
        Ok(())
    };
    let consumer = move || -> Result<()> {
        let mut b = Burst::with_capacity(burst);
        let mut expect = 0u64;
        while expect < total {
            rx.dequeue_burst(&mut b, burst);
            for v in b.drain() {
                ensure!(v == expect, "ring reordered: got {v}, expected {expect}");
                expect += 1;
            }
        }
        Ok(())
    };
    Ok(on_two_cores(producer, consumer)? / total as f64)
}

/// DPDK's anchor: the same hand-off through an `rte_ring` created SP/SC, with
/// `rte_ring_sp_enqueue_burst` / `rte_ring_sc_dequeue_burst` (what a DPDK app between two
/// lcores calls), both threads registered EAL lcores. A partly enqueued burst is retried
/// from where it stopped.
fn anchor(total: u64, burst: usize) -> Result<f64> {
    let (mut tx, mut rx) = dpdk::ring(RING as u32)?;
    let producer = move || -> Result<()> {
        let _lcore = dpdk::Lcore::register()?;
        let mut buf = vec![0u64; burst];
        let (mut head, mut len) = (0, 0);
        let mut next = 0u64;
        while next < total || head < len {
            if head == len {
                len = burst.min((total - next) as usize);
                for (i, v) in buf[..len].iter_mut().enumerate() {
                    *v = next + i as u64;
                }
                next += len as u64;
                head = 0;
            }
            head += tx.enqueue_burst(&buf[head..len]);
        }
        Ok(())
    };
    let consumer = move || -> Result<()> {
        let _lcore = dpdk::Lcore::register()?;
        let mut buf = vec![0u64; burst];
        let mut expect = 0u64;
        while expect < total {
            let n = rx.dequeue_burst(&mut buf);
            for &v in &buf[..n] {
                ensure!(
                    v == expect,
                    "rte_ring reordered: got {v}, expected {expect}"
                );
                expect += 1;
            }
        }
        Ok(())
    };
    Ok(on_two_cores(producer, consumer)? / total as f64)
}

fn compare(pairs: usize, total: u64, burst: usize) -> Result<Figure> {
    let (a, b) = alternate(pairs, || ours(total, burst), || anchor(total, burst))?;
    Ok(Figure::compare(
        format!("ring-burst{burst}"),
        "ns/item",
        Better::Lower,
        ANCHOR,
        a,
        b,
    ))
}

/// Burst 32 (and with `sweep`, 1..=256 plus a plot written to `plot_path`).
pub fn run(
    pairs: usize,
    total: u64,
    sweep: bool,
    plot_path: &std::path::Path,
) -> Result<Vec<Figure>> {
    dpdk::eal()?;
    println!(
        "ring: {total} u64 items, producer cpu 0 -> consumer cpu 1, ring of {RING}; anchor: \
         DPDK {} rte_ring (RING_F_SP_ENQ|RING_F_SC_DEQ, holds {}), both threads EAL lcores \
         (rte_thread_register)",
        dpdk_sys::DPDK_VERSION,
        RING - 1
    );
    let mut figures = Vec::new();
    if sweep {
        for burst in [1, 4, 8, 16, 64, 128, 256] {
            figures.push(compare(pairs, total, burst)?);
        }
        figures.push(compare(pairs, total, 32)?);
        let mut pts: Vec<&Figure> = figures.iter().collect();
        pts.sort_by_key(|f| {
            f.name
                .trim_start_matches("ring-burst")
                .parse::<u32>()
                .unwrap_or(0)
        });
        let x = |f: &Figure| {
            f.name
                .trim_start_matches("ring-burst")
                .parse::<f64>()
                .unwrap_or(0.0)
        };
        plot::lines(
            plot_path,
            "core-to-core hand-off cost vs burst size (cpu 0 -> cpu 1)",
            ("burst size (items)", "ns per item (median)"),
            plot::YScale::Linear,
            &[
                Series {
                    label: "vpmd SPSC ring".into(),
                    points: pts.iter().map(|f| (x(f), f.ours)).collect(),
                },
                Series {
                    label: ANCHOR.into(),
                    points: pts.iter().map(|f| (x(f), f.anchor)).collect(),
                },
            ],
        )?;
        println!("plot: {}", plot_path.display());
    } else {
        figures.push(compare(pairs, total, 32)?);
    }
    let f = figures.last().expect("one figure");
    println!(
        "burst 32: vpmd {:.1} Mpps, DPDK rte_ring {:.1} Mpps; vpmd {:.2}x DPDK's ns/item (goal <= 1.00)",
        1e3 / f.ours,
        1e3 / f.anchor,
        f.ours / f.anchor
    );
    Ok(figures)
}
