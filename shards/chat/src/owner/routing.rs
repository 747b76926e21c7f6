//! Decisions of the routing shard applied to a conversation: bot answers, tickets, queueing and
//! assignment (each a state record in the log and a `handoff` frame to the followers).

use switchboard_protocol::app::{Handoff, Message, MessageId, OwnedFrame};

use super::update::update_frame;
use super::{Outbound, Owner, BOT_USER_ID};
use crate::conversation::ConversationState;
use crate::messages::{Audience, ConnRef};
use switchboard_auth::{Claims, Role};
use switchboard_log::LogStorage;
use switchboard_routing::shard::{RoutingInput, RoutingOutput};
use switchboard_routing::ticket::ConversationSummary;

/// One line for the agent console: what the bot understood.
fn summary_line(summary: &ConversationSummary) -> String {
    let intent = summary.intent.as_deref().unwrap_or("unknown");
    let mut line = format!(
        "intent {intent} ({:.0}%), sentiment {:.2}",
        summary.confidence * 100.0,
        summary.sentiment
    );
    for (slot, value) in &summary.slots {
        line.push_str(&format!(", {slot}={value}"));
    }
    if let Some(last) = summary.last_messages.last() {
        line.push_str(&format!("; last: {last}"));
    }
    line
}

/// What a customer's `handoff` says: customer-facing text in its language (docs/protocol.md, `handoff`).
/// With a place in the queue (from 1), it says so.
pub fn customer_handoff_text(state: ConversationState, chinese: bool, position: u32) -> String {
    match (state, chinese, position) {
        (ConversationState::Assigned, false, _) => "An agent has joined the conversation.".into(),
        (ConversationState::Assigned, true, _) => "人工客服已接入，正在为您服务。".into(),
        (_, false, 0) => {
            "Connecting you to a human agent. Please stay here; you will be answered in turn.".into()
        }
        (_, false, place) => format!(
            "Connecting you to a human agent. You are number {place} in the queue; please stay here."
        ),
        (_, true, 0) => "正在为您转接人工客服，请稍候，我们会按顺序为您服务。".into(),
        (_, true, place) => format!("正在为您转接人工客服，您当前排在第 {place} 位，请稍候。"),
    }
}

impl<S: LogStorage> Owner<S> {
    /// The summary line for agents, masked by the tenant's PII policy like every delivered text (the
    /// bot read the unmasked message to fill its slots; a slot value must not leak through here).
    fn console_summary(&self, conversation: u64, summary: Option<&ConversationSummary>) -> String {
        let Some(summary) = summary else {
            return String::new();
        };
        let line = summary_line(summary);
        let Some(tenant) = self.conversations.get(&conversation).map(|c| c.tenant) else {
            return line;
        };
        switchboard_pii::mask(&line, self.pii.rules_for(tenant))
            .text
            .into_owned()
    }

    /// Acts on a decision of the routing shard about one of this shard's conversations.
    pub fn handle_routing(&mut self, output: RoutingOutput, wall_ms: u64) {
        self.wall_ms = self.wall_ms.max(wall_ms);
        if let Some(conversation) = output.conversation() {
            self.ensure_loaded(conversation);
        }
        match output {
            RoutingOutput::BotMessage {
                conversation, text, ..
            } => self.bot_message(conversation, &text, wall_ms),
            RoutingOutput::Ticket {
                conversation,
                group,
                ticket,
                ..
            } => self.open_ticket(conversation, group, &ticket.category, wall_ms),
            RoutingOutput::Queued {
                conversation,
                group,
                summary,
                position,
                ..
            } => {
                if let Some(state) = self.conversations.get_mut(&conversation) {
                    state.queue_position = position;
                }
                let reason = self.console_summary(conversation, summary.as_deref());
                self.change_state(
                    conversation,
                    ConversationState::Queued,
                    None,
                    Some(group),
                    reason,
                    None,
                );
            }
            RoutingOutput::Assigned {
                conversation,
                agent,
                group,
                agent_shards,
                summary,
                ..
            } => {
                if let Some(state) = self.conversations.get_mut(&conversation) {
                    for shard in agent_shards {
                        if shard < self.shards {
                            state.interest.insert(shard);
                            state.interest_epoch += 1;
                        }
                    }
                }
                let reason = self.console_summary(conversation, summary.as_deref());
                self.change_state(
                    conversation,
                    ConversationState::Assigned,
                    Some(u64::from(agent)),
                    Some(group),
                    reason,
                    None,
                );
            }
            RoutingOutput::Requeued { conversation, .. } => {
                let group = self.conversations.get(&conversation).and_then(|c| c.group);
                self.change_state(
                    conversation,
                    ConversationState::Queued,
                    None,
                    group,
                    "re-queued".into(),
                    None,
                );
            }
            RoutingOutput::Transferred {
                conversation,
                target,
                ..
            } => self.transfer_done(conversation, target),
            RoutingOutput::TransferRefused {
                conversation,
                reason,
                ..
            } => self.transfer_refused(conversation, &reason),
            // Handled by the connection shards (ChatShard::notify_agents).
            RoutingOutput::ToAgents { .. } => {}
        }
    }

