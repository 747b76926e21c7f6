//! What agents' consoles are told by the routing shard, which alone sees every agent and queue of a
//! tenant: the agent's presence (on connecting and whenever it changes) and its inbox (the conversations
//! assigned to it and those waiting in its groups' queues), as [`RoutingOutput::ToAgents`] frames that
//! the connection shards hand to the agent's connections.

use switchboard_protocol::app::{
    ConversationState, ErrorCode, ErrorReport, Inbox, InboxEntry, Message, OwnedFrame, Presence,
    PresenceState, Ticket, TicketStatus,
};

use super::super::agents::{AgentId, GroupId, Presence as RouterPresence};
use super::super::brain::Brain;
use super::super::ticket::ConversationId;
use super::{ConsoleRef, RoutingOutput, RoutingShard, RoutingShardError, TenantId};

/// At most this many open tickets the routing shard keeps per tenant (for inboxes); beyond it the
/// oldest ids are dropped from the inboxes (they stay stored by their owners).
pub const TICKETS_PER_TENANT_MAX: usize = 10_000;

/// At most this many entries in each list of an inbox (assigned, queued): a console pages the rest
/// through the `conversation_update` notices it receives.
pub const INBOX_ENTRIES_MAX: usize = 200;

/// Why an agent's presence is what it is, as told in `presence.reason`.
pub(super) mod reason {
    /// A console connected (a new session starts online).
    pub const CONNECTED: &str = "connected";
    /// The agent chose it.
    pub const CHOSEN: &str = "chosen";
    /// The router set the agent away: an assigned conversation got no reply in time.
    pub const REPLY_TIMEOUT: &str = "no reply within the reply timeout";
}

/// The wire value of a router presence.
pub(super) fn wire_presence(presence: RouterPresence) -> PresenceState {
    match presence {
        RouterPresence::Offline => PresenceState::OFFLINE,
        RouterPresence::Online => PresenceState::ONLINE,
        RouterPresence::Away => PresenceState::AWAY,
    }
}

impl<B: Brain> RoutingShard<B> {
    /// Tells every console of `agent` (or only `only`) its effective presence.
    pub(super) fn tell_presence(
        &mut self,
        tenant: TenantId,
        agent: AgentId,
        why: &str,
        only: Option<ConsoleRef>,
    ) {
        let Some(live) = self.tenants.get(&tenant).and_then(|t| t.agents.get(&agent)) else {
            return;
        };
        let frame = Message::Presence(Presence {
            user_id: u64::from(agent),
            presence: wire_presence(live.effective()),
            reason: why.to_owned(),
        });
        let shards = live.shards();
        self.notify_agent(tenant, agent, shards, only, frame);
    }

    /// Tells one console why its agent cannot be routed (none of its groups is known).
    pub(super) fn tell_unroutable(
        &mut self,
        tenant: TenantId,
        agent: AgentId,
        groups: &[GroupId],
        console: ConsoleRef,
    ) {
        let known: Vec<String> = self
            .groups
            .iter()
            .map(|g| format!("{} ({})", g.id, g.name))
            .collect();
        let frame = Message::Error(ErrorReport {
            code: ErrorCode::INVALID_STATE,
            message: format!(
                "none of this agent's groups {groups:?} is known, so no conversation will be routed to it; known groups: {}",
                known.join(", ")
            ),
            retry_after_ms: None,
        });
        self.notify_agent(tenant, agent, vec![console.shard], Some(console), frame);
    }

