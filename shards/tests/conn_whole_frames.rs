//! Whole frames are decoded straight from the input (no assembler, one copy); partial frames go through the
//! assembler. Both must give the client exactly the same bytes and the connection the same close reason, so
//! every stream here is fed once whole and once a byte at a time (which never holds a whole frame) and the
//! outputs compared. Echo's lending path (a whole large message unmasked in the receive buffer and sent
//! from there, `Connection::handle_received`) must give the same bytes again, whether the transport lends
//! or refuses, and so must its in-place path (the reply written over a read's last message and sent from
//! the receive buffer as it stands).

use std::ops::Range;

use bytes::Bytes;

use switchboard_protocol::ws::{encode_frame, OpCode};
use switchboard_shards::config::{Limits, Mode};
use switchboard_shards::conn::{Connection, ConnectionConfig, ConnectionEvent, LendingInput};

const REQUEST: &[u8] =
    b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// Bytes of the write buffer (as the shard's send buffers).
const WRITE_BUFFER_BYTES: usize = 65_536;

fn frame(opcode: OpCode, fin: bool, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame(&mut out, opcode, fin, payload, Some([1, 2, 3, 4])).unwrap();
    out
}

/// A frame with a raw first byte (e.g. reserved bits set), masked.
fn raw_frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = frame(OpCode::Binary, true, payload);
    out[0] = first;
    out
}

/// How the input reaches the connection.
#[derive(Clone, Copy)]
enum Feed {
    /// `handle_bytes` in chunks of this many bytes.
    Chunks(usize),
    /// `handle_received` in one read, from a transport that lends (or refuses every lend), and that sends
    /// in place or not.
    Lending { refuse: bool, in_place: bool },
}

/// A receive buffer that lends copies and checks the contract: nothing at or before a lent range is
/// written or lent again.
struct FakeReceiveBuffer {
    bytes: Vec<u8>,
    lent_end: usize,
    refuse: bool,
    lent: Vec<Range<usize>>,
    /// Whether `send_in_place` is offered, and the bytes it sent (as they stood when handed over).
    in_place: bool,
    sent_in_place: Option<Vec<u8>>,
}

impl LendingInput for FakeReceiveBuffer {
    fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    fn bytes_mut_from(&mut self, start: usize) -> &mut [u8] {
        assert!(start >= self.lent_end, "wrote lent bytes");
        &mut self.bytes[start..]
    }

    fn lend(&mut self, range: Range<usize>) -> Option<Bytes> {
        assert!(range.start >= self.lent_end, "lent bytes twice");
        if self.refuse {
            return None;
        }
        self.lent_end = range.end;
        self.lent.push(range.clone());
        Some(Bytes::copy_from_slice(&self.bytes[range]))
    }

    fn can_send_in_place(&self) -> bool {
        self.in_place && self.sent_in_place.is_none()
    }

    fn send_in_place(&mut self, range: Range<usize>) -> bool {
        assert!(
            self.can_send_in_place(),
            "sent in place without asking, or twice"
        );
        assert!(range.start >= self.lent_end, "sent lent bytes");
        assert_eq!(
            range.end,
            self.bytes.len(),
            "only a read's last message goes in place"
        );
        self.lent_end = range.end;
        self.sent_in_place = Some(self.bytes[range].to_vec());
        true
    }
}

/// Feeds `input` to a fresh open echo connection in chunks of `chunk` bytes; returns everything written
/// after the 101 and the close reason.
fn run(input: &[u8], chunk: usize) -> (Vec<u8>, String) {
    run_fed(input, Feed::Chunks(chunk)).0
}

