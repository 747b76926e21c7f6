//! Switchboard's own figures across revisions, with regressions (> 10% worse than the previous
//! run's median) highlighted.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::record::Record;
use crate::report::svg::{escape, Chart, Scale, PALETTE};
use crate::table::size_label;

/// A figure this much worse than the previous run's median is a regression.
pub const REGRESSION_FRACTION: f64 = 0.10;
/// Revision labels shown on the x axis at most (older ones are thinned out).
const X_LABELS_MAX: usize = 8;

/// Which way is better for a history chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    /// Throughput.
    Higher,
    /// Latency and memory.
    Lower,
}

/// One series' points: (record index, median).
pub type Series = BTreeMap<String, Vec<(usize, f64)>>;

/// A flagged regression: which series, which revision, and the previous and new medians.
#[derive(Debug, Clone, PartialEq)]
pub struct Regression {
    /// Chart the series is on.
    pub chart: String,
    /// Series name.
    pub series: String,
    /// Revision where it got worse.
    pub revision: String,
    /// Previous run's median.
    pub previous: f64,
    /// This run's median.
    pub current: f64,
}

/// Whether `current` is a regression against `previous`.
pub fn is_regression(previous: f64, current: f64, better: Better) -> bool {
    match better {
        Better::Higher => current < previous * (1.0 - REGRESSION_FRACTION),
        Better::Lower => current > previous * (1.0 + REGRESSION_FRACTION),
    }
}

/// Switchboard's throughput series: one per (connections, size).
pub fn throughput_series(history: &[Record]) -> Series {
    let mut series = Series::new();
    for (index, record) in history.iter().enumerate() {
        for cell in record
            .results
            .throughput
            .iter()
            .filter(|c| c.by_own_client() && c.server == "switchboard")
        {
            let key = format!(
                "{} conns × {}",
                cell.connections,
                size_label(cell.message_bytes)
            );
            series
                .entry(key)
                .or_default()
                .push((index, cell.messages_per_s.median));
        }
    }
    series
}

/// Switchboard's p99 latency series: one per load level.
pub fn latency_series(history: &[Record]) -> Series {
    let mut series = Series::new();
    for (index, record) in history.iter().enumerate() {
        for cell in record
            .results
            .latency
            .iter()
            .filter(|c| c.server == "switchboard")
        {
            let key = format!("p99 at {:.0}% of peak", cell.load_fraction * 100.0);
            series
                .entry(key)
                .or_default()
                .push((index, cell.median_us.p99));
        }
    }
    series
}

/// Switchboard's memory series: one per idle connection count, of the peak figure (the steady one is newer
/// than most records, so the series stays comparable over the whole history).
pub fn memory_series(history: &[Record]) -> Series {
    let mut series = Series::new();
    for (index, record) in history.iter().enumerate() {
        for cell in record
            .results
            .memory
            .iter()
            .filter(|c| c.server == "switchboard")
        {
            let key = format!("{} idle conns", cell.connections);
            series
                .entry(key)
                .or_default()
                .push((index, cell.bytes_per_connection.median));
        }
    }
    series
}

/// What a history chart shows.
pub struct HistoryChart<'a> {
    /// `data-chart` name.
    pub name: &'a str,
    /// Title.
    pub title: &'a str,
    /// Y axis title with unit.
    pub y_title: &'a str,
    /// Which way is better.
    pub better: Better,
    /// Log-scale y axis.
    pub log: bool,
}

/// Draws one history chart and collects its regressions.
pub fn chart(
    spec: &HistoryChart<'_>,
    history: &[Record],
    series: &Series,
    regressions: &mut Vec<Regression>,
) -> String {
    let mut chart = Chart::new(spec.name, spec.title);
    let values: Vec<f64> = series
        .values()
        .flatten()
        .map(|(_, v)| *v)
        .filter(|v| *v > 0.0)
        .collect();
    let high = values.iter().copied().fold(0.0, f64::max);
    let low = values.iter().copied().fold(f64::INFINITY, f64::min);
    let scale = match (spec.log, values.is_empty()) {
        (true, false) => Scale::log_decades(low, high),
        (true, true) => Scale::log_decades(10.0, 10_000.0),
        (false, _) => Scale::linear_from_zero(high.max(1.0)),
    };
    chart.y_axis(&scale, spec.y_title);
    let span = history.len().saturating_sub(1).max(1) as f64;
    let x_of = |index: usize| {
        if history.len() <= 1 {
            0.5
        } else {
            index as f64 / span
        }
    };
    let mut legend = Vec::new();
    for (series_index, (name, points)) in series.iter().enumerate() {
        let colour = PALETTE[series_index % PALETTE.len()];
        legend.push((name.clone(), colour.to_owned(), false));
        let mut line = String::new();
        let mut markers = String::new();
        for (position, &(index, value)) in points.iter().enumerate() {
            let (x, y) = (chart.x_px(x_of(index)), chart.y_px(scale.fraction(value)));
            let _ = write!(line, "{x:.1},{y:.1} ");
            let previous = position.checked_sub(1).map(|p| points[p].1);
            let regressed = previous.is_some_and(|p| is_regression(p, value, spec.better));
            if let (true, Some(previous)) = (regressed, previous) {
                regressions.push(Regression {
                    chart: spec.title.to_owned(),
                    series: name.clone(),
                    revision: history[index].git_revision.clone(),
                    previous,
                    current: value,
                });
            }
            let (class, fill, radius) = if regressed {
                ("point regression", "#d00", 6.5)
            } else {
                ("point", colour, 3.5)
            };
            let _ = write!(
                markers,
                "<circle class=\"{class}\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{radius}\" fill=\"{fill}\" stroke=\"#fff\">\
                 <title>{} @ {}: {value:.0}</title></circle>",
                escape(name),
                escape(&history[index].git_revision)
            );
        }
        chart.push(&format!(
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>{markers}",
            line.trim_end()
        ));
    }
    if !series.is_empty() {
        legend.push(("regression >10%".to_owned(), "#d00".to_owned(), false));
    } else {
        chart.note("no Switchboard figures in the history yet");
    }
    let step = history.len().div_ceil(X_LABELS_MAX).max(1);
    let ticks: Vec<_> = (0..history.len())
        .filter(|i| i % step == 0 || *i + 1 == history.len())
        .map(|i| (x_of(i), history[i].git_revision.chars().take(16).collect()))
        .collect();
    chart.x_axis(&ticks, "revision (oldest → newest run)");
    chart.legend(&legend);
    chart.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regression_threshold() {
        assert!(is_regression(100.0, 89.0, Better::Higher));
        assert!(!is_regression(100.0, 91.0, Better::Higher));
        assert!(is_regression(100.0, 111.0, Better::Lower));
        assert!(!is_regression(100.0, 109.0, Better::Lower));
    }
}
