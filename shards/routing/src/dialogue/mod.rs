//! Multi-turn dialogue: per-conversation state, slot filling, and the bot's [`Decision`] for each message.
//!
//! The state machine is driven by [`Dialogue::handle_message`] with the time passed in; it never reads a
//! clock. State is bounded: at most `conversations_max` conversations are tracked (the least recently
//! active is evicted first) and [`Dialogue::expire`] drops conversations idle longer than `idle_expiry_ms`.
//!
//! # Layout
//!
//! - [`config`]: [`DialogueConfig`] and its validation.
//! - [`decision`]: the [`Decision`] enum and [`HandoffReason`].

pub mod config;
pub mod decision;

pub use config::{DialogueConfig, DialogueConfigError};
pub use decision::{Decision, HandoffReason};

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::brain::{Brain, Classification};
use super::kb::{render, IntentAction, KnowledgeBase};
use super::text::{detect_language, Language};
use super::ticket::{
    ConversationId, ConversationSummary, Priority, Ticket, NEGATIVE_SENTIMENT_PRIORITY,
};

/// Longest message kept in a conversation's history, in characters; longer ones are cut.
pub const HISTORY_MESSAGE_CHARS_MAX: usize = 500;

/// An intent waiting for slots.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Pending {
    intent: usize,
    confidence: f32,
    asks: u32,
}

/// What the engine remembers about one conversation.
#[derive(Debug, Clone, PartialEq)]
struct State {
    language: Language,
    pending: Option<Pending>,
    slots: Vec<(String, String)>,
    history: VecDeque<String>,
    sentiment_last: f32,
    sentiment_min: f32,
    last_active_ms: u64,
}

/// One customer message as the dialogue sees it: the text as stored (PII masked by policy) and the
/// text as written, which the bot reads to classify and fill slots. They differ only when masking
/// changed something; the raw text never enters the history.
#[derive(Debug, Clone, Copy)]
pub struct Said<'a> {
    /// As stored and delivered.
    pub stored: &'a str,
    /// As the customer wrote it.
    pub raw: &'a str,
}

impl<'a> Said<'a> {
    /// A message masking did not change.
    pub fn plain(text: &'a str) -> Self {
        Said {
            stored: text,
            raw: text,
        }
    }
}

/// The dialogue engine: a brain, a knowledge base and bounded per-conversation state.
#[derive(Debug)]
pub struct Dialogue<B: Brain> {
    kb: KnowledgeBase,
    brain: B,
    config: DialogueConfig,
    conversations: BTreeMap<ConversationId, State>,
    /// `(last_active_ms, conversation)` for eviction and expiry in time order.
    by_activity: BTreeSet<(u64, ConversationId)>,
    next_ticket_id: u64,
}

impl<B: Brain> Dialogue<B> {
    /// A dialogue engine.
    ///
    /// # Panics
    ///
    /// If the brain's intents are not the knowledge base's intents in the same order (a wiring bug).
    pub fn new(
        kb: KnowledgeBase,
        brain: B,
        config: DialogueConfig,
    ) -> Result<Self, DialogueConfigError> {
        config.validate()?;
        assert!(
            brain.intents().iter().eq(kb.intents.iter().map(|i| &i.id)),
            "the brain was trained on a different knowledge base"
        );
        Ok(Dialogue {
            kb,
            brain,
            config,
            conversations: BTreeMap::new(),
            by_activity: BTreeSet::new(),
            next_ticket_id: 1,
        })
    }

    /// The knowledge base.
    pub fn kb(&self) -> &KnowledgeBase {
        &self.kb
    }

    /// The brain.
    pub fn brain(&self) -> &B {
        &self.brain
    }

    /// The configuration.
    pub fn config(&self) -> &DialogueConfig {
        &self.config
    }

    /// Number of conversations currently tracked.
    pub fn conversations_tracked(&self) -> usize {
        self.conversations.len()
    }

    /// Slots collected so far in `conversation`.
    pub fn slots(&self, conversation: ConversationId) -> Option<&[(String, String)]> {
        self.conversations
            .get(&conversation)
            .map(|s| s.slots.as_slice())
    }

