//! Tickets and the conversation summary that goes with a ticket or a handoff.
//!
//! These are plain structs; the server maps them to the protocol's ticket and handoff frames, so this
//! module stays free of wire concerns.

use super::kb::Urgency;
use super::text::Language;

/// Conversation identifier as the routing shard sees it.
pub type ConversationId = u64;

/// Priority of a conversation waiting for a human; higher is served first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// Information requests and feedback.
    Low,
    /// The default.
    Normal,
    /// Money, security or safety at stake.
    High,
    /// An angry customer or an explicit emergency.
    Urgent,
}

impl Priority {
    /// The priority an intent's urgency implies.
    pub fn from_urgency(urgency: Urgency) -> Self {
        match urgency {
            Urgency::Low => Priority::Low,
            Urgency::Normal => Priority::Normal,
            Urgency::Urgent => Priority::High,
        }
    }
}

/// What the bot understood so far, handed to a human with a ticket or a handoff.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationSummary {
    /// The conversation.
    pub conversation: ConversationId,
    /// The customer's language (of the last message).
    pub language: Language,
    /// The intent the bot settled on or its best guess, if any.
    pub intent: Option<String>,
    /// The classifier's confidence in that intent.
    pub confidence: f32,
    /// The last message's sentiment score in `[-1, 1]`.
    pub sentiment: f32,
    /// The lowest sentiment seen in the conversation.
    pub sentiment_min: f32,
    /// Slots collected so far, as `(slot id, value)`.
    pub slots: Vec<(String, String)>,
    /// The last customer messages, oldest first (bounded by the dialogue config).
    pub last_messages: Vec<String>,
}

/// A structured ticket, opened when a confident intent has `needs_ticket`.
#[derive(Debug, Clone, PartialEq)]
pub struct Ticket {
    /// Unique per dialogue engine, increasing from 1.
    pub id: u64,
    /// The category: the intent id.
    pub category: String,
    /// The agent skill that works this ticket.
    pub skill: String,
    /// How urgent it is.
    pub urgency: Urgency,
    /// Extracted fields, as `(slot id, value)`; the intent's required slots are always present.
    pub fields: Vec<(String, String)>,
    /// The conversation so far.
    pub summary: ConversationSummary,
    /// When it was opened (the `now_ms` of the message that opened it).
    pub created_at_ms: u64,
}
