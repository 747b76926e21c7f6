//! The knowledge base: intents with bilingual utterances and answer templates, and the slots they need.
//!
//! The file format is TOML (see `shards/kb/video-platform.toml`). Parsing is strict (unknown fields are
//! errors) and [`KnowledgeBase::parse`] validates cross-references, so a typo in the KB fails at start-up
//! with the line and intent named instead of silently producing a bot that never asks for a slot.
//!
//! The error type lives in `error.rs` ([`KbError`]).

use std::collections::BTreeSet;

use serde::Deserialize;

mod error;

pub use error::KbError;

use super::extract::{Extractor, ExtractorKind};
use super::text::Language;

/// The knowledge base shipped with Switchboard, embedded so the binary works without extra files.
pub const BUILTIN_KB_TOML: &str = include_str!("../../../kb/video-platform.toml");
/// Largest knowledge-base file accepted; bigger is almost certainly the wrong file.
pub const KB_BYTES_MAX: usize = 8 << 20;
/// Longest utterance or template accepted, in characters.
pub const TEXT_CHARS_MAX: usize = 2000;

/// How urgent an intent is, which sets ticket urgency and handoff priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    /// Can wait (information, feedback).
    Low,
    /// The default.
    Normal,
    /// Money, security or safety at stake.
    Urgent,
}

/// What the bot does once it is confident about the intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum IntentAction {
    /// Answer from the template (after filling required slots; with a ticket if `needs_ticket`).
    #[default]
    Answer,
    /// The customer asked for a human: hand off straight away.
    Handoff,
    /// Outside the platform's customer service: answer politely that the bot cannot help.
    OutOfScope,
}

/// A slot definition: how to extract it and how to ask for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// Identifier used in `required_slots` and `{placeholders}`.
    pub id: String,
    /// The extractor and its parameters.
    pub extractor: Extractor,
    /// Follow-up question in Chinese.
    pub question_zh: String,
    /// Follow-up question in English.
    pub question_en: String,
}

impl Slot {
    /// The follow-up question in `language`.
    pub fn question(&self, language: Language) -> &str {
        match language {
            Language::Chinese => &self.question_zh,
            Language::English => &self.question_en,
        }
    }
}

/// One intent of the knowledge base.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Intent {
    /// Stable identifier (also the ticket category).
    pub id: String,
    /// Human-readable name for dashboards.
    pub name: String,
    /// The agent skill (and group) that handles this intent.
    pub skill: String,
    /// How urgent it is.
    pub urgency: Urgency,
    /// What the bot does when confident.
    #[serde(default)]
    pub action: IntentAction,
    /// Whether a confident answer also opens a ticket.
    #[serde(default)]
    pub needs_ticket: bool,
    /// Slots that must be collected before answering, in asking order.
    #[serde(default)]
    pub required_slots: Vec<String>,
    /// Answer template in Chinese, with `{slot}` placeholders.
    pub answer_zh: String,
    /// Answer template in English, with `{slot}` placeholders.
    pub answer_en: String,
    /// Training utterances in Chinese.
    pub utterances_zh: Vec<String>,
    /// Training utterances in English.
    pub utterances_en: Vec<String>,
}

impl Intent {
    /// The answer template in `language`.
    pub fn answer_template(&self, language: Language) -> &str {
        match language {
            Language::Chinese => &self.answer_zh,
            Language::English => &self.answer_en,
        }
    }
}