    /// The intent waiting for slots in `conversation` and the confidence it was recognised with, if any.
    pub fn pending_intent(&self, conversation: ConversationId) -> Option<(&str, f32)> {
        let pending = self.conversations.get(&conversation)?.pending?;
        Some((
            self.kb.intents[pending.intent].id.as_str(),
            pending.confidence,
        ))
    }

    /// Forgets a conversation (closed by the customer or taken over by a human).
    pub fn end_conversation(&mut self, conversation: ConversationId) {
        if let Some(state) = self.conversations.remove(&conversation) {
            self.by_activity
                .remove(&(state.last_active_ms, conversation));
        }
    }

    /// Forgets conversations idle for `idle_expiry_ms` or more at `now_ms`; returns how many.
    pub fn expire(&mut self, now_ms: u64) -> usize {
        let mut expired = 0;
        while let Some(&(last, conversation)) = self.by_activity.first() {
            if last.saturating_add(self.config.idle_expiry_ms) > now_ms {
                break;
            }
            self.end_conversation(conversation);
            expired += 1;
        }
        expired
    }

    /// Records a customer message without deciding anything, for a conversation a human now handles: the
    /// message still feeds the history, the collected slots and the sentiment that summaries report.
    /// Returns the message's sentiment score (the routing shard escalates the conversation when it is at or
    /// below `sentiment_handoff_max`).
    pub fn observe_message(
        &mut self,
        conversation: ConversationId,
        text: &str,
        now_ms: u64,
    ) -> f32 {
        self.observe_said(conversation, Said::plain(text), now_ms)
    }

    /// [`Dialogue::observe_message`] for a message whose stored text was masked: the bot reads
    /// `said.raw`, the history keeps `said.stored`.
    pub fn observe_said(
        &mut self,
        conversation: ConversationId,
        said: Said<'_>,
        now_ms: u64,
    ) -> f32 {
        let language = detect_language(said.raw);
        let sentiment = self.brain.sentiment(said.raw);
        self.touch(conversation, now_ms);
        self.record(conversation, said, language, sentiment.score);
        self.state_mut(conversation).pending = None;
        sentiment.score
    }

    /// Brings `summary` up to date with what the conversation's state holds now (language, sentiment,
    /// slots, last messages), keeping its intent and confidence. Does nothing for an untracked conversation.
    pub fn refresh_summary(&self, summary: &mut ConversationSummary) {
        let Some(state) = self.conversations.get(&summary.conversation) else {
            return;
        };
        summary.language = state.language;
        summary.sentiment = state.sentiment_last;
        summary.sentiment_min = state.sentiment_min;
        summary.slots.clone_from(&state.slots);
        summary.last_messages = state.history.iter().cloned().collect();
    }

    /// Checks internal consistency; for tests and debug builds.
    pub fn invariants(&self) {
        assert_eq!(self.by_activity.len(), self.conversations.len());
        assert!(self.conversations.len() <= self.config.conversations_max);
        for (id, state) in &self.conversations {
            assert!(self.by_activity.contains(&(state.last_active_ms, *id)));
            assert!(state.history.len() <= self.config.history_messages_max);
        }
    }

    /// Handles one customer message at `now_ms` and decides what the bot does.
    pub fn handle_message(
        &mut self,
        conversation: ConversationId,
        text: &str,
        now_ms: u64,
    ) -> Decision {
        self.handle_said(conversation, Said::plain(text), now_ms)
    }

    /// [`Dialogue::handle_message`] for a message whose stored text was masked: the bot classifies
    /// and fills slots from `said.raw` (in memory only); the history, and so every summary an agent
    /// sees, keeps `said.stored`.
    pub fn handle_said(
        &mut self,
        conversation: ConversationId,
        said: Said<'_>,
        now_ms: u64,
    ) -> Decision {
        let text = said.raw;
        let language = detect_language(text);
        let sentiment = self.brain.sentiment(text);
        let classification = self.brain.classify(text);
        self.touch(conversation, now_ms);
        self.record(conversation, said, language, sentiment.score);
        if sentiment.score <= self.config.sentiment_handoff_max {
            let intent = Some(classification.best);
            return self.handoff(
                conversation,
                intent,
                classification.confidence,
                HandoffReason::NegativeSentiment,
            );
        }
        let pending = self.state(conversation).pending;
        if let Some(pending) = pending {
            if let Some(decision) = self.continue_pending(conversation, pending, &classification) {
                return decision;
            }
        }
        if classification.confidence < self.config.confidence_threshold {
            let intent = Some(classification.best);
            return self.handoff(
                conversation,
                intent,
                classification.confidence,
                HandoffReason::LowConfidence,
            );
        }
        self.resolve(
            conversation,
            classification.best,
            classification.confidence,
            now_ms,
        )
    }

