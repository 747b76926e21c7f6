//! Chat-mode metrics of one shard: the owner's and sessions' counters, published lock-free once per tick
//! (as differences, so the shard keeps plain integers) and summed over shards when `/metrics` is scraped.

use switchboard_core::metrics::{
    Counter, CounterReader, Gauge, GaugeReader, Histogram, HistogramReader, Snapshot,
};

/// Every chat counter, by metric label, in a fixed order.
pub const CHAT_COUNTERS: [&str; 15] = [
    "messages_stored",
    "duplicates",
    "conversations_created",
    "forbidden",
    "not_found",
    "unauthorized",
    "resumes",
    "replayed",
    "gaps",
    "history_queries",
    "log_errors",
    "ring_full",
    "overload_refusals",
    "pii_detected",
    "pii_changed",
];

/// The publishing side (owned by the shard thread).
#[derive(Debug)]
pub(crate) struct ChatStats {
    counters: [Counter; CHAT_COUNTERS.len()],
    published: [u64; CHAT_COUNTERS.len()],
    conversations: Gauge,
    mode: Gauge,
    commit_latency: Histogram,
}

/// The reading side (any thread).
#[derive(Debug, Clone)]
pub struct ChatStatsReader {
    counters: [CounterReader; CHAT_COUNTERS.len()],
    conversations: GaugeReader,
    mode: GaugeReader,
    commit_latency: HistogramReader,
}

impl ChatStats {
    /// A new pair.
    pub(crate) fn new() -> (ChatStats, ChatStatsReader) {
        let counters: [Counter; CHAT_COUNTERS.len()] = std::array::from_fn(|_| Counter::new());
        let stats = ChatStats {
            published: [0; CHAT_COUNTERS.len()],
            conversations: Gauge::new(),
            mode: Gauge::new(),
            commit_latency: Histogram::new(),
            counters,
        };
        let reader = ChatStatsReader {
            counters: std::array::from_fn(|i| stats.counters[i].reader()),
            conversations: stats.conversations.reader(),
            mode: stats.mode.reader(),
            commit_latency: stats.commit_latency.reader(),
        };
        (stats, reader)
    }

    /// Publishes cumulative `values` (in [`CHAT_COUNTERS`] order), the conversation count and the mode.
    pub(crate) fn publish(
        &mut self,
        values: [u64; CHAT_COUNTERS.len()],
        conversations: usize,
        mode: u8,
    ) {
        for (index, value) in values.into_iter().enumerate() {
            let delta = value.saturating_sub(self.published[index]);
            if delta > 0 {
                self.counters[index].add(delta);
                self.published[index] = value;
            }
        }
        self.conversations.set(conversations as i64);
        self.mode.set(i64::from(mode));
    }

    /// One log commit took `micros` from its start to its completion.
    pub(crate) fn record_commit_us(&mut self, micros: u64) {
        self.commit_latency.record(micros);
    }
}

impl ChatStatsReader {
    /// The counter at `index` of [`CHAT_COUNTERS`].
    pub fn counter(&self, index: usize) -> u64 {
        self.counters[index].get()
    }

    /// Conversations the shard owns.
    pub fn conversations(&self) -> i64 {
        self.conversations.get()
    }

    /// The shard's degradation mode (0 normal, 1 brownout, 2 survival).
    pub fn mode(&self) -> i64 {
        self.mode.get()
    }

    /// Log commit latency (start of the write to the end of the sync), microseconds.
    pub fn commit_latency(&self) -> Snapshot {
        self.commit_latency.snapshot()
    }
}
