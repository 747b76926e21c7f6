//! Deterministic, socket-free tests of the connection state machine in simulated time.

use bytes::Bytes;
use switchboard_protocol::ws::{encode_frame, OpCode};
use switchboard_shards::config::{Limits, Mode};
use switchboard_shards::conn::send_queue::ENTRY_OVERHEAD_BYTES;
use switchboard_shards::conn::{
    CloseReason, Connection, ConnectionConfig, ConnectionEvent, ConnectionState, DataKind, Lane,
    SendQueueError,
};

const REQUEST: &[u8] =
    b"GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
const MASK: [u8; 4] = [0x11, 0x22, 0x33, 0x44];

fn limits() -> Limits {
    Limits {
        handshake_bytes_max: 512,
        handshake_timeout_ms: 1_000,
        message_bytes_max: 1_024,
        frame_payload_bytes_max: 1_024,
        frames_per_second_max: 100,
        send_queue_bytes_max: 4_096,
        fragment_bytes: 512,
        ..Limits::default()
    }
}

fn config(mode: Mode) -> ConnectionConfig {
    let limits = limits();
    limits.validate().unwrap();
    ConnectionConfig::new(mode, &limits)
}

/// A masked client frame.
fn frame(opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame(&mut out, opcode, true, payload, Some(MASK)).unwrap();
    out
}

/// Everything the connection wants to write now, reported as written.
fn drain(conn: &mut Connection) -> Vec<u8> {
    let mut out = Vec::new();
    let max = conn.transmit_bytes_min().max(8_192);
    loop {
        let written = conn.poll_transmit(&mut out, max);
        if written == 0 {
            break;
        }
        conn.handle_send_complete(written);
    }
    out
}

/// Server frames as (opcode, payload); server frames are unmasked and here never fragmented.
fn frames(mut bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut frames = Vec::new();
    while !bytes.is_empty() {
        assert_eq!(bytes[1] & 0x80, 0, "server frames are unmasked");
        let (len, header) = match bytes[1] & 0x7F {
            126 => (usize::from(u16::from_be_bytes([bytes[2], bytes[3]])), 4),
            127 => panic!("unexpected 64-bit length"),
            n => (usize::from(n), 2),
        };
        frames.push((bytes[0] & 0x0F, bytes[header..header + len].to_vec()));
        bytes = &bytes[header + len..];
    }
    frames
}

fn close_code(frame: &(u8, Vec<u8>)) -> u16 {
    assert_eq!(frame.0, 0x8, "expected a close frame, got {frame:?}");
    u16::from_be_bytes([frame.1[0], frame.1[1]])
}