/// As `run`, fed as `feed` says; also returns the ranges lent and whether a message was sent in place.
fn run_fed(input: &[u8], feed: Feed) -> ((Vec<u8>, String), Vec<Range<usize>>, bool) {
    let limits = Limits {
        message_bytes_max: 4_096,
        frame_payload_bytes_max: 4_096,
        ..Limits::default()
    };
    let mut conn = open_echo(&limits);
    // Flushed once at the end, so the send queue's priorities order the output the same way for both.
    let mut lent = Vec::new();
    let mut written = Vec::new();
    let mut in_place = false;
    match feed {
        Feed::Chunks(chunk) => {
            for piece in input.chunks(chunk) {
                conn.handle_bytes(piece, 1);
            }
        }
        Feed::Lending {
            refuse,
            in_place: offered,
        } => {
            let mut buffer = FakeReceiveBuffer {
                bytes: input.to_vec(),
                lent_end: 0,
                refuse,
                lent: Vec::new(),
                in_place: offered,
                sent_in_place: None,
            };
            conn.handle_received(&mut buffer, 1);
            lent = buffer.lent;
            // As the shard does: the echo sent in place leaves first, and the connection flushes again only
            // once its completion is back.
            if let Some(sent) = buffer.sent_in_place {
                in_place = true;
                conn.handle_send_complete(sent.len());
                written.extend_from_slice(&sent);
            }
        }
    }
    flush(&mut conn, &mut written);
    (
        (written, format!("{:?}", conn.close_reason())),
        lent,
        in_place,
    )
}

fn flush(conn: &mut Connection, out: &mut Vec<u8>) {
    loop {
        let mut buf = Vec::with_capacity(WRITE_BUFFER_BYTES);
        let written = conn.poll_transmit(&mut buf, WRITE_BUFFER_BYTES);
        if written == 0 {
            return;
        }
        conn.handle_send_complete(written);
        out.extend_from_slice(&buf);
    }
}

/// An echo connection past its handshake: the 101 written and the `Opened` event polled.
fn open_echo(limits: &Limits) -> Connection {
    let mut conn = Connection::new(ConnectionConfig::new(Mode::Echo, limits), 0);
    conn.handle_bytes(REQUEST, 0);
    assert!(matches!(
        conn.poll_event(),
        Some(ConnectionEvent::Opened { .. })
    ));
    let mut response = Vec::new();
    flush(&mut conn, &mut response);
    assert!(response.starts_with(b"HTTP/1.1 101"));
    conn
}

/// Checks every feed gives the same output; returns the ranges lent and whether the in-place path ran.
fn assert_same_whole_and_bytewise(name: &str, input: &[u8]) -> (Vec<Range<usize>>, bool) {
    let whole = run(input, input.len().max(1));
    let bytewise = run(input, 1);
    let lending = |refuse, in_place| run_fed(input, Feed::Lending { refuse, in_place });
    let (lent_output, lent, _) = lending(false, false);
    let (refused, _, _) = lending(true, false);
    let (placed, _, in_place) = lending(false, true);
    assert_eq!(whole, lent_output, "{name}: the lending path differs");
    assert_eq!(
        whole, refused,
        "{name}: the lending path differs when refused"
    );
    assert_eq!(whole, placed, "{name}: the in-place path differs");
    assert_eq!(whole.1, bytewise.1, "{name}: close reasons differ");
    assert!(
        whole.0 == bytewise.0,
        "{name}: whole frames wrote {} bytes, byte-by-byte {} (or different bytes)",
        whole.0.len(),
        bytewise.0.len()
    );
    (lent, in_place)
}

