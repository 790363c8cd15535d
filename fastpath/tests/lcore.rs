//! The lcore runtime end to end: start/stop, pinning and lcore ids, weights, starvation,
//! runtime add/remove, counters, idle back-off, panics and control timeouts.
//!
//! The tests share one lock so that only one busy lcore runs at a time, pinned to the
//! last CPU this process may use: on a 2-core machine that leaves a core for the test
//! thread and never puts two busy loops on one core.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use vpmd_fastpath::lcore::{FnTask, SchedError, TaskList, DEFAULT_WEIGHT};
use vpmd_fastpath::ring::spsc;
use vpmd_fastpath::{IdlePolicy, Lcore, LcoreConfig, LcoreError, PollTask};
use vpmd_mempool::{Burst, LcoreGuard};

fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn test_cpu() -> usize {
    core_affinity::get_core_ids().unwrap().last().unwrap().id
}

/// A task that always has work and counts what it did.
fn busy(name: &str, count: &Arc<AtomicU64>) -> Box<dyn PollTask> {
    let count = count.clone();
    FnTask::boxed(name, move |budget| {
        count.fetch_add(u64::from(budget), Ordering::Relaxed);
        budget
    })
}

/// Polls `cond` every millisecond until it holds or `limit` passes.
fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let t = Instant::now();
    while t.elapsed() < limit {
        if cond() {
            return true;
        }
        thread::sleep(Duration::from_millis(1));
    }
    cond()
}

fn names(tasks: &TaskList) -> Vec<(&str, u32)> {
    tasks.iter().map(|(t, w)| (t.name(), *w)).collect()
}

#[test]
fn start_pin_claim_stop_returns_the_tasks() {
    let _s = serial();
    let cpu = test_cpu();
    let seen = Arc::new(Mutex::new(None));
    let probe = {
        let seen = seen.clone();
        FnTask::boxed("probe", move |_| {
            let mut s = seen.lock().unwrap();
            if s.is_none() {
                let cpus: Vec<usize> = core_affinity::get_core_ids()
                    .unwrap()
                    .iter()
                    .map(|c| c.id)
                    .collect();
                *s = Some((
                    thread::current().name().map(str::to_owned),
                    vpmd_mempool::lcore::current(),
                    cpus,
                ));
            }
            0
        })
    };
    let count = Arc::new(AtomicU64::new(0));
    let h = Lcore::spawn(
        LcoreConfig::new(cpu, 11),
        vec![(probe, 8), (busy("rx0", &count), DEFAULT_WEIGHT)],
    )
    .unwrap();
    assert_eq!(
        (h.lcore_id(), h.cpu(), h.name()),
        (11, cpu, "vpmd-lcore-11")
    );
    assert!(h.is_running());
    assert!(eventually(Duration::from_secs(2), || count
        .load(Ordering::Relaxed)
        > 0));
    let tasks = h.stop().unwrap();
    assert_eq!(names(&tasks), [("probe", 8), ("rx0", 64)]);
    let (name, lcore, cpus) = seen.lock().unwrap().clone().unwrap();
    assert_eq!(name.as_deref(), Some("vpmd-lcore-11"));
    assert_eq!(lcore, Some(11), "the thread claimed its lcore id");
    assert_eq!(cpus, [cpu], "the thread is pinned");
    // The id was released when the lcore stopped.
    drop(LcoreGuard::claim(11).unwrap());
}

#[test]
fn weights_split_a_core_4_to_1() {
    let _s = serial();
    let (a, b) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let h = Lcore::spawn(
        LcoreConfig::new(test_cpu(), 12),
        vec![(busy("a", &a), 64), (busy("b", &b), 16)],
    )
    .unwrap();
    thread::sleep(Duration::from_millis(100));
    h.stop().unwrap();
    let (a, b) = (a.load(Ordering::Relaxed), b.load(Ordering::Relaxed));
    let ratio = a as f64 / b as f64;
    assert!(
        b > 0 && (3.8..=4.2).contains(&ratio),
        "a {a}, b {b}, ratio {ratio}"
    );
}

#[test]
fn a_busy_task_does_not_starve_a_light_one() {
    let _s = serial();
    const ITEMS: u64 = 20_000;
    let hog = Arc::new(AtomicU64::new(0));
    let (mut tx, mut rx) = spsc::<u64>(256).unwrap();
    let drained = Arc::new(AtomicU64::new(0));
    let light = {
        let drained = drained.clone();
        let mut out = Burst::with_capacity(32);
        FnTask::boxed("light", move |budget| {
            let n = rx.dequeue_burst(&mut out, budget as usize);
            out.clear();
            drained.fetch_add(n as u64, Ordering::Relaxed);
            n as u32
        })
    };
    let h = Lcore::spawn(
        LcoreConfig::new(test_cpu(), 13),
        vec![(busy("hog", &hog), DEFAULT_WEIGHT), (light, 32)],
    )
    .unwrap();
    let t = Instant::now();
    let mut burst = Burst::with_capacity(32);
    let mut next = 0;
    while next < ITEMS || !burst.is_empty() {
        while burst.room() > 0 && next < ITEMS {
            burst.push(next).unwrap();
            next += 1;
        }
        if tx.enqueue_burst(&mut burst) == 0 {
            thread::yield_now();
        }
        assert!(t.elapsed() < Duration::from_secs(5), "light task starved");
    }
    assert!(eventually(Duration::from_secs(2), || drained
        .load(Ordering::Relaxed)
        == ITEMS));
    h.stop().unwrap();
    assert!(hog.load(Ordering::Relaxed) > ITEMS, "the hog ran too");
}

