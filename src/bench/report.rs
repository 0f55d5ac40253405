//! What `floe bench` prints and writes: percentile summaries, the table, the
//! HdrHistogram percentile-distribution text (`.hgrm`), and an SVG of the
//! latency-by-percentile curves.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::Path;

use hdrhistogram::Histogram;
use serde::Serialize;

/// One histogram's summary, ns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Stats {
    /// Values recorded.
    pub count: u64,
    /// Smallest.
    pub min: u64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p99_9: u64,
    /// 99.99th percentile.
    pub p99_99: u64,
    /// Largest.
    pub max: u64,
    /// Mean.
    pub mean: f64,
}

impl Stats {
    /// The summary of `h`.
    pub fn of(h: &Histogram<u64>) -> Stats {
        if h.is_empty() {
            return Stats::default();
        }
        Stats {
            count: h.len(),
            min: h.min(),
            p50: h.value_at_quantile(0.5),
            p90: h.value_at_quantile(0.9),
            p99: h.value_at_quantile(0.99),
            p99_9: h.value_at_quantile(0.999),
            p99_99: h.value_at_quantile(0.9999),
            max: h.max(),
            mean: h.mean(),
        }
    }
}

/// The column header of [`row`].
pub fn header() -> String {
    format!(
        "{:<34} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9}",
        "ns", "count", "p50", "p90", "p99", "p99.9", "p99.99", "max"
    )
}

/// One table row.
pub fn row(label: &str, s: &Stats) -> String {
    format!(
        "{:<34} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9}",
        label, s.count, s.p50, s.p90, s.p99, s.p99_9, s.p99_99, s.max
    )
}

/// Writes `h` as HdrHistogram's percentile-distribution text (the format
/// of `HistogramLogProcessor` / `outputPercentileDistribution`, 5 ticks per
/// half distance), values divided by `scale` (1000: µs).
pub fn write_hgrm<W: Write>(h: &Histogram<u64>, scale: f64, out: &mut W) -> io::Result<()> {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    let mut total = 0u64;
    if !h.is_empty() {
        for v in h.iter_quantiles(5) {
            total += v.count_since_last_iteration();
            let q = v.quantile_iterated_to();
            let value = h.highest_equivalent(v.value_iterated_to()) as f64 / scale;
            if q < 1.0 {
                let _ = writeln!(
                    s,
                    "{value:12.3} {q:2.12} {total:10} {:14.2}",
                    1.0 / (1.0 - q)
                );
            } else {
                let _ = writeln!(s, "{value:12.3} {q:2.12} {total:10}");
            }
        }
    }
    let (mean, sd, max) = if h.is_empty() {
        (0.0, 0.0, 0.0)
    } else {
        (
            h.mean() / scale,
            h.stdev() / scale,
            h.highest_equivalent(h.max()) as f64 / scale,
        )
    };
    let sub_buckets = (2.0 * 10f64.powi(i32::from(h.sigfig())))
        .log2()
        .ceil()
        .exp2() as u64;
    let _ = writeln!(s, "#[Mean    = {mean:12.3}, StdDeviation   = {sd:12.3}]");
    let _ = writeln!(
        s,
        "#[Max     = {max:12.3}, Total count    = {:12}]",
        h.len()
    );
    let _ = writeln!(
        s,
        "#[Buckets = {:12}, SubBuckets     = {sub_buckets:12}]",
        h.buckets()
    );
    out.write_all(s.as_bytes())
}

/// One curve of the plot.
pub struct Series<'a> {
    /// Legend text.
    pub label: String,
    /// The histogram, ns.
    pub hist: &'a Histogram<u64>,
}

/// How far right the curves go: 1 − 10⁻⁵ (99.999 %).
const NINES: f64 = 5.0;

