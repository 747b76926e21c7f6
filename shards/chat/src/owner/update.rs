//! State changes clients ask for with `conversation_update`: resolving a conversation, transferring it to a
//! group's queue or to an agent, and re-opening a resolved conversation when its customer writes again.
//!
//! Every change is a state record in the log and a `conversation_update` to the conversation's followers;
//! the client that asked gets the same frame as its answer (or an `error`). With the routing shard on, a
//! transfer is the routing shard's decision (it knows who is online and has capacity): the owner forwards
//! it and answers when the decision comes back; without it, the owner applies the transfer itself.

use switchboard_protocol::app::{
    ConversationState as WireState, ConversationUpdate, ErrorCode, Message, OwnedFrame,
};

use super::{error_frame, Outbound, Owner};
use crate::conversation::{Conversation, ConversationState};
use crate::ids::ShardSet;
use crate::messages::{ConnRef, StateChange};
use switchboard_auth::{Claims, Role};
use switchboard_log::LogStorage;
use switchboard_routing::events::TransferTarget;
use switchboard_routing::shard::RoutingInput;

/// The wire form of a state.
fn wire_state(state: ConversationState) -> WireState {
    match state {
        ConversationState::Bot => WireState::BOT,
        ConversationState::Queued => WireState::QUEUED,
        ConversationState::Assigned => WireState::ASSIGNED,
        ConversationState::Resolved => WireState::RESOLVED,
    }
}

/// The `conversation_update` frame announcing `conversation`'s current state.
pub(super) fn update_frame(conversation: &Conversation, reason: &str) -> OwnedFrame {
    OwnedFrame::new(Message::ConversationUpdate(ConversationUpdate {
        conversation_id: conversation.id,
        state: wire_state(conversation.state),
        agent_id: conversation.agent.unwrap_or(0),
        agent_group: conversation
            .group
            .map_or_else(String::new, |group| group.to_string()),
        reason: reason.into(),
    }))
}

/// Who did it, for the reason text the followers see.
fn by(principal: &Claims, reason: &str) -> String {
    let mut text = format!("{} {}", principal.role.name(), principal.user);
    if !reason.is_empty() {
        text.push_str(": ");
        text.push_str(reason);
    }
    text
}

impl<S: LogStorage> Owner<S> {
    /// A client's `conversation_update`, after the access check for writing to the conversation.
    pub(super) fn update(
        &mut self,
        from: ConnRef,
        principal: &Claims,
        conversation_id: u64,
        change: StateChange,
        reason: &str,
    ) {
        match change {
            StateChange::Resolve => self.resolve(from, principal, conversation_id, reason),
            StateChange::ToGroup(_) | StateChange::ToAgent(_) => {
                self.transfer(from, principal, conversation_id, change, reason)
            }
        }
    }

    fn resolve(&mut self, from: ConnRef, principal: &Claims, conversation_id: u64, reason: &str) {
        let conversation = &self.conversations[&conversation_id];
        if conversation.state == ConversationState::Resolved {
            // Idempotent: a retried resolve gets the current state.
            let frame = update_frame(conversation, "already resolved");
            return self.reply(from, vec![frame]);
        }
        let (tenant, group) = (conversation.tenant, conversation.group);
        let why = by(principal, reason);
        self.change_state(
            conversation_id,
            ConversationState::Resolved,
            None,
            group,
            why,
            Some(from),
        );
        if self.config.routing_enabled {
            self.out
                .push_back(Outbound::ToRouting(RoutingInput::ConversationResolved {
                    tenant,
                    conversation: conversation_id,
                }));
        }
    }

