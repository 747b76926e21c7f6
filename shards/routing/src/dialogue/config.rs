//! Dialogue settings and their validation.

use thiserror::Error;

/// Dialogue settings; [`DialogueConfig::validate`] is called by [`Dialogue::new`](super::Dialogue::new).
#[derive(Debug, Clone, PartialEq)]
pub struct DialogueConfig {
    /// Below this confidence the bot hands the conversation to a human instead of guessing.
    pub confidence_threshold: f32,
    /// At or below this sentiment score the bot hands off with [`Priority::Urgent`](super::super::ticket::Priority::Urgent),
    /// and the routing shard escalates a conversation already with humans to that priority.
    pub sentiment_handoff_max: f32,
    /// Most conversations tracked at once.
    pub conversations_max: usize,
    /// A conversation idle this long is forgotten by [`Dialogue::expire`](super::Dialogue::expire).
    pub idle_expiry_ms: u64,
    /// Customer messages kept per conversation for summaries.
    pub history_messages_max: usize,
    /// Times the bot asks for a missing slot before handing off.
    pub slot_asks_max: u32,
}

impl Default for DialogueConfig {
    fn default() -> Self {
        DialogueConfig {
            confidence_threshold: super::super::model::NGRAM_THRESHOLD,
            sentiment_handoff_max: super::super::sentiment::STRONGLY_NEGATIVE_MAX,
            conversations_max: 100_000,
            idle_expiry_ms: 30 * 60 * 1000,
            history_messages_max: 5,
            slot_asks_max: 2,
        }
    }
}

/// A dialogue configuration field out of range (local configuration error).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("dialogue config: `{field}` must be {allowed}")]
pub struct DialogueConfigError {
    /// The field.
    pub field: &'static str,
    /// The allowed range, in words.
    pub allowed: &'static str,
}

impl DialogueConfig {
    /// Checks every field's range.
    pub fn validate(&self) -> Result<(), DialogueConfigError> {
        let err = |field, allowed| Err(DialogueConfigError { field, allowed });
        if !(self.confidence_threshold > 0.0 && self.confidence_threshold <= 1.0) {
            return err("confidence_threshold", "in (0, 1]");
        }
        if !(-1.0..=0.0).contains(&self.sentiment_handoff_max) {
            return err("sentiment_handoff_max", "in [-1, 0]");
        }
        if !(1..=10_000_000).contains(&self.conversations_max) {
            return err("conversations_max", "in 1..=10000000");
        }
        if self.idle_expiry_ms == 0 {
            return err("idle_expiry_ms", "at least 1");
        }
        if !(1..=100).contains(&self.history_messages_max) {
            return err("history_messages_max", "in 1..=100");
        }
        if self.slot_asks_max > 10 {
            return err("slot_asks_max", "in 0..=10");
        }
        Ok(())
    }
}
