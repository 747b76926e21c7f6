//! `switchboard.json.v1`: the same frames as JSON objects, one frame per WebSocket text message.
//!
//! Mapping (normative table in `docs/protocol.md`):
//!
//! - `"kind"`: the kind's name (required); `"lane"`: the lane's name (optional on input, default
//!   [`crate::app::Kind::default_lane`]; always written).
//! - Message ids: 32 lowercase hex digits (readers also accept upper case and the dashed 36-character
//!   UUID form).
//! - Conversation, user, agent, ticket and fragment ids (`u64`): decimal strings, because JavaScript
//!   numbers lose precision above 2^53 (readers also accept numbers).
//! - Sequences, timestamps, intervals, counters: JSON numbers.
//! - Open enumerations (`sender_role`, `reason`, `status`, `code`): the name when known, else the number.
//! - Fragment `data`: standard base64 with padding.
//! - An absent field means the default (0, false, "", none), exactly as in the binary encoding; writers
//!   omit empty strings and absent optional numbers.
//!
//! Parsing uses `simd-json`, which parses the caller's `&mut [u8]` in place (it rewrites the buffer).

mod depth;
mod read;
mod write;

pub use depth::JSON_NESTING_DEPTH_MAX;

pub use read::parse_json;
pub use write::encode_json;

use super::codes::ErrorCode;
use super::error::Reaction;

/// A `switchboard.json.v1` text message could not be read. Every variant is the peer's fault; since one
/// text message holds exactly one frame, the server skips it, answers with an `error` frame and keeps the
/// connection ([`JsonError::reaction`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    /// Not valid JSON (simd-json's description). Error code `malformed_frame`.
    #[error("invalid JSON: {0}")]
    Syntax(String),
    /// Valid JSON, but not an object. Error code `malformed_frame`.
    #[error("a frame must be a JSON object")]
    NotAnObject,
    /// The object has no string `"kind"`. Error code `malformed_frame`.
    #[error("missing \"kind\"")]
    MissingKind,
    /// `"kind"` names no known kind. Error code `unknown_kind`.
    #[error("unknown kind {0:?}")]
    UnknownKind(String),
    /// Arrays and objects nest deeper than [`JSON_NESTING_DEPTH_MAX`]: refused by a linear scan before
    /// any recursive parse, so hostile input cannot exhaust a shard's stack. Error code `malformed_frame`.
    #[error("JSON nests deeper than {depth_max} levels")]
    TooDeep {
        /// The limit that was exceeded.
        depth_max: usize,
    },
    /// A field has the wrong type or an out-of-range value. Error code `malformed_frame`.
    #[error("field {field:?}: expected {expected}")]
    InvalidField {
        /// The field name.
        field: &'static str,
        /// What was expected.
        expected: &'static str,
    },
}

impl JsonError {
    /// What the server does about this error.
    pub fn reaction(&self) -> Reaction {
        match self {
            JsonError::UnknownKind(_) => Reaction::ErrorFrame(ErrorCode::UNKNOWN_KIND),
            _ => Reaction::ErrorFrame(ErrorCode::MALFORMED_FRAME),
        }
    }
}