    /// A ticket was opened or changed: keep the open ones, and tell the agents of its group who are
    /// connected and the agent holding it.
    pub(super) fn ticket_changed(
        &mut self,
        tenant: TenantId,
        ticket: Ticket,
        group: GroupId,
    ) -> Result<(), RoutingShardError> {
        let state = self.tenant_mut(tenant)?;
        if ticket.status == TicketStatus::CLOSED {
            state.tickets.remove(&ticket.ticket_id);
        } else {
            state
                .tickets
                .insert(ticket.ticket_id, (ticket.clone(), group));
            while state.tickets.len() > TICKETS_PER_TENANT_MAX {
                state.tickets.pop_first();
            }
        }
        let holder = AgentId::try_from(ticket.agent_id).ok();
        let mut agents = Vec::new();
        let mut shards = Vec::new();
        for (&agent, live) in &state.agents {
            let serves = state
                .router
                .agent(agent)
                .is_some_and(|a| a.spec.groups.contains(&group));
            if (serves || Some(agent) == holder) && !live.connections.is_empty() {
                agents.push(agent);
                shards.extend(live.shards());
            }
        }
        shards.sort_unstable();
        shards.dedup();
        if !agents.is_empty() {
            self.outbox.push_back(RoutingOutput::ToAgents {
                tenant,
                agents,
                shards,
                only: None,
                frame: Box::new(OwnedFrame::new(Message::Ticket(ticket))),
            });
        }
        Ok(())
    }

    /// Sends `console` the inbox of `agent`.
    pub(super) fn send_inbox(&mut self, tenant: TenantId, agent: AgentId, console: ConsoleRef) {
        let frame = Message::Inbox(self.inbox(tenant, agent));
        self.notify_agent(tenant, agent, vec![console.shard], Some(console), frame);
    }

    /// The inbox of `agent`: its conversations, its groups' queues (first served first), each list cut
    /// at [`INBOX_ENTRIES_MAX`].
    pub(super) fn inbox(&self, tenant: TenantId, agent: AgentId) -> Inbox {
        let mut inbox = Inbox {
            agent_id: u64::from(agent),
            presence: PresenceState::OFFLINE,
            ..Inbox::default()
        };
        let Some(state) = self.tenants.get(&tenant) else {
            return inbox;
        };
        if let Some(live) = state.agents.get(&agent) {
            inbox.presence = wire_presence(live.effective());
        }
        let Some(router_agent) = state.router.agent(agent) else {
            return inbox;
        };
        inbox.tickets = state
            .tickets
            .values()
            .filter(|(ticket, group)| {
                router_agent.spec.groups.contains(group) || ticket.agent_id == u64::from(agent)
            })
            .map(|(ticket, _)| ticket.clone())
            .take(INBOX_ENTRIES_MAX)
            .collect();
        for &conversation in router_agent.conversations.iter().take(INBOX_ENTRIES_MAX) {
            inbox
                .assigned
                .push(self.inbox_entry(tenant, conversation, 0));
        }
        'groups: for &group in &router_agent.spec.groups {
            for (place, conversation) in state.router.waiting(group).into_iter().enumerate() {
                if inbox.queued.len() == INBOX_ENTRIES_MAX {
                    break 'groups;
                }
                let position = u32::try_from(place + 1).unwrap_or(u32::MAX);
                inbox
                    .queued
                    .push(self.inbox_entry(tenant, conversation, position));
            }
        }
        inbox
    }

    /// One inbox line: what the router and the shard know of `conversation`.
    fn inbox_entry(
        &self,
        tenant: TenantId,
        conversation: ConversationId,
        position: u32,
    ) -> InboxEntry {
        let router = &self.tenants[&tenant].router;
        let placement = router.placement(conversation);
        let known = self.conversations.get(&conversation);
        let agent = placement.and_then(|p| p.agent);
        InboxEntry {
            conversation_id: conversation,
            customer_id: known.map_or(0, |c| c.customer),
            state: if agent.is_some() {
                ConversationState::ASSIGNED
            } else {
                ConversationState::QUEUED
            },
            agent_id: agent.map_or(0, u64::from),
            agent_group: placement.map_or_else(String::new, |p| p.group.to_string()),
            last_sequence: known.map_or(0, |c| c.sequence_last),
            unread: known.map_or(0, |c| c.unread),
            waiting_ms: placement.map_or(0, |p| router.now_ms().saturating_sub(p.since_ms)),
            position,
        }
    }

    fn notify_agent(
        &mut self,
        tenant: TenantId,
        agent: AgentId,
        shards: Vec<usize>,
        only: Option<ConsoleRef>,
        message: Message,
    ) {
        if shards.is_empty() {
            return;
        }
        self.outbox.push_back(RoutingOutput::ToAgents {
            tenant,
            agents: vec![agent],
            shards,
            only,
            frame: Box::new(OwnedFrame::new(message)),
        });
    }
}
