//! The measuring discipline of PERF-NOTES: ours and the anchor alternate (A B A B ...)
//! in the same run, on the same pinned cores, and medians are compared, because single
//! runs on these machines lie.

use std::time::{Duration, Instant};

/// The median of `v` (the mean of the middle two for an even count).
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

/// Runs `ours` and `anchor` alternately `pairs` times; returns both sample lists.
pub fn alternate(
    pairs: usize,
    mut ours: impl FnMut() -> anyhow::Result<f64>,
    mut anchor: impl FnMut() -> anyhow::Result<f64>,
) -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
    let mut s = rotate(pairs, &["ours", "anchor"], "pair", |k| match k {
        0 => ours(),
        _ => anchor(),
    })?;
    let b = s.pop().unwrap_or_default();
    let a = s.pop().unwrap_or_default();
    Ok((a, b))
}

/// Runs contender `k` of `names` as `run(k)` in turn (A B C A B C ...), `rounds` times;
/// returns each contender's samples in run order. `unit` names a round in the progress
/// lines (`pair` for two contenders).
pub fn rotate(
    rounds: usize,
    names: &[&str],
    unit: &str,
    mut run: impl FnMut(usize) -> anyhow::Result<f64>,
) -> anyhow::Result<Vec<Vec<f64>>> {
    let mut samples = vec![Vec::with_capacity(rounds); names.len()];
    for i in 0..rounds {
        for (k, s) in samples.iter_mut().enumerate() {
            s.push(run(k)?);
        }
        let line: Vec<String> = names
            .iter()
            .zip(&samples)
            .map(|(n, s)| format!("{n} {:.3}", s[i]))
            .collect();
        eprintln!("  {unit} {}/{rounds}: {}", i + 1, line.join(", "));
    }
    Ok(samples)
}

/// Repeats `f` (which does `items` units of work per call) for at least `dur`; returns
/// nanoseconds per unit.
pub fn ns_per_item(dur: Duration, items: u64, mut f: impl FnMut()) -> f64 {
    // Warm up caches and the pool's per-lcore cache.
    for _ in 0..1000 {
        f();
    }
    let start = Instant::now();
    let mut calls = 0u64;
    while start.elapsed() < dur {
        for _ in 0..256 {
            f();
        }
        calls += 256;
    }
    start.elapsed().as_nanos() as f64 / (calls * items) as f64
}

/// Pins the calling thread to `cpu`, or says why it could not.
pub fn pin(cpu: usize) -> anyhow::Result<()> {
    let id = core_affinity::get_core_ids()
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.id == cpu)
        .ok_or_else(|| anyhow::anyhow!("cpu {cpu} is not online"))?;
    anyhow::ensure!(
        core_affinity::set_for_current(id),
        "pinning to cpu {cpu} failed"
    );
    Ok(())
}

/// Runs `producer` pinned to CPU 0 and `consumer` pinned to CPU 1 at once; returns the
/// wall time from start until both are done, in nanoseconds.
pub fn on_two_cores(
    producer: impl FnOnce() -> anyhow::Result<()> + Send + 'static,
    consumer: impl FnOnce() -> anyhow::Result<()> + Send + 'static,
) -> anyhow::Result<f64> {
    let start = Instant::now();
    let p = std::thread::spawn(move || pin(0).and_then(|()| producer()));
    let c = std::thread::spawn(move || pin(1).and_then(|()| consumer()));
    p.join()
        .map_err(|_| anyhow::anyhow!("producer panicked"))??;
    c.join()
        .map_err(|_| anyhow::anyhow!("consumer panicked"))??;
    Ok(start.elapsed().as_nanos() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contenders_take_turns_and_keep_their_samples() {
        let mut order = Vec::new();
        let s = rotate(2, &["a", "b", "c"], "round", |k| {
            order.push(k);
            Ok((order.len() * 10 + k) as f64)
        })
        .unwrap();
        assert_eq!(order, [0, 1, 2, 0, 1, 2]);
        assert_eq!(s, [vec![10.0, 40.0], vec![21.0, 51.0], vec![32.0, 62.0]]);
        let mut n = 0.0;
        let (a, b) = alternate(
            2,
            || {
                n += 1.0;
                Ok(n)
            },
            || Ok(-1.0),
        )
        .unwrap();
        assert_eq!((a, b), (vec![1.0, 2.0], vec![-1.0, -1.0]));
        assert!(rotate(3, &["a"], "round", |_| anyhow::bail!("no")).is_err());
    }
}
