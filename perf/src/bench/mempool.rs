//! `mempool`: bulk-32 alloc + free, ns per packet, vs DPDK's `rte_mempool` with a per-lcore
//! cache (same object count and cache size, used from threads registered as EAL lcores,
//! so the cache path is measured); the goal is vpmd <= 1.0x DPDK's ns/pkt. Two anchors:
//! an mbuf pool (`rte_pktmbuf_pool_create`, `rte_pktmbuf_alloc_bulk` /
//! `rte_pktmbuf_free_bulk`, which reset and check every mbuf as vpmd's alloc and free do:
//! the like-for-like headline) and a raw-object pool (`rte_mempool_create`,
//! `rte_mempool_get_bulk` / `_put_bulk`, which never touch an object: the floor, figures
//! named `-raw`).
//!
//! - single lcore: one thread (pinned to the last CPU, holding an lcore id) allocates 32
//!   and frees them, in a loop;
//! - two lcores: a producer (CPU 0) allocates 32 and hands them through a fastpath SPSC
//!   ring to a consumer (CPU 1) that frees them, so buffers cross caches every time. The
//!   anchor does the same with DPDK's pool and an SP/SC `rte_ring`.

use std::time::Duration;

use anyhow::Result;
use vpmd_fastpath::spsc;
use vpmd_mempool::{Burst, HugepagePolicy, LcoreGuard, Mbuf, Mempool, PoolConfig};

use crate::dpdk;
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

/// DPDK's anchor for one lcore: get 32 + put 32 on an `rte_mempool` with a per-lcore
/// cache (mbufs: `rte_pktmbuf_alloc_bulk` / `_free_bulk`), from a thread pinned to `cpu` and registered
/// as an EAL lcore, so the cache is what serves it (as in a DPDK app's lcore).
fn single_anchor(pool: &dpdk::Pool, dur: Duration, cpu: usize) -> Result<f64> {
    let pool = pool.clone();
    std::thread::spawn(move || -> Result<f64> {
        pin(cpu)?;
        let _lcore = dpdk::Lcore::register()?;
        let mut objs = pool.objs(BURST);
        Ok(ns_per_item(dur, BURST as u64, || {
            if objs.get_bulk(BURST) {
                objs.put_all();
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

/// DPDK's anchor for two lcores: get 32 on CPU 0, an SP/SC `rte_ring` to CPU 1,
/// put there; both threads registered EAL lcores with their own caches.
fn pair_anchor(pool: &dpdk::Pool, total: u64) -> Result<f64> {
    let (mut tx, mut rx) = pool.ring(1024)?;
    let (p, c) = (pool.clone(), pool.clone());
    let producer = move || -> Result<()> {
        let _lcore = dpdk::Lcore::register()?;
        let mut objs = p.objs(BURST);
        let mut sent = 0;
        while sent < total {
            if objs.is_empty() && !objs.get_bulk(BURST) {
                continue;
            }
            sent += objs.send(&mut tx) as u64;
        }
        Ok(())
    };
    let consumer = move || -> Result<()> {
        let _lcore = dpdk::Lcore::register()?;
        let mut objs = c.objs(BURST);
        let mut got = 0;
        while got < total {
            got += objs.recv(&mut rx, BURST) as u64;
            objs.put_all();
        }
        Ok(())
    };
    Ok(on_two_cores(producer, consumer)? / total as f64)
}

/// Runs both comparisons with `pairs` alternations, against DPDK's mbuf pool (the
/// headline figures) and its raw-object pool (`-raw`).
pub fn run(pairs: usize, dur: Duration) -> Result<Vec<Figure>> {
    let pool = pool()?;
    let info = pool.info().clone();
    let mbufs = dpdk::Pool::mbufs(POOL, info.headroom + info.data_room, info.cache_size)?;
    let raw = dpdk::Pool::raw(POOL, info.obj_size as u32, info.cache_size)?;
    let cpu = core_affinity::get_core_ids()
        .and_then(|c| c.last().map(|c| c.id))
        .unwrap_or(0);
    println!(
        "mempool: bulk {BURST} alloc+free, pool of {POOL} ({}), objects of {} B, per-lcore cache {}; \
         single lcore on cpu {cpu}; pair on cpus 0 -> 1\n\
         anchors: DPDK {} rte_mempools of the same count and cache (default ring ops, no \
         hugepages), used from threads registered as EAL lcores (rte_thread_register) so \
         their per-lcore cache is used:\n  \
         mbuf: rte_pktmbuf_pool_create ({} B buffers) + rte_pktmbuf_alloc_bulk / \
         rte_pktmbuf_free_bulk, which reset and check each mbuf as vpmd does (the headline);\n  \
         raw (-raw): rte_mempool_create ({} B objects) + rte_mempool_get_bulk / put_bulk, \
         which never touch an object (the floor);\n  \
         the pair hands buffers through an SP/SC rte_ring",
        info.pages,
        info.obj_size,
        info.cache_size,
        dpdk_sys::DPDK_VERSION,
        info.headroom + info.data_room,
        info.obj_size,
    );
    let total = (dur.as_secs_f64() * 20e6) as u64;
    let mut figures = Vec::new();
    for (suffix, anchor, what) in [
        ("", &mbufs, "DPDK rte_pktmbuf alloc/free_bulk"),
        ("-raw", &raw, "DPDK rte_mempool get/put_bulk"),
    ] {
        let (a, b) = alternate(
            pairs,
            || pair_ours(&pool, total),
            || pair_anchor(anchor, total),
        )?;
        figures.push(Figure::compare(
            format!("mempool-bulk32-2lcores{suffix}"),
            "ns/pkt",
            Better::Lower,
            &format!("{what} + SP/SC rte_ring"),
            a,
            b,
        ));
        let (a, b) = alternate(
            pairs,
            || single_ours(&pool, dur, cpu),
            || single_anchor(anchor, dur, cpu),
        )?;
        figures.push(Figure::compare(
            format!("mempool-bulk32-1lcore{suffix}"),
            "ns/pkt",
            Better::Lower,
            &format!("{what}, lcore cache"),
            a,
            b,
        ));
    }
    for f in &figures {
        println!(
            "{}: vpmd {:.2}x DPDK's ns/pkt (goal <= 1.00)",
            f.name,
            f.ours / f.anchor
        );
    }
    Ok(figures)
}