/// A parsed, validated knowledge base.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnowledgeBase {
    /// Name from the `[meta]` table.
    pub name: String,
    /// Slot definitions.
    pub slots: Vec<Slot>,
    /// Intents, in file order (the classifier's class order).
    pub intents: Vec<Intent>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKb {
    meta: RawMeta,
    #[serde(default)]
    slot: Vec<RawSlot>,
    #[serde(default)]
    intent: Vec<Intent>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMeta {
    name: String,
    #[allow(dead_code)] // Read for the format's sake; only one version exists so far.
    version: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSlot {
    id: String,
    extractor: ExtractorKind,
    #[serde(default = "default_digits_min")]
    digits_min: usize,
    #[serde(default = "default_digits_max")]
    digits_max: usize,
    question_zh: String,
    question_en: String,
}

fn default_digits_min() -> usize {
    12
}
fn default_digits_max() -> usize {
    24
}

/// 1-based line of byte `offset` in `source`.
pub(crate) fn line_of_offset(source: &str, offset: usize) -> usize {
    source.as_bytes()[..offset.min(source.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Line of the `id = "<id>"` that defines an intent or slot (0 when not found, which validation never hits).
pub(crate) fn line_of_id(source: &str, id: &str, nth: usize) -> usize {
    let quoted = format!("\"{id}\"");
    source
        .lines()
        .enumerate()
        .filter(|(_, line)| {
            let t = line.trim_start();
            t.starts_with("id") && t[2..].trim_start().starts_with('=') && t.contains(&quoted)
        })
        .nth(nth)
        .map_or(0, |(i, _)| i + 1)
}

/// Converts a TOML error into [`KbError::Syntax`] with the line of its span.
pub(crate) fn syntax_error(source: &str, err: &toml::de::Error) -> KbError {
    let line = err
        .span()
        .map_or(0, |span| line_of_offset(source, span.start));
    KbError::Syntax {
        line,
        message: err.message().to_string(),
    }
}

impl KnowledgeBase {
    /// The built-in video-platform knowledge base.
    pub fn builtin() -> Result<Self, KbError> {
        Self::parse(BUILTIN_KB_TOML)
    }

    /// Reads and parses a knowledge base file.
    pub fn from_file(path: &std::path::Path) -> Result<Self, KbError> {
        let source = std::fs::read_to_string(path).map_err(|e| KbError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::parse(&source)
    }

    /// Parses and validates a knowledge base from TOML text.
    pub fn parse(source: &str) -> Result<Self, KbError> {
        if source.len() > KB_BYTES_MAX {
            return Err(KbError::TooLarge {
                bytes: source.len(),
                max: KB_BYTES_MAX,
            });
        }
        let raw: RawKb = toml::from_str(source).map_err(|e| syntax_error(source, &e))?;
        let slots = validate_slots(source, raw.slot)?;
        validate_intents(source, &slots, &raw.intent)?;
        Ok(KnowledgeBase {
            name: raw.meta.name,
            slots,
            intents: raw.intent,
        })
    }

    /// The intent with `id`.
    pub fn intent(&self, id: &str) -> Option<&Intent> {
        self.intents.iter().find(|i| i.id == id)
    }

    /// Index of the intent with `id` (the classifier's class index).
    pub fn intent_index(&self, id: &str) -> Option<usize> {
        self.intents.iter().position(|i| i.id == id)
    }

    /// The slot with `id`.
    pub fn slot(&self, id: &str) -> Option<&Slot> {
        self.slots.iter().find(|s| s.id == id)
    }

    /// Every utterance with its intent index, Chinese then English, in file order.
    pub fn training_examples(&self) -> Vec<(&str, usize)> {
        let mut out = Vec::new();
        for (index, intent) in self.intents.iter().enumerate() {
            for u in intent.utterances_zh.iter().chain(&intent.utterances_en) {
                out.push((u.as_str(), index));
            }
        }
        out
    }
}

fn validate_slots(source: &str, raw: Vec<RawSlot>) -> Result<Vec<Slot>, KbError> {
    let mut seen = BTreeSet::new();
    let mut slots = Vec::with_capacity(raw.len());
    for s in raw {
        let line = line_of_id(source, &s.id, 0);
        if !seen.insert(s.id.clone()) {
            return Err(KbError::DuplicateSlot {
                line: line_of_id(source, &s.id, 1),
                slot: s.id,
            });
        }
        let reason = if s.digits_min == 0 || s.digits_min > s.digits_max {
            Some("digits_min must be at least 1 and at most digits_max")
        } else if s.question_zh.trim().is_empty() || s.question_en.trim().is_empty() {
            Some("both questions must be non-empty")
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(KbError::InvalidSlot {
                slot: s.id,
                reason: reason.to_string(),
                line,
            });
        }
        let extractor = Extractor {
            kind: s.extractor,
            digits_min: s.digits_min,
            digits_max: s.digits_max,
        };
        slots.push(Slot {
            id: s.id,
            extractor,
            question_zh: s.question_zh,
            question_en: s.question_en,
        });
    }
    Ok(slots)
}

fn validate_intents(source: &str, slots: &[Slot], intents: &[Intent]) -> Result<(), KbError> {
    if intents.is_empty() {
        return Err(KbError::NoIntents);
    }
    let mut ids = BTreeSet::new();
    let mut utterances = BTreeSet::new();
    for intent in intents {
        let line = line_of_id(source, &intent.id, 0);
        if !ids.insert(intent.id.as_str()) {
            let line = line_of_id(source, &intent.id, 1);
            return Err(KbError::DuplicateIntent {
                intent: intent.id.clone(),
                line,
            });
        }
        validate_texts(intent, line)?;
        for slot in &intent.required_slots {
            if !slots.iter().any(|s| &s.id == slot) {
                return Err(KbError::UnknownSlot {
                    intent: intent.id.clone(),
                    slot: slot.clone(),
                    line,
                });
            }
        }
        for template in [&intent.answer_zh, &intent.answer_en] {
            for placeholder in placeholders(template) {
                if !intent.required_slots.iter().any(|s| s == placeholder) {
                    let placeholder = placeholder.to_string();
                    return Err(KbError::UnknownPlaceholder {
                        intent: intent.id.clone(),
                        placeholder,
                        line,
                    });
                }
            }
        }
        for u in intent.utterances_zh.iter().chain(&intent.utterances_en) {
            if !utterances.insert(crate::text::normalize(u.trim())) {
                let (intent, utterance) = (intent.id.clone(), u.clone());
                return Err(KbError::DuplicateUtterance {
                    intent,
                    utterance,
                    line,
                });
            }
        }
    }
    Ok(())
}

fn validate_texts(intent: &Intent, line: usize) -> Result<(), KbError> {
    let bad = |t: &str| t.trim().is_empty() || t.chars().count() > TEXT_CHARS_MAX;
    let fields: [(&str, &str); 4] = [
        ("name", &intent.name),
        ("skill", &intent.skill),
        ("answer_zh", &intent.answer_zh),
        ("answer_en", &intent.answer_en),
    ];
    for (field, value) in fields {
        if bad(value) {
            return Err(KbError::BadText {
                intent: intent.id.clone(),
                field: field.to_string(),
                line,
            });
        }
    }
    for (language, list, field) in [
        (Language::Chinese, &intent.utterances_zh, "utterances_zh"),
        (Language::English, &intent.utterances_en, "utterances_en"),
    ] {
        if list.is_empty() {
            return Err(KbError::NoUtterances {
                intent: intent.id.clone(),
                language,
                line,
            });
        }
        if list.iter().any(|u| bad(u)) {
            return Err(KbError::BadText {
                intent: intent.id.clone(),
                field: field.to_string(),
                line,
            });
        }
    }
    Ok(())
}

/// The `{name}` placeholders of a template, in order.
pub fn placeholders(template: &str) -> impl Iterator<Item = &str> {
    template
        .split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
}

/// Fills `{slot}` placeholders from `values`; unknown placeholders are left as written.
pub fn render(template: &str, values: &[(String, String)]) -> String {
    let mut out = template.to_string();
    for (slot, value) in values {
        out = out.replace(&format!("{{{slot}}}"), value);
    }
    out
}