    /// With an intent waiting for slots: finish it if the slots arrived, give up after too many asks, or
    /// return `None` when the customer confidently changed the subject.
    fn continue_pending(
        &mut self,
        conversation: ConversationId,
        pending: Pending,
        classification: &Classification,
    ) -> Option<Decision> {
        let missing = self.missing_slot(conversation, pending.intent);
        let changed_subject = classification.confidence >= self.config.confidence_threshold
            && classification.best != pending.intent
            && missing.is_some();
        if changed_subject {
            self.state_mut(conversation).pending = None;
            return None;
        }
        let asks_max = self.config.slot_asks_max;
        let state = self.state_mut(conversation);
        let now_ms = state.last_active_ms;
        if missing.is_none() {
            state.pending = None;
            return Some(self.resolve(conversation, pending.intent, pending.confidence, now_ms));
        }
        if pending.asks >= asks_max {
            state.pending = None;
            let reason = HandoffReason::SlotNotProvided;
            return Some(self.handoff(
                conversation,
                Some(pending.intent),
                pending.confidence,
                reason,
            ));
        }
        state.pending = Some(Pending {
            asks: pending.asks + 1,
            ..pending
        });
        Some(self.ask(conversation, missing.unwrap_or_default()))
    }

    /// Acts on a confident intent.
    fn resolve(
        &mut self,
        conversation: ConversationId,
        intent: usize,
        confidence: f32,
        now_ms: u64,
    ) -> Decision {
        let action = self.kb.intents[intent].action;
        match action {
            IntentAction::Handoff => {
                return self.handoff(
                    conversation,
                    Some(intent),
                    confidence,
                    HandoffReason::CustomerAsked,
                );
            }
            IntentAction::OutOfScope => return self.answer(conversation, intent, confidence),
            IntentAction::Answer => {}
        }
        if let Some(slot) = self.missing_slot(conversation, intent) {
            self.state_mut(conversation).pending = Some(Pending {
                intent,
                confidence,
                asks: 1,
            });
            return self.ask(conversation, slot);
        }
        if !self.kb.intents[intent].needs_ticket {
            return self.answer(conversation, intent, confidence);
        }
        let summary = self.summary(conversation, Some(intent), confidence);
        let spec = &self.kb.intents[intent];
        let fields = spec
            .required_slots
            .iter()
            .filter_map(|s| summary.slots.iter().find(|(id, _)| id == s).cloned());
        let ticket = Ticket {
            id: self.next_ticket_id,
            category: spec.id.clone(),
            skill: spec.skill.clone(),
            urgency: spec.urgency,
            fields: fields.collect(),
            summary,
            created_at_ms: now_ms,
        };
        self.next_ticket_id += 1;
        let answer = self.render_answer(conversation, intent);
        Decision::Ticket {
            ticket: Box::new(ticket),
            answer,
        }
    }

    fn answer(&self, conversation: ConversationId, intent: usize, confidence: f32) -> Decision {
        let text = self.render_answer(conversation, intent);
        Decision::Answer {
            text,
            intent: self.kb.intents[intent].id.clone(),
            confidence,
        }
    }

    fn render_answer(&self, conversation: ConversationId, intent: usize) -> String {
        let state = self.state(conversation);
        render(
            self.kb.intents[intent].answer_template(state.language),
            &state.slots,
        )
    }

    fn ask(&self, conversation: ConversationId, slot: String) -> Decision {
        let language = self.state(conversation).language;
        let question = self
            .kb
            .slot(&slot)
            .map(|s| s.question(language).to_string())
            .unwrap_or_default();
        Decision::AskSlot { slot, question }
    }

