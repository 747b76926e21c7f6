//! Routed chat (`routing = true`): the server's routing shard answers customers with the bot or hands them
//! to the agents, and the tool measures what it decides.
//!
//! - Customers say what their [`CustomerKind`] says (held-out knowledge-base questions, out-of-scope lines,
//!   angry lines; [`super::questions`]). Each AI message answers the customer's oldest unanswered question
//!   (the routing shard handles a conversation's messages in order, and AI messages share one lane), which
//!   gives the bot-answer latency from that question's intended send time.
//! - Agents hold agent-role tokens with their groups and wait: a `handoff` naming them assigns a
//!   conversation, which they then `resume` from 0 (the history before the assignment comes as a replay,
//!   so the loss/duplicate/order checks cover the whole conversation, AI messages included), greet, and
//!   answer live customer messages after the think time. The server may deliver the conversation's
//!   messages to the newly assigned agent before the `handoff` itself; the agent then starts following
//!   at that delivery (and the replay covers what came before).
//! - Handoff latency is timed for out-of-scope and angry customers, whose first message is what hands
//!   them over: from its intended time to the assigning `handoff` at the agent. A bot-question customer
//!   handed over (low confidence, a slot never given) is counted in `handoffs_unplanned`, not timed,
//!   because the handoff frame (urgent lane) can overtake the AI answers before it.
//! - Customers and agents of client thread `t` use tenant `tenant + t`: the server routes per tenant, so a
//!   conversation's agent is always on the customer's thread and the checks stay thread-local.

use std::collections::HashMap;

use switchboard_protocol::app::{Deliver, Handoff, MessageId, SenderRole};

use super::actor::{CustomerKind, Role, AWAITING_BOT_MAX, ROUTED_AGENT_USER_BASE};
use super::params::RoutingParams;
use super::questions::pick;
use super::world::{ChatContext, ChatWorld};
use crate::stats::record;

/// The text of a message: the fixed `--size` text, or what a routed customer of `kind` says.
fn message_text<'a>(
    text: &'a str,
    routing: Option<&'a RoutingParams>,
    kind: Option<CustomerKind>,
    seed: u64,
) -> &'a str {
    let (Some(routing), Some(kind)) = (routing, kind) else {
        return text;
    };
    let questions = &routing.questions;
    let list = match kind {
        CustomerKind::BotQuestions => &questions.bot,
        CustomerKind::OutOfScope => &questions.out_of_scope,
        CustomerKind::Angry => &questions.angry,
    };
    pick(list, seed)
}

/// A message id's seed for the choice of its text.
fn seed_of(id: MessageId) -> u64 {
    let (hi, lo) = id.to_halves();
    hi.rotate_left(29) ^ lo
}

/// What a routed world remembers besides its actors.
#[derive(Debug, Default)]
pub struct RoutedState {
    /// Customer (local index) of each open conversation.
    pub customer_of: HashMap<u64, u32>,
    /// Assignments seen at an agent before the customer's opening `ack`: conversation → arrival ns.
    pub early_assignments: HashMap<u64, u64>,
}

impl ChatWorld {
    /// Appends actor `k`'s message `id` to `out`; its text follows from the id, so a re-send says the
    /// same thing. Returns the text's length in bytes.
    pub(super) fn write_message(
        &mut self,
        k: usize,
        id: MessageId,
        conversation: u64,
        mask: [u8; 4],
        out: &mut Vec<u8>,
    ) -> usize {
        let kind = self.actors[k].kind;
        let text = message_text(&self.text, self.routing.as_ref(), kind, seed_of(id));
        self.writer.send(id, conversation, text, mask, out);
        text.len()
    }

    /// A routed customer sent a message intended at `intended_ns`.
    pub(super) fn note_question(&mut self, k: usize, intended_ns: u64) {
        let actor = &mut self.actors[k];
        if actor.kind.is_none() {
            return;
        }
        actor.first_intended_ns.get_or_insert(intended_ns);
        if !actor.handed_off && actor.awaiting_bot.len() < AWAITING_BOT_MAX {
            actor.awaiting_bot.push_back(intended_ns);
        }
    }

    /// A customer's opening send was acked: its conversation is known, an early assignment can be timed.
    pub(super) fn note_opened(&mut self, k: usize, conversation: u64, ctx: &mut ChatContext<'_>) {
        let Some(routed) = self.routed.as_mut() else {
            return;
        };
        routed.customer_of.insert(conversation, k as u32);
        if let Some(arrival_ns) = routed.early_assignments.remove(&conversation) {
            self.time_handoff(k, arrival_ns, ctx);
        }
    }

    /// The handoff latency of customer `k`, assigned at the agent at `arrival_ns`.
    fn time_handoff(&mut self, k: usize, arrival_ns: u64, ctx: &mut ChatContext<'_>) {
        let actor = &self.actors[k];
        let planned = matches!(
            actor.kind,
            Some(CustomerKind::OutOfScope | CustomerKind::Angry)
        );
        if let (true, Some(first)) = (planned, actor.first_intended_ns) {
            record(
                &mut ctx.stats.handoff_latency,
                arrival_ns.saturating_sub(first),
            );
        }
    }

