//! [`RoutingCounters`]: what the routing shard has done, for the metrics exporter.

use super::super::dialogue::HandoffReason;
use super::super::events::RequeueReason;

/// Monotonic counts since the shard started. Plain integers: the shard thread owns them and the server
/// copies them into its lock-free metrics after each batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RoutingCounters {
    /// Customer messages received (including duplicates and messages in human hands).
    pub customer_messages: u64,
    /// Customer messages ignored as duplicates (sequence at or below the last one seen).
    pub duplicate_messages: u64,
    /// Customer messages in conversations handled by humans (they only feed the summary).
    pub human_messages: u64,
    /// Customer messages classified by the bot (messages in conversations still with the bot, excluding
    /// duplicates); each runs the intent classifier once.
    pub classifications: u64,
    /// Escalations: conversations with humans whose priority a strongly negative customer message raised
    /// (a waiting one moves up its group's queue; an assigned one keeps its agent and would be re-queued at
    /// the raised priority). A message that does not raise the priority (already urgent) is not counted.
    pub escalations: u64,
    /// Bot answers sent (including the answer that goes with a ticket).
    pub answers: u64,
    /// Slot questions sent.
    pub slot_questions: u64,
    /// Tickets opened.
    pub tickets: u64,
    /// Handoffs because the classifier was not confident.
    pub handoffs_low_confidence: u64,
    /// Handoffs because the customer was strongly unhappy.
    pub handoffs_negative_sentiment: u64,
    /// Handoffs because the customer asked for a human.
    pub handoffs_customer_asked: u64,
    /// Handoffs because a required slot was never given.
    pub handoffs_slot_not_provided: u64,
    /// Conversations assigned to an agent (including after re-queues and transfers).
    pub assignments: u64,
    /// Conversations re-queued because their agent stayed disconnected.
    pub requeues_disconnected: u64,
    /// Conversations re-queued because their agent did not reply in time.
    pub requeues_reply_timeout: u64,
    /// Explicit transfers.
    pub transfers: u64,
    /// Agents set away by the router after a reply timeout.
    pub agents_set_away: u64,
    /// Conversations resolved.
    pub resolved: u64,
    /// Conversations still with the bot forgotten after idling (or evicted to make room).
    pub expired: u64,
    /// Inputs that referred to nothing and were ignored (offline twice, unknown conversation resolved).
    pub inputs_ignored: u64,
    /// Inputs refused with an error.
    pub inputs_refused: u64,
    /// Group ids named by agents that are not configured (ignored).
    pub agent_groups_unknown: u64,
    /// Tenants created.
    pub tenants: u64,
    /// Conversations held for humans by their owner that this shard did not track (after a restart, or
    /// queued by the owner while this shard's ring was full), queued again to their group.
    pub restored: u64,
}

impl RoutingCounters {
    /// Total handoffs to humans, all reasons.
    pub fn handoffs(&self) -> u64 {
        self.handoffs_low_confidence
            + self.handoffs_negative_sentiment
            + self.handoffs_customer_asked
            + self.handoffs_slot_not_provided
    }

    /// Total re-queues, all reasons.
    pub fn requeues(&self) -> u64 {
        self.requeues_disconnected + self.requeues_reply_timeout
    }

    pub(super) fn count_handoff(&mut self, reason: HandoffReason) {
        let counter = match reason {
            HandoffReason::LowConfidence => &mut self.handoffs_low_confidence,
            HandoffReason::NegativeSentiment => &mut self.handoffs_negative_sentiment,
            HandoffReason::CustomerAsked => &mut self.handoffs_customer_asked,
            HandoffReason::SlotNotProvided => &mut self.handoffs_slot_not_provided,
        };
        *counter += 1;
    }

    pub(super) fn count_requeue(&mut self, reason: RequeueReason) {
        match reason {
            RequeueReason::AgentDisconnected => self.requeues_disconnected += 1,
            RequeueReason::ReplyTimeout => self.requeues_reply_timeout += 1,
        }
    }
}
