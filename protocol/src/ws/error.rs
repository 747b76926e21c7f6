//! Errors of the WebSocket frame layer.
//!
//! [`WsError`] is always the peer's fault and says which close code to send back; [`EncodeError`] is the
//! local caller's; [`LimitError`] is an operator's configuration mistake.

use super::close::CloseCode;

/// A violation of RFC 6455 (or of our limits) by the peer while receiving frames.
///
/// Every variant is the peer's fault. Send a Close frame with [`WsError::close_code`], then close the
/// connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WsError {
    /// The peer set RSV1/RSV2/RSV3 although no extension was negotiated.
    #[error("reserved bits set without a negotiated extension")]
    ReservedBitsSet,
    /// The peer used an opcode RFC 6455 reserves (3-7, 0xB-0xF).
    #[error("reserved opcode {0:#x}")]
    ReservedOpcode(u8),
    /// The peer sent a 64-bit payload length with the most significant bit set.
    #[error("64-bit payload length has its most significant bit set")]
    PayloadLengthMsbSet,
    /// The peer sent a control frame with more than 125 payload bytes.
    #[error("control frame payload of {0} bytes exceeds 125")]
    ControlFrameTooLong(u64),
    /// The peer sent a control frame without FIN.
    #[error("fragmented control frame")]
    FragmentedControlFrame,
    /// A client sent a frame without a mask (we are the server).
    #[error("client frame is not masked")]
    UnmaskedClientFrame,
    /// A server sent a masked frame (we are the client).
    #[error("server frame is masked")]
    MaskedServerFrame,
    /// The peer sent a continuation frame while no fragmented message was in progress.
    #[error("continuation frame without a message in progress")]
    UnexpectedContinuation,
    /// The peer started a new Text/Binary message before finishing the fragmented one.
    #[error("new data frame while a fragmented message is in progress")]
    ExpectedContinuation,
    /// The peer announced a frame payload above `frame_payload_bytes_max`.
    #[error("frame payload of {len} bytes exceeds the limit of {max}")]
    FramePayloadTooLarge {
        /// Payload length announced by the frame header.
        len: u64,
        /// The configured `frame_payload_bytes_max`.
        max: usize,
    },
    /// The peer's message would grow above `message_bytes_max`.
    #[error("message of at least {len} bytes exceeds the limit of {max}")]
    MessageTooLarge {
        /// Message bytes so far plus the announced payload of the current frame.
        len: u64,
        /// The configured `message_bytes_max`.
        max: usize,
    },
    /// A text message is not valid UTF-8 (detected as soon as the bytes became invalid).
    #[error("text message is not valid UTF-8")]
    InvalidUtf8,
    /// A Close frame carried a 1-byte payload (a code needs 2 bytes).
    #[error("close payload of 1 byte")]
    ClosePayloadTooShort,
    /// A Close frame carried a code that may not be sent on the wire (RFC 6455 7.4).
    #[error("invalid close code {0}")]
    InvalidCloseCode(u16),
    /// A Close frame's reason is not valid UTF-8.
    #[error("close reason is not valid UTF-8")]
    CloseReasonInvalidUtf8,
}

impl WsError {
    /// The close code to send to the peer for this error.
    pub fn close_code(&self) -> CloseCode {
        match self {
            WsError::FramePayloadTooLarge { .. } | WsError::MessageTooLarge { .. } => {
                CloseCode::MESSAGE_TOO_BIG
            }
            WsError::InvalidUtf8 | WsError::CloseReasonInvalidUtf8 => CloseCode::INVALID_PAYLOAD,
            WsError::ReservedBitsSet
            | WsError::ReservedOpcode(_)
            | WsError::PayloadLengthMsbSet
            | WsError::ControlFrameTooLong(_)
            | WsError::FragmentedControlFrame
            | WsError::UnmaskedClientFrame
            | WsError::MaskedServerFrame
            | WsError::UnexpectedContinuation
            | WsError::ExpectedContinuation
            | WsError::ClosePayloadTooShort
            | WsError::InvalidCloseCode(_) => CloseCode::PROTOCOL_ERROR,
        }
    }
}

/// A local caller asked the encoder for something impossible. Always our own bug, never the peer's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The output slice cannot hold the encoded frame.
    #[error("output buffer holds {available} bytes, the frame needs {needed}")]
    BufferTooSmall {
        /// Bytes the frame needs.
        needed: usize,
        /// Bytes the caller's slice has.
        available: usize,
    },
    /// A control frame payload (or close code plus reason) above 125 bytes.
    #[error("control frame payload of {0} bytes exceeds 125")]
    ControlPayloadTooLong(usize),
    /// A control frame with `fin = false`.
    #[error("control frames cannot be fragmented")]
    FragmentedControlFrame,
    /// A close code that may not be sent on the wire (1005, 1006, 1015, out of range).
    #[error("close code {0} may not be sent")]
    InvalidCloseCode(u16),
}

/// A configuration field outside its allowed range. The operator's fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} = {value} is outside the allowed range {min}..={max}")]
pub struct LimitError {
    /// Name of the offending field, e.g. `"message_bytes_max"`.
    pub field: &'static str,
    /// The value that was configured.
    pub value: u64,
    /// Smallest allowed value.
    pub min: u64,
    /// Largest allowed value.
    pub max: u64,
}

impl LimitError {
    /// Checks `min <= value <= max` for the field `field`.
    pub fn check(field: &'static str, value: u64, min: u64, max: u64) -> Result<(), LimitError> {
        if (min..=max).contains(&value) {
            Ok(())
        } else {
            Err(LimitError {
                field,
                value,
                min,
                max,
            })
        }
    }
}
