//! Differential: the connection's whole-frame fast path (`shards/conn/src/inbound.rs`, frames decoded
//! straight from the received bytes) against the protocol crate's `MessageAssembler`, which the connection
//! uses for anything partial.
//!
//! The input is the client's byte stream after a valid upgrade, fed to an echo connection twice: once in
//! one read (every frame that arrives whole takes the fast path) and once a byte at a time (no read ever
//! holds a whole frame, so everything goes through the assembler). Both must write exactly the same bytes
//! and end with the same close reason, as `shards/tests/conn_whole_frames.rs` checks for chosen streams.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_shards::config::{Limits, Mode};
use switchboard_shards::conn::{Connection, ConnectionConfig, ConnectionEvent};

const REQUEST: &[u8] =
    b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
/// Bytes of the write buffer (as the shard's send buffers).
const WRITE_BUFFER_BYTES: usize = 65_536;
/// Small limits, so the fuzzer reaches them with short inputs.
const MESSAGE_BYTES_MAX: u64 = 1_024;
const FRAME_PAYLOAD_BYTES_MAX: u64 = 512;

fn flush(conn: &mut Connection, out: &mut Vec<u8>) {
    // Each call moves at least one byte or ends the loop; the output of a bounded input is bounded.
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

/// Everything written after the 101 and the close reason, `input` fed in pieces of `chunk` bytes.
fn run(input: &[u8], chunk: usize) -> (Vec<u8>, String) {
    let limits = Limits {
        message_bytes_max: MESSAGE_BYTES_MAX,
        frame_payload_bytes_max: FRAME_PAYLOAD_BYTES_MAX,
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

fuzz_target!(|data: &[u8]| {
    let whole = run(data, data.len().max(1));
    let bytewise = run(data, 1);
    assert_eq!(whole.1, bytewise.1, "close reasons differ");
    assert!(
        whole.0 == bytewise.0,
        "whole frames wrote {} bytes, byte by byte {} (or different bytes)",
        whole.0.len(),
        bytewise.0.len()
    );
});
