//! Customer messages: the bot's decision while the conversation is with the bot, the handoff into a
//! tenant's queue, and the bounded per-conversation bookkeeping.
//!
//! Once a conversation is handed to humans it stays there until resolved: later customer messages only feed
//! the summary and sentiment, so an agent never sees the bot talk over them, and an angry customer keeps
//! their agent. A strongly negative message (at or below the same `sentiment_handoff_max` that makes the bot
//! hand over) escalates the conversation to [`NEGATIVE_SENTIMENT_PRIORITY`]: while it waits, it moves ahead
//! of calmer customers in its group's queue (behind earlier arrivals of the same priority).

use super::super::agents::GroupId;
use super::super::brain::Brain;
use super::super::dialogue::{Decision, HandoffReason, Said};
use super::super::events::{HandoffRequest, RequeueReason, RouterInput};
use super::super::ticket::{
    ConversationId, ConversationSummary, Priority, NEGATIVE_SENTIMENT_PRIORITY,
};
use super::{QueueReason, RoutingOutput, RoutingShard, RoutingShardError, TenantId};

/// The customer value of a restored conversation: the value its customer's messages carried is not
/// stored, so the middle of the scale.
const DEFAULT_CUSTOMER_VALUE: f32 = 0.5;

/// Who is handling a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// The bot answers.
    Bot,
    /// Waiting for or talking to a human; the bot stays silent.
    Human,
}

/// What the shard remembers about one conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Conversation {
    pub(super) tenant: TenantId,
    /// The customer (for agents' inboxes).
    pub(super) customer: u64,
    pub(super) sequence_last: u64,
    /// Customer messages since an agent last replied (for agents' inboxes).
    pub(super) unread: u32,
    pub(super) phase: Phase,
    pub(super) last_active_ms: u64,
}

/// One customer message, as the input carries it.
pub(super) struct CustomerMessage<'a> {
    pub(super) tenant: TenantId,
    pub(super) customer: u64,
    /// The unmasked text when masking changed it (read for slots only).
    pub(super) raw: Option<&'a str>,
    pub(super) conversation: ConversationId,
    pub(super) sequence: u64,
    pub(super) text: &'a str,
    pub(super) customer_value: f32,
}

impl<B: Brain> RoutingShard<B> {
    /// Handles one customer message.
    pub(super) fn customer_message(
        &mut self,
        message: CustomerMessage<'_>,
    ) -> Result<(), RoutingShardError> {
        self.counters.customer_messages += 1;
        let conversation = message.conversation;
        let phase = match self.conversations.get(&conversation) {
            Some(known) if known.tenant != message.tenant => {
                return Err(RoutingShardError::TenantMismatch {
                    conversation,
                    owner: known.tenant,
                    tenant: message.tenant,
                });
            }
            Some(known) if message.sequence <= known.sequence_last => {
                self.counters.duplicate_messages += 1;
                return Ok(());
            }
            Some(known) => known.phase,
            None => self.start_conversation(message.tenant, message.customer, conversation)?,
        };
        self.touch(conversation, message.sequence);
        let limit = self.config.limits.message_bytes_max;
        let said = Said {
            stored: truncate(message.text, limit),
            raw: truncate(message.raw.unwrap_or(message.text), limit),
        };
        if phase == Phase::Human {
            self.counters.human_messages += 1;
            let sentiment = self.dialogue.observe_said(conversation, said, self.now_ms);
            if sentiment <= self.dialogue.config().sentiment_handoff_max {
                return self.escalate(message.tenant, conversation);
            }
            return Ok(());
        }
        self.counters.classifications += 1;
        let decision = self.dialogue.handle_said(conversation, said, self.now_ms);
        self.act_on(
            message.tenant,
            conversation,
            decision,
            message.customer_value,
        )
    }

    /// Tracks a new conversation, evicting the least recently active bot conversation when full.
    fn start_conversation(
        &mut self,
        tenant: TenantId,
        customer: u64,
        conversation: ConversationId,
    ) -> Result<Phase, RoutingShardError> {
        let max = self.config.limits.conversations_max;
        if self.conversations.len() >= max {
            let Some(&(_, oldest)) = self.bot_activity.first() else {
                return Err(RoutingShardError::TooManyConversations { max });
            };
            self.forget(oldest);
            self.counters.expired += 1;
        }
        let state = Conversation {
            tenant,
            customer,
            sequence_last: 0,
            unread: 0,
            phase: Phase::Bot,
            last_active_ms: self.now_ms,
        };
        self.conversations.insert(conversation, state);
        self.bot_activity.insert((self.now_ms, conversation));
        Ok(Phase::Bot)
    }

