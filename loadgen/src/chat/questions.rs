//! [`QuestionPool`]: what routed customers say, drawn from the shipped knowledge base's held-out
//! evaluation set (`shards/kb/heldout.toml`, never used for training), plus out-of-scope and angry lines.
//!
//! The pool is built once per run with the server's own routing code (`switchboard_shards::routing`): the
//! built-in brain is trained on the built-in knowledge base exactly as the server does at start-up, and only
//! held-out messages that it answers confidently and correctly, with no strongly negative sentiment, for
//! an intent the bot answers itself, become bot questions. Without that filter a customer meant to talk to
//! the bot would be handed to a human at its first uncertain question, and a run measuring bot answers
//! would measure handoffs instead. Out-of-scope and angry lines are checked the same way (below the
//! confidence threshold; strongly negative), so each customer kind gets what its name says.

use std::collections::BTreeSet;

use switchboard_shards::routing::brain::Brain;
use switchboard_shards::routing::dialogue::DialogueConfig;
use switchboard_shards::routing::kb::{IntentAction, KnowledgeBase};
use switchboard_shards::routing::labelled::LabelledSet;
use switchboard_shards::routing::ngram::{NgramBrain, TrainConfig};
use switchboard_shards::routing::sentiment;

/// The held-out evaluation set shipped with the server (the same file `switchboard ai eval` reads).
pub const HELDOUT_TOML: &str = include_str!("../../../shards/kb/heldout.toml");

/// Messages no intent of a video platform's customer service covers: the bot cannot answer them and
/// hands the conversation to a human.
pub const OUT_OF_SCOPE: &[&str] = &[
    "qwzx plorf",
    "zzkq vrrbt mnop",
    "blorft quazzle 42",
    "xkcd wubba lubba",
    "frobnicate the grommet",
    "ploof snark vex",
];

/// Strongly negative messages: the bot hands them to a human at once, urgently.
pub const ANGRY: &[&str] = &[
    "你们这帮骗子,马上退钱!!!",
    "垃圾平台,骗子,我要投诉你们!!!",
    "you scammers, give me my money back now!!!",
    "this is a scam, worst service ever, I am furious!!!",
];

/// What a routed customer says, by the kind of customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuestionPool {
    /// Held-out questions the bot answers itself.
    pub bot: Vec<String>,
    /// Messages the bot cannot classify confidently.
    pub out_of_scope: Vec<String>,
    /// Strongly negative messages.
    pub angry: Vec<String>,
    /// The knowledge base's slot questions: an AI message with one of these texts is a follow-up.
    slot_questions: BTreeSet<String>,
}

/// Why the pool could not be built; a bug in the shipped data (the server would not start either).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QuestionPoolError {
    /// The shipped knowledge base, held-out set or training failed.
    #[error("shipped routing data: {0}")]
    Shipped(String),
    /// A kind of customer has nothing to say.
    #[error("no {0} messages survive the filter")]
    Empty(&'static str),
}

impl QuestionPool {
    /// Builds the pool from the built-in knowledge base and the shipped held-out set.
    pub fn shipped() -> Result<QuestionPool, QuestionPoolError> {
        let shipped = |e: &dyn std::fmt::Display| QuestionPoolError::Shipped(e.to_string());
        let kb = KnowledgeBase::builtin().map_err(|e| shipped(&e))?;
        let set = LabelledSet::parse(HELDOUT_TOML).map_err(|e| shipped(&e))?;
        let brain = NgramBrain::train(&kb, &TrainConfig::default()).map_err(|e| shipped(&e))?;
        let threshold = DialogueConfig::default().confidence_threshold;
        let confident = |text: &str| {
            let c = brain.classify(text);
            (c.confidence >= threshold).then_some(c.best)
        };
        let calm = |text: &str| !sentiment::score(text).is_strongly_negative();
        let bot = set.messages.iter().filter(|m| {
            let Some(index) = kb.intent_index(&m.intent) else {
                return false;
            };
            kb.intents[index].action == IntentAction::Answer
                && confident(&m.text) == Some(index)
                && calm(&m.text)
        });
        let pool = QuestionPool {
            bot: bot.map(|m| m.text.clone()).collect(),
            out_of_scope: OUT_OF_SCOPE
                .iter()
                .filter(|t| confident(t).is_none() && calm(t))
                .map(|t| t.to_string())
                .collect(),
            angry: ANGRY
                .iter()
                .filter(|t| sentiment::score(t).is_strongly_negative())
                .map(|t| t.to_string())
                .collect(),
            slot_questions: kb
                .slots
                .iter()
                .flat_map(|s| [s.question_zh.clone(), s.question_en.clone()])
                .collect(),
        };
        for (name, list) in [
            ("bot question", &pool.bot),
            ("out-of-scope", &pool.out_of_scope),
            ("angry", &pool.angry),
        ] {
            if list.is_empty() {
                return Err(QuestionPoolError::Empty(name));
            }
        }
        Ok(pool)
    }

    /// Whether an AI message is a follow-up question (the bot asking for a slot) rather than an answer.
    pub fn is_follow_up(&self, text: &str) -> bool {
        self.slot_questions.contains(text)
    }
}

/// Picks one of `list` from a seed (a message id's hash), so a re-sent message says the same thing.
pub fn pick(list: &[String], seed: u64) -> &str {
    let mixed = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 17;
    &list[(mixed % list.len() as u64) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_messages_and_every_line_survives() {
        let pool = QuestionPool::shipped().unwrap();
        assert!(pool.bot.len() >= 100, "bot questions: {}", pool.bot.len());
        assert_eq!(pool.out_of_scope.len(), OUT_OF_SCOPE.len());
        assert_eq!(pool.angry.len(), ANGRY.len());
        let kb = KnowledgeBase::builtin().unwrap();
        let slot = &kb.slots[0];
        assert!(pool.is_follow_up(&slot.question_en));
        assert!(!pool.is_follow_up(&pool.bot[0]));
        assert_eq!(pick(&pool.bot, 7), pick(&pool.bot, 7));
    }
}
