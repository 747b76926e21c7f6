//! Per-shard metrics, recorded without locks and merged only when scraped.
//!
//! Layout:
//! - [`counter`]: [`Counter`] and [`Gauge`], single-writer values published through atomics with
//!   `Relaxed` stores, read by a scraper thread through [`CounterReader`] / [`GaugeReader`].
//! - [`histogram`]: [`Histogram`], a fixed log-linear latency histogram in microseconds
//!   (1 µs..60 s, ≤ 1/16 relative error), O(1) record, and its mergeable [`Snapshot`].
//! - [`prometheus`]: [`PrometheusText`], a small Prometheus text-format writer.
//!
//! Why single-writer atomics and not `fetch_add`: each metric belongs to one shard, so a plain load
//! and store (no locked instruction) suffices; the scraper only needs each value to be some value
//! the shard wrote, not a consistent cut across metrics.

pub mod counter;
pub mod histogram;
pub mod prometheus;

pub use counter::{Counter, CounterReader, Gauge, GaugeReader};
pub use histogram::{Histogram, HistogramReader, Snapshot, HISTOGRAM_VALUE_US_MAX};
pub use prometheus::{MetricKind, PrometheusText};
