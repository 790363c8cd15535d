//! PNG line plots of benchmark results (plotters, bitmap backend, DejaVu Sans from
//! Debian's fonts-dejavu-core, which `setup.sh` installs).

use std::path::Path;

use anyhow::{anyhow, Context, Result};
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;

const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

/// Line colours (Tableau 10: distinct on white, unlike Palette99's yellows).
const COLORS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// One line: a label and (x, y) points.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend text.
    pub label: String,
    /// Points in x order.
    pub points: Vec<(f64, f64)>,
}

fn register_font() -> Result<()> {
    static DONE: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    DONE.get_or_init(|| {
        let bytes = std::fs::read(FONT).map_err(|e| format!("{FONT}: {e} (run ./setup.sh)"))?;
        plotters::style::register_font("sans-serif", FontStyle::Normal, Box::leak(bytes.into()))
            .map_err(|_| format!("{FONT}: not a usable font"))
    })
    .clone()
    .map_err(|e| anyhow!(e))
}

/// How the y axis is scaled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YScale {
    /// From 0 to a little above the largest value.
    Linear,
    /// Logarithmic, around the values (for latency tails).
    Log,
}

/// Draws `series` on a logarithmic x axis, the y axis scaled as `y`, into a PNG at `path`.
pub fn lines(
    path: &Path,
    title: &str,
    (xlabel, ylabel): (&str, &str),
    y: YScale,
    series: &[Series],
) -> Result<()> {
    register_font()?;
    let pts = series.iter().flat_map(|s| s.points.iter());
    let ymax = pts.clone().map(|p| p.1).fold(0.0, f64::max) * 1.1;
    let ymin = pts
        .map(|p| p.1)
        .filter(|&v| v > 0.0)
        .fold(f64::MAX, f64::min);
    let labels = (title, xlabel, ylabel);
    match y {
        YScale::Linear => draw(path, labels, series, 0f64..ymax.max(1e-9)),
        YScale::Log => draw(
            path,
            labels,
            series,
            (ymin.min(ymax) * 0.8..ymax.max(1e-9)).log_scale(),
        ),
    }
    .map_err(|e| anyhow!("{e}"))
    .with_context(|| format!("drawing {}", path.display()))
}

fn draw<Y>(
    path: &Path,
    (title, xlabel, ylabel): (&str, &str, &str),
    series: &[Series],
    y: Y,
) -> Result<(), Box<dyn std::error::Error>>
where
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let root = BitMapBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let xmax = series
        .iter()
        .flat_map(|s| s.points.iter())
        .map(|p| p.0)
        .fold(1.0, f64::max);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d((1f64..xmax).log_scale(), y)?;
    chart
        .configure_mesh()
        .x_desc(xlabel)
        .y_desc(ylabel)
        .label_style(("sans-serif", 14))
        .draw()?;
    for (i, s) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()].to_rgba();
        chart
            .draw_series(LineSeries::new(s.points.clone(), color.stroke_width(2)))?
            .label(s.label.clone())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], color.stroke_width(2)));
        chart.draw_series(s.points.iter().map(|&p| Circle::new(p, 4, color.filled())))?;
    }
    // The legend goes in the upper corner the curves leave free: left if they rise.
    let rising = series
        .first()
        .and_then(|s| Some(s.points.first()?.1 < s.points.last()?.1))
        .unwrap_or(false);
    chart
        .configure_series_labels()
        .position(if rising {
            SeriesLabelPosition::UpperLeft
        } else {
            SeriesLabelPosition::UpperRight
        })
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()?;
    root.present()?;
    Ok(())
}
