//! Two-thread stress tests of the SPSC and MPMC rings: millions of `u64`s in bursts of
//! random sizes, checked for exact order (SPSC), per-producer order (MPMC) and checksum.
//! The speed comparison with crossbeam lives in `vpmd-bench ring` (perf/).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

use vpmd_fastpath::ring::{spsc, MpmcRing};
use vpmd_mempool::Burst;

/// 10M items in release builds, 1M in debug builds.
const ITEMS: u64 = if cfg!(debug_assertions) {
    1_000_000
} else {
    10_000_000
};

/// xorshift64*: a seeded generator for burst sizes (no dependency needed).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// Yields after a run of empty attempts so spinning threads share a small machine.
struct Spin(u32);

impl Spin {
    fn miss(&mut self) {
        self.0 += 1;
        if self.0.is_multiple_of(64) {
            thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
    }
}

fn mix(v: u64) -> u64 {
    v.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17)
}

fn spsc_transfer(capacity: usize, items: u64, max_burst: u64, seed: u64) {
    let (mut tx, mut rx) = spsc::<u64>(capacity).unwrap();
    let producer = thread::spawn(move || {
        let mut rng = Rng(seed);
        let mut burst = Burst::with_capacity(max_burst as usize);
        let mut next = 0u64;
        let mut sum = 0u64;
        let mut spin = Spin(0);
        while next < items || !burst.is_empty() {
            let want = 1 + rng.below(max_burst);
            while (burst.len() as u64) < want && next < items {
                burst.push(next).unwrap();
                sum = sum.wrapping_add(mix(next));
                next += 1;
            }
            if tx.enqueue_burst(&mut burst) == 0 {
                spin.miss();
            }
        }
        sum
    });
    let mut rng = Rng(seed ^ 0xdead_beef);
    let mut out = Burst::with_capacity(Burst::<u64>::MAX);
    let mut expect = 0u64;
    let mut sum = 0u64;
    let mut spin = Spin(0);
    while expect < items {
        let max = 1 + rng.below(max_burst) as usize;
        if rx.dequeue_burst(&mut out, max) == 0 {
            spin.miss();
            continue;
        }
        for v in out.drain() {
            assert_eq!(v, expect, "SPSC order broken");
            sum = sum.wrapping_add(mix(v));
            expect += 1;
        }
    }
    assert_eq!(producer.join().unwrap(), sum, "checksum");
    assert_eq!(rx.dequeue(), None);
    assert!(rx.is_abandoned());
}

#[test]
fn spsc_two_threads_random_bursts_exact_order() {
    spsc_transfer(1024, ITEMS, 64, 0x1234_5678);
}

#[test]
fn spsc_two_threads_tiny_ring_wraps() {
    spsc_transfer(2, ITEMS / 20, 4, 42);
    spsc_transfer(8, ITEMS / 20, 16, 7);
}

#[test]
fn spsc_items_left_in_flight_are_dropped_exactly_once() {
    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
    let drops = Arc::new(AtomicUsize::new(0));
    let (mut tx, mut rx) = spsc::<Counted>(64).unwrap();
    let made = {
        let drops = drops.clone();
        thread::spawn(move || {
            let mut made = 0;
            let mut burst = Burst::with_capacity(16);
            for _ in 0..10_000 {
                while burst.room() > 0 {
                    burst.push(Counted(drops.clone())).ok().unwrap();
                    made += 1;
                }
                tx.enqueue_burst(&mut burst);
                if tx.is_abandoned() {
                    break;
                }
            }
            made
        })
    };
    let mut out = Burst::with_capacity(16);
    for _ in 0..500 {
        rx.dequeue_burst(&mut out, 16);
        out.clear();
    }
    drop(rx);
    let made = made.join().unwrap();
    assert_eq!(drops.load(Ordering::Relaxed), made);
}

#[test]
fn mpmc_two_threads_random_bursts() {
    let ring = Arc::new(MpmcRing::<u64>::new(1024).unwrap());
    let items = ITEMS / 4;
    let producer = {
        let ring = ring.clone();
        thread::spawn(move || {
            let mut rng = Rng(99);
            let mut burst = Burst::with_capacity(64);
            let (mut next, mut sum, mut spin) = (0u64, 0u64, Spin(0));
            while next < items || !burst.is_empty() {
                let want = 1 + rng.below(64);
                while (burst.len() as u64) < want && next < items {
                    burst.push(next).unwrap();
                    sum = sum.wrapping_add(mix(next));
                    next += 1;
                }
                if ring.enqueue_burst(&mut burst) == 0 {
                    spin.miss();
                }
            }
            sum
        })
    };
    let mut rng = Rng(3);
    let mut out = Burst::with_capacity(64);
    let (mut expect, mut sum, mut spin) = (0u64, 0u64, Spin(0));
    while expect < items {
        if ring.dequeue_burst(&mut out, 1 + rng.below(64) as usize) == 0 {
            spin.miss();
            continue;
        }
        for v in out.drain() {
            assert_eq!(v, expect, "one producer, one consumer: FIFO");
            sum = sum.wrapping_add(mix(v));
            expect += 1;
        }
    }
    assert_eq!(producer.join().unwrap(), sum);
    assert!(ring.is_empty());
}

#[test]
fn mpmc_two_producers_two_consumers() {
    const PRODUCERS: u64 = 2;
    let per_producer = ITEMS / 40;
    let ring = Arc::new(MpmcRing::<u64>::new(256).unwrap());
    let consumed = Arc::new(AtomicUsize::new(0));
    let total = (per_producer * PRODUCERS) as usize;
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let ring = ring.clone();
            thread::spawn(move || {
                let mut burst = Burst::with_capacity(32);
                let (mut next, mut spin) = (0u64, Spin(0));
                while next < per_producer || !burst.is_empty() {
                    while burst.room() > 0 && next < per_producer {
                        burst.push(p << 48 | next).unwrap();
                        next += 1;
                    }
                    if ring.enqueue_burst(&mut burst) == 0 {
                        spin.miss();
                    }
                }
            })
        })
        .collect();
    let consumers: Vec<_> = (0..2)
        .map(|_| {
            let ring = ring.clone();
            let consumed = consumed.clone();
            thread::spawn(move || {
                let mut last = [None::<u64>; PRODUCERS as usize];
                let mut out = Burst::with_capacity(32);
                let (mut sum, mut spin) = (0u64, Spin(0));
                while consumed.load(Ordering::Relaxed) < total {
                    let n = ring.dequeue_burst(&mut out, 32);
                    if n == 0 {
                        spin.miss();
                        continue;
                    }
                    consumed.fetch_add(n, Ordering::Relaxed);
                    for v in out.drain() {
                        let (p, seq) = ((v >> 48) as usize, v & 0xffff_ffff_ffff);
                        assert!(last[p].is_none_or(|l| l < seq), "per-producer order");
                        last[p] = Some(seq);
                        sum = sum.wrapping_add(v);
                    }
                }
                sum
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    let sum = consumers
        .into_iter()
        .map(|c| c.join().unwrap())
        .fold(0u64, u64::wrapping_add);
    let expect = (0..PRODUCERS)
        .flat_map(|p| (0..per_producer).map(move |s| p << 48 | s))
        .fold(0u64, u64::wrapping_add);
    assert_eq!(sum, expect);
    assert!(ring.is_empty());
}
