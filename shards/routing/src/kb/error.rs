//! Knowledge-base loading errors.

use thiserror::Error;

use super::super::text::Language;
use super::TEXT_CHARS_MAX;

/// Errors from loading a knowledge base. Every variant is the KB author's fault (a local configuration
/// error) and names the line and, where there is one, the intent or slot.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KbError {
    /// The file could not be read (local system).
    #[error("cannot read {path}: {message}")]
    Io {
        /// The path that failed.
        path: String,
        /// The operating system's message.
        message: String,
    },
    /// The file exceeds [`KB_BYTES_MAX`](super::KB_BYTES_MAX).
    #[error("knowledge base is {bytes} bytes, more than the {max} allowed")]
    TooLarge {
        /// Size of the file.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// Malformed TOML, a missing field, an unknown field or a wrong type.
    #[error("line {line}: {message}")]
    Syntax {
        /// 1-based line of the problem.
        line: usize,
        /// The TOML parser's message.
        message: String,
    },
    /// The file defines no intents at all.
    #[error("the knowledge base defines no intents")]
    NoIntents,
    /// Two intents share an id.
    #[error("line {line}: intent `{intent}` is defined twice")]
    DuplicateIntent {
        /// The repeated id.
        intent: String,
        /// Line of the second definition.
        line: usize,
    },
    /// Two slots share an id.
    #[error("line {line}: slot `{slot}` is defined twice")]
    DuplicateSlot {
        /// The repeated id.
        slot: String,
        /// Line of the second definition.
        line: usize,
    },
    /// A slot's parameters are inconsistent.
    #[error("line {line}: slot `{slot}`: {reason}")]
    InvalidSlot {
        /// The slot id.
        slot: String,
        /// What is wrong.
        reason: String,
        /// Line of the slot.
        line: usize,
    },
    /// An intent requires a slot that is not defined.
    #[error("line {line}: intent `{intent}` requires undefined slot `{slot}`")]
    UnknownSlot {
        /// The intent id.
        intent: String,
        /// The missing slot id.
        slot: String,
        /// Line of the intent.
        line: usize,
    },
    /// An answer template uses a placeholder that is not one of the intent's required slots.
    #[error("line {line}: intent `{intent}` answer uses `{{{placeholder}}}` which is not a required slot")]
    UnknownPlaceholder {
        /// The intent id.
        intent: String,
        /// The placeholder name.
        placeholder: String,
        /// Line of the intent.
        line: usize,
    },
    /// A required text field is empty or too long.
    #[error("line {line}: intent `{intent}`: field `{field}` is empty or longer than {TEXT_CHARS_MAX} characters")]
    BadText {
        /// The intent id.
        intent: String,
        /// The field name.
        field: String,
        /// Line of the intent.
        line: usize,
    },
    /// An intent has no utterances in one language, so it could never be recognised in it.
    #[error("line {line}: intent `{intent}` has no {language} utterances")]
    NoUtterances {
        /// The intent id.
        intent: String,
        /// The language lacking utterances.
        language: Language,
        /// Line of the intent.
        line: usize,
    },
    /// The same utterance appears twice (in one intent or in two), which skews or confuses training.
    #[error("line {line}: utterance `{utterance}` of intent `{intent}` appears more than once")]
    DuplicateUtterance {
        /// The intent id of the second occurrence.
        intent: String,
        /// The repeated text.
        utterance: String,
        /// Line of the intent.
        line: usize,
    },
    /// A labelled evaluation set names an intent the KB does not have.
    #[error("line {line}: label `{intent}` is not an intent of the knowledge base")]
    UnknownIntent {
        /// The label.
        intent: String,
        /// Line of the case.
        line: usize,
    },
}
