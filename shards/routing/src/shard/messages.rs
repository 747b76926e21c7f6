//! What the conversation owner shards send to the routing shard, and what it sends back.
//!
//! These are the named message types carried by the rings to and from the routing shard. They are plain
//! owned data (`Send`), with no references into either side's state.

use super::super::agents::{AgentId, GroupId, Presence};
use super::super::dialogue::HandoffReason;
use super::super::events::{RequeueReason, TransferTarget};
use super::super::ticket::{ConversationId, ConversationSummary, Priority, Ticket};

/// Tenant identifier; routers, agents and conversations of different tenants never mix.
pub type TenantId = u64;

/// One agent console connection: its connection shard and its id there (what an answer meant for that
/// console alone, such as its inbox, is addressed to).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsoleRef {
    /// The connection shard.
    pub shard: usize,
    /// The connection on that shard.
    pub conn: switchboard_core::engine::ConnId,
}

/// One input to the routing shard.
#[derive(Debug, Clone, PartialEq)]
pub enum RoutingInput {
    /// A customer message, already stored and PII-masked by the conversation's owner shard.
    CustomerMessage {
        /// The tenant.
        tenant: TenantId,
        /// The conversation (globally unique on the node).
        conversation: ConversationId,
        /// The customer.
        customer: u64,
        /// The owner's per-conversation sequence number; a number at or below the last one seen is a
        /// duplicate and is ignored.
        sequence: u64,
        /// The masked text.
        text: String,
        /// Customer value in `[0, 1]` (tier, spend, history); out-of-range values are clamped.
        customer_value: f32,
        /// The text as the customer wrote it, when PII masking changed it: the bot reads it to fill
        /// slots (a phone number, an e-mail, an order id that looks like a card number), in memory
        /// only; histories and summaries keep the masked `text`.
        raw: Option<String>,
    },
    /// An agent opened one connection on `shard`.
    AgentOnline {
        /// The tenant.
        tenant: TenantId,
        /// The agent.
        agent: AgentId,
        /// Groups the agent serves; unknown group ids are ignored (counted in `agent_groups_unknown`).
        groups: Vec<GroupId>,
        /// The connection shard the connection lives on.
        shard: usize,
        /// The connection: it is told the agent's presence and gets its inbox.
        console: ConsoleRef,
    },
    /// One of an agent's connections on `shard` closed; the agent is offline once none is left.
    AgentOffline {
        /// The tenant.
        tenant: TenantId,
        /// The agent.
        agent: AgentId,
        /// The connection shard the connection lived on.
        shard: usize,
    },
    /// The agent chose a presence in the console (online or away; offline while connected means the agent
    /// signed off, and their conversations are re-queued after the grace period).
    AgentSetPresence {
        /// The tenant.
        tenant: TenantId,
        /// The agent.
        agent: AgentId,
        /// The chosen presence.
        presence: Presence,
    },
    /// An agent's console asks for its inbox (also sent for every new console by `AgentOnline`).
    InboxQuery {
        /// The tenant.
        tenant: TenantId,
        /// The agent.
        agent: AgentId,
        /// The console to answer.
        console: ConsoleRef,
    },
    /// A ticket was opened or changed (stored by the conversation's owner; also sent for every open
    /// ticket when an owner starts): the routing shard keeps the open ones for agents' inboxes and
    /// tells the online agents of its group and the agent holding it.
    TicketChanged {
        /// The tenant.
        tenant: TenantId,
        /// The ticket as agents see it.
        ticket: Box<switchboard_protocol::app::Ticket>,
        /// The group that works it.
        group: GroupId,
    },
    /// The agent sent a message in a conversation assigned to them (stops the reply timer).
    AgentReplied {
        /// The tenant.
        tenant: TenantId,
        /// The agent.
        agent: AgentId,
        /// The conversation.
        conversation: ConversationId,
    },
    /// The conversation ended; all its state is dropped.
    ConversationResolved {
        /// The tenant.
        tenant: TenantId,
        /// The conversation.
        conversation: ConversationId,
    },
    /// An agent or supervisor moved a conversation to another agent or group.
    Transfer {
        /// The tenant.
        tenant: TenantId,
        /// The conversation.
        conversation: ConversationId,
        /// Where it goes.
        target: TransferTarget,
    },
    /// A conversation its owner holds for humans (queued, or assigned before a restart) that this shard
    /// may not track: after a restart (this shard's state is memory only) and when the owner queued it
    /// itself because this shard's ring was full. Untracked, it is queued to `group` (a known one, else
    /// the default group); already with humans here, nothing changes.
    Restore {
        /// The tenant.
        tenant: TenantId,
        /// The conversation.
        conversation: ConversationId,
        /// Its customer.
        customer: u64,
        /// The group it was queued to or assigned through.
        group: GroupId,
    },
    /// Time passed; same as [`RoutingShard::tick`](super::RoutingShard::tick).
    Tick,
}

