//! `mempool`: bulk-32 alloc + free, ns per packet, vs a crossbeam `ArrayQueue` used as the
//! free list (what a pool without per-lcore caches costs).
//!
//! - single lcore: one thread (pinned to the last CPU, holding an lcore id) allocates 32
//!   and frees them, in a loop;
//! - two lcores: a producer (CPU 0) allocates 32 and hands them through a fastpath SPSC
//!   ring to a consumer (CPU 1) that frees them, so buffers cross caches every time. The
//!   anchor moves indices the same way through two `ArrayQueue`s.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use crossbeam_queue::ArrayQueue;
use vpmd_fastpath::spsc;
use vpmd_mempool::{Burst, HugepagePolicy, LcoreGuard, Mbuf, Mempool, PoolConfig};

use crate::harness::{alternate, ns_per_item, on_two_cores, pin};
use crate::report::{Better, Figure};

const BURST: usize = 32;
const POOL: u32 = 8192;

fn pool() -> Result<Mempool> {
    Ok(Mempool::new(
        "bench",
        &PoolConfig {
            size: POOL,
            hugepages: HugepagePolicy::Auto,
            ..PoolConfig::default()
        },
    )?)
}

fn single_ours(pool: &Mempool, dur: Duration, cpu: usize) -> Result<f64> {
    let pool = pool.clone();
    std::thread::spawn(move || -> Result<f64> {
        pin(cpu)?;
        let _l = LcoreGuard::claim(cpu as u32)?;
        let mut b = Burst::with_capacity(BURST);
        Ok(ns_per_item(dur, BURST as u64, || {
            if pool.alloc_bulk(&mut b, BURST).is_ok() {
                Mbuf::free_bulk(&mut b);
            }
        }))
    })
    .join()
    .expect("bench thread")
}

fn single_anchor(dur: Duration, cpu: usize) -> Result<f64> {
    std::thread::spawn(move || -> Result<f64> {
        pin(cpu)?;
        let q = ArrayQueue::new(POOL as usize);
        for i in 0..POOL as usize {
            let _ = q.push(i);
        }
        let mut held = [0usize; BURST];
        Ok(ns_per_item(dur, BURST as u64, || {
            for h in held.iter_mut() {
                *h = q.pop().unwrap_or(0);
            }
            for &h in &held {
                let _ = q.push(std::hint::black_box(h));
            }
        }))
    })
    .join()
    .expect("bench thread")
}

fn pair_ours(pool: &Mempool, total: u64) -> Result<f64> {
    let (mut tx, mut rx) = spsc::<Mbuf>(1024)?;
    let p = pool.clone();
    let producer = move || -> Result<()> {
        let _l = LcoreGuard::claim(0)?;
        let mut b = Burst::with_capacity(BURST);
        let mut sent = 0;
        while sent < total {
            if b.is_empty() && p.alloc_bulk(&mut b, BURST).is_err() {
                continue;
            }
            sent += tx.enqueue_burst(&mut b) as u64;
        }
        Ok(())
    };
    let consumer = move || -> Result<()> {
        let _l = LcoreGuard::claim(1)?;
        let mut b = Burst::with_capacity(BURST);
        let mut got = 0;
        while got < total {
            got += rx.dequeue_burst(&mut b, BURST) as u64;
            Mbuf::free_bulk(&mut b);
        }
        Ok(())
    };
    Ok(on_two_cores(producer, consumer)? / total as f64)
}

fn pair_anchor(total: u64) -> Result<f64> {
    let free = Arc::new(ArrayQueue::new(POOL as usize));
    for i in 0..POOL as usize {
        let _ = free.push(i);
    }
    let chan = Arc::new(ArrayQueue::new(1024));
    let (f1, c1) = (Arc::clone(&free), Arc::clone(&chan));
    let producer = move || -> Result<()> {
        let mut sent = 0;
        while sent < total {
            for _ in 0..BURST {
                if let Some(i) = f1.pop() {
                    let mut i = i;
                    while let Err(back) = c1.push(i) {
                        i = back;
                        std::hint::spin_loop();
                    }
                    sent += 1;
                }
            }
        }
        Ok(())
    };
    let consumer = move || -> Result<()> {
        let mut got = 0;
        while got < total {
            for _ in 0..BURST {
                match chan.pop() {
                    Some(i) => {
                        let _ = free.push(i);
                        got += 1;
                    }
                    None => break,
                }
            }
        }
        Ok(())
    };
    Ok(on_two_cores(producer, consumer)? / total as f64)
}

/// Runs both comparisons with `pairs` alternations.
pub fn run(pairs: usize, dur: Duration) -> Result<Vec<Figure>> {
    let pool = pool()?;
    let cpu = core_affinity::get_core_ids()
        .and_then(|c| c.last().map(|c| c.id))
        .unwrap_or(0);
    println!(
        "mempool: bulk {BURST} alloc+free, pool of {POOL} ({}); single lcore on cpu {cpu}; pair on cpus 0 -> 1",
        pool.info().pages
    );
    let (a, b) = alternate(
        pairs,
        || single_ours(&pool, dur, cpu),
        || single_anchor(dur, cpu),
    )?;
    let single = Figure::compare(
        "mempool-bulk32-1lcore",
        "ns/pkt",
        Better::Lower,
        "crossbeam ArrayQueue free list",
        a,
        b,
    );
    let total = (dur.as_secs_f64() * 20e6) as u64;
    let (a, b) = alternate(pairs, || pair_ours(&pool, total), || pair_anchor(total))?;
    let pair = Figure::compare(
        "mempool-bulk32-2lcores",
        "ns/pkt",
        Better::Lower,
        "crossbeam ArrayQueue free list + channel",
        a,
        b,
    );
    Ok(vec![pair, single])
}
