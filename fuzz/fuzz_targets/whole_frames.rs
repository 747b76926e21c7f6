//! Differential: the connection's whole-frame fast path (`shards/conn/src/inbound.rs`, frames decoded
//! straight from the received bytes) against the protocol crate's `MessageAssembler`, which the connection
//! uses for anything partial.
//!
//! The input is the client's byte stream after a valid upgrade, fed to an echo connection twice: once in
//! one read (every frame that arrives whole takes the fast path) and once a byte at a time (no read ever
//! holds a whole frame, so everything goes through the assembler). A third time it arrives in one read from
//! a receive buffer that lends and sends in place (`Connection::handle_received`: a read that is one whole
//! message is answered by writing the reply over it). All must write exactly the same bytes and end with
//! the same close reason, as `shards/tests/conn_whole_frames.rs` checks for chosen streams.
#![no_main]

use std::ops::Range;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use switchboard_shards::config::{Limits, Mode};
use switchboard_shards::conn::{Connection, ConnectionConfig, ConnectionEvent, LendingInput};

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

/// A receive buffer that lends copies and sends in place, checking the contract: nothing at or before a
/// lent or sent range is written again, and at most one range per read goes in place.
struct Received {
    bytes: Vec<u8>,
    lent_end: usize,
    sent_in_place: Option<Vec<u8>>,
}

impl LendingInput for Received {
    fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    fn bytes_mut_from(&mut self, start: usize) -> &mut [u8] {
        assert!(start >= self.lent_end, "wrote lent bytes");
        &mut self.bytes[start..]
    }

    fn lend(&mut self, range: Range<usize>) -> Option<Bytes> {
        assert!(range.start >= self.lent_end, "lent bytes twice");
        self.lent_end = range.end;
        Some(Bytes::copy_from_slice(&self.bytes[range]))
    }

    fn can_send_in_place(&self) -> bool {
        self.sent_in_place.is_none()
    }

    fn send_in_place(&mut self, range: Range<usize>) -> bool {
        assert!(self.sent_in_place.is_none(), "two ranges in place in one read");
        assert!(range.start >= self.lent_end, "sent lent bytes");
        self.lent_end = range.end;
        self.sent_in_place = Some(self.bytes[range].to_vec());
        true
    }
}

/// How the stream reaches the connection.
#[derive(Clone, Copy)]
enum Feed {
    /// `handle_bytes` in pieces of this many bytes.
    Chunks(usize),
    /// `handle_received` in one read from a buffer that lends and sends in place.
    InPlace,
}

/// Everything written after the 101 and the close reason, `input` fed as `feed` says.
fn run(input: &[u8], feed: Feed) -> (Vec<u8>, String) {
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
    // Flushed once at the end, so the send queue's priorities order the output the same way for all.
    let mut written = Vec::new();
    match feed {
        Feed::Chunks(chunk) => {
            for piece in input.chunks(chunk) {
                conn.handle_bytes(piece, 1);
            }
        }
        Feed::InPlace => {
            let mut received = Received {
                bytes: input.to_vec(),
                lent_end: 0,
                sent_in_place: None,
            };
            conn.handle_received(&mut received, 1);
            // As the shard does: the echo sent in place leaves first, and the connection flushes again only
            // once its completion is back.
            if let Some(sent) = received.sent_in_place {
                conn.handle_send_complete(sent.len());
                written.extend_from_slice(&sent);
            }
        }
    }
    flush(&mut conn, &mut written);
    (written, format!("{:?}", conn.close_reason()))
}

fuzz_target!(|data: &[u8]| {
    let whole = run(data, Feed::Chunks(data.len().max(1)));
    let bytewise = run(data, Feed::Chunks(1));
    let in_place = run(data, Feed::InPlace);
    assert!(whole == in_place, "the in-place path wrote other bytes or closed otherwise");
    assert_eq!(whole.1, bytewise.1, "close reasons differ");
    assert!(
        whole.0 == bytewise.0,
        "whole frames wrote {} bytes, byte by byte {} (or different bytes)",
        whole.0.len(),
        bytewise.0.len()
    );
});
