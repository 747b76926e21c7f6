//! Tickets and the conversation summary that goes with a ticket or a handoff.
//!
//! These are plain structs; the server maps them to the protocol's ticket and handoff frames, so this
//! module stays free of wire concerns.

use super::kb::Urgency;
use super::text::Language;

/// Conversation identifier as the routing shard sees it.
pub type ConversationId = u64;

/// Priority of a conversation waiting for a human; higher is served first.
///
/// # The ladder
///
/// What the routing shard gives each conversation it hands to humans:
///
/// - [`Priority::Urgent`]: a strongly negative message ([`NEGATIVE_SENTIMENT_PRIORITY`]): at handoff by the
///   bot, or later while the conversation is with humans (an *escalation*, see
///   [`RouterInput::Escalate`](super::events::RouterInput::Escalate)).
/// - [`Priority::High`]: the customer asked for a human (or never gave a required slot) about an intent of
///   urgent urgency.
/// - [`Priority::Normal`]: the bot was not confident, or the customer asked for a human about an intent of
///   normal or low urgency.
/// - [`Priority::Low`]: never given by the routing shard itself; for callers that enqueue directly.
///
/// A conversation's priority only ever goes up: an escalation to an equal or lower priority is ignored, and
/// a re-queue or a transfer to a group keeps the (possibly escalated) priority and the original arrival time.
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

/// The priority an angry customer gets: at a bot handoff for strongly negative sentiment, and when a
/// customer already with humans sends a strongly negative message.
pub const NEGATIVE_SENTIMENT_PRIORITY: Priority = Priority::Urgent;

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
