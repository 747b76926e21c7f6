//! Typed errors of the `switchboard.v1` layer. Every variant says who is at fault and what the server does:
//! skip the frame and answer with an `error` frame ([`Reaction::ErrorFrame`]), or close the WebSocket with a
//! close code ([`Reaction::Close`]).

use super::codes::ErrorCode;
use super::kind::Kind;
use crate::ws::CloseCode;

/// What a server does about an error (a client may do the same or simply drop the connection).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reaction {
    /// Skip the offending frame (its length is known), send an `error` frame with this code, keep the
    /// connection.
    ErrorFrame(ErrorCode),
    /// Close the WebSocket with this close code (1002 protocol error, 1007 invalid payload data,
    /// 1009 message too big).
    Close(u16),
}

/// WebSocket close code 1002: protocol error.
pub const CLOSE_PROTOCOL_ERROR: u16 = CloseCode::PROTOCOL_ERROR.0;
/// WebSocket close code 1007: invalid frame payload data.
pub const CLOSE_INVALID_PAYLOAD: u16 = CloseCode::INVALID_PAYLOAD.0;
/// WebSocket close code 1009: message too big.
pub const CLOSE_MESSAGE_TOO_BIG: u16 = CloseCode::MESSAGE_TOO_BIG.0;

/// Decoding a binary `switchboard.v1` frame failed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum FrameError {
    /// Peer's fault: the body length (or a fragment prefix field) is not a valid minimal LEB128 `u64`.
    /// Frame boundaries are lost, so the server closes with 1002.
    #[error("malformed varint")]
    MalformedVarint,
    /// Peer's fault: the header announces a body longer than `body_bytes_max`. The server closes with 1009
    /// (skipping would mean buffering or discarding an unbounded amount).
    #[error("frame body of {body_bytes} bytes exceeds the limit of {body_bytes_max}")]
    BodyTooLarge {
        /// Announced body length.
        body_bytes: u64,
        /// The configured limit ([`crate::app::FrameLimits::body_bytes_max`]).
        body_bytes_max: u32,
    },
    /// Peer's fault (or a newer peer): the kind byte is unassigned. The server skips `frame_bytes` and
    /// answers with error code `unknown_kind`; the connection stays.
    #[error("unknown frame kind {kind:#04x}")]
    UnknownKind {
        /// The kind byte.
        kind: u8,
        /// The whole frame's length, to skip it.
        frame_bytes: usize,
    },
    /// Peer's fault (or a newer peer): a reserved flag bit is set. The server skips `frame_bytes` and
    /// answers with error code `reserved_flags`; the connection stays.
    #[error("reserved flag bits set in {flags:#010b}")]
    ReservedFlags {
        /// The flags byte.
        flags: u8,
        /// The whole frame's length, to skip it.
        frame_bytes: usize,
    },
    /// Peer's fault: the body is not a valid FlatBuffer of the table for `kind` (the verifier failed).
    /// The server closes with 1007.
    #[error("invalid {kind:?} body: {error}")]
    InvalidBody {
        /// The frame kind.
        kind: Kind,
        /// What the FlatBuffers verifier found.
        error: flatbuffers::InvalidFlatbuffer,
    },
    /// Peer's fault: a fragment body's prefix is truncated or its fields out of range. The server closes
    /// with 1007.
    #[error("malformed fragment prefix: {reason}")]
    MalformedFragment {
        /// Which field is wrong.
        reason: &'static str,
    },
}

impl FrameError {
    /// What the server does about this error.
    pub fn reaction(&self) -> Reaction {
        match self {
            FrameError::MalformedVarint => Reaction::Close(CLOSE_PROTOCOL_ERROR),
            FrameError::BodyTooLarge { .. } => Reaction::Close(CLOSE_MESSAGE_TOO_BIG),
            FrameError::UnknownKind { .. } => Reaction::ErrorFrame(ErrorCode::UNKNOWN_KIND),
            FrameError::ReservedFlags { .. } => Reaction::ErrorFrame(ErrorCode::RESERVED_FLAGS),
            FrameError::InvalidBody { .. } | FrameError::MalformedFragment { .. } => {
                Reaction::Close(CLOSE_INVALID_PAYLOAD)
            }
        }
    }

