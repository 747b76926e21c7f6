//! switchboard.v1 on the client side: outgoing frames wrapped in masked WebSocket binary messages, and
//! incoming WebSocket payloads split into the frames the load generator acts on.
//!
//! Message ids carry what the checks need: bytes 0..4 the run id, 4..8 the sending connection number,
//! 8..16 the intended send time in nanoseconds since the run's epoch (big-endian), so an `ack` or a
//! `deliver` alone gives the latency from the intended send time.

use switchboard_protocol::app::{
    parse_frame, Body, Encoder, Frame, FrameLimits, Hello, HistoryQuery, Lane, Message, MessageId,
    Pong, Reassembler, ReassemblerConfig, Resume, ResumePosition, SendMessage,
};
use switchboard_protocol::ws::{encode_frame, OpCode};

use crate::client::ClientError;

/// Messages asked for per `history_query` page (the server caps pages at 100).
pub const HISTORY_PAGE_MAX: u16 = 100;

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

    /// A `history_query` (id `query_id`) for the page of [`HISTORY_PAGE_MAX`] messages of
    /// `conversation_id` before `before_sequence`.
    pub fn history_query(
        &mut self,
        query_id: u32,
        conversation_id: u64,
        before_sequence: u64,
        mask: [u8; 4],
        out: &mut Vec<u8>,
    ) {
        let query = HistoryQuery {
            query_id,
            conversation_id,
            before_sequence,
            limit: HISTORY_PAGE_MAX,
        };
        self.write(&Message::HistoryQuery(query), mask, out);
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

/// Splits one WebSocket payload into its frames (several may share a message), with their lanes. The
/// pieces of a `fragment`ed frame go to `reassembler` (created at the first piece); a frame they complete
/// is returned where its last piece was.
pub fn frames(
    payload: &[u8],
    reassembler: &mut Option<Box<Reassembler>>,
) -> Result<Vec<(Lane, Message)>, ClientError> {
    let mut messages = Vec::new();
    let mut input = payload;
    while !input.is_empty() {
        let (frame, used) = parse_one(input)?;
        input = &input[used..];
        let Body::Fragment(piece) = frame.body else {
            messages.push((frame.lane, frame.body.to_message()));
            continue;
        };
        let reassembler = reassembler.get_or_insert_with(|| {
            let config = ReassemblerConfig {
                message_bytes_max: BODY_BYTES_MAX,
                ..ReassemblerConfig::default()
            };
            Box::new(Reassembler::new(config).expect("valid reassembler limits"))
        });
        let whole = reassembler
            .push(piece)
            .map_err(|error| ClientError::BadFrame(format!("fragment: {error}")))?;
        if let Some(whole) = whole {
            let (frame, used) = parse_one(&whole)?;
            if used != whole.len() || matches!(frame.body, Body::Fragment(_)) {
                return Err(ClientError::BadFrame(
                    "a reassembled message is not exactly one frame".into(),
                ));
            }
            messages.push((frame.lane, frame.body.to_message()));
        }
    }
    Ok(messages)
}

/// The whole frame at the start of `input` and the bytes it used.
fn parse_one(input: &[u8]) -> Result<(Frame<'_>, usize), ClientError> {
    let limits = FrameLimits {
        body_bytes_max: BODY_BYTES_MAX,
    };
    match parse_frame(input, &limits) {
        Ok(Some(parsed)) => Ok(parsed),
        Ok(None) => Err(ClientError::CorruptPayload),
        Err(error) => Err(ClientError::BadFrame(error.to_string())),
    }
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

    #[test]
    fn a_fragmented_frame_is_reassembled_and_frames_around_its_pieces_pass_through() {
        use switchboard_protocol::app::{encode_fragment, Fragmenter, HistoryResult, Ping};
        let result = Message::HistoryResult(HistoryResult {
            query_id: 9,
            conversation_id: 77,
            messages: Vec::new(),
            has_more: true,
        });
        let mut encoder = Encoder::new();
        let mut whole = Vec::new();
        encoder.encode_message(Lane::System, &result, &mut whole);
        // Three pieces, with an urgent frame between the first two (as the server interleaves them).
        let fragmenter = Fragmenter {
            fragment_data_bytes: (whole.len() as u32).div_ceil(3),
        };
        let mut payload = Vec::new();
        let ping = Message::Ping(Ping {
            timestamp_ms: 5,
            ..Ping::default()
        });
        for (i, piece) in fragmenter.pieces(1, &whole).enumerate() {
            encode_fragment(Lane::System, piece, &mut payload);
            if i == 0 {
                encoder.encode_message(Lane::Urgent, &ping, &mut payload);
            }
        }
        let mut reassembler = None;
        let got = frames(&payload, &mut reassembler).unwrap();
        assert_eq!(got, vec![(Lane::Urgent, ping), (Lane::System, result)]);
        assert_eq!(fragmenter.pieces(1, &whole).count(), 3);
        assert!(reassembler.is_some());
    }
}
