//! Whole frames are decoded straight from the input (no assembler, one copy); partial frames go through the
//! assembler. Both must give the client exactly the same bytes and the connection the same close reason, so
//! every stream here is fed once whole and once a byte at a time (which never holds a whole frame) and the
//! outputs compared.

use switchboard_protocol::ws::{encode_frame, OpCode};
use switchboard_shards::config::{Limits, Mode};
use switchboard_shards::conn::{Connection, ConnectionConfig, ConnectionEvent};

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

/// Feeds `input` to a fresh open echo connection in chunks of `chunk` bytes; returns everything written
/// after the 101 and the close reason.
fn run(input: &[u8], chunk: usize) -> (Vec<u8>, String) {
    let limits = Limits {
        message_bytes_max: 4_096,
        frame_payload_bytes_max: 4_096,
        ..Limits::default()
    };
    let mut conn = Connection::new(ConnectionConfig::new(Mode::Echo, &limits), 0);
    conn.handle_bytes(REQUEST, 0);
    assert!(matches!(
        conn.poll_event(),
        Some(ConnectionEvent::Opened { .. })
    ));
    let mut response = Vec::new();
    flush(&mut conn, &mut response);
    assert!(response.starts_with(b"HTTP/1.1 101"));
    // Flushed once at the end, so the send queue's priorities order the output the same way for both.
    for piece in input.chunks(chunk) {
        conn.handle_bytes(piece, 1);
    }
    let mut written = Vec::new();
    flush(&mut conn, &mut written);
    (written, format!("{:?}", conn.close_reason()))
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

fn assert_same_whole_and_bytewise(name: &str, input: &[u8]) {
    let whole = run(input, input.len().max(1));
    let bytewise = run(input, 1);
    assert_eq!(whole.1, bytewise.1, "{name}: close reasons differ");
    assert!(
        whole.0 == bytewise.0,
        "{name}: whole frames wrote {} bytes, byte-by-byte {} (or different bytes)",
        whole.0.len(),
        bytewise.0.len()
    );
}

#[test]
fn whole_frames_are_answered_exactly_as_partial_ones() {
    let binary = frame(OpCode::Binary, true, &[9; 3_000]);
    let text = frame(OpCode::Text, true, "héllo wörld".as_bytes());
    let ping = frame(OpCode::Ping, true, b"p");
    let first = frame(OpCode::Text, false, "frag".as_bytes());
    let last = frame(OpCode::Continuation, true, "ment".as_bytes());
    let close = frame(OpCode::Close, true, &1000u16.to_be_bytes());
    let cases: Vec<(&str, Vec<Vec<u8>>)> = vec![
        ("messages", vec![binary.clone(), text.clone(), ping.clone()]),
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
    ];
    for (name, frames) in cases {
        assert_same_whole_and_bytewise(name, &frames.concat());
    }
}

#[test]
fn whole_frames_after_an_assembled_message_still_echo_in_order() {
    // The first message arrives in pieces (through the assembler), the next ones whole in one read.
    let big = frame(OpCode::Binary, true, &[3; 2_000]);
    let small = frame(OpCode::Binary, true, b"next");
    let text = frame(OpCode::Text, true, b"third");
    let limits = Limits::default();
    let mut conn = Connection::new(ConnectionConfig::new(Mode::Echo, &limits), 0);
    conn.handle_bytes(REQUEST, 0);
    let mut out = Vec::new();
    flush(&mut conn, &mut out);
    out.clear();
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