/// Why a conversation joined a group's queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueReason {
    /// The bot handed it over.
    Handoff(HandoffReason),
    /// Its agent disconnected or did not reply in time.
    Requeued(RequeueReason),
    /// It was transferred to this group.
    Transferred,
}

/// One output of the routing shard, polled with [`RoutingShard::poll_output`](super::RoutingShard::poll_output).
#[derive(Debug, Clone, PartialEq)]
pub enum RoutingOutput {
    /// A bot answer or a slot question; the owner stores and delivers it as an AI message.
    BotMessage {
        /// The tenant.
        tenant: TenantId,
        /// The conversation.
        conversation: ConversationId,
        /// The text in the customer's language.
        text: String,
        /// The intent answered, or the intent whose slot is asked for.
        intent: String,
        /// The classifier's confidence in that intent.
        confidence: f32,
    },
    /// A structured ticket, for the urgent lane: the owner stores it (giving it its durable id) and
    /// tells the routing shard back with [`RoutingInput::TicketChanged`].
    Ticket {
        /// The tenant.
        tenant: TenantId,
        /// The conversation.
        conversation: ConversationId,
        /// The agent group that works it (by the ticket's skill).
        group: GroupId,
        /// The ticket.
        ticket: Box<Ticket>,
    },
    /// The conversation waits in a group's queue for an agent.
    Queued {
        /// The tenant.
        tenant: TenantId,
        /// The conversation.
        conversation: ConversationId,
        /// The group.
        group: GroupId,
        /// Its priority in the queue.
        priority: Priority,
        /// Why it is queued.
        reason: QueueReason,
        /// What the bot understood, for the agent who takes it.
        summary: Option<Box<ConversationSummary>>,
        /// Its place in the group's queue, from 1 (0: not waiting any more), for the customer.
        position: u32,
    },
    /// The conversation was assigned to an agent.
    Assigned {
        /// The tenant.
        tenant: TenantId,
        /// The conversation.
        conversation: ConversationId,
        /// The agent.
        agent: AgentId,
        /// The group it came from.
        group: GroupId,
        /// Connection shards where the agent has connections, ascending.
        agent_shards: Vec<usize>,
        /// What the bot understood, brought up to date with the customer's latest messages.
        summary: Option<Box<ConversationSummary>>,
    },
    /// The conversation was taken back from an agent; a `Queued` (and maybe an `Assigned`) follows.
    Requeued {
        /// The tenant.
        tenant: TenantId,
        /// The conversation.
        conversation: ConversationId,
        /// The agent it was taken from.
        agent: AgentId,
        /// Why.
        reason: RequeueReason,
    },
    /// An explicit transfer happened. To a group, a `Queued` (and maybe an `Assigned`) follows; to an
    /// agent, nothing follows: the conversation is that agent's now.
    Transferred {
        /// The tenant.
        tenant: TenantId,
        /// The conversation.
        conversation: ConversationId,
        /// The agent it left, if it had one.
        from_agent: Option<AgentId>,
        /// Where it went.
        target: TransferTarget,
    },
    /// An explicit transfer could not be done (unknown or unavailable agent, unknown group, conversation
    /// not with humans); nothing changed. The owner tells the client who asked.
    TransferRefused {
        /// The tenant.
        tenant: TenantId,
        /// The conversation.
        conversation: ConversationId,
        /// Where it was to go.
        target: TransferTarget,
        /// Why not, for the client (English).
        reason: String,
    },
    /// A frame for agents' consoles (a presence notice, an inbox, an error about the agent): each shard in
    /// `shards` gives it to its connections of these agents, or only to `only`.
    ToAgents {
        /// The tenant.
        tenant: TenantId,
        /// The agents.
        agents: Vec<AgentId>,
        /// The connection shards to send it to.
        shards: Vec<usize>,
        /// Just this console, when set.
        only: Option<ConsoleRef>,
        /// The frame.
        frame: Box<switchboard_protocol::app::OwnedFrame>,
    },
}

impl RoutingOutput {
    /// The conversation a decision is about (`None` for notices to agents' consoles).
    pub fn conversation(&self) -> Option<ConversationId> {
        match self {
            RoutingOutput::BotMessage { conversation, .. }
            | RoutingOutput::Ticket { conversation, .. }
            | RoutingOutput::Queued { conversation, .. }
            | RoutingOutput::Assigned { conversation, .. }
            | RoutingOutput::Requeued { conversation, .. }
            | RoutingOutput::Transferred { conversation, .. }
            | RoutingOutput::TransferRefused { conversation, .. } => Some(*conversation),
            RoutingOutput::ToAgents { .. } => None,
        }
    }
}
