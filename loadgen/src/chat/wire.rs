//! switchboard.v1 on the client side: outgoing frames wrapped in masked WebSocket binary messages, and
//! incoming WebSocket payloads split into the frames the load generator acts on.
//!
//! Message ids carry what the checks need: bytes 0..4 the run id, 4..8 the sending connection number,
//! 8..16 the intended send time in nanoseconds since the run's epoch (big-endian), so an `ack` or a
//! `deliver` alone gives the latency from the intended send time.

use switchboard_protocol::app::{
    parse_frame, Encoder, FrameLimits, Hello, Lane, Message, MessageId, Pong, Resume,
    ResumePosition, SendMessage,
};
use switchboard_protocol::ws::{encode_frame, OpCode};

use crate::client::ClientError;

/// Largest frame body accepted from the server (the protocol's maximum).
pub const BODY_BYTES_MAX: u32 = 16 << 20;

/// The fields of a message id minted by this tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdParts {
    /// The run that sent it.
    pub run_id: u32,
    /// The connection number that sent it.
    pub connection: u32,
    /// Its intended send time, nanoseconds since the run's epoch.
    pub intended_ns: u64,
}

impl IdParts {
    /// The message id.
    pub fn to_id(self) -> MessageId {
        MessageId::from_halves(
            (u64::from(self.run_id) << 32) | u64::from(self.connection),
            self.intended_ns,
        )
    }

    /// The parts of `id`, if this run minted it.
    pub fn of(id: MessageId, run_id: u32) -> Option<IdParts> {
        let (hi, lo) = id.to_halves();
        ((hi >> 32) as u32 == run_id).then_some(IdParts {
            run_id,
            connection: hi as u32,
            intended_ns: lo,
        })
    }
}

/// Encodes switchboard.v1 frames as masked WebSocket binary messages.
#[derive(Default)]
pub struct Writer {
    encoder: Encoder,
    frame: Vec<u8>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Writer")
    }
}

impl Writer {
    /// Appends `message` on its default lane to `out` as one WebSocket message masked with `mask`.
    pub fn write(&mut self, message: &Message, mask: [u8; 4], out: &mut Vec<u8>) {
        self.frame.clear();
        self.encoder
            .encode_message(message.kind().default_lane(), message, &mut self.frame);
        encode_frame(out, OpCode::Binary, true, &self.frame, Some(mask))
            .expect("data frames always encode");
    }

    /// `hello` with a bearer token.
    pub fn hello(&mut self, token: &str, mask: [u8; 4], out: &mut Vec<u8>) {
        let hello = Hello {
            protocol_version: 1,
            auth_token: token.into(),
            resume_token: String::new(),
        };
        self.write(&Message::Hello(hello), mask, out);
    }

    /// A chat `send`.
    pub fn send(
        &mut self,
        id: MessageId,
        conversation: u64,
        text: &str,
        mask: [u8; 4],
        out: &mut Vec<u8>,
    ) {
        let send = SendMessage {
            message_id: id,
            conversation_id: conversation,
            text: text.into(),
        };
        self.write(&Message::Send(send), mask, out);
    }

    /// A `resume` with `(conversation, last_sequence)` positions.
    pub fn resume(&mut self, positions: &[(u64, u64)], mask: [u8; 4], out: &mut Vec<u8>) {
        let resume = Resume {
            resume_token: String::new(),
            positions: positions
                .iter()
                .map(|&(conversation_id, last_sequence)| ResumePosition {
                    conversation_id,
                    last_sequence,
                })
                .collect(),
        };
        self.write(&Message::Resume(resume), mask, out);
    }

    /// The `pong` answering a server `ping`.
    pub fn pong(&mut self, ping_timestamp_ms: u64, mask: [u8; 4], out: &mut Vec<u8>) {
        let pong = Pong {
            ping_timestamp_ms,
            timestamp_ms: ping_timestamp_ms,
        };
        self.write(&Message::Pong(pong), mask, out);
    }
}

/// Splits one WebSocket payload into its frames (several may share a message), with their lanes.
pub fn frames(payload: &[u8]) -> Result<Vec<(Lane, Message)>, ClientError> {
    let limits = FrameLimits {
        body_bytes_max: BODY_BYTES_MAX,
    };
    let mut messages = Vec::new();
    let mut input = payload;
    while !input.is_empty() {
        match parse_frame(input, &limits) {
            Ok(Some((frame, used))) => {
                messages.push((frame.lane, frame.body.to_message()));
                input = &input[used..];
            }
            Ok(None) => return Err(ClientError::CorruptPayload),
            Err(error) => return Err(ClientError::BadFrame(error.to_string())),
        }
    }
    Ok(messages)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_round_trip() {
        let parts = IdParts {
            run_id: 0xdead_beef,
            connection: 42,
            intended_ns: 123_456_789_000,
        };
        assert_eq!(IdParts::of(parts.to_id(), 0xdead_beef), Some(parts));
        assert_eq!(IdParts::of(parts.to_id(), 1), None);
    }
}
