//! How every benchmark reports: a human-readable block, then as its last line
//! `RESULT <name> ours=<v> anchor=<v> unit=<u> ratio=<r>` (ratio > 1 is better), and the
//! same figures as JSON with `--json FILE`.

use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

/// Whether a bigger or a smaller figure is better (decides how the ratio is formed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    /// Throughput-like: ratio = ours / anchor.
    Higher,
    /// Cost-like: ratio = anchor / ours.
    Lower,
}

/// One compared figure.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    /// The benchmark's name.
    pub name: String,
    /// vpmd's median.
    pub ours: f64,
    /// The anchor's median, measured in the same run.
    pub anchor: f64,
    /// Unit of both.
    pub unit: String,
    /// Which direction is better.
    pub better: Better,
    /// What the anchor is.
    pub anchor_name: String,
    /// Every sample of ours, in run order.
    pub ours_samples: Vec<f64>,
    /// Every sample of the anchor, in run order.
    pub anchor_samples: Vec<f64>,
}

impl Figure {
    /// A figure from alternated samples; `ours` and `anchor` are their medians.
    pub fn compare(
        name: impl Into<String>,
        unit: &str,
        better: Better,
        anchor_name: &str,
        ours_samples: Vec<f64>,
        anchor_samples: Vec<f64>,
    ) -> Self {
        Self {
            name: name.into(),
            ours: crate::harness::median(&ours_samples),
            anchor: crate::harness::median(&anchor_samples),
            unit: unit.into(),
            better,
            anchor_name: anchor_name.into(),
            ours_samples,
            anchor_samples,
        }
    }

    /// `ours/anchor` or `anchor/ours`, so that > 1 means vpmd is better.
    pub fn ratio(&self) -> f64 {
        match self.better {
            Better::Higher => self.ours / self.anchor,
            Better::Lower => self.anchor / self.ours,
        }
    }

    /// The `RESULT` line.
    pub fn result_line(&self) -> String {
        format!(
            "RESULT {} ours={:.3} anchor={:.3} unit={} ratio={:.2}",
            self.name,
            self.ours,
            self.anchor,
            self.unit,
            self.ratio()
        )
    }
}

/// Prints the figures (the last one's `RESULT` line last) and writes JSON if asked.
pub fn finish(figures: &[Figure], json: Option<&Path>) -> Result<()> {
    for f in figures {
        println!(
            "{:<28} ours {:>10.3} {:<8} anchor ({}) {:>10.3}   ratio {:.2}  (samples: ours {:?}, anchor {:?})",
            f.name,
            f.ours,
            f.unit,
            f.anchor_name,
            f.anchor,
            f.ratio(),
            round(&f.ours_samples),
            round(&f.anchor_samples)
        );
    }
    for f in figures {
        println!("{}", f.result_line());
    }
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(figures)?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn round(v: &[f64]) -> Vec<f64> {
    v.iter().map(|x| (x * 100.0).round() / 100.0).collect()
}
