//! The router's inputs (recorded as a replayable event log) and its outputs (recorded as decisions).

use super::agents::{AgentId, AgentSpec, GroupId, GroupSpec, Presence};
use super::ticket::{ConversationId, ConversationSummary, Priority};

/// A conversation that needs a human.
#[derive(Debug, Clone, PartialEq)]
pub struct HandoffRequest {
    /// The conversation.
    pub conversation: ConversationId,
    /// The group whose queue it joins.
    pub group: GroupId,
    /// The skill needed (usually the group's; an intent can be more specific).
    pub skill: String,
    /// Customer value in `[0, 1]` (membership tier, spend, history), from the caller.
    pub customer_value: f32,
    /// How urgent it is.
    pub priority: Priority,
    /// What the bot understood, passed on to the agent.
    pub summary: Option<Box<ConversationSummary>>,
}

/// Where an explicit transfer sends a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferTarget {
    /// A specific agent, who must be online with spare capacity.
    Agent(AgentId),
    /// Another group's queue (keeping the customer's place by original arrival time).
    Group(GroupId),
}

/// One input to the router.
#[derive(Debug, Clone, PartialEq)]
pub enum RouterInput {
    /// Defines a group.
    AddGroup(GroupSpec),
    /// Defines an agent (initially offline).
    AddAgent(AgentSpec),
    /// An agent's presence changed.
    SetPresence {
        /// The agent.
        agent: AgentId,
        /// The new presence.
        presence: Presence,
    },
    /// A conversation asks for a human.
    Enqueue(HandoffRequest),
    /// The agent sent a message in the conversation (stops the reply timer).
    AgentReplied {
        /// The agent.
        agent: AgentId,
        /// The conversation.
        conversation: ConversationId,
    },
    /// The conversation ended.
    Close {
        /// The conversation.
        conversation: ConversationId,
    },
    /// Explicit transfer by an agent or supervisor.
    Transfer {
        /// The conversation.
        conversation: ConversationId,
        /// Where it goes.
        target: TransferTarget,
    },
    /// Raise a conversation's priority (an angry customer while with humans). A waiting conversation is
    /// re-keyed in its group's queue with `priority`, keeping its original arrival time, so it moves ahead
    /// of lower priorities but stays behind earlier arrivals of the same priority; an assigned one keeps its
    /// agent and only the priority it would be re-queued with changes. An equal or lower `priority` changes
    /// nothing (priorities only go up); an unknown conversation is
    /// [`RouterError::UnknownConversation`](super::router::RouterError::UnknownConversation).
    Escalate {
        /// The conversation.
        conversation: ConversationId,
        /// The new priority.
        priority: Priority,
    },
    /// Time passed: check grace periods and reply timeouts.
    Tick,
}

/// An input with the time it happened; the router's event log is a list of these.
#[derive(Debug, Clone, PartialEq)]
pub struct TimedInput {
    /// When, in milliseconds on the caller's clock.
    pub now_ms: u64,
    /// What.
    pub input: RouterInput,
}

/// Why a conversation was assigned to an agent: every component of the score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreBreakdown {
    /// The customer's value in `[0, 1]`.
    pub customer_value: f32,
    /// `1 − |customer value − agent seniority|`, weighted 0.6.
    pub value_match: f64,
    /// The agent's level in the needed skill, weighted 0.3.
    pub skill_match: f64,
    /// The random factor in `[0, 1)`, weighted 0.1, so the same agents do not always win ties.
    pub random: f64,
    /// The agent's load before assignment divided by capacity.
    pub load_ratio: f64,
    /// `0.6 × value_match + 0.3 × skill_match + 0.1 × random`.
    pub base: f64,
    /// `base − load_penalty × load_ratio`, the figure that was maximised.
    pub total: f64,
    /// Agents that were eligible (online, in the group, below capacity).
    pub candidates: u32,
}

/// Why a conversation went back to a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequeueReason {
    /// The agent stayed offline beyond the grace period.
    AgentDisconnected,
    /// The agent did not reply within the reply timeout (the agent is also set away).
    ReplyTimeout,
}

/// One decision of the router; all are recorded, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum RouterEvent {
    /// The conversation joined a group's queue (again, for a re-queue or a transfer).
    Queued {
        /// The conversation.
        conversation: ConversationId,
        /// The group.
        group: GroupId,
        /// Its priority.
        priority: Priority,
        /// Its original arrival time, which orders the queue.
        enqueued_at_ms: u64,
        /// Its arrival sequence number.
        seq: u64,
    },
    /// The conversation was assigned to an agent.
    Assigned {
        /// The conversation.
        conversation: ConversationId,
        /// The agent.
        agent: AgentId,
        /// The group it came from.
        group: GroupId,
        /// How long it waited since its original arrival.
        waited_ms: u64,
        /// Why this agent.
        score: ScoreBreakdown,
    },
    /// The conversation was taken back from an agent.
    Requeued {
        /// The conversation.
        conversation: ConversationId,
        /// The agent it was taken from.
        agent: AgentId,
        /// Why.
        reason: RequeueReason,
    },
    /// The agent was set away by the router (after a reply timeout).
    AgentSetAway {
        /// The agent.
        agent: AgentId,
    },
    /// An explicit transfer happened.
    Transferred {
        /// The conversation.
        conversation: ConversationId,
        /// The agent it left, if it had one.
        from_agent: Option<AgentId>,
        /// Where it went.
        target: TransferTarget,
    },
    /// A conversation's priority was raised by [`RouterInput::Escalate`].
    Escalated {
        /// The conversation.
        conversation: ConversationId,
        /// Its priority before.
        from: Priority,
        /// Its priority now.
        to: Priority,
        /// The group whose queue it was re-keyed in (same arrival time and sequence number); `None` when it
        /// is assigned: it keeps its agent, and `to` applies if it is ever re-queued.
        waiting_in: Option<GroupId>,
    },
    /// The conversation ended and left the router.
    Closed {
        /// The conversation.
        conversation: ConversationId,
        /// The agent it had, if any.
        agent: Option<AgentId>,
    },
}
