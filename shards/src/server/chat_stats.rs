//! Chat-mode metrics: [`ChatStatsReader`] for one connection shard (the owner's and sessions' counters and
//! the occupancy of its outgoing cross-core rings, published lock-free once per tick as differences, so the
//! shard keeps plain integers, and summed over shards when `/metrics` is scraped), and
//! [`RoutingStatsReader`] for the routing shard thread (its decisions, the customers waiting for a human
//! and the fairness of each agent group), published the same way by that thread.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use switchboard_core::metrics::{
    Counter, CounterReader, Gauge, GaugeReader, Histogram, HistogramReader, Snapshot,
};

use crate::routing::agents::GroupFairness;
use crate::routing::shard::{GroupConfig, RoutingCounters};

/// Every chat counter, by metric label, in a fixed order.
pub const CHAT_COUNTERS: [&str; 24] = [
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
    "access_revoked",
    "quota_refusals",
    "reads_refused",
    "budget_closes",
    "log_retries",
    "log_refused",
    "log_damaged",
    "conversations_evicted",
    "conversations_reloaded",
];

/// The publishing side (owned by the shard thread).
#[derive(Debug)]
pub(crate) struct ChatStats {
    counters: [Counter; CHAT_COUNTERS.len()],
    published: [u64; CHAT_COUNTERS.len()],
    conversations: Gauge,
    mode: Gauge,
    commit_latency: Histogram,
    /// Chat message latency by stage, from the moment its `send` was decoded: stored (covered by a
    /// commit), delivered (queued to a follower's connection). Indexed by [`CHAT_STAGES`].
    stages: [Histogram; CHAT_STAGES.len()],
    /// Occupancy of the fullest outgoing ring, in [`OCCUPANCY_SCALE`] parts of its capacity.
    ring_occupancy: Gauge,
    /// 1 while the shard's durable log is degraded (a write or sync failed; retrying), else 0.
    log_degraded: Gauge,
}

/// The stages of a chat message's latency, by metric label: `persisted` (the log commit covering it
/// completed, so it is acknowledged) and `delivered` (queued to a follower connection's lane, on whichever
/// shard). Both are measured from the moment the connection shard decoded the `send`.
pub const CHAT_STAGES: [&str; 2] = ["persisted", "delivered"];

// The chat core samples its stages by their index in [`CHAT_STAGES`].
const _: () =
    assert!(crate::chat::shard::STAGE_PERSISTED == 0 && crate::chat::shard::STAGE_DELIVERED == 1);

/// Ring occupancy is published as an integer number of parts per million of the capacity.
const OCCUPANCY_SCALE: i64 = 1_000_000;

