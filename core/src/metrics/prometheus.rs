//! A small writer for the Prometheus text exposition format (version 0.0.4).
//!
//! Each metric family is introduced once with [`PrometheusText::family`] (`# HELP` and `# TYPE`),
//! followed by one sample per label set, e.g. one per shard. Histograms are recorded in
//! microseconds and exposed in seconds, as Prometheus convention asks, over
//! [`EXPOSITION_BOUNDS_US`] plus `+Inf`.

use std::fmt::Write;

use crate::metrics::Snapshot;

/// The `le` bounds (µs) at which histograms are exposed: 100 µs .. 60 s.
pub const EXPOSITION_BOUNDS_US: [u64; 18] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000, 10_000_000, 30_000_000, 60_000_000,
];

/// The type of a metric family, written in `# TYPE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// A monotonically increasing count.
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// A histogram with `_bucket`, `_sum` and `_count` series.
    Histogram,
}

impl MetricKind {
    /// The keyword used in `# TYPE`.
    fn keyword(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Histogram => "histogram",
        }
    }
}

/// Accumulates an exposition in a `String`.
#[derive(Debug, Default)]
pub struct PrometheusText {
    /// The text written so far.
    out: String,
}

/// Whether `name` is a valid metric or label name (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(first) if first.is_ascii_alphabetic() || first == '_' || first == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

impl PrometheusText {
    /// An empty exposition.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a metric family: writes `# HELP` (escaped) and `# TYPE`.
    ///
    /// # Panics
    ///
    /// If `name` is not a valid metric name: metric names are constants in our code.
    pub fn family(&mut self, name: &str, help: &str, kind: MetricKind) {
        assert!(is_valid_name(name), "invalid metric name {name:?}");
        self.out.push_str("# HELP ");
        self.out.push_str(name);
        self.out.push(' ');
        for c in help.chars() {
            match c {
                '\\' => self.out.push_str("\\\\"),
                '\n' => self.out.push_str("\\n"),
                c => self.out.push(c),
            }
        }
        self.out.push('\n');
        let _ = writeln!(self.out, "# TYPE {name} {}", kind.keyword());
    }

    /// Writes one counter sample.
    pub fn counter(&mut self, name: &str, labels: &[(&str, &str)], value: u64) {
        self.sample(name, "", labels, None, &value.to_string());
    }

    /// Writes one gauge sample.
    pub fn gauge(&mut self, name: &str, labels: &[(&str, &str)], value: i64) {
        self.sample(name, "", labels, None, &value.to_string());
    }

    /// Writes one histogram (cumulative `_bucket` series, `_sum` in seconds, `_count`).
    pub fn histogram(&mut self, name: &str, labels: &[(&str, &str)], snapshot: &Snapshot) {
        for bound_us in EXPOSITION_BOUNDS_US {
            let le = seconds(bound_us);
            let count = snapshot.count_at_most_us(bound_us);
            self.sample(name, "_bucket", labels, Some(&le), &count.to_string());
        }
        let count = snapshot.count().to_string();
        self.sample(name, "_bucket", labels, Some("+Inf"), &count);
        self.sample(name, "_sum", labels, None, &seconds(snapshot.sum_us()));
        self.sample(name, "_count", labels, None, &count);
    }

    /// The exposition so far.
    pub fn as_str(&self) -> &str {
        &self.out
    }

    /// The finished exposition.
    pub fn finish(self) -> String {
        self.out
    }

    /// Writes `name{suffix}{labels,le="…"} value`.
    fn sample(
        &mut self,
        name: &str,
        suffix: &str,
        labels: &[(&str, &str)],
        le: Option<&str>,
        value: &str,
    ) {
        self.out.push_str(name);
        self.out.push_str(suffix);
        let extra = le.map(|le| ("le", le));
        let mut all = labels.iter().copied().chain(extra).peekable();
        if all.peek().is_some() {
            self.out.push('{');
            for (position, (label, label_value)) in all.enumerate() {
                assert!(is_valid_name(label), "invalid label name {label:?}");
                if position > 0 {
                    self.out.push(',');
                }
                self.out.push_str(label);
                self.out.push_str("=\"");
                escape_label_value(&mut self.out, label_value);
                self.out.push('"');
            }
            self.out.push('}');
        }
        self.out.push(' ');
        self.out.push_str(value);
        self.out.push('\n');
    }
}

/// Appends `value` escaped for a label: backslash, double quote and newline.
fn escape_label_value(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Formats microseconds as seconds without float rounding noise (`2500` → `0.0025`).
fn seconds(value_us: u64) -> String {
    let whole = value_us / 1_000_000;
    let fraction = value_us % 1_000_000;
    if fraction == 0 {
        return whole.to_string();
    }
    let digits = format!("{fraction:06}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_exact() {
        assert_eq!(seconds(0), "0");
        assert_eq!(seconds(100), "0.0001");
        assert_eq!(seconds(2_500_000), "2.5");
        assert_eq!(seconds(60_000_000), "60");
    }
}