    fn transfer(
        &mut self,
        from: ConnRef,
        principal: &Claims,
        conversation_id: u64,
        change: StateChange,
        reason: &str,
    ) {
        if !matches!(principal.role, Role::Agent | Role::Admin) {
            self.counters.forbidden += 1;
            let frame = error_frame(
                ErrorCode::FORBIDDEN,
                "only agents and admins transfer conversations",
                None,
            );
            return self.reply(from, vec![frame]);
        }
        let conversation = &self.conversations[&conversation_id];
        if !matches!(
            conversation.state,
            ConversationState::Queued | ConversationState::Assigned
        ) {
            let frame = error_frame(
                ErrorCode::INVALID_STATE,
                "only a conversation with humans (queued or assigned) can be transferred",
                None,
            );
            return self.reply(from, vec![frame]);
        }
        let (tenant, group) = (conversation.tenant, conversation.group);
        let why = by(principal, reason);
        if !self.config.routing_enabled {
            // No presence or capacity is known without the routing shard: the transfer is applied as asked.
            let (state, agent, group) = match change {
                StateChange::ToGroup(target) => (ConversationState::Queued, None, Some(target)),
                StateChange::ToAgent(agent) => (ConversationState::Assigned, Some(agent), group),
                StateChange::Resolve => unreachable!("resolve handled by update"),
            };
            return self.change_state(conversation_id, state, agent, group, why, Some(from));
        }
        let target = match change {
            StateChange::ToGroup(group) => TransferTarget::Group(group),
            StateChange::ToAgent(agent) => match u32::try_from(agent) {
                Ok(agent) => TransferTarget::Agent(agent),
                Err(_) => {
                    let frame = error_frame(
                        ErrorCode::INVALID_STATE,
                        "agent id beyond the routable range (2^32)",
                        None,
                    );
                    return self.reply(from, vec![frame]);
                }
            },
            StateChange::Resolve => unreachable!("resolve handled by update"),
        };
        self.transfers.insert(conversation_id, (from, why));
        self.out
            .push_back(Outbound::ToRouting(RoutingInput::Transfer {
                tenant,
                conversation: conversation_id,
                target,
            }));
    }

    /// The routing shard did a transfer. To a group, a `Queued` decision follows and tells everyone; the
    /// client who asked gets the new place as its answer. To an agent, the router only moves it, so the
    /// owner records the assignment and tells everyone here.
    pub(super) fn transfer_done(&mut self, conversation_id: u64, target: TransferTarget) {
        let asked = self.transfers.remove(&conversation_id);
        let Some(conversation) = self.conversations.get_mut(&conversation_id) else {
            return;
        };
        match target {
            TransferTarget::Agent(agent) => {
                // The agent's shards are not known here: every shard looks, and those without a follower
                // leave again on the first delivery (`Unfollow`).
                conversation.interest = ShardSet::all(self.shards);
                let group = conversation.group;
                let (from, why) = asked.map_or((None, "transferred".into()), |(from, why)| {
                    (Some(from), why)
                });
                self.change_state(
                    conversation_id,
                    ConversationState::Assigned,
                    Some(u64::from(agent)),
                    group,
                    why,
                    from,
                );
            }
            TransferTarget::Group(group) => {
                if let Some((from, why)) = asked {
                    let mut after = conversation.clone();
                    after.state = ConversationState::Queued;
                    after.agent = None;
                    after.group = Some(group);
                    self.reply(from, vec![update_frame(&after, &why)]);
                }
            }
        }
    }

    /// The routing shard refused the transfer: the client who asked learns why; nothing changed.
    pub(super) fn transfer_refused(&mut self, conversation_id: u64, reason: &str) {
        if let Some((from, _)) = self.transfers.remove(&conversation_id) {
            let frame = error_frame(ErrorCode::INVALID_STATE, reason, None);
            self.reply(from, vec![frame]);
        }
    }

    /// A customer wrote in a resolved conversation: it opens again, with the bot (or, without the routing
    /// shard, in the fallback group's queue).
    pub(super) fn reopen(&mut self, conversation_id: u64) {
        let (state, group) = if self.config.routing_enabled {
            (ConversationState::Bot, None)
        } else {
            (ConversationState::Queued, Some(self.config.fallback_group))
        };
        self.change_state(
            conversation_id,
            state,
            None,
            group,
            "re-opened by the customer".into(),
            None,
        );
    }
}