    /// Records the message's sequence number and activity time.
    fn touch(&mut self, conversation: ConversationId, sequence: u64) {
        let now_ms = self.now_ms;
        let state = self
            .conversations
            .get_mut(&conversation)
            .expect("tracked by the caller");
        if state.phase == Phase::Bot {
            self.bot_activity
                .remove(&(state.last_active_ms, conversation));
            self.bot_activity.insert((now_ms, conversation));
        }
        state.sequence_last = sequence;
        state.unread = state.unread.saturating_add(1);
        state.last_active_ms = now_ms;
    }

    fn act_on(
        &mut self,
        tenant: TenantId,
        conversation: ConversationId,
        decision: Decision,
        customer_value: f32,
    ) -> Result<(), RoutingShardError> {
        match decision {
            Decision::Answer {
                text,
                intent,
                confidence,
            } => {
                self.counters.answers += 1;
                self.bot_message(tenant, conversation, text, intent, confidence);
            }
            Decision::AskSlot { question, .. } => {
                self.counters.slot_questions += 1;
                let (intent, confidence) = self
                    .dialogue
                    .pending_intent(conversation)
                    .map(|(i, c)| (i.to_string(), c))
                    .unwrap_or_default();
                self.bot_message(tenant, conversation, question, intent, confidence);
            }
            Decision::Ticket { ticket, answer } => {
                self.counters.tickets += 1;
                self.counters.answers += 1;
                let (intent, confidence) = (ticket.category.clone(), ticket.summary.confidence);
                let group = self
                    .groups
                    .iter()
                    .find(|g| g.skills.contains(&ticket.skill))
                    .map_or(self.default_group, |g| g.id);
                self.outbox.push_back(RoutingOutput::Ticket {
                    tenant,
                    conversation,
                    group,
                    ticket,
                });
                self.bot_message(tenant, conversation, answer, intent, confidence);
            }
            Decision::Handoff {
                summary,
                reason,
                priority,
            } => {
                let handoff = Handoff {
                    summary,
                    reason,
                    priority,
                    customer_value,
                };
                self.hand_off(tenant, conversation, handoff)?;
            }
        }
        Ok(())
    }

    fn bot_message(
        &mut self,
        tenant: TenantId,
        conversation: ConversationId,
        text: String,
        intent: String,
        confidence: f32,
    ) {
        self.outbox.push_back(RoutingOutput::BotMessage {
            tenant,
            conversation,
            text,
            intent,
            confidence,
        });
    }

    /// Puts the conversation into the queue of the group for its intent; it leaves the bot for good.
    fn hand_off(
        &mut self,
        tenant: TenantId,
        conversation: ConversationId,
        handoff: Handoff,
    ) -> Result<(), RoutingShardError> {
        let group = self.group_for(&handoff.summary);
        let skill = self.skill_of(group);
        let request = HandoffRequest {
            conversation,
            group,
            skill,
            customer_value: clamp_unit(handoff.customer_value),
            priority: handoff.priority,
            summary: Some(handoff.summary),
        };
        let reason = handoff.reason;
        self.enqueue_for_humans(tenant, request, QueueReason::Handoff(reason))?;
        self.counters.count_handoff(reason);
        Ok(())
    }

    /// The first skill of `group` (empty for an unknown group).
    fn skill_of(&self, group: GroupId) -> String {
        self.groups
            .iter()
            .find(|g| g.id == group)
            .map(|g| g.skills[0].clone())
            .unwrap_or_default()
    }

    /// Queues a tracked conversation for humans (`reason` says why): it leaves the bot for good.
    fn enqueue_for_humans(
        &mut self,
        tenant: TenantId,
        request: HandoffRequest,
        reason: QueueReason,
    ) -> Result<(), RoutingShardError> {
        let conversation = request.conversation;
        self.tenant_mut(tenant)?;
        self.route(tenant, RouterInput::Enqueue(request), reason)?;
        let state = self
            .conversations
            .get_mut(&conversation)
            .expect("tracked by the caller");
        state.phase = Phase::Human;
        self.bot_activity
            .remove(&(state.last_active_ms, conversation));
        Ok(())
    }