/// A connection that completed its handshake at t = 0 and whose 101 was written.
fn open(mode: Mode) -> Connection {
    let mut conn = Connection::new(config(mode), 0);
    conn.handle_bytes(REQUEST, 0);
    assert!(matches!(
        conn.poll_event(),
        Some(ConnectionEvent::Opened { .. })
    ));
    let response = drain(&mut conn);
    assert!(response.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
    conn
}

#[test]
fn byte_at_a_time_handshake_then_echo_keeps_the_opcode() {
    let mut conn = Connection::new(config(Mode::Echo), 0);
    for (i, byte) in REQUEST.iter().enumerate() {
        assert_eq!(
            conn.state(),
            ConnectionState::Handshaking,
            "not open before byte {i}"
        );
        conn.handle_bytes(&[*byte], i as u64);
    }
    assert_eq!(conn.state(), ConnectionState::Open);
    let Some(ConnectionEvent::Opened {
        request,
        heartbeat_interval_ms,
    }) = conn.poll_event()
    else {
        panic!()
    };
    assert_eq!(request.path, "/ws");
    assert_eq!(heartbeat_interval_ms, limits().heartbeat_interval_ms_max);
    let response = drain(&mut conn);
    let text = String::from_utf8(response).unwrap();
    assert!(
        text.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"),
        "{text}"
    );

    let mut input = frame(OpCode::Text, b"hello");
    input.extend(frame(OpCode::Binary, &[0, 1, 2]));
    conn.handle_bytes(&input, 500);
    assert_eq!(
        frames(&drain(&mut conn)),
        [(0x1, b"hello".to_vec()), (0x2, vec![0, 1, 2])]
    );
    assert_eq!(conn.poll_event(), None, "echo mode answers itself");
}

#[test]
fn frames_in_the_same_read_as_the_request_are_processed() {
    let mut conn = Connection::new(config(Mode::Chat), 0);
    let mut input = REQUEST.to_vec();
    input.extend(frame(OpCode::Binary, b"early"));
    conn.handle_bytes(&input, 0);
    assert!(matches!(
        conn.poll_event(),
        Some(ConnectionEvent::Opened { .. })
    ));
    assert_eq!(
        conn.poll_event(),
        Some(ConnectionEvent::Message {
            kind: DataKind::Binary,
            payload: Bytes::from_static(b"early")
        })
    );
}

#[test]
fn garbage_handshake_gets_400_and_is_dropped_after_the_flush() {
    let mut conn = Connection::new(config(Mode::Echo), 0);
    conn.handle_bytes(b"HELLO THERE\r\n\r\n", 0);
    assert_eq!(conn.state(), ConnectionState::Closed);
    assert!(!conn.is_closed(), "the response must be written first");
    let response = drain(&mut conn);
    assert!(
        response.starts_with(b"HTTP/1.1 400 "),
        "{}",
        String::from_utf8_lossy(&response)
    );
    assert!(conn.is_closed());
    assert_eq!(
        conn.close_reason(),
        Some(&CloseReason::HandshakeRejected { status: 400 })
    );
}

#[test]
fn oversized_handshake_is_rejected_with_a_4xx() {
    let mut conn = Connection::new(config(Mode::Echo), 0);
    let mut request = b"GET /ws HTTP/1.1\r\nX-Padding: ".to_vec();
    request.extend(std::iter::repeat_n(b'a', 600));
    conn.handle_bytes(&request, 0);
    let response = drain(&mut conn);
    assert!(
        response.starts_with(b"HTTP/1.1 431 "),
        "{}",
        String::from_utf8_lossy(&response)
    );
    assert!(conn.is_closed());
}

#[test]
fn slow_handshake_gets_408_at_the_deadline() {
    let mut conn = Connection::new(config(Mode::Echo), 100);
    conn.handle_bytes(&REQUEST[..20], 100);
    assert_eq!(conn.poll_timeout(), Some(1_100));
    conn.handle_timeout(1_099);
    assert_eq!(conn.state(), ConnectionState::Handshaking);
    conn.handle_timeout(1_100);
    assert!(drain(&mut conn).starts_with(b"HTTP/1.1 408 "));
    assert!(conn.is_closed());
    assert_eq!(conn.close_reason(), Some(&CloseReason::HandshakeTimeout));
}

/// Sends `input` to an open echo connection and returns the close code it answers with.
fn close_code_for(input: &[u8]) -> u16 {
    let mut conn = open(Mode::Echo);
    conn.handle_bytes(input, 10);
    let out = frames(&drain(&mut conn));
    assert_eq!(out.len(), 1, "only the close frame: {out:?}");
    assert!(
        conn.is_closed(),
        "protocol errors are dropped once the close is flushed"
    );
    close_code(&out[0])
}

#[test]
fn unmasked_frame_closes_with_1002() {
    let mut unmasked = Vec::new();
    encode_frame(&mut unmasked, OpCode::Text, true, b"hi", None).unwrap();
    assert_eq!(close_code_for(&unmasked), 1002);
}

#[test]
fn a_message_received_whole_before_a_violation_is_echoed_before_the_1002() {
    // Autobahn 3.2: a valid text message, then a frame with RSV bits set, in the same read. The first
    // message is answered, then the connection is failed; nothing after our Close.
    let mut conn = open(Mode::Echo);
    let mut input = frame(OpCode::Text, b"Hello, world!");
    let mut bad = frame(OpCode::Text, b"Hello, world!");
    bad[0] |= 0x20;
    input.extend_from_slice(&bad);
    input.extend_from_slice(&frame(OpCode::Ping, b""));
    conn.handle_bytes(&input, 10);
    let out = frames(&drain(&mut conn));
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(out[0], (0x1, b"Hello, world!".to_vec()));
    assert_eq!(close_code(&out[1]), 1002);
    assert!(conn.is_closed());
}

#[test]
fn oversized_message_closes_with_1009() {
    assert_eq!(close_code_for(&frame(OpCode::Binary, &[0; 1_025])), 1009);
}

#[test]
fn invalid_utf8_closes_with_1007() {
    assert_eq!(
        close_code_for(&frame(OpCode::Text, &[b'a', 0xFF, 0xFE])),
        1007
    );
}

#[test]
fn frame_flood_closes_with_1008() {
    let mut conn = open(Mode::Echo);
    let burst: Vec<u8> = (0..101).flat_map(|_| frame(OpCode::Ping, b"")).collect();
    conn.handle_bytes(&burst, 10);
    let out = frames(&drain(&mut conn));
    assert_eq!(close_code(out.last().unwrap()), 1008);
    assert_eq!(conn.close_reason(), Some(&CloseReason::FrameRateExceeded));
}

#[test]
fn client_that_never_reads_hits_the_send_queue_bound_and_is_closed() {
    let mut conn = open(Mode::Chat);
    let message = Bytes::from(vec![7u8; 1_000]);
    let mut accepted = 0;
    let error = loop {
        match conn.send(Lane::Chat, DataKind::Binary, message.clone(), 10) {
            Ok(()) => accepted += 1,
            Err(error) => break error,
        }
        assert!(accepted < 100, "the bound must stop this loop");
    };
    assert!(matches!(error, SendQueueError::Full { .. }));
    assert_eq!(
        accepted,
        4_096 / (1_000 + ENTRY_OVERHEAD_BYTES),
        "the bound counts payload plus overhead"
    );
    assert_eq!(conn.state(), ConnectionState::Closing);
    assert_eq!(
        conn.send(Lane::Urgent, DataKind::Binary, message, 11),
        Err(SendQueueError::Closing)
    );
    // The client does not read: the 1013 close is handed to the writer but never completes.
    let mut out = Vec::new();
    conn.poll_transmit(&mut out, 8_192);
    assert_eq!(
        frames(&out).iter().map(close_code).collect::<Vec<_>>(),
        [1013]
    );
    let deadline = conn.poll_timeout().unwrap();
    assert_eq!(deadline, 10 + limits().close_timeout_ms);
    conn.handle_timeout(deadline);
    assert!(conn.is_closed());
    let first = Box::new(CloseReason::SendQueueFull);
    assert_eq!(
        conn.close_reason(),
        Some(&CloseReason::CloseTimeout { first })
    );
}

#[test]
fn echo_to_a_client_that_never_reads_closes_with_1013() {
    let mut conn = open(Mode::Echo);
    let input: Vec<u8> = (0..10)
        .flat_map(|_| frame(OpCode::Binary, &[1; 1_000]))
        .collect();
    conn.handle_bytes(&input, 10);
    let out = frames(&drain(&mut conn));
    assert_eq!(out.len(), 1, "queued echoes are discarded for the close");
    assert_eq!(close_code(&out[0]), 1013);
}

#[test]
fn quiet_connection_is_pinged_and_a_missed_pong_drops_it_without_a_close_frame() {
    let mut conn = open(Mode::Echo);
    let limits = limits();
    let first_ping_at = conn.poll_timeout().unwrap();
    assert_eq!(
        first_ping_at, limits.heartbeat_interval_ms_min,
        "no RTT yet: probe at the min"
    );
    conn.handle_timeout(first_ping_at);
    let out = frames(&drain(&mut conn));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0, 0x9);
    conn.handle_bytes(&frame(OpCode::Pong, &out[0].1), first_ping_at + 40);
    assert_eq!(conn.state(), ConnectionState::Open);

    let second_ping_at = conn.poll_timeout().unwrap();
    assert!(second_ping_at > first_ping_at + 40);
    conn.handle_timeout(second_ping_at);
    assert_eq!(frames(&drain(&mut conn))[0].0, 0x9);
    let deadline = conn.poll_timeout().unwrap();
    assert!(deadline >= second_ping_at + limits.pong_timeout_ms_min);
    conn.handle_timeout(deadline);
    assert!(conn.is_closed());
    assert_eq!(conn.close_reason(), Some(&CloseReason::HeartbeatTimeout));
    assert_eq!(
        drain(&mut conn),
        Vec::<u8>::new(),
        "aborted: nothing more is written"
    );
}