#[test]
fn add_and_remove_tasks_at_runtime() {
    let _s = serial();
    let (a, b) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let h = Lcore::spawn(LcoreConfig::new(test_cpu(), 14), vec![(busy("a", &a), 32)]).unwrap();

    h.add_task(busy("b", &b), 8).unwrap();
    assert!(eventually(Duration::from_secs(2), || b
        .load(Ordering::Relaxed)
        > 0));

    let removed = h.remove_task("b").unwrap().expect("b was running");
    assert_eq!(removed.name(), "b");
    // Quiesced: once remove_task returned, "b" is never polled again.
    let frozen = b.load(Ordering::Relaxed);
    let a_before = a.load(Ordering::Relaxed);
    assert!(eventually(Duration::from_secs(2), || a
        .load(Ordering::Relaxed)
        > a_before + 1000));
    assert_eq!(b.load(Ordering::Relaxed), frozen);

    assert!(h.remove_task("nope").unwrap().is_none());
    match h.add_task(busy("a", &b), 8) {
        Err(LcoreError::Task {
            lcore: 14,
            source: SchedError::DuplicateName { task },
        }) => assert_eq!(task, "a"),
        other => panic!("duplicate accepted: {other:?}"),
    }
    assert!(matches!(
        h.add_task(busy("c", &b), 0),
        Err(LcoreError::Task {
            source: SchedError::ZeroWeight { .. },
            ..
        })
    ));
    h.add_task(removed, 4).unwrap();
    let tasks = h.stop().unwrap();
    assert_eq!(names(&tasks), [("a", 32), ("b", 4)]);
}

#[test]
fn counters_move_and_helpers_agree() {
    let _s = serial();
    let mut flip = false;
    let every_other = FnTask::boxed("flip", move |budget| {
        flip = !flip;
        if flip {
            budget.min(10)
        } else {
            0
        }
    });
    let h = Lcore::spawn(LcoreConfig::new(test_cpu(), 15), vec![(every_other, 64)]).unwrap();
    let first = h.stats();
    thread::sleep(Duration::from_millis(50));
    let s = h.stats();
    assert_eq!(s.lcore_id, 15);
    assert!(
        s.iterations > first.iterations && s.iterations > 100,
        "{s:?}"
    );
    assert!(
        s.busy_cycles > 0 && s.idle_cycles > 0 && s.packets > 0,
        "{s:?}"
    );
    let busy = s.busy_percent();
    assert!(busy > 0.0 && busy < 100.0, "{busy}");
    assert!(s.cycles_per_packet().unwrap() > 0.0);
    let d = s.since(&first);
    assert!(d.iterations > 0 && d.packets > 0);
    h.stop().unwrap();
}