    /// The routing shard could not take a customer message (its ring is full): the conversation waits
    /// for a human in the fallback group rather than for an answer that will not come.
    pub fn routing_unavailable(&mut self, conversation: u64) {
        let in_bot = self.conversations.get(&conversation).is_some_and(|c| {
            matches!(
                c.state,
                ConversationState::Bot | ConversationState::Resolved
            )
        });
        if in_bot {
            let group = self.config.fallback_group;
            self.change_state(
                conversation,
                ConversationState::Queued,
                None,
                Some(group),
                "routing shard busy".into(),
                None,
            );
            // The routing shard must learn it, or nobody would ever be assigned: this input waits in
            // the ring's overflow queue rather than being refused.
            if let Some(c) = self.conversations.get(&conversation) {
                let input = RoutingInput::Restore {
                    tenant: c.tenant,
                    conversation,
                    customer: c.customer,
                    group,
                };
                self.out.push_back(Outbound::ToRouting(input));
            }
        }
    }

    pub(super) fn bot_message(&mut self, conversation_id: u64, text: &str, wall_ms: u64) {
        let Some(conversation) = self.conversations.get(&conversation_id) else {
            return;
        };
        if !matches!(
            conversation.state,
            ConversationState::Bot | ConversationState::Resolved
        ) {
            return;
        }
        let mut message_id = [0xA1; 16];
        message_id[4..8].copy_from_slice(&(self.shard as u32).to_be_bytes());
        message_id[8..].copy_from_slice(&self.log.next_lsn().to_be_bytes());
        let bot = Claims {
            key_id: String::new(),
            tenant: conversation.tenant,
            user: BOT_USER_ID,
            role: Role::Bot,
            groups: Vec::new(),
            value_percent: None,
            issued_at_s: 0,
            expires_at_s: 0,
        };
        self.send(
            None,
            &bot,
            conversation_id,
            MessageId(message_id),
            text,
            (wall_ms, 0),
        );
    }

    pub(super) fn change_state(
        &mut self,
        conversation_id: u64,
        state: ConversationState,
        agent: Option<u64>,
        group: Option<u32>,
        reason: String,
        asked_by: Option<ConnRef>,
    ) {
        let Some(conversation) = self.conversations.get_mut(&conversation_id) else {
            return;
        };
        self.open.changed(
            conversation.tenant,
            conversation.customer,
            conversation.state,
            state,
        );
        conversation.state = state;
        conversation.agent = agent;
        conversation.group = group;
        conversation.last_active_ms = self.wall_ms;
        // Set just before by a routing decision that queued it; told once, then forgotten.
        let queue_position = std::mem::take(&mut conversation.queue_position);
        tracing::debug!(
            shard = self.shard,
            conversation = conversation_id,
            state = state.label(),
            agent,
            group,
            interest = ?conversation.interest,
            "conversation state changed"
        );
        let snapshot = conversation.clone();
        // What follows tells of the change: held until the commit makes it durable (a log that cannot
        // write keeps the change in memory and tells it at once, as before).
        let stored = self.append_state(&snapshot).ok();
        let mark = self.out.len();
        if matches!(
            state,
            ConversationState::Queued | ConversationState::Assigned
        ) {
            // The agents' console view: where it went and what the bot understood.
            let agent_group = group.map_or_else(String::new, |g| g.to_string());
            let frame = Message::Handoff(Handoff {
                conversation_id,
                agent_id: agent.unwrap_or(0),
                agent_group: agent_group.clone(),
                reason: reason.clone(),
            });
            self.fan_out_to(
                conversation_id,
                OwnedFrame::new(frame),
                None,
                Audience::Staff,
            );
            // The customer's view: what happens next, in its language, never the scores.
            let frame = Message::Handoff(Handoff {
                conversation_id,
                agent_id: agent.unwrap_or(0),
                agent_group,
                reason: customer_handoff_text(state, snapshot.chinese, queue_position),
            });
            self.fan_out_to(
                conversation_id,
                OwnedFrame::new(frame),
                None,
                Audience::Customer,
            );
            if state == ConversationState::Assigned {
                self.send_recent_to_staff(conversation_id);
            }
        }
        // Everyone's compact notice (the customer too, so not the bot's summary); the client that asked
        // gets it as its answer.
        let notice = if asked_by.is_none() && !matches!(state, ConversationState::Resolved) {
            update_frame(&snapshot, state.label())
        } else {
            update_frame(&snapshot, &reason)
        };
        if let Some(asker) = asked_by {
            self.reply(asker, vec![notice.clone()]);
        }
        self.fan_out(conversation_id, notice, asked_by);
        if let Some(lsn) = stored {
            self.hold_since(mark, lsn);
        }
    }
}