    fn handoff(
        &mut self,
        conversation: ConversationId,
        intent: Option<usize>,
        confidence: f32,
        reason: HandoffReason,
    ) -> Decision {
        self.state_mut(conversation).pending = None;
        let priority = match reason {
            HandoffReason::NegativeSentiment => NEGATIVE_SENTIMENT_PRIORITY,
            HandoffReason::LowConfidence => Priority::Normal,
            HandoffReason::CustomerAsked | HandoffReason::SlotNotProvided => intent
                .map(|i| Priority::from_urgency(self.kb.intents[i].urgency))
                .unwrap_or(Priority::Normal)
                .max(Priority::Normal),
        };
        let summary = Box::new(self.summary(conversation, intent, confidence));
        Decision::Handoff {
            summary,
            reason,
            priority,
        }
    }

    /// The first required slot of `intent` not yet collected.
    fn missing_slot(&self, conversation: ConversationId, intent: usize) -> Option<String> {
        let state = self.state(conversation);
        let required = &self.kb.intents[intent].required_slots;
        required
            .iter()
            .find(|slot| !state.slots.iter().any(|(id, _)| id == *slot))
            .cloned()
    }

    fn summary(
        &self,
        conversation: ConversationId,
        intent: Option<usize>,
        confidence: f32,
    ) -> ConversationSummary {
        let state = self.state(conversation);
        ConversationSummary {
            conversation,
            language: state.language,
            intent: intent.map(|i| self.kb.intents[i].id.clone()),
            confidence,
            sentiment: state.sentiment_last,
            sentiment_min: state.sentiment_min,
            slots: state.slots.clone(),
            last_messages: state.history.iter().cloned().collect(),
        }
    }

    /// Creates or refreshes the conversation's state, evicting the least recently active if full.
    fn touch(&mut self, conversation: ConversationId, now_ms: u64) {
        if let Some(state) = self.conversations.get_mut(&conversation) {
            self.by_activity
                .remove(&(state.last_active_ms, conversation));
            state.last_active_ms = state.last_active_ms.max(now_ms);
            self.by_activity
                .insert((state.last_active_ms, conversation));
            return;
        }
        if self.conversations.len() >= self.config.conversations_max {
            if let Some(&(_, oldest)) = self.by_activity.first() {
                self.end_conversation(oldest);
            }
        }
        let state = State {
            language: Language::English,
            pending: None,
            slots: Vec::new(),
            history: VecDeque::with_capacity(self.config.history_messages_max),
            sentiment_last: 0.0,
            sentiment_min: 0.0,
            last_active_ms: now_ms,
        };
        self.conversations.insert(conversation, state);
        self.by_activity.insert((now_ms, conversation));
    }

    /// Adds the message to the history and collects any slot it contains.
    fn record(
        &mut self,
        conversation: ConversationId,
        said: Said<'_>,
        language: Language,
        sentiment: f32,
    ) {
        let found: Vec<(String, String)> = self
            .kb
            .slots
            .iter()
            .filter_map(|s| s.extractor.extract(said.raw).map(|v| (s.id.clone(), v)))
            .collect();
        let text = said.stored;
        let history_max = self.config.history_messages_max;
        let state = self.state_mut(conversation);
        // A message without words (an order number, a phone number) says nothing about the language:
        // the conversation keeps the one it had.
        if said.raw.chars().any(char::is_alphabetic) || state.history.is_empty() {
            state.language = language;
        }
        state.sentiment_last = sentiment;
        state.sentiment_min = state.sentiment_min.min(sentiment);
        if state.history.len() == history_max {
            state.history.pop_front();
        }
        state
            .history
            .push_back(text.chars().take(HISTORY_MESSAGE_CHARS_MAX).collect());
        for (slot, value) in found {
            match state.slots.iter_mut().find(|(id, _)| *id == slot) {
                Some(entry) => entry.1 = value,
                None => state.slots.push((slot, value)),
            }
        }
    }

    fn state(&self, conversation: ConversationId) -> &State {
        self.conversations
            .get(&conversation)
            .expect("conversation state exists after touch")
    }

    fn state_mut(&mut self, conversation: ConversationId) -> &mut State {
        self.conversations
            .get_mut(&conversation)
            .expect("conversation state exists after touch")
    }
}
