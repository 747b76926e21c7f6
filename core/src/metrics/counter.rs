//! Single-writer counters and gauges readable from a scraper thread.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

/// A monotonically increasing count owned by one shard. Not `Clone`: one writer.
#[derive(Debug, Default)]
pub struct Counter {
    /// The shard's own copy, so adding never reads the shared line back.
    value: u64,
    /// What scrapers read.
    published: Arc<AtomicU64>,
}

/// Read access to a [`Counter`] from any thread.
#[derive(Debug, Clone)]
pub struct CounterReader {
    /// Shared with the counter.
    published: Arc<AtomicU64>,
}

impl Counter {
    /// A counter at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one.
    pub fn increment(&mut self) {
        self.add(1);
    }

    /// Adds `amount` (wrapping, as Prometheus counters may).
    pub fn add(&mut self, amount: u64) {
        self.value = self.value.wrapping_add(amount);
        self.published.store(self.value, Ordering::Relaxed);
    }

    /// The current value.
    pub fn get(&self) -> u64 {
        self.value
    }

    /// A handle for the scraper.
    pub fn reader(&self) -> CounterReader {
        CounterReader {
            published: Arc::clone(&self.published),
        }
    }
}

impl CounterReader {
    /// The last value the owner stored.
    pub fn get(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down (connections open, queue depth), owned by one shard.
#[derive(Debug, Default)]
pub struct Gauge {
    /// The shard's own copy.
    value: i64,
    /// What scrapers read.
    published: Arc<AtomicI64>,
}

/// Read access to a [`Gauge`] from any thread.
#[derive(Debug, Clone)]
pub struct GaugeReader {
    /// Shared with the gauge.
    published: Arc<AtomicI64>,
}

impl Gauge {
    /// A gauge at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the value.
    pub fn set(&mut self, value: i64) {
        self.value = value;
        self.published.store(value, Ordering::Relaxed);
    }

    /// Adds `delta`, which may be negative.
    pub fn add(&mut self, delta: i64) {
        self.set(self.value.wrapping_add(delta));
    }

    /// The current value.
    pub fn get(&self) -> i64 {
        self.value
    }

    /// A handle for the scraper.
    pub fn reader(&self) -> GaugeReader {
        GaugeReader {
            published: Arc::clone(&self.published),
        }
    }
}

impl GaugeReader {
    /// The last value the owner stored.
    pub fn get(&self) -> i64 {
        self.published.load(Ordering::Relaxed)
    }
}