#[test]
fn whole_frames_are_answered_exactly_as_partial_ones() {
    let binary = frame(OpCode::Binary, true, &[9; 3_000]);
    let long_text = frame(OpCode::Text, true, "wörd ".repeat(600).as_bytes());
    let mut long_invalid = "wörd ".repeat(600).into_bytes();
    long_invalid[2_500] = 0xFF;
    let long_invalid = frame(OpCode::Text, true, &long_invalid);
    let text = frame(OpCode::Text, true, "héllo wörld".as_bytes());
    let ping = frame(OpCode::Ping, true, b"p");
    let first = frame(OpCode::Text, false, "frag".as_bytes());
    let last = frame(OpCode::Continuation, true, "ment".as_bytes());
    let close = frame(OpCode::Close, true, &1000u16.to_be_bytes());
    let cases: Vec<(&str, Vec<Vec<u8>>)> = vec![
        ("messages", vec![binary.clone(), text.clone(), ping.clone()]),
        (
            "large text and binary, then invalid large text",
            vec![long_text, binary.clone(), long_invalid],
        ),
        (
            "fragmented with a ping inside, then whole",
            vec![first, ping.clone(), last, binary.clone(), close.clone()],
        ),
        (
            "invalid utf-8 after a good message",
            vec![text.clone(), frame(OpCode::Text, true, &[0xC3, 0x28])],
        ),
        (
            "too large",
            vec![binary.clone(), frame(OpCode::Binary, true, &[1; 5_000])],
        ),
        (
            "reserved bits",
            vec![binary.clone(), raw_frame(0xC2, b"x"), text.clone()],
        ),
        (
            "unexpected continuation",
            vec![frame(OpCode::Continuation, true, b"x"), binary.clone()],
        ),
        (
            "data after close",
            vec![text.clone(), close, binary.clone()],
        ),
        (
            "empty payloads",
            vec![
                frame(OpCode::Binary, true, &[]),
                frame(OpCode::Text, true, &[]),
            ],
        ),
        // A read that is one whole message (what the in-place path answers), at each header size.
        (
            "one small binary message",
            vec![frame(OpCode::Binary, true, b"x")],
        ),
        ("one text message", vec![text.clone()]),
        (
            "one 126-byte message",
            vec![frame(OpCode::Binary, true, &[5; 126])],
        ),
        ("one large binary message", vec![binary.clone()]),
        ("one empty message", vec![frame(OpCode::Text, true, &[])]),
        (
            "one invalid text message",
            vec![frame(OpCode::Text, true, &[0xC3, 0x28])],
        ),
        (
            "one message over the limit",
            vec![frame(OpCode::Binary, true, &[1; 5_000])],
        ),
        ("one fragment", vec![frame(OpCode::Text, false, b"half")]),
        // After a ping the pong is pending, so the last message queues behind it instead.
        ("a ping, then a message", vec![ping.clone(), binary.clone()]),
        (
            "a message, then a message",
            vec![text.clone(), binary.clone()],
        ),
    ];
    let (mut lent_any, mut in_place_any) = (false, false);
    for (name, frames) in cases {
        let (lent, in_place) = assert_same_whole_and_bytewise(name, &frames.concat());
        lent_any |= !lent.is_empty();
        in_place_any |= in_place;
    }
    assert!(lent_any, "no case took the lending path");
    assert!(in_place_any, "no case took the in-place path");
}

#[test]
fn whole_frames_after_an_assembled_message_still_echo_in_order() {
    // The first message arrives in pieces (through the assembler), the next ones whole in one read.
    let big = frame(OpCode::Binary, true, &[3; 2_000]);
    let small = frame(OpCode::Binary, true, b"next");
    let text = frame(OpCode::Text, true, b"third");
    let limits = Limits::default();
    let mut conn = open_echo(&limits);
    let mut out = Vec::new();
    conn.handle_bytes(&big[..700], 1);
    let mut rest = big[700..].to_vec();
    rest.extend_from_slice(&small);
    rest.extend_from_slice(&text);
    conn.handle_bytes(&rest, 2);
    flush(&mut conn, &mut out);
    let mut expected = vec![0x82, 126, 0x07, 0xD0];
    expected.extend_from_slice(&[3; 2_000]);
    expected.extend_from_slice(&[0x82, 4]);
    expected.extend_from_slice(b"next");
    expected.extend_from_slice(&[0x81, 5]);
    expected.extend_from_slice(b"third");
    assert_eq!(out, expected);
}

