//! What the bot decides for one message.

use super::super::ticket::{ConversationSummary, Priority, Ticket};

/// Why the bot handed a conversation to a human.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandoffReason {
    /// The classifier's confidence was below the threshold.
    LowConfidence,
    /// The customer is strongly unhappy.
    NegativeSentiment,
    /// The customer asked for a human.
    CustomerAsked,
    /// The customer did not give a required slot after repeated questions.
    SlotNotProvided,
}

/// What the bot does with one customer message.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Reply with an answer from the knowledge base.
    Answer {
        /// The rendered answer in the customer's language.
        text: String,
        /// The intent id.
        intent: String,
        /// The classifier's confidence.
        confidence: f32,
    },
    /// Ask for a slot the intent needs.
    AskSlot {
        /// The slot id.
        slot: String,
        /// The question in the customer's language.
        question: String,
    },
    /// Open a ticket and reply with the answer.
    Ticket {
        /// The ticket.
        ticket: Box<Ticket>,
        /// The rendered answer in the customer's language.
        answer: String,
    },
    /// Hand the conversation to a human agent.
    Handoff {
        /// What the bot understood, for the agent.
        summary: Box<ConversationSummary>,
        /// Why.
        reason: HandoffReason,
        /// How urgently a human is needed.
        priority: Priority,
    },
}