    /// A `handoff` arrived at actor `k`; an agent named in it follows the conversation from its start
    /// (the `resume` goes to `out`, its own connection) and greets after the think time.
    pub(super) fn on_handoff(
        &mut self,
        k: usize,
        handoff: &Handoff,
        ctx: &mut ChatContext<'_>,
        out: &mut Vec<u8>,
    ) {
        if self.routed.is_none() {
            return;
        }
        let conversation = handoff.conversation_id;
        let actor = &mut self.actors[k];
        if actor.is_customer() {
            if !actor.handed_off {
                actor.handed_off = true;
                ctx.stats.handoffs += 1;
                if actor.kind == Some(CustomerKind::BotQuestions) {
                    ctx.stats.handoffs_unplanned += 1;
                }
            }
            return;
        }
        let me = ROUTED_AGENT_USER_BASE + u64::from(actor.number);
        if handoff.agent_id != me || !actor.assigned.insert(conversation) {
            return;
        }
        if !actor.follows.contains_key(&conversation) {
            actor.follows.entry(conversation).or_default();
            self.writer
                .resume(&[(conversation, 0)], ctx.rng.mask(), out);
        }
        ctx.stats.assignments += 1;
        self.schedule_reply(ctx.now_ns, k, conversation);
        let routed = self.routed.as_mut().expect("checked above");
        match routed.customer_of.get(&conversation) {
            Some(&customer) => self.time_handoff(customer as usize, ctx.now_ns, ctx),
            None => {
                routed.early_assignments.insert(conversation, ctx.now_ns);
            }
        }
    }

    /// Routed agent `k` got a delivery in `conversation` before any `handoff` naming it (the server may
    /// deliver to a newly assigned agent first): it follows from the start at once (a `resume` from 0 via
    /// the outbox), so nothing before is missed; the `handoff` is still expected (see
    /// [`ChatWorld::settle_routed`]).
    pub(super) fn agent_follows_early(
        &mut self,
        k: usize,
        conversation: u64,
        ctx: &mut ChatContext<'_>,
    ) {
        let actor = &mut self.actors[k];
        if actor.follows.contains_key(&conversation) {
            return;
        }
        actor.follows.entry(conversation).or_default();
        let mut out = Vec::new();
        self.writer
            .resume(&[(conversation, 0)], ctx.rng.mask(), &mut out);
        self.outbox.push((k as u32, out));
    }

    /// End of the drain: a conversation an agent received without ever getting the `handoff` that names
    /// it is an error (the agent's console would not know it was assigned).
    pub fn settle_routed(&self, stats: &mut crate::stats::Stats) {
        if self.routed.is_none() {
            return;
        }
        for actor in self.actors.iter().filter(|a| !a.is_customer()) {
            let unnamed = actor.follows.keys().filter(|c| !actor.assigned.contains(c));
            for conversation in unnamed {
                eprintln!(
                    "routed agent {} (user {}) got deliveries of conversation {conversation} but no handoff naming it",
                    actor.number,
                    ROUTED_AGENT_USER_BASE + u64::from(actor.number)
                );
                stats.error("routed agent got deliveries but no handoff naming it");
            }
        }
    }

    /// A live or replayed `deliver` reached routed customer `k` (already checked by the ledger).
    pub(super) fn on_routed_deliver(
        &mut self,
        k: usize,
        deliver: &Deliver,
        live: bool,
        ctx: &mut ChatContext<'_>,
    ) {
        let Some(routing) = &self.routing else {
            return;
        };
        let actor = &mut self.actors[k];
        if actor.kind.is_none() {
            return;
        }
        if deliver.sender_role == SenderRole::AI {
            if routing.questions.is_follow_up(&deliver.text) {
                ctx.stats.follow_ups += 1;
            } else {
                ctx.stats.bot_answers += 1;
            }
            if let Some(intended_ns) = actor.awaiting_bot.pop_front() {
                let latency = ctx.now_ns.saturating_sub(intended_ns);
                record(&mut ctx.stats.bot_answer_latency, latency);
            }
        } else if deliver.sender_role == SenderRole::AGENT && live {
            if let Some(parts) = super::wire::IdParts::of(deliver.message_id, self.run_id) {
                let latency = ctx.now_ns.saturating_sub(parts.intended_ns);
                record(&mut ctx.stats.agent_reply_latency, latency);
            }
        }
    }

    /// Whether agent `k` answers this customer message: routed agents answer live messages only (the
    /// replayed history was answered by the bot or by the greeting).
    pub(super) fn routed_agent_skips(&self, k: usize, replaying: bool) -> bool {
        self.routed.is_some() && matches!(self.actors[k].role, Role::Agent { .. }) && replaying
    }
}
