//! Labelled message sets for evaluation (such as `shards/kb/heldout.toml`).
//!
//! The format groups messages by label: `[[case]] intent = "refund"`, `zh = [...]`, `en = [...]`. Labels
//! must be intent ids of the knowledge base being evaluated (checked by [`LabelledSet::check_against`]).

use serde::Deserialize;

use super::kb::{line_of_offset, syntax_error, KbError, KnowledgeBase, KB_BYTES_MAX};
use super::text::Language;

/// One labelled message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelledMessage {
    /// The expected intent id.
    pub intent: String,
    /// The message text.
    pub text: String,
    /// The language the set files it under.
    pub language: Language,
    /// Line of its `[[case]]` header, for error messages.
    pub line: usize,
}

/// A labelled evaluation set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelledSet {
    /// All messages, in file order.
    pub messages: Vec<LabelledMessage>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSet {
    #[serde(default)]
    case: Vec<RawCase>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    intent: String,
    #[serde(default)]
    zh: Vec<String>,
    #[serde(default)]
    en: Vec<String>,
}

impl LabelledSet {
    /// Reads and parses a labelled set file.
    pub fn from_file(path: &std::path::Path) -> Result<Self, KbError> {
        let source = std::fs::read_to_string(path).map_err(|e| KbError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::parse(&source)
    }

    /// Parses a labelled set from TOML text.
    pub fn parse(source: &str) -> Result<Self, KbError> {
        if source.len() > KB_BYTES_MAX {
            return Err(KbError::TooLarge {
                bytes: source.len(),
                max: KB_BYTES_MAX,
            });
        }
        let raw: RawSet = toml::from_str(source).map_err(|e| syntax_error(source, &e))?;
        let case_lines: Vec<usize> = source
            .match_indices("[[case]]")
            .map(|(offset, _)| line_of_offset(source, offset))
            .collect();
        let mut messages = Vec::new();
        for (index, case) in raw.case.into_iter().enumerate() {
            let line = case_lines.get(index).copied().unwrap_or(0);
            for (language, texts) in [(Language::Chinese, case.zh), (Language::English, case.en)] {
                for text in texts {
                    messages.push(LabelledMessage {
                        intent: case.intent.clone(),
                        text,
                        language,
                        line,
                    });
                }
            }
        }
        Ok(LabelledSet { messages })
    }

    /// Fails with [`KbError::UnknownIntent`] if a label is not an intent of `kb`.
    pub fn check_against(&self, kb: &KnowledgeBase) -> Result<(), KbError> {
        match self
            .messages
            .iter()
            .find(|m| kb.intent_index(&m.intent).is_none())
        {
            Some(m) => Err(KbError::UnknownIntent {
                intent: m.intent.clone(),
                line: m.line,
            }),
            None => Ok(()),
        }
    }
}
