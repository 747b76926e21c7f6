//! [`Conversation`]: what an owner shard knows about one of its conversations.

use switchboard_auth::ConversationFacts;

use super::ids::ShardSet;

/// Where a conversation is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversationState {
    /// The bot answers (the initial state).
    Bot,
    /// Waiting in an agent group's queue.
    Queued,
    /// A human agent has it.
    Assigned,
    /// Finished; a new customer message reopens it with the bot.
    Resolved,
}

impl ConversationState {
    /// The stored byte.
    pub fn as_u8(self) -> u8 {
        match self {
            ConversationState::Bot => 0,
            ConversationState::Queued => 1,
            ConversationState::Assigned => 2,
            ConversationState::Resolved => 3,
        }
    }

    /// The state for a stored byte.
    pub fn from_u8(byte: u8) -> Option<ConversationState> {
        Some(match byte {
            0 => ConversationState::Bot,
            1 => ConversationState::Queued,
            2 => ConversationState::Assigned,
            3 => ConversationState::Resolved,
            _ => return None,
        })
    }

    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            ConversationState::Bot => "bot",
            ConversationState::Queued => "queued",
            ConversationState::Assigned => "assigned",
            ConversationState::Resolved => "resolved",
        }
    }
}

/// One conversation, as its owner shard holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    /// The id (global on the node).
    pub id: u64,
    /// The tenant; no other tenant's user ever reaches it.
    pub tenant: u64,
    /// The customer who opened it.
    pub customer: u64,
    /// The human agent, once assigned.
    pub agent: Option<u64>,
    /// The agent group it waits for or was assigned through.
    pub group: Option<u32>,
    /// Its state.
    pub state: ConversationState,
    /// The highest sequence appended to the log (acknowledged or about to be).
    pub appended_seq: u64,
    /// The highest sequence acknowledged and delivered; resume and history see up to here.
    pub released_seq: u64,
    /// The shards that may hold connections following it; a shard leaves when it has none.
    pub interest: ShardSet,
    /// The customer writes Chinese (its last message with letters or ideographs): customer-facing
    /// notices use it. In memory only; English after a restart until the customer writes again.
    pub chinese: bool,
    /// Wall-clock milliseconds of its last message or state change (idle eviction).
    pub last_active_ms: u64,
    /// Its place in its group's queue when it was last queued, from 1 (0: unknown or not queued), told
    /// to the customer with the handoff. In memory only.
    pub queue_position: u32,
    /// Raised whenever a shard joins `interest`: a shard's `Unfollow` sent before that (it crossed
    /// the join on the rings) is stale and ignored.
    pub interest_epoch: u64,
}

impl Conversation {
    /// A new conversation of `customer` in `tenant`, followed by every shard until they say otherwise.
    pub fn new(id: u64, tenant: u64, customer: u64, shards: usize) -> Conversation {
        Conversation {
            id,
            tenant,
            customer,
            agent: None,
            group: None,
            state: ConversationState::Bot,
            appended_seq: 0,
            released_seq: 0,
            interest: ShardSet::all(shards),
            chinese: false,
            last_active_ms: 0,
            interest_epoch: 0,
            queue_position: 0,
        }
    }

    /// The facts the access rules ([`switchboard_auth::authorize`]) look at.
    pub fn facts(&self) -> ConversationFacts {
        ConversationFacts {
            tenant: self.tenant,
            customer: self.customer,
            assigned_agent: self.agent,
            group: self.group,
        }
    }
}
