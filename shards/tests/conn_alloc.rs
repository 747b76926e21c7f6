//! Proves which connection paths do no heap allocation once warmed up (STYLE rule 5).

use bytes::Bytes;
use switchboard_core::alloc_count::{count_allocations, CountingAllocator};
use switchboard_protocol::ws::{encode_frame, OpCode};
use switchboard_shards::config::{Limits, Mode};
use switchboard_shards::conn::{
    Connection, ConnectionConfig, DataKind, Fragmentation, Lane, SendQueue,
};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

const REQUEST: &[u8] =
    b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

#[test]
fn send_queue_enqueue_and_transmit_do_not_allocate_in_steady_state() {
    let mut queue = SendQueue::new(Fragmentation::WebSocket, 16_384, 1 << 20);
    let payload = Bytes::from_static(&[7; 40_000]);
    let mut out = Vec::with_capacity(64 * 1_024);
    let round = |queue: &mut SendQueue, out: &mut Vec<u8>| {
        for lane in Lane::ALL {
            queue
                .enqueue(lane, DataKind::Binary, payload.clone())
                .unwrap();
            queue
                .enqueue(lane, DataKind::Text, Bytes::from_static(b"small"))
                .unwrap();
        }
        queue.enqueue_ping(*b"12345678");
        while {
            out.clear();
            queue.poll_transmit(out, 64 * 1_024) > 0
        } {}
    };
    round(&mut queue, &mut out); // warm-up: the lane rings reach their working size
    let ((), allocations) = count_allocations(|| round(&mut queue, &mut out));
    assert_eq!(allocations, 0);
}

#[test]
fn ping_pong_and_heartbeats_do_not_allocate_once_open() {
    let limits = Limits::default();
    let mut conn = Connection::new(ConnectionConfig::new(Mode::Echo, &limits), 0);
    conn.handle_bytes(REQUEST, 0);
    let _opened = conn.poll_event();
    let mut ping = Vec::new();
    encode_frame(&mut ping, OpCode::Ping, true, b"hello", Some([1, 2, 3, 4])).unwrap();
    let mut out = Vec::with_capacity(64 * 1_024);
    let mut now = 0;
    let mut step = |conn: &mut Connection, out: &mut Vec<u8>| {
        now += 1_000;
        conn.handle_bytes(&ping, now);
        conn.handle_timeout(now);
        out.clear();
        let written = conn.poll_transmit(out, 64 * 1_024);
        conn.handle_send_complete(written);
    };
    step(&mut conn, &mut out); // warm-up: writes the 101
    let ((), allocations) = count_allocations(|| {
        for _ in 0..100 {
            step(&mut conn, &mut out);
        }
    });
    assert_eq!(allocations, 0);
}

#[test]
fn echo_of_large_messages_lent_by_reference_does_not_allocate() {
    let limits = Limits::default();
    let mut conn = Connection::new(ConnectionConfig::new(Mode::Echo, &limits), 0);
    conn.handle_bytes(REQUEST, 0);
    let _opened = conn.poll_event();
    let mut frame = Vec::new();
    let payload = vec![0x5a; 16 * 1_024];
    encode_frame(
        &mut frame,
        OpCode::Binary,
        true,
        &payload,
        Some([9, 8, 7, 6]),
    )
    .unwrap();
    let mut out = Vec::with_capacity(64 * 1_024);
    let mut now = 0;
    let mut step = |conn: &mut Connection, out: &mut Vec<u8>| {
        now += 1;
        conn.handle_bytes(&frame, now);
        out.clear();
        let (written, lent) = conn.poll_transmit_vectored(out, 64 * 1_024);
        // The engine holds the payload until the send completes, then drops its reference.
        assert_eq!(lent.map(|lent| lent.len()), Some(payload.len()));
        conn.handle_send_complete(written);
    };
    step(&mut conn, &mut out); // warm-up: writes the 101, grows the queue and the first payload
    step(&mut conn, &mut out);
    let ((), allocations) = count_allocations(|| {
        for _ in 0..100 {
            step(&mut conn, &mut out);
        }
    });
    assert_eq!(allocations, 0);
}