#[test]
fn busy_connection_is_never_pinged() {
    let mut conn = open(Mode::Echo);
    for second in 1..200u64 {
        let now = second * 1_000;
        conn.handle_bytes(&frame(OpCode::Text, b"busy"), now);
        conn.handle_timeout(now);
        assert!(frames(&drain(&mut conn))
            .iter()
            .all(|(opcode, _)| *opcode == 0x1));
    }
    assert_eq!(conn.state(), ConnectionState::Open);
}

#[test]
fn idle_connection_is_closed_gracefully_with_1000() {
    let mut conn = open(Mode::Echo);
    let idle_at = limits().idle_timeout_ms;
    let mut now = 0;
    // Answer every ping so only the idle timer can close it.
    while conn.state() == ConnectionState::Open {
        now = conn.poll_timeout().unwrap();
        assert!(now <= idle_at);
        conn.handle_timeout(now);
        for (opcode, payload) in frames(&drain(&mut conn)) {
            if opcode == 0x9 {
                conn.handle_bytes(&frame(OpCode::Pong, &payload), now);
            } else {
                assert_eq!(close_code(&(opcode, payload)), 1000);
            }
        }
    }
    assert_eq!(now, idle_at);
    assert_eq!(conn.state(), ConnectionState::Closing);
    conn.handle_bytes(&frame(OpCode::Close, &1000u16.to_be_bytes()), now + 5);
    assert!(conn.is_closed());
    assert_eq!(conn.close_reason(), Some(&CloseReason::IdleTimeout));
}