    /// A conversation its owner holds for humans that this shard may not track (see
    /// [`RoutingInput::Restore`](super::RoutingInput::Restore)): queued again to its group, as if its
    /// agent had disconnected (after a restart every agent did).
    pub(super) fn restore(
        &mut self,
        tenant: TenantId,
        conversation: ConversationId,
        customer: u64,
        group: GroupId,
    ) -> Result<(), RoutingShardError> {
        if self.is_with_humans(conversation) {
            return Ok(());
        }
        if !self.conversations.contains_key(&conversation) {
            self.start_conversation(tenant, customer, conversation)?;
        }
        let group = if self.groups.iter().any(|g| g.id == group) {
            group
        } else {
            self.default_group
        };
        let skill = self.skill_of(group);
        let request = HandoffRequest {
            conversation,
            group,
            skill,
            customer_value: DEFAULT_CUSTOMER_VALUE,
            priority: Priority::Normal,
            summary: None,
        };
        let reason = QueueReason::Requeued(RequeueReason::AgentDisconnected);
        self.enqueue_for_humans(tenant, request, reason)?;
        self.counters.restored += 1;
        Ok(())
    }

    /// Raises a conversation with humans to the angry customer's priority (a no-op if it is already there).
    fn escalate(
        &mut self,
        tenant: TenantId,
        conversation: ConversationId,
    ) -> Result<(), RoutingShardError> {
        let input = RouterInput::Escalate {
            conversation,
            priority: NEGATIVE_SENTIMENT_PRIORITY,
        };
        // An escalation queues nothing, so the hint is never used.
        self.route(tenant, input, QueueReason::Transferred)
    }

    /// The group covering the summary's intent's skill when the bot was confident, else the default group.
    fn group_for(&self, summary: &ConversationSummary) -> GroupId {
        let confident = summary.confidence >= self.dialogue.config().confidence_threshold;
        let skill = summary
            .intent
            .as_deref()
            .filter(|_| confident)
            .and_then(|id| self.dialogue.kb().intent(id))
            .map(|intent| intent.skill.as_str());
        skill
            .and_then(|skill| {
                self.groups
                    .iter()
                    .find(|g| g.skills.iter().any(|s| s == skill))
            })
            .map_or(self.default_group, |g| g.id)
    }

    /// Forgets a conversation everywhere in the shard except the router.
    pub(super) fn forget(&mut self, conversation: ConversationId) {
        if let Some(state) = self.conversations.remove(&conversation) {
            self.bot_activity
                .remove(&(state.last_active_ms, conversation));
        }
        self.dialogue.end_conversation(conversation);
    }

    /// Forgets conversations still with the bot that idled for `idle_expiry_ms`.
    pub(super) fn expire_idle(&mut self) {
        let idle_ms = self.config.dialogue.idle_expiry_ms;
        while let Some(&(last_ms, conversation)) = self.bot_activity.first() {
            if last_ms.saturating_add(idle_ms) > self.now_ms {
                break;
            }
            self.forget(conversation);
            self.counters.expired += 1;
        }
    }

    /// Refuses an input naming a conversation of another tenant.
    pub(super) fn check_tenant(
        &self,
        tenant: TenantId,
        conversation: ConversationId,
    ) -> Result<(), RoutingShardError> {
        match self.conversations.get(&conversation) {
            Some(known) if known.tenant != tenant => Err(RoutingShardError::TenantMismatch {
                conversation,
                owner: known.tenant,
                tenant,
            }),
            _ => Ok(()),
        }
    }
}

/// A bot handoff decision with the customer's value.
struct Handoff {
    summary: Box<ConversationSummary>,
    reason: HandoffReason,
    priority: Priority,
    customer_value: f32,
}

/// `x` clamped to `[0, 1]`, with NaN as 0.
fn clamp_unit(x: f32) -> f32 {
    if x.is_nan() {
        0.0
    } else {
        x.clamp(0.0, 1.0)
    }
}

/// The longest prefix of `text` of at most `bytes_max` bytes that ends on a character boundary.
fn truncate(text: &str, bytes_max: usize) -> &str {
    if text.len() <= bytes_max {
        return text;
    }
    let mut end = bytes_max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::{clamp_unit, truncate};

    #[test]
    fn truncate_cuts_on_a_character_boundary() {
        let text = "退款refund";
        for bytes_max in 0..=text.len() + 1 {
            let cut = truncate(text, bytes_max);
            assert!(cut.len() <= bytes_max);
            assert!(text.starts_with(cut));
            assert!(
                bytes_max.saturating_sub(cut.len()) < 3,
                "{bytes_max}: {cut}"
            );
        }
        assert_eq!(truncate(text, 100), text);
    }

    #[test]
    fn customer_value_is_clamped_into_the_unit_interval() {
        assert_eq!(clamp_unit(f32::NAN), 0.0);
        assert_eq!(clamp_unit(-3.0), 0.0);
        assert_eq!(clamp_unit(7.0), 1.0);
        assert_eq!(clamp_unit(0.25), 0.25);
    }
}