    /// For skippable errors, the number of bytes to skip to reach the next frame.
    pub fn skip_bytes(&self) -> Option<usize> {
        match self {
            FrameError::UnknownKind { frame_bytes, .. }
            | FrameError::ReservedFlags { frame_bytes, .. } => Some(*frame_bytes),
            _ => None,
        }
    }
}

/// A configuration value is out of range: the operator's (or caller's) fault, reported by `validate()`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field} = {value} is outside {min}..={max}")]
pub struct ConfigError {
    /// The field name.
    pub field: &'static str,
    /// The rejected value.
    pub value: u64,
    /// Smallest allowed value.
    pub min: u64,
    /// Largest allowed value.
    pub max: u64,
}

impl ConfigError {
    /// Checks `min <= value <= max` for the field `field`.
    pub fn check(field: &'static str, value: u64, min: u64, max: u64) -> Result<(), ConfigError> {
        if (min..=max).contains(&value) {
            Ok(())
        } else {
            Err(ConfigError {
                field,
                value,
                min,
                max,
            })
        }
    }
}

/// Reassembling fragments failed. Every variant is the peer's fault (a conforming sender never causes
/// one); the server closes the connection with the code from [`FragmentError::reaction`], because the
/// peer's fragment stream can no longer be trusted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FragmentError {
    /// The message announces more bytes than `message_bytes_max`. Close 1009.
    #[error("fragmented message {fragment_id} of {total_bytes} bytes exceeds {message_bytes_max}")]
    MessageTooLarge {
        /// The message.
        fragment_id: u64,
        /// Announced length.
        total_bytes: u32,
        /// The configured limit.
        message_bytes_max: u32,
    },
    /// The message announces more pieces than `fragment_count_max`. Close 1009.
    #[error(
        "fragmented message {fragment_id} has {count} fragments, more than {fragment_count_max}"
    )]
    TooManyFragments {
        /// The message.
        fragment_id: u64,
        /// Announced piece count.
        count: u32,
        /// The configured limit.
        fragment_count_max: u32,
    },
    /// A new message would exceed `partial_messages_max` unfinished messages. Close 1009.
    #[error("more than {partial_messages_max} partial messages")]
    TooManyPartials {
        /// The configured limit.
        partial_messages_max: u32,
    },
    /// A piece arrived again (index below the next expected one). Close 1002.
    #[error("fragment {index} of message {fragment_id} is a duplicate")]
    Duplicate {
        /// The message.
        fragment_id: u64,
        /// The repeated index.
        index: u32,
    },
    /// A piece was skipped: `index` arrived while `expected_index` was due. Close 1002.
    #[error("fragment {expected_index} of message {fragment_id} is missing (got {index})")]
    Missing {
        /// The message.
        fragment_id: u64,
        /// The index that was due.
        expected_index: u32,
        /// The index that arrived.
        index: u32,
    },
    /// The first piece seen for a message is not index 0. Close 1002.
    #[error("message {fragment_id} starts with fragment {index}, not 0")]
    OutOfOrder {
        /// The message.
        fragment_id: u64,
        /// The index that arrived first.
        index: u32,
    },
    /// `count` or `total_bytes` differs from the first piece, or the pieces' lengths do not add up to
    /// `total_bytes`. Close 1002.
    #[error("fragments of message {fragment_id} disagree on count or total length")]
    InconsistentTotal {
        /// The message.
        fragment_id: u64,
    },
    /// The stream ended (connection closing) with a message still incomplete. Reported by
    /// [`crate::app::Reassembler::finish`]; nothing is left to close, the server only logs it.
    #[error("message {fragment_id} ended after {received} of {count} fragments")]
    Incomplete {
        /// The message.
        fragment_id: u64,
        /// Pieces received.
        received: u32,
        /// Pieces announced.
        count: u32,
    },
}

impl FragmentError {
    /// What the server does about this error.
    pub fn reaction(&self) -> Reaction {
        match self {
            FragmentError::MessageTooLarge { .. }
            | FragmentError::TooManyFragments { .. }
            | FragmentError::TooManyPartials { .. } => Reaction::Close(CLOSE_MESSAGE_TOO_BIG),
            _ => Reaction::Close(CLOSE_PROTOCOL_ERROR),
        }
    }
}