#[test]
fn client_close_is_answered_with_its_code() {
    let mut conn = open(Mode::Echo);
    let mut payload = 4000u16.to_be_bytes().to_vec();
    payload.extend(b"bye");
    conn.handle_bytes(&frame(OpCode::Close, &payload), 10);
    assert_eq!(conn.state(), ConnectionState::Closed);
    let out = frames(&drain(&mut conn));
    assert_eq!(close_code(&out[0]), 4000);
    assert!(conn.is_closed());
    assert_eq!(
        conn.close_reason(),
        Some(&CloseReason::PeerClosed { code: Some(4000) })
    );
}

#[test]
fn drain_close_flushes_queued_messages_first_with_1001() {
    let mut conn = open(Mode::Chat);
    conn.send(
        Lane::System,
        DataKind::Text,
        Bytes::from_static(b"bye soon"),
        5,
    )
    .unwrap();
    conn.close(1001, 6);
    let out = frames(&drain(&mut conn));
    assert_eq!(out[0], (0x1, b"bye soon".to_vec()));
    assert_eq!(close_code(&out[1]), 1001);
    assert!(!conn.is_closed(), "waiting for the client's close");
    conn.handle_bytes(&frame(OpCode::Close, &1001u16.to_be_bytes()), 20);
    assert!(conn.is_closed());
    assert_eq!(
        conn.close_reason(),
        Some(&CloseReason::Local { code: 1001 })
    );
}