#[test]
fn a_reused_payload_buffer_never_leaks_an_earlier_messages_bytes() {
    // Each message is echoed and written before the next arrives, so the next one is decoded into the last
    // one's buffer (`SendQueue::take_spare`), which still holds that message's bytes: longer, shorter,
    // equal, empty and text messages follow each other, each with its own content.
    let limits = Limits::default();
    let mut conn = open_echo(&limits);
    let mut out = Vec::new();
    let sizes = [3_000, 100, 2_500, 2_500, 0, 5_000, 1, 8_000, 4_000];
    for (round, len) in sizes.into_iter().enumerate() {
        let (opcode, payload): (OpCode, Vec<u8>) = if round == 6 {
            (OpCode::Text, b"z".to_vec())
        } else {
            let payload = (0..len).map(|i| (i * 7 + round * 31) as u8).collect();
            (OpCode::Binary, payload)
        };
        conn.handle_bytes(&frame(opcode, true, &payload), 1 + round as u64);
        out.clear();
        flush(&mut conn, &mut out);
        let mut expected = Vec::new();
        encode_frame(&mut expected, opcode, true, &payload, None).unwrap();
        assert!(
            out == expected,
            "message {round} ({len} B) echoed as {} bytes, not its own {}",
            out.len(),
            expected.len()
        );
    }
}

#[test]
fn an_echo_connection_frees_its_cold_state_once_a_split_message_completes() {
    // A message in two reads starts the unfinished-message clock, which lives in the boxed cold state; once
    // the message completes nothing is left there, and keeping the box made every later message read it.
    let limits = Limits::default();
    let mut conn = open_echo(&limits);
    let mut out = Vec::new();
    assert!(!conn.holds_cold_state(), "open and idle: no cold state");
    let message = frame(OpCode::Binary, true, &[5; 1_000]);
    conn.handle_bytes(&message[..300], 1);
    assert!(conn.holds_cold_state(), "the clock runs");
    conn.handle_bytes(&message[300..], 2);
    assert!(!conn.holds_cold_state(), "freed when the message completed");
    out.clear();
    flush(&mut conn, &mut out);
    let mut expected = Vec::new();
    encode_frame(&mut expected, OpCode::Binary, true, &[5; 1_000], None).unwrap();
    assert_eq!(out, expected);
    // The next split message starts the clock again, and its timeout still applies.
    conn.handle_bytes(&message[..10], 3);
    assert!(conn.holds_cold_state());
}

#[test]
fn an_echo_in_flight_keeps_the_next_one_behind_it_and_in_place_echoes_count_against_the_frame_rate()
{
    let limits = Limits {
        frames_per_second_max: 2,
        ..Limits::default()
    };
    let mut conn = open_echo(&limits);
    let message = frame(OpCode::Binary, true, b"one");
    let read = |conn: &mut Connection| {
        let mut buffer = FakeReceiveBuffer {
            bytes: message.clone(),
            lent_end: 0,
            refuse: false,
            lent: Vec::new(),
            in_place: true,
            sent_in_place: None,
        };
        conn.handle_received(&mut buffer, 1);
        buffer.sent_in_place
    };
    let first = read(&mut conn).expect("an idle connection echoes in place");
    assert_eq!(first, [0x82, 3, b'o', b'n', b'e']);
    assert!(
        read(&mut conn).is_none(),
        "while the first echo is in flight the second queues behind it"
    );
    conn.handle_send_complete(first.len());
    let mut out = Vec::new();
    flush(&mut conn, &mut out);
    assert_eq!(out, first, "the second echo, from the send queue");
    // Both took a token: the third message in the same millisecond is over the rate.
    assert!(read(&mut conn).is_none());
    assert!(
        format!("{:?}", conn.close_reason()).contains("FrameRate"),
        "closed for the frame rate: {:?}",
        conn.close_reason()
    );
}

#[test]
fn an_open_echo_connection_with_nothing_left_to_send_needs_no_flush_after_a_completion() {
    let mut conn = open_echo(&Limits::default());
    assert!(
        !conn.wants_flush_after_send(),
        "open, the 101 written, nothing queued"
    );
    conn.handle_bytes(&frame(OpCode::Binary, true, b"x"), 1);
    assert!(conn.wants_flush_after_send(), "an echo is queued");
    let mut out = Vec::new();
    flush(&mut conn, &mut out);
    assert_eq!(out, [0x82, 1, b'x']);
    assert!(!conn.wants_flush_after_send(), "everything written");
    conn.close(1000, 2);
    assert!(
        conn.wants_flush_after_send(),
        "closing: the Close is queued"
    );
    flush(&mut conn, &mut out);
    assert!(
        conn.wants_flush_after_send(),
        "closing: its end may follow the completion"
    );
}
