//! A fixed log-linear latency histogram in microseconds.
//!
//! Values below 16 µs get one bucket each; above, every power of two is split into 16 equal
//! buckets, so a bucket's width is at most 1/16 of its lower bound (≤ 6.25% relative error).
//! Values above [`HISTOGRAM_VALUE_US_MAX`] (60 s) are clamped into the last bucket. 368 buckets
//! cover 0..2^26 µs; the array is allocated once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Linear sub-buckets per power of two, as a bit count.
const SUB_BITS: u32 = 4;
/// Linear sub-buckets per power of two.
const SUB_BUCKETS: u64 = 1 << SUB_BITS;
/// Powers of two above the linear range: 2^4..2^26 µs.
const OCTAVES: u32 = 22;
/// Total buckets.
const BUCKETS: usize = (SUB_BUCKETS as usize) * (OCTAVES as usize + 1);

/// The largest value recorded faithfully (60 s); larger values count in the last bucket.
pub const HISTOGRAM_VALUE_US_MAX: u64 = 60_000_000;

// The largest value must fall in a real bucket, not past the last one.
const _: () = assert!(HISTOGRAM_VALUE_US_MAX < 1 << (SUB_BITS + OCTAVES));

/// The bucket holding `value_us`.
fn bucket_index(value_us: u64) -> usize {
    let value = value_us.min(HISTOGRAM_VALUE_US_MAX);
    if value < SUB_BUCKETS {
        return value as usize;
    }
    let power = u64::BITS - 1 - value.leading_zeros();
    let shift = power - SUB_BITS;
    let sub = (value >> shift) & (SUB_BUCKETS - 1);
    (SUB_BUCKETS as usize) * (shift as usize + 1) + sub as usize
}

/// The largest value falling in bucket `index` (inclusive).
pub(crate) fn bucket_upper_us(index: usize) -> u64 {
    let index = index as u64;
    if index < SUB_BUCKETS {
        return index;
    }
    let shift = index / SUB_BUCKETS - 1;
    let sub = index % SUB_BUCKETS;
    ((SUB_BUCKETS + sub + 1) << shift) - 1
}

/// The shared bucket array.
#[derive(Debug)]
struct Buckets {
    /// Count per bucket.
    counts: Box<[AtomicU64]>,
    /// Sum of recorded values (clamped), µs.
    sum_us: AtomicU64,
}

/// A latency histogram recorded by one shard. Not `Clone`: one writer.
#[derive(Debug)]
pub struct Histogram {
    /// Shared with readers.
    buckets: Arc<Buckets>,
}

/// Read access to a [`Histogram`] from any thread.
#[derive(Debug, Clone)]
pub struct HistogramReader {
    /// Shared with the histogram.
    buckets: Arc<Buckets>,
}

/// A copy of a histogram's buckets at scrape time; merge many shards' snapshots with
/// [`Snapshot::merge`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Count per bucket.
    counts: Vec<u64>,
    /// Sum of recorded values, µs.
    sum_us: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

impl Histogram {
    /// An empty histogram (allocates its buckets).
    pub fn new() -> Self {
        let buckets = Buckets {
            counts: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            sum_us: AtomicU64::new(0),
        };
        Self {
            buckets: Arc::new(buckets),
        }
    }

    /// Records one value. O(1), no allocation, no locked instruction (single writer).
    pub fn record(&mut self, value_us: u64) {
        let bucket = &self.buckets.counts[bucket_index(value_us)];
        bucket.store(bucket.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        let sum = &self.buckets.sum_us;
        let clamped = value_us.min(HISTOGRAM_VALUE_US_MAX);
        sum.store(
            sum.load(Ordering::Relaxed).wrapping_add(clamped),
            Ordering::Relaxed,
        );
    }

    /// A handle for the scraper.
    pub fn reader(&self) -> HistogramReader {
        HistogramReader {
            buckets: Arc::clone(&self.buckets),
        }
    }

    /// A snapshot of the current buckets.
    pub fn snapshot(&self) -> Snapshot {
        self.reader().snapshot()
    }
}

impl HistogramReader {
    /// Copies the buckets. Concurrent records may be half-visible (a bucket counted, its value
    /// not yet in the sum); the count is always the sum of the copied buckets.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            counts: self
                .buckets
                .counts
                .iter()
                .map(|count| count.load(Ordering::Relaxed))
                .collect(),
            sum_us: self.buckets.sum_us.load(Ordering::Relaxed),
        }
    }
}

impl Default for Snapshot {
    fn default() -> Self {
        Self::empty()
    }
}

impl Snapshot {
    /// A snapshot with no values, the identity of [`Snapshot::merge`].
    pub fn empty() -> Self {
        Self {
            counts: vec![0; BUCKETS],
            sum_us: 0,
        }
    }

    /// Adds `other`'s counts into `self` (merging shards).
    pub fn merge(&mut self, other: &Snapshot) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.sum_us = self.sum_us.wrapping_add(other.sum_us);
    }

    /// Number of recorded values.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Sum of recorded values in µs (each clamped to [`HISTOGRAM_VALUE_US_MAX`]).
    pub fn sum_us(&self) -> u64 {
        self.sum_us
    }

    /// The value at quantile `quantile` (0.0..=1.0): the upper bound of the bucket holding the
    /// value of rank `ceil(quantile × count)`, so never below the true value and at most one
    /// bucket width (≤ 1/16) above it. `None` when empty.
    pub fn percentile_us(&self, quantile: f64) -> Option<u64> {
        let count = self.count();
        if count == 0 {
            return None;
        }
        let rank = ((quantile.clamp(0.0, 1.0) * count as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (index, bucket_count) in self.counts.iter().enumerate() {
            seen += bucket_count;
            if seen >= rank {
                return Some(bucket_upper_us(index));
            }
        }
        unreachable!("rank {rank} is at most the total count {count}")
    }

    /// How many values fall in buckets whose upper bound is at most `bound_us`. A bucket that
    /// straddles `bound_us` is not counted, so latency is never under-reported.
    pub fn count_at_most_us(&self, bound_us: u64) -> u64 {
        self.counts
            .iter()
            .enumerate()
            .take_while(|(index, _)| bucket_upper_us(*index) <= bound_us)
            .map(|(_, count)| count)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_tight() {
        // Buckets past the one holding the clamp value stay unused.
        for index in 1..=bucket_index(HISTOGRAM_VALUE_US_MAX) {
            let lower = bucket_upper_us(index - 1) + 1;
            let upper = bucket_upper_us(index);
            assert_eq!(bucket_index(lower), index);
            assert_eq!(bucket_index(upper), index);
            assert!(
                (upper - lower + 1) * SUB_BUCKETS <= lower.max(SUB_BUCKETS),
                "bucket {index}"
            );
        }
        assert_eq!(bucket_index(u64::MAX), bucket_index(HISTOGRAM_VALUE_US_MAX));
        assert!(bucket_index(HISTOGRAM_VALUE_US_MAX) < BUCKETS);
    }
}