#[test]
fn client_ping_gets_a_pong_and_chat_messages_become_events() {
    let mut conn = open(Mode::Chat);
    conn.handle_bytes(&frame(OpCode::Ping, b"are you there"), 1);
    conn.handle_bytes(&frame(OpCode::Text, b"hi agent"), 2);
    assert_eq!(
        frames(&drain(&mut conn)),
        [(0xA, b"are you there".to_vec())]
    );
    assert_eq!(
        conn.poll_event(),
        Some(ConnectionEvent::Message {
            kind: DataKind::Text,
            payload: Bytes::from_static(b"hi agent")
        })
    );
    conn.send(
        Lane::Urgent,
        DataKind::Binary,
        Bytes::from_static(b"ticket"),
        3,
    )
    .unwrap();
    assert_eq!(frames(&drain(&mut conn)), [(0x2, b"ticket".to_vec())]);
}

#[test]
fn drain_during_the_handshake_drops_the_connection() {
    let mut conn = Connection::new(config(Mode::Chat), 0);
    conn.handle_bytes(&REQUEST[..10], 0);
    conn.close(1001, 1);
    assert!(conn.is_closed());
    assert_eq!(conn.poll_timeout(), None);
    assert_eq!(drain(&mut conn), Vec::<u8>::new());
}

#[test]
fn poll_timeout_follows_the_state() {
    let mut conn = Connection::new(config(Mode::Echo), 50);
    assert_eq!(
        conn.poll_timeout(),
        Some(50 + limits().handshake_timeout_ms)
    );
    conn.handle_bytes(REQUEST, 60);
    assert_eq!(
        conn.poll_timeout(),
        Some(60 + limits().heartbeat_interval_ms_min)
    );
    conn.close(1000, 70);
    assert_eq!(conn.poll_timeout(), Some(70 + limits().close_timeout_ms));
}

#[test]
fn connection_state_stays_small() {
    // Hundreds of thousands of idle connections per node: the per-connection footprint matters.
    let size = std::mem::size_of::<Connection>();
    println!("size_of::<Connection>() = {size}");
    assert!(size <= 512, "Connection grew to {size} bytes");
}

#[test]
fn switchboard_v1_large_messages_travel_as_app_fragments_that_urgent_frames_overtake() {
    use switchboard_protocol::app::{
        parse_frame, Body, FrameLimits, Reassembler, ReassemblerConfig,
    };

    let request = String::from_utf8(REQUEST.to_vec()).unwrap().replace(
        "Sec-WebSocket-Version: 13\r\n",
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: switchboard.v1\r\n",
    );
    let mut conn = Connection::new(config(Mode::Chat), 0);
    conn.handle_bytes(request.as_bytes(), 0);
    let Some(ConnectionEvent::Opened { request, .. }) = conn.poll_event() else {
        panic!()
    };
    assert!(request.subprotocol.is_some());
    drain(&mut conn);

    let large: Vec<u8> = (0..2_000u32).map(|i| (i % 256) as u8).collect();
    conn.send(Lane::Chat, DataKind::Binary, Bytes::from(large.clone()), 1)
        .unwrap();
    let mut out = Vec::new();
    let one_fragment = conn.transmit_bytes_min();
    conn.poll_transmit(&mut out, one_fragment);
    conn.send(
        Lane::Urgent,
        DataKind::Binary,
        Bytes::from_static(b"URGENT"),
        2,
    )
    .unwrap();
    conn.poll_transmit(&mut out, 1 << 20);

    let messages = frames(&out);
    assert_eq!(
        messages[1].1, b"URGENT",
        "urgent went right after the first fragment"
    );
    let mut reassembler = Reassembler::new(ReassemblerConfig::default()).unwrap();
    let mut reassembled = None;
    for (opcode, payload) in messages.iter().filter(|(_, p)| p != b"URGENT") {
        assert_eq!(*opcode, 0x2, "app fragments are binary messages");
        let (frame, consumed) = parse_frame(payload, &FrameLimits::default())
            .unwrap()
            .unwrap();
        assert_eq!(
            consumed,
            payload.len(),
            "one app frame per WebSocket message"
        );
        let Body::Fragment(piece) = frame.body else {
            panic!("expected a fragment")
        };
        reassembled = reassembler.push(piece).unwrap().or(reassembled);
    }
    assert_eq!(reassembled, Some(large));
}