/// Draws the latency-by-percentile curves of `series` into an SVG file: x is
/// the percentile on the usual log scale (`-log10(1 - p)`: 0 %, 90 %, 99 %,
/// 99.9 %, …), y the latency in µs.
pub fn plot_svg(path: &Path, title: &str, series: &[Series<'_>]) -> Result<(), String> {
    use plotters::prelude::*;
    let curves: Vec<(String, Vec<(f64, f64)>)> = series
        .iter()
        .filter(|s| !s.hist.is_empty())
        .map(|s| {
            let pts = (0..=(NINES as u32 * 50))
                .map(|i| {
                    let x = f64::from(i) / 50.0;
                    let q = 1.0 - 10f64.powf(-x);
                    (x, s.hist.value_at_quantile(q) as f64 / 1000.0)
                })
                .collect();
            (s.label.clone(), pts)
        })
        .collect();
    let ys = || curves.iter().flat_map(|(_, p)| p.iter().map(|&(_, y)| y));
    let y_max = ys().fold(0.0f64, f64::max).max(0.01) * 1.5;
    let y_min = ys().fold(f64::MAX, f64::min).clamp(0.001, y_max / 10.0) * 0.7;
    let root = SVGBackend::new(path, (900, 540)).into_drawing_area();
    let e = |e: &dyn std::fmt::Display| format!("plot {}: {e}", path.display());
    root.fill(&WHITE).map_err(|x| e(&x))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..NINES, (y_min..y_max).log_scale())
        .map_err(|x| e(&x))?;
    chart
        .configure_mesh()
        .x_labels(NINES as usize + 1)
        .x_label_formatter(&|x| {
            let p = 100.0 * (1.0 - 10f64.powf(-x));
            let digits = (x.round() as usize).saturating_sub(2);
            format!("{p:.digits$}%")
        })
        .x_desc("percentile")
        .y_desc("tick-to-trade, µs (log)")
        .y_label_formatter(&|y| format!("{y:.3}"))
        .draw()
        .map_err(|x| e(&x))?;
    let colors = [RED, BLUE, GREEN, MAGENTA, CYAN, BLACK];
    for (i, (label, pts)) in curves.into_iter().enumerate() {
        let c = colors[i % colors.len()];
        chart
            .draw_series(LineSeries::new(pts, c.stroke_width(2)))
            .map_err(|x| e(&x))?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .draw()
        .map_err(|x| e(&x))?;
    root.present().map_err(|x| e(&x))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hgrm_text_has_the_standard_layout() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 3).unwrap();
        for v in 1..=10_000u64 {
            h.record(v * 100).unwrap();
        }
        let mut out = Vec::new();
        write_hgrm(&h, 1000.0, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let mut lines = text.lines();
        assert_eq!(
            lines.next().unwrap().split_whitespace().collect::<Vec<_>>(),
            ["Value", "Percentile", "TotalCount", "1/(1-Percentile)"]
        );
        let rows: Vec<Vec<f64>> = text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.contains("Value"))
            .map(|l| l.split_whitespace().map(|c| c.parse().unwrap()).collect())
            .collect();
        // Percentiles and counts grow; the last row is 100 % with every value.
        assert!(rows
            .windows(2)
            .all(|w| w[0][1] <= w[1][1] && w[0][2] <= w[1][2]));
        let last = rows.last().unwrap();
        assert_eq!((last[1], last[2]), (1.0, 10_000.0));
        assert!(
            (last[0] - 1000.0).abs() < 1.0,
            "max 1 ms in µs: {}",
            last[0]
        );
        assert!(text.contains("#[Max     ="));
        assert!(text.contains("Total count    =        10000]"));
    }

    #[test]
    fn stats_of_a_uniform_histogram() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 3).unwrap();
        for v in 1..=1000u64 {
            h.record(v).unwrap();
        }
        let s = Stats::of(&h);
        assert_eq!(
            (s.count, s.min, s.p50, s.p99, s.max),
            (1000, 1, 500, 990, 1000)
        );
    }
}
