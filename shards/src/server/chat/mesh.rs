//! The chat shard's side of the cross-core rings (draining what peers sent into the core) and the
//! once-per-tick overload sample and metrics.

use super::*;
use crate::overload::LoadSample;
use crate::pii::PiiKind;

impl ChatShard {
    /// Handles everything other shards sent since the last tick.
    pub(crate) fn drain_mesh(&mut self, table: &mut Table, dirty: &mut Vec<ConnId>, now: u64) {
        let mut batch = std::mem::take(&mut self.batch);
        self.endpoint
            .inbox
            .drain(MESH_BATCH_PER_PEER, |_, message| batch.push(message));
        let mut host = ShardHost {
            table,
            dirty,
            overload: &self.overload,
            now,
        };
        for message in batch.drain(..) {
            self.core
                .ring_message(message, &mut host, &mut self.endpoint.outboxes);
        }
        self.batch = batch;
    }

    /// Once per tick: feeds the overload detector (queued bytes, tick latency), logs a mode change, and
    /// publishes the counters.
    pub(crate) fn observe(
        &mut self,
        now: u64,
        (table, dirty): (&mut Table, &mut Vec<ConnId>),
        tick_us: u64,
        stats: &mut ChatStats,
    ) {
        self.core
            .take_stage_samples(|stage, micros| stats.record_stage_us(stage, micros));
        if now >= self.next_queue_scan_ms {
            // A full scan of the connections, so at most once per QUEUE_SCAN_MS (about 0.1 ms per 100K).
            self.queued_bytes = self.scan_buffers(table, dirty, now);
            self.next_queue_scan_ms = now + QUEUE_SCAN_MS;
        }
        // The fullest outgoing ring, the one to the routing shard included (read lock-free, racy by at most
        // what the peers took meanwhile).
        let ring_queued = self.endpoint.outboxes.queued_max();
        let ring_capacity = self.endpoint.outboxes.ring_capacity();
        stats.publish_ring_occupancy(ring_queued, ring_capacity);
        let sample = LoadSample {
            queued_bytes: self.queued_bytes,
            ring_percent: LoadSample::ring_percent_of(ring_queued, ring_capacity),
            latency_us: Some(tick_us),
        };
        if let Some(transition) = self.overload.observe(now, sample) {
            tracing::warn!(
                shard = self.id,
                from = transition.from.label(),
                to = transition.to.label(),
                cause = transition.cause.label(),
                "degradation mode changed"
            );
        }
        let counters = self.core.counters;
        let core_owner = self.core.owner();
        stats.publish_log_degraded(core_owner.log_degraded());
        let conversations = core_owner.conversation_count();
        let owner = core_owner.counters();
        let pii = core_owner.pii_counts();
        let detected = PiiKind::ALL.iter().map(|&kind| pii.detected(kind)).sum();
        stats.publish(
            [
                owner.messages_stored,
                owner.duplicates,
                owner.conversations_created,
                owner.forbidden,
                owner.not_found,
                counters.unauthorized,
                owner.resumes,
                owner.replayed,
                owner.gaps,
                owner.history_queries,
                owner.log_errors,
                counters.ring_full + counters.requests_refused_ring_full,
                counters.overload_refusals,
                detected,
                pii.changed(),
                counters.access_revoked,
                counters.quota_refusals + owner.quota_refusals,
                counters.reads_refused,
                counters.budget_closes,
                owner.log_retries,
                owner.log_refused,
                owner.log_damaged,
                owner.evicted,
                owner.reloaded,
            ],
            conversations,
            self.overload.mode().as_u8(),
        );
    }
}
