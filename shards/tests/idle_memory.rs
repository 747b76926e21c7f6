//! Memory of idle connections (issue 3: 100,000 idle connections at ≤ 1 KiB of process RSS each; issue 19:
//! a million at ≤ 300 B each): the connection state machine stays within its size budget, and an open connection that is idle holds no heap
//! buffer, also after heartbeat rounds and after a burst of traffic once it has gone quiet. Deterministic:
//! simulated time, no sockets.

use switchboard_core::alloc_count::{count_allocations, CountingAllocator};
use switchboard_protocol::ws::{encode_frame, OpCode};
use switchboard_shards::config::{Limits, Mode};
use switchboard_shards::conn::{Connection, ConnectionConfig, ConnectionEvent};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Budget of `size_of::<Connection>()` (it lives inline in the shard's table slot, 200 bytes of the 300 an
/// idle connection may cost at C1M; see `server/table.rs`).
const CONNECTION_BYTES_MAX: usize = 144;
/// Heap bytes an idle open connection may hold in its own buffers: none.
const IDLE_HEAP_BYTES_MAX: usize = 0;

const REQUEST: &[u8] =
    b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// Bytes of the reusable write buffer (as the shard's send buffers).
const WRITE_BUFFER_BYTES: usize = 65_536;

/// Writes everything pending into `out` (cleared first), reported as sent.
fn flush_into(conn: &mut Connection, out: &mut Vec<u8>) {
    out.clear();
    loop {
        let room = WRITE_BUFFER_BYTES - out.len();
        if room < conn.transmit_bytes_min() {
            return;
        }
        let written = conn.poll_transmit(out, room);
        if written == 0 {
            return;
        }
        conn.handle_send_complete(written);
    }
}

/// Writes everything pending; returns the bytes.
fn flush(conn: &mut Connection) -> Vec<u8> {
    let mut out = Vec::with_capacity(WRITE_BUFFER_BYTES);
    flush_into(conn, &mut out);
    out
}

/// The heartbeat ping's payload in `bytes` (an unmasked server frame `0x89 len payload`).
fn ping_payload(bytes: &[u8]) -> [u8; 8] {
    assert_eq!(bytes[..2], [0x89, 8], "a heartbeat ping was written");
    bytes[2..10].try_into().unwrap()
}

fn client_frame(opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame(&mut out, opcode, true, payload, Some([9, 8, 7, 6])).unwrap();
    out
}

fn open(mode: Mode) -> Connection {
    let mut conn = Connection::new(ConnectionConfig::new(mode, &Limits::default()), 0);
    conn.handle_bytes(REQUEST, 0);
    assert!(matches!(
        conn.poll_event(),
        Some(ConnectionEvent::Opened { .. })
    ));
    let response = flush(&mut conn);
    assert!(response.starts_with(b"HTTP/1.1 101"));
    conn
}

/// Answers heartbeat pings for `rounds` rounds, writing into `out`; returns the time reached.
fn heartbeat_rounds(conn: &mut Connection, out: &mut Vec<u8>, mut now: u64, rounds: usize) -> u64 {
    let mut pong = [0u8; 14];
    for _ in 0..rounds {
        now = conn.poll_timeout().expect("open connections have a timer");
        conn.handle_timeout(now);
        flush_into(conn, out);
        let ping = ping_payload(out);
        // A masked pong with the 8-byte token, built without allocating: 0x8A, 0x80 | 8, key, payload.
        pong[..6].copy_from_slice(&[0x8A, 0x88, 0, 0, 0, 0]);
        pong[6..].copy_from_slice(&ping);
        now += 3;
        conn.handle_bytes(&pong, now);
        flush_into(conn, out);
        assert!(out.is_empty());
        assert_eq!(conn.take_rtt_sample_ms(), Some(3));
    }
    now
}

#[test]
fn connection_state_fits_its_budget() {
    let size = std::mem::size_of::<Connection>();
    assert!(
        size <= CONNECTION_BYTES_MAX,
        "Connection grew to {size} bytes"
    );
}

#[test]
fn an_idle_connection_holds_no_heap_buffer_after_the_handshake() {
    for mode in [Mode::Echo, Mode::Chat] {
        let conn = open(mode);
        assert!(conn.buffer_bytes() == IDLE_HEAP_BYTES_MAX, "{mode:?}");
    }
}

#[test]
fn heartbeat_rounds_allocate_nothing_and_leave_no_buffer() {
    let mut conn = open(Mode::Echo);
    let mut out = Vec::with_capacity(WRITE_BUFFER_BYTES);
    let now = heartbeat_rounds(&mut conn, &mut out, 0, 1);
    let (_, allocations) = count_allocations(|| heartbeat_rounds(&mut conn, &mut out, now, 20));
    assert_eq!(allocations, 0, "a ping/pong round on an idle connection");
    assert!(conn.buffer_bytes() == IDLE_HEAP_BYTES_MAX);
}

#[test]
fn buffers_grown_by_a_burst_are_released_once_the_connection_is_quiet() {
    let mut conn = open(Mode::Echo);
    let mut out = Vec::with_capacity(WRITE_BUFFER_BYTES);
    let mut now = 0;
    let message = client_frame(OpCode::Binary, &[5; 3_000]);
    // A busy connection keeps its buffers: no allocation per message once warmed up.
    conn.handle_bytes(&message, now);
    flush_into(&mut conn, &mut out);
    let (_, allocations) = count_allocations(|| {
        for _ in 0..50 {
            now += 10;
            conn.handle_bytes(&message, now);
            conn.handle_timeout(now);
            flush_into(&mut conn, &mut out);
            assert!(!out.is_empty(), "echoed");
        }
    });
    // Nothing: a whole frame is unmasked straight into the allocation the previous echo left behind
    // (`SendQueue::take_spare`), and the connection's own buffers are kept.
    assert_eq!(allocations, 0);
    assert!(conn.buffer_bytes() > IDLE_HEAP_BYTES_MAX, "kept while busy");
    // Quiet for a heartbeat interval: the ping releases them, and the pong does not bring them back.
    heartbeat_rounds(&mut conn, &mut out, now, 1);
    assert!(conn.buffer_bytes() == IDLE_HEAP_BYTES_MAX);
}

#[test]
fn a_partial_frame_keeps_the_assembler_across_the_quiet_period() {
    let mut conn = open(Mode::Echo);
    let message = client_frame(OpCode::Text, b"hello");
    conn.handle_bytes(&message[..3], 0);
    let due = conn.poll_timeout().unwrap();
    conn.handle_timeout(due);
    assert_eq!(ping_payload(&flush(&mut conn)), 1u64.to_be_bytes());
    // The rest of the frame still completes the message: the half-read frame was not dropped.
    conn.handle_bytes(&message[3..], due + 1);
    assert_eq!(flush(&mut conn), [0x81, 5, b'h', b'e', b'l', b'l', b'o']);
}

#[test]
fn a_valid_close_needs_no_assembler() {
    // Thousands of connections closing in one tick must not allocate an assembler each: a valid Close is
    // decoded directly (an invalid one still goes through the assembler and its errors; see Autobahn 7.x).
    let mut conn = open(Mode::Echo);
    let close = client_frame(OpCode::Close, &[0x03, 0xE8, b'b', b'y', b'e']);
    let (_, allocations) = count_allocations(|| conn.handle_bytes(&close, 10));
    // What a closing connection needs and an idle one does not hold (issue 19's C1M packing): the close's
    // reason and deadline (the connection's cold box) and the reply (the send queue's buffers). An
    // assembler would be at least one more.
    assert!(
        allocations <= 2,
        "at most the close state and the send queue's buffers for the reply, got {allocations} allocations"
    );
    let reply = flush(&mut conn);
    assert_eq!(&reply[..4], &[0x88, 0x02, 0x03, 0xE8], "close 1000 echoed");
}