/// The reading side (any thread).
#[derive(Debug, Clone)]
pub struct ChatStatsReader {
    counters: [CounterReader; CHAT_COUNTERS.len()],
    conversations: GaugeReader,
    mode: GaugeReader,
    commit_latency: HistogramReader,
    stages: [HistogramReader; CHAT_STAGES.len()],
    ring_occupancy: GaugeReader,
    log_degraded: GaugeReader,
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
            stages: std::array::from_fn(|_| Histogram::new()),
            ring_occupancy: Gauge::new(),
            log_degraded: Gauge::new(),
            counters,
        };
        let reader = ChatStatsReader {
            counters: std::array::from_fn(|i| stats.counters[i].reader()),
            conversations: stats.conversations.reader(),
            mode: stats.mode.reader(),
            commit_latency: stats.commit_latency.reader(),
            stages: std::array::from_fn(|i| stats.stages[i].reader()),
            ring_occupancy: stats.ring_occupancy.reader(),
            log_degraded: stats.log_degraded.reader(),
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

    /// The fullest of the shard's outgoing rings (to the other shards and the routing shard) holds `queued`
    /// of its `capacity` slots.
    pub(crate) fn publish_ring_occupancy(&mut self, queued: usize, capacity: usize) {
        let parts = if capacity == 0 {
            0
        } else {
            (queued.min(capacity) as u128 * OCCUPANCY_SCALE as u128 / capacity as u128) as i64
        };
        self.ring_occupancy.set(parts);
    }

    /// Whether the shard's durable log is degraded now.
    pub(crate) fn publish_log_degraded(&mut self, degraded: bool) {
        self.log_degraded.set(i64::from(degraded));
    }

    /// One log commit took `micros` from its start to its completion.
    pub(crate) fn record_commit_us(&mut self, micros: u64) {
        self.commit_latency.record(micros);
    }

    /// A chat message reached stage `stage` ([`CHAT_STAGES`] index) `micros` after its `send` was decoded.
    pub(crate) fn record_stage_us(&mut self, stage: usize, micros: u64) {
        self.stages[stage].record(micros);
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

    /// Whether the shard's durable log is degraded (a write or sync failed and is being retried).
    pub fn log_degraded(&self) -> bool {
        self.log_degraded.get() != 0
    }

    /// Log commit latency (start of the write to the end of the sync), microseconds.
    pub fn commit_latency(&self) -> Snapshot {
        self.commit_latency.snapshot()
    }

    /// Chat message latency to stage `stage` ([`CHAT_STAGES`] index), microseconds.
    pub fn stage_latency(&self, stage: usize) -> Snapshot {
        self.stages[stage].snapshot()
    }

    /// Occupancy of the shard's fullest outgoing cross-core ring at its last tick, `0.0..=1.0` of its
    /// capacity (resolution one millionth).
    pub fn ring_occupancy_ratio(&self) -> f64 {
        self.ring_occupancy.get() as f64 / OCCUPANCY_SCALE as f64
    }
}

/// Every routing decision counted, by metric label, in a fixed order (see [`routing_decisions`]).
pub const ROUTING_DECISIONS: [&str; 8] = [
    "bot_answer",
    "follow_up",
    "ticket",
    "handoff_queued",
    "assigned",
    "requeued",
    "transfer",
    "escalated",
];

/// The routing shard's decision counts in [`ROUTING_DECISIONS`] order.
pub fn routing_decisions(counters: &RoutingCounters) -> [u64; ROUTING_DECISIONS.len()] {
    [
        counters.answers,
        counters.slot_questions,
        counters.tickets,
        counters.handoffs(),
        counters.assignments,
        counters.requeues(),
        counters.transfers,
        counters.escalations,
    ]
}

/// Agent groups whose fairness is exported, at most (the first ones in configuration order): one series
/// per group, so the label set stays bounded whatever the configuration holds.
pub const ROUTING_GROUPS_EXPORTED_MAX: usize = 32;

/// The raw value meaning "no online agent in this group": a NaN pattern no ratio takes.
const FAIRNESS_ABSENT: u64 = u64::MAX;

/// One exported group: its name (fixed at start) and its last published fairness ratio.
#[derive(Debug)]
struct GroupSlot {
    id: u32,
    name: String,
    /// `f64::to_bits` of the worst `load_max / load_min` over tenants, or [`FAIRNESS_ABSENT`].
    ratio_bits: AtomicU64,
}

/// The routing thread's publishing side.
#[derive(Debug)]
pub(crate) struct RoutingStats {
    decisions: [Counter; ROUTING_DECISIONS.len()],
    published: [u64; ROUTING_DECISIONS.len()],
    customer_messages: Counter,
    classifications: Counter,
    waiting: Gauge,
    groups: Arc<[GroupSlot]>,
}

/// The routing shard's metrics, readable lock-free from any thread.
#[derive(Debug, Clone)]
pub struct RoutingStatsReader {
    decisions: [CounterReader; ROUTING_DECISIONS.len()],
    customer_messages: CounterReader,
    classifications: CounterReader,
    waiting: GaugeReader,
    groups: Arc<[GroupSlot]>,
}

impl RoutingStats {
    /// A new pair exporting the first [`ROUTING_GROUPS_EXPORTED_MAX`] of `groups`.
    pub(crate) fn new(groups: &[GroupConfig]) -> (RoutingStats, RoutingStatsReader) {
        let slots: Arc<[GroupSlot]> = groups
            .iter()
            .take(ROUTING_GROUPS_EXPORTED_MAX)
            .map(|group| GroupSlot {
                id: group.id,
                name: group.name.clone(),
                ratio_bits: AtomicU64::new(FAIRNESS_ABSENT),
            })
            .collect();
        let stats = RoutingStats {
            decisions: std::array::from_fn(|_| Counter::new()),
            published: [0; ROUTING_DECISIONS.len()],
            customer_messages: Counter::new(),
            classifications: Counter::new(),
            waiting: Gauge::new(),
            groups: Arc::clone(&slots),
        };
        let reader = RoutingStatsReader {
            decisions: std::array::from_fn(|i| stats.decisions[i].reader()),
            customer_messages: stats.customer_messages.reader(),
            classifications: stats.classifications.reader(),
            waiting: stats.waiting.reader(),
            groups: slots,
        };
        (stats, reader)
    }

    /// Publishes the shard's cumulative counters (cheap: call after every batch).
    pub(crate) fn publish_counters(&mut self, counters: &RoutingCounters) {
        for (index, value) in routing_decisions(counters).into_iter().enumerate() {
            let delta = value.saturating_sub(self.published[index]);
            if delta > 0 {
                self.decisions[index].add(delta);
                self.published[index] = value;
            }
        }
        let delta = counters
            .customer_messages
            .saturating_sub(self.customer_messages.get());
        if delta > 0 {
            self.customer_messages.add(delta);
        }
        let delta = counters
            .classifications
            .saturating_sub(self.classifications.get());
        if delta > 0 {
            self.classifications.add(delta);
        }
    }

    /// Publishes the gauges: conversations waiting for a human and each exported group's fairness (worst
    /// over tenants; groups with no online agent are absent).
    pub(crate) fn publish_gauges(&mut self, waiting: usize, fairness: &[(u64, GroupFairness)]) {
        self.waiting.set(i64::try_from(waiting).unwrap_or(i64::MAX));
        for slot in self.groups.iter() {
            let worst = fairness
                .iter()
                .filter(|(_, figure)| figure.group == slot.id)
                .map(|(_, figure)| figure.ratio())
                .reduce(f64::max);
            let bits = worst.map_or(FAIRNESS_ABSENT, f64::to_bits);
            slot.ratio_bits.store(bits, Ordering::Relaxed);
        }
    }
}

impl RoutingStatsReader {
    /// Decisions of the kind at `index` of [`ROUTING_DECISIONS`] since start.
    pub fn decision(&self, index: usize) -> u64 {
        self.decisions[index].get()
    }

    /// Customer messages the routing shard received (each is classified unless it is a duplicate or its
    /// conversation is already with a human).
    pub fn customer_messages(&self) -> u64 {
        self.customer_messages.get()
    }

    /// Customer messages the classifier ran on (bot phase) since start.
    pub fn classifications(&self) -> u64 {
        self.classifications.get()
    }

    /// Conversations waiting in a group queue for a human.
    pub fn waiting(&self) -> i64 {
        self.waiting.get()
    }

    /// `(group name, fairness ratio)` of each exported group with online agents: the highest agent load
    /// over the lowest (1.0 when even or all idle, infinite while someone idles and someone works).
    pub fn fairness(&self) -> impl Iterator<Item = (&str, f64)> + '_ {
        self.groups.iter().filter_map(|slot| {
            let bits = slot.ratio_bits.load(Ordering::Relaxed);
            (bits != FAIRNESS_ABSENT).then(|| (slot.name.as_str(), f64::from_bits(bits)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(id: u32, name: &str) -> GroupConfig {
        GroupConfig {
            id,
            name: name.to_owned(),
            skills: Vec::new(),
        }
    }

    #[test]
    fn ring_occupancy_is_a_ratio_of_capacity() {
        let (mut stats, reader) = ChatStats::new();
        assert_eq!(reader.ring_occupancy_ratio(), 0.0);
        stats.publish_ring_occupancy(2_048, 8_192);
        assert_eq!(reader.ring_occupancy_ratio(), 0.25);
        stats.publish_ring_occupancy(9_000, 8_192);
        assert_eq!(reader.ring_occupancy_ratio(), 1.0);
        stats.publish_ring_occupancy(0, 0);
        assert_eq!(reader.ring_occupancy_ratio(), 0.0);
    }

    #[test]
    fn routing_counters_and_gauges_are_published() {
        let (mut stats, reader) = RoutingStats::new(&[group(1, "billing"), group(2, "tech")]);
        let mut counters = RoutingCounters {
            customer_messages: 3,
            classifications: 2,
            answers: 2,
            handoffs_low_confidence: 1,
            handoffs_customer_asked: 1,
            ..RoutingCounters::default()
        };
        stats.publish_counters(&counters);
        counters.answers = 5;
        stats.publish_counters(&counters);
        assert_eq!(reader.decision(0), 5);
        assert_eq!(reader.decision(3), 2);
        assert_eq!(reader.customer_messages(), 3);
        assert_eq!(reader.classifications(), 2);
        assert_eq!(reader.fairness().count(), 0, "no online agent yet");
        let figure = |group, load_max, load_min| GroupFairness {
            group,
            agents: 2,
            load_max,
            load_min,
        };
        stats.publish_gauges(4, &[(1, figure(1, 2, 1)), (2, figure(1, 3, 1))]);
        assert_eq!(reader.waiting(), 4);
        let fairness: Vec<(&str, f64)> = reader.fairness().collect();
        assert_eq!(fairness, [("billing", 3.0)], "the worst tenant counts");
    }

    #[test]
    fn exported_groups_are_capped() {
        let groups: Vec<GroupConfig> = (0..ROUTING_GROUPS_EXPORTED_MAX as u32 + 5)
            .map(|id| group(id, "g"))
            .collect();
        let (mut stats, reader) = RoutingStats::new(&groups);
        let all: Vec<(u64, GroupFairness)> = groups
            .iter()
            .map(|g| {
                let figure = GroupFairness {
                    group: g.id,
                    agents: 1,
                    load_max: 0,
                    load_min: 0,
                };
                (1, figure)
            })
            .collect();
        stats.publish_gauges(0, &all);
        assert_eq!(reader.fairness().count(), ROUTING_GROUPS_EXPORTED_MAX);
    }
}
