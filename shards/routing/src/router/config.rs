//! Router configuration and errors.

use thiserror::Error;

use super::super::agents::{AgentId, GroupId};
use super::super::ticket::ConversationId;

/// Router settings; validated by [`Router::new`](super::Router::new).
#[derive(Debug, Clone, PartialEq)]
pub struct RouterConfig {
    /// Seed of the random factor.
    pub seed: u64,
    /// How long an offline agent keeps their conversations before they are re-queued.
    pub disconnect_grace_ms: u64,
    /// How long an agent may take to send the first reply in an assigned conversation.
    pub reply_timeout_ms: u64,
    /// How much a full agent's score is lowered (score − penalty × load/capacity).
    pub load_penalty: f64,
    /// Most decisions kept in [`Router::decisions`](super::Router::decisions) and inputs in [`Router::event_log`](super::Router::event_log); beyond it, the
    /// oldest are dropped and replay from the log is no longer possible ([`Router::log_complete`](super::Router::log_complete)).
    pub records_max: usize,
    /// Most conversations tracked (waiting or assigned); more is an error for the caller.
    pub conversations_max: usize,
}

impl Default for RouterConfig {
    fn default() -> Self {
        RouterConfig {
            seed: 0x5EED,
            disconnect_grace_ms: 30_000,
            reply_timeout_ms: 120_000,
            load_penalty: 0.5,
            records_max: 1_000_000,
            conversations_max: 1_000_000,
        }
    }
}

/// Errors from [`Router::handle`](super::Router::handle): the caller (the server) sent an input inconsistent with the router's state.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RouterError {
    /// A config field is out of range (local configuration).
    #[error("router config: `{0}` is out of range")]
    Config(&'static str),
    /// The agent id is not known.
    #[error("unknown agent {0}")]
    UnknownAgent(AgentId),
    /// The group id is not known.
    #[error("unknown group {0}")]
    UnknownGroup(GroupId),
    /// The conversation is not waiting or assigned.
    #[error("unknown conversation {0}")]
    UnknownConversation(ConversationId),
    /// An agent or group id is defined twice.
    #[error("agent or group {0} already exists")]
    Duplicate(u32),
    /// The conversation is already waiting or assigned.
    #[error("conversation {0} is already routed")]
    AlreadyRouted(ConversationId),
    /// A transfer target agent is not online or is full.
    #[error("agent {0} is offline, away or full")]
    AgentUnavailable(AgentId),
    /// A reply came from an agent the conversation is not assigned to.
    #[error("agent {agent} is not assigned conversation {conversation}")]
    NotAssigned {
        /// The agent.
        agent: AgentId,
        /// The conversation.
        conversation: ConversationId,
    },
    /// Customer value, seniority or skill level outside `[0, 1]`, or zero capacity.
    #[error("value out of range in the request or agent spec")]
    OutOfRange,
    /// The router already tracks `conversations_max` conversations (backpressure).
    #[error("router is full")]
    Full,
}