#[test]
fn backoff_idles_and_wakes_for_control_and_stop() {
    let _s = serial();
    let policy = IdlePolicy::Backoff {
        pause_spins: 100,
        max_sleep_us: 200_000,
    };
    let h = Lcore::spawn(
        LcoreConfig::new(test_cpu(), 16).with_idle(policy),
        vec![(FnTask::boxed("empty", |_| 0), 64)],
    )
    .unwrap();
    thread::sleep(Duration::from_millis(100));
    let s = h.stats();
    assert_eq!((s.busy_cycles, s.packets), (0, 0));
    assert!(s.idle_cycles > 0);
    // 100 ms of busy polling would be millions of rounds; back-off keeps it small.
    assert!(s.iterations < 10_000, "{s:?}");
    // The lcore now sleeps up to 200 ms at a time; control calls and stop unpark it.
    let t = Instant::now();
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    h.add_task(
        FnTask::boxed("once", move |_| {
            r.store(true, Ordering::Relaxed);
            0
        }),
        1,
    )
    .unwrap();
    assert!(
        t.elapsed() < Duration::from_millis(100),
        "{:?}",
        t.elapsed()
    );
    assert!(eventually(Duration::from_secs(1), || ran.load(Ordering::Relaxed)));
    thread::sleep(Duration::from_millis(30));
    let t = Instant::now();
    h.stop().unwrap();
    assert!(
        t.elapsed() < Duration::from_millis(100),
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn a_panicking_task_is_reported_not_hung() {
    let _s = serial();
    let mut polls = 0;
    let bomb = FnTask::boxed("bomb", move |_| {
        polls += 1;
        if polls == 1000 {
            panic!("boom at poll {polls}");
        }
        1
    });
    let ok = Arc::new(AtomicU64::new(0));
    let h = Lcore::spawn(
        LcoreConfig::new(test_cpu(), 17),
        vec![(busy("fine", &ok), 8), (bomb, 8)],
    )
    .unwrap();
    assert!(eventually(Duration::from_secs(2), || !h.is_running()));
    assert!(matches!(
        h.add_task(busy("late", &ok), 8),
        Err(LcoreError::NotRunning { lcore: 17 })
    ));
    let err = h.stop().unwrap_err();
    match &err {
        LcoreError::Panicked {
            lcore: 17,
            task: Some(task),
            message,
        } => {
            assert_eq!(task, "bomb");
            assert!(message.contains("boom at poll 1000"), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("lcore 17") && text.contains("\"bomb\""),
        "{text}"
    );
    // The lcore id was released by the unwinding thread.
    drop(LcoreGuard::claim(17).unwrap());
}

#[test]
fn spawn_reports_claim_and_pin_failures() {
    let _s = serial();
    // This test thread holds lcore id 18, so the lcore cannot claim it.
    let held = LcoreGuard::claim(18).unwrap();
    match Lcore::spawn(LcoreConfig::new(test_cpu(), 18), Vec::new()) {
        Err(e @ LcoreError::Claim { lcore: 18, .. }) => {
            assert!(e.to_string().contains("already in use"), "{e}")
        }
        other => panic!("unexpected {other:?}"),
    }
    drop(held);
    assert!(matches!(
        Lcore::spawn(LcoreConfig::new(test_cpu(), 100_000), Vec::new()),
        Err(LcoreError::Claim { lcore: 100_000, .. })
    ));
    assert!(matches!(
        Lcore::spawn(LcoreConfig::new(100_000, 19), Vec::new()),
        Err(LcoreError::Pin {
            lcore: 19,
            cpu: 100_000
        })
    ));
    // Inside `cpu_set_t` but (on any test machine) not a CPU: the kernel refuses it.
    assert!(matches!(
        Lcore::spawn(LcoreConfig::new(1000, 19), Vec::new()),
        Err(LcoreError::Pin {
            lcore: 19,
            cpu: 1000
        })
    ));
    let mut nul = LcoreConfig::new(test_cpu(), 19);
    nul.name = "bad\0name".into();
    assert!(matches!(
        Lcore::spawn(nul, Vec::new()),
        Err(LcoreError::Spawn { lcore: 19, .. })
    ));
    let c = Arc::new(AtomicU64::new(0));
    assert!(matches!(
        Lcore::spawn(
            LcoreConfig::new(test_cpu(), 19),
            vec![(busy("x", &c), 1), (busy("x", &c), 1)]
        ),
        Err(LcoreError::Task {
            source: SchedError::DuplicateName { .. },
            ..
        })
    ));
}

#[test]
fn dropping_the_handle_stops_the_lcore() {
    let _s = serial();
    let c = Arc::new(AtomicU64::new(0));
    let h = Lcore::spawn(LcoreConfig::new(test_cpu(), 20), vec![(busy("x", &c), 1)]).unwrap();
    assert!(eventually(Duration::from_secs(2), || c
        .load(Ordering::Relaxed)
        > 0));
    drop(h);
    let frozen = c.load(Ordering::Relaxed);
    thread::sleep(Duration::from_millis(10));
    assert_eq!(c.load(Ordering::Relaxed), frozen);
    drop(LcoreGuard::claim(20).unwrap());
}

#[test]
fn a_control_call_times_out_but_still_takes_effect() {
    let _s = serial();
    /// Lets the slow task go even if an assertion below fails, so the handle's Drop
    /// (which joins the lcore) cannot hang the test.
    struct Release(Arc<AtomicBool>);
    impl Drop for Release {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let release = Release(Arc::new(AtomicBool::new(false)));
    let entered = Arc::new(AtomicBool::new(false));
    let slow = {
        let (release, entered) = (release.0.clone(), entered.clone());
        // Breaks the "never block" contract on purpose to hold the lcore in a round.
        FnTask::boxed("slow", move |_| {
            entered.store(true, Ordering::Relaxed);
            while !release.load(Ordering::Relaxed) {
                thread::sleep(Duration::from_millis(1));
            }
            0
        })
    };
    let mut h = Lcore::spawn(LcoreConfig::new(test_cpu(), 21), vec![(slow, 1)]).unwrap();
    assert!(eventually(Duration::from_secs(2), || entered.load(Ordering::Relaxed)));
    h.set_ctl_timeout(Duration::from_millis(20));
    let c = Arc::new(AtomicU64::new(0));
    let t = Instant::now();
    match h.add_task(busy("late", &c), 2) {
        Err(LcoreError::CtlTimeout { lcore: 21, .. }) => {}
        other => panic!("unexpected {other:?}"),
    }
    assert!(t.elapsed() < Duration::from_millis(500));
    drop(release);
    assert!(eventually(Duration::from_secs(2), || c
        .load(Ordering::Relaxed)
        > 0));
    let tasks = h.stop().unwrap();
    assert_eq!(names(&tasks), [("slow", 1), ("late", 2)]);
}
