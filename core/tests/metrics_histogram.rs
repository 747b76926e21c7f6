//! Metrics: counters, histogram accuracy and merge, Prometheus text output.

use std::thread;

use switchboard_core::metrics::{
    Counter, Gauge, Histogram, MetricKind, PrometheusText, Snapshot, HISTOGRAM_VALUE_US_MAX,
};

/// The value of rank `ceil(q × n)` in sorted `values`, the definition the histogram estimates.
fn reference_percentile(sorted: &[u64], quantile: f64) -> u64 {
    let rank = ((quantile * sorted.len() as f64).ceil() as usize).max(1);
    sorted[rank - 1]
}

fn pseudo_random_latencies(count: usize, seed: u64) -> Vec<u64> {
    let mut state = seed;
    (0..count)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            // Log-uniform over 1 µs .. 58 s, below the histogram's 60 s clamp.
            let exponent = (state % 2_580) as f64 / 100.0;
            2f64.powf(exponent) as u64
        })
        .collect()
}

#[test]
fn percentiles_are_within_bucket_precision() {
    let values = pseudo_random_latencies(100_000, 7);
    let mut histogram = Histogram::new();
    for &value in &values {
        histogram.record(value);
    }
    let mut sorted = values.clone();
    sorted.sort_unstable();
    let snapshot = histogram.snapshot();
    assert_eq!(snapshot.count(), values.len() as u64);
    let clamped_sum: u64 = values
        .iter()
        .map(|value| (*value).min(HISTOGRAM_VALUE_US_MAX))
        .sum();
    assert_eq!(snapshot.sum_us(), clamped_sum);
    for quantile in [0.0, 0.001, 0.1, 0.5, 0.9, 0.99, 0.999, 1.0] {
        let exact = reference_percentile(&sorted, quantile);
        let estimate = snapshot.percentile_us(quantile).unwrap();
        assert!(estimate >= exact, "q={quantile}: {estimate} < {exact}");
        assert!(
            estimate - exact <= exact / 16,
            "q={quantile}: {estimate} vs {exact}"
        );
    }
    assert_eq!(Snapshot::empty().percentile_us(0.5), None);
}

#[test]
fn merged_shards_equal_one_histogram() {
    let mut whole = Histogram::new();
    let mut merged = Snapshot::empty();
    for shard in 0..4 {
        let mut histogram = Histogram::new();
        for value in pseudo_random_latencies(10_000, shard + 1) {
            histogram.record(value);
            whole.record(value);
        }
        let reader = histogram.reader();
        // Scrape from another thread, as the admin listener will.
        let snapshot = thread::spawn(move || reader.snapshot()).join().unwrap();
        merged.merge(&snapshot);
    }
    assert_eq!(merged, whole.snapshot());
    assert_eq!(merged.count(), 40_000);
}

#[test]
fn counters_and_gauges_are_readable_from_another_thread() {
    let mut counter = Counter::new();
    let mut gauge = Gauge::new();
    let counter_reader = counter.reader();
    let gauge_reader = gauge.reader();
    counter.add(41);
    counter.increment();
    gauge.set(10);
    gauge.add(-3);
    let (count, level) = thread::spawn(move || (counter_reader.get(), gauge_reader.get()))
        .join()
        .unwrap();
    assert_eq!((count, level), (42, 7));
}

#[test]
fn prometheus_text_is_exact() {
    let mut histogram = Histogram::new();
    histogram.record(90);
    histogram.record(2_000);
    histogram.record(120_000_000);
    let mut text = PrometheusText::new();
    text.family(
        "sb_messages_total",
        "Messages received.\nPer shard \\ total.",
        MetricKind::Counter,
    );
    text.counter("sb_messages_total", &[("shard", "0")], 5);
    text.counter("sb_messages_total", &[("shard", "a\"b\\c\nd")], 6);
    text.family("sb_connections", "Open connections.", MetricKind::Gauge);
    text.gauge("sb_connections", &[], -2);
    text.family(
        "sb_latency_seconds",
        "Delivery latency.",
        MetricKind::Histogram,
    );
    text.histogram(
        "sb_latency_seconds",
        &[("shard", "1")],
        &histogram.snapshot(),
    );
    let expected_head = concat!(
        "# HELP sb_messages_total Messages received.\\nPer shard \\\\ total.\n",
        "# TYPE sb_messages_total counter\n",
        "sb_messages_total{shard=\"0\"} 5\n",
        "sb_messages_total{shard=\"a\\\"b\\\\c\\nd\"} 6\n",
        "# HELP sb_connections Open connections.\n",
        "# TYPE sb_connections gauge\n",
        "sb_connections -2\n",
        "# HELP sb_latency_seconds Delivery latency.\n",
        "# TYPE sb_latency_seconds histogram\n",
        "sb_latency_seconds_bucket{shard=\"1\",le=\"0.0001\"} 1\n",
        "sb_latency_seconds_bucket{shard=\"1\",le=\"0.00025\"} 1\n",
        "sb_latency_seconds_bucket{shard=\"1\",le=\"0.0005\"} 1\n",
        "sb_latency_seconds_bucket{shard=\"1\",le=\"0.001\"} 1\n",
        "sb_latency_seconds_bucket{shard=\"1\",le=\"0.0025\"} 2\n",
    );
    let output = text.finish();
    assert!(output.starts_with(expected_head), "{output}");
    let expected_tail = concat!(
        // The 120 s value is clamped into the last bucket, which straddles 60 s: only in +Inf.
        "sb_latency_seconds_bucket{shard=\"1\",le=\"60\"} 2\n",
        "sb_latency_seconds_bucket{shard=\"1\",le=\"+Inf\"} 3\n",
        "sb_latency_seconds_sum{shard=\"1\"} 60.00209\n",
        "sb_latency_seconds_count{shard=\"1\"} 3\n",
    );
    assert!(output.ends_with(expected_tail), "{output}");
    for line in output.lines() {
        check_line(line);
    }
}

/// A minimal parser of one exposition line: comments have a known keyword, samples are
/// `name{labels} value` with well-formed quoted label values and a numeric value.
fn check_line(line: &str) {
    if let Some(comment) = line.strip_prefix("# ") {
        assert!(
            comment.starts_with("HELP ") || comment.starts_with("TYPE "),
            "{line}"
        );
        return;
    }
    let (series, value) = line.rsplit_once(' ').expect("sample has a value");
    assert!(
        value == "+Inf" || value.parse::<f64>().is_ok(),
        "bad value in {line}"
    );
    let name_end = series.find('{').unwrap_or(series.len());
    let name = &series[..name_end];
    assert!(
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    );
    if name_end == series.len() {
        return;
    }
    let labels = series[name_end + 1..]
        .strip_suffix('}')
        .expect("labels closed");
    let mut rest = labels;
    while !rest.is_empty() {
        let (label, after) = rest.split_once("=\"").expect("label=\"");
        assert!(
            label.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{line}"
        );
        let mut chars = after.char_indices();
        let close = loop {
            match chars.next().expect("label value closed") {
                (_, '\\') => {
                    let (_, escaped) = chars.next().expect("escape completed");
                    assert!(matches!(escaped, '\\' | '"' | 'n'), "bad escape in {line}");
                }
                (index, '"') => break index,
                (_, c) => assert_ne!(c, '\n'),
            }
        };
        rest = after[close + 1..]
            .strip_prefix(',')
            .unwrap_or(&after[close + 1..]);
    }
}
