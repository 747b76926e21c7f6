//! Bad input over real loopback sockets: each misbehaving client gets the right HTTP status or close code,
//! and a healthy client on the same shard keeps echoing before, during and after it.

mod server_support;

use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};

use server_support::{
    echo_config, ends_within, read_http_status, start, stop, tcp_connect, Bystander, RawClient,
    MASK,
};
use switchboard_protocol::ws::OpCode;
use switchboard_shards::config::Limits;

/// Handshake timeout of these tests: short, so the slow-client cases finish quickly.
const HANDSHAKE_TIMEOUT_MS: u64 = 1_000;
/// Frame and message bound of these tests.
const MESSAGE_BYTES_MAX: u64 = 2_048;

fn limits(limits: &mut Limits) {
    limits.handshake_timeout_ms = HANDSHAKE_TIMEOUT_MS;
    limits.frame_payload_bytes_max = MESSAGE_BYTES_MAX;
    limits.message_bytes_max = MESSAGE_BYTES_MAX;
    limits.send_queue_bytes_max = 2 * MESSAGE_BYTES_MAX;
    limits.frames_per_second_max = 1_000_000;
    limits.close_timeout_ms = 500;
}

#[test]
fn garbage_instead_of_a_handshake_gets_400() {
    let server = start(&echo_config(1, limits));
    let mut bystander = Bystander::open(server.local_addr());
    let mut stream = tcp_connect(server.local_addr());
    stream
        .write_all(b"\x16\x03\x01\x02\x00\x01\x00\xff garbage \xfe\xfd\r\n\r\n")
        .unwrap();
    assert_eq!(read_http_status(&mut stream), Some(400));
    assert!(
        ends_within(&mut stream, Duration::from_secs(10)),
        "connection dropped after the 400"
    );
    bystander.check();
    RawClient::open(server.local_addr()).assert_echo(b"after garbage");
    stop(server);
}

#[test]
fn oversized_frame_is_closed_with_1009() {
    let server = start(&echo_config(1, limits));
    let mut bystander = Bystander::open(server.local_addr());
    let mut client = RawClient::open(server.local_addr());
    client.assert_echo(&[1; 1000]);
    // Only the header (it claims 1 MiB): the server must reject it without waiting for the payload.
    let mut header = vec![0x82, 0x80 | 127];
    header.extend_from_slice(&(1u64 << 20).to_be_bytes());
    header.extend_from_slice(&MASK);
    client.send_raw(&header).unwrap();
    let close = client.read_until_close().expect("a Close frame");
    assert_eq!(close.close_code(), Some(1009));
    assert!(ends_within(&mut client.stream, Duration::from_secs(10)));
    bystander.check();
    stop(server);
}

#[test]
fn oversized_message_across_fragments_is_closed_with_1009() {
    let server = start(&echo_config(1, limits));
    let mut bystander = Bystander::open(server.local_addr());
    let mut client = RawClient::open(server.local_addr());
    // Each fragment is legal; together they pass `message_bytes_max`.
    let fragment = vec![0x42; 1_000];
    client
        .send_frame(OpCode::Binary, false, &fragment, Some(MASK))
        .unwrap();
    client
        .send_frame(OpCode::Continuation, false, &fragment, Some(MASK))
        .unwrap();
    client
        .send_frame(OpCode::Continuation, false, &fragment, Some(MASK))
        .unwrap();
    let close = client.read_until_close().expect("a Close frame");
    assert_eq!(close.close_code(), Some(1009));
    assert!(ends_within(&mut client.stream, Duration::from_secs(10)));
    bystander.check();
    stop(server);
}

#[test]
fn oversized_handshake_head_gets_431() {
    let server = start(&echo_config(1, limits));
    let mut bystander = Bystander::open(server.local_addr());
    let mut stream = tcp_connect(server.local_addr());
    let mut head = b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n".to_vec();
    let pad = format!("X-Pad: {}\r\n", "a".repeat(1_000));
    // Well past the default 16 KiB `handshake_bytes_max`, never ending the head.
    for _ in 0..20 {
        head.extend_from_slice(pad.as_bytes());
    }
    let _ = stream.write_all(&head);
    assert_eq!(read_http_status(&mut stream), Some(431));
    assert!(
        ends_within(&mut stream, Duration::from_secs(10)),
        "dropped after the 431"
    );
    bystander.check();
    stop(server);
}

#[test]
fn unmasked_client_frame_is_closed_with_1002() {
    let server = start(&echo_config(1, limits));
    let mut bystander = Bystander::open(server.local_addr());
    let mut client = RawClient::open(server.local_addr());
    client
        .send_frame(OpCode::Binary, true, b"no mask", None)
        .unwrap();
    let close = client.read_until_close().expect("a Close frame");
    assert_eq!(close.close_code(), Some(1002));
    assert!(ends_within(&mut client.stream, Duration::from_secs(10)));
    bystander.check();
    stop(server);
}

#[test]
fn invalid_utf8_text_is_closed_with_1007() {
    let server = start(&echo_config(1, limits));
    let mut bystander = Bystander::open(server.local_addr());
    let mut client = RawClient::open(server.local_addr());
    client
        .send_frame(OpCode::Text, true, b"valid \xce\xbb", Some(MASK))
        .unwrap();
    let echo = client.read_data_frame().unwrap();
    assert_eq!(
        (echo.opcode, echo.payload.as_slice()),
        (OpCode::Text, &b"valid \xce\xbb"[..])
    );
    client
        .send_frame(OpCode::Text, true, b"bad \xff\xfe text", Some(MASK))
        .unwrap();
    let close = client.read_until_close().expect("a Close frame");
    assert_eq!(close.close_code(), Some(1007));
    assert!(ends_within(&mut client.stream, Duration::from_secs(10)));
    bystander.check();
    stop(server);
}

#[test]
fn invalid_utf8_across_fragments_is_closed_with_1007() {
    let server = start(&echo_config(1, limits));
    let mut bystander = Bystander::open(server.local_addr());
    let mut client = RawClient::open(server.local_addr());
    // A two-byte sequence split across fragments, whose second byte is not a continuation byte.
    client
        .send_frame(OpCode::Text, false, b"split \xc3", Some(MASK))
        .unwrap();
    client
        .send_frame(OpCode::Continuation, true, b"(", Some(MASK))
        .unwrap();
    let close = client.read_until_close().expect("a Close frame");
    assert_eq!(close.close_code(), Some(1007));
    bystander.check();
    stop(server);
}

#[test]
fn handshake_dribbled_one_byte_a_second_gets_408() {
    let server = start(&echo_config(1, limits));
    let mut bystander = Bystander::open(server.local_addr());
    let mut stream = tcp_connect(server.local_addr());
    stream
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    // One byte a second; the server must answer (and drop us) long before the request is complete.
    for &byte in server_support::UPGRADE_REQUEST.iter().take(30) {
        if stream.write_all(&[byte]).is_err() {
            break;
        }
        let mut chunk = [0u8; 1024];
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                answer.extend_from_slice(&chunk[..n]);
                break;
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => panic!("reset instead of a 408: {e}"),
        }
        bystander.check();
    }
    let text = String::from_utf8_lossy(&answer);
    assert!(
        text.starts_with("HTTP/1.1 408"),
        "expected 408 after {:?}, got {text:?}",
        started.elapsed()
    );
    assert!(
        ends_within(&mut stream, Duration::from_secs(10)),
        "dropped after the 408"
    );
    bystander.check();
    stop(server);
}

#[test]
fn silent_client_is_dropped_at_the_handshake_timeout() {
    let server = start(&echo_config(1, limits));
    let mut bystander = Bystander::open(server.local_addr());
    let mut silent = tcp_connect(server.local_addr());
    bystander.check();
    assert_eq!(read_http_status(&mut silent), Some(408));
    assert!(
        ends_within(&mut silent, Duration::from_secs(10)),
        "dropped after the 408"
    );
    bystander.check();
    stop(server);
}

#[test]
fn client_that_never_reads_is_closed_and_others_are_served() {
    let server = start(&echo_config(1, limits));
    let mut bystander = Bystander::open(server.local_addr());
    flood_without_reading(server.local_addr(), &mut bystander);
    stop(server);
}

/// Sends messages to be echoed without ever reading, until the server gives up on the client (1013 Close
/// or a dropped connection); the bystander must keep echoing throughout, and a new client must get in.
fn flood_without_reading(addr: std::net::SocketAddr, bystander: &mut Bystander) {
    let mut reader_less = RawClient::open(addr);
    reader_less
        .stream
        .set_write_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let payload = vec![0x5a; MESSAGE_BYTES_MAX as usize];
    let mut frame = Vec::new();
    switchboard_protocol::ws::encode_frame(&mut frame, OpCode::Binary, true, &payload, Some(MASK))
        .unwrap();
    // Keep sending (every message is echoed into a queue the client never drains) until the server gives up
    // on us: bounded in bytes (256 MiB) and time (60 s).
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut sent_bytes = 0usize;
    let mut refused = false;
    while sent_bytes < 256 << 20 && Instant::now() < deadline {
        if reader_less.send_raw(&frame).is_err() {
            refused = true;
            break;
        }
        sent_bytes += frame.len();
        if sent_bytes % (4 << 20) < frame.len() {
            bystander.check();
        }
    }
    assert!(
        refused,
        "server still accepting from a client that never reads after {sent_bytes} bytes"
    );
    bystander.check();
    // Whatever reached the client before the server gave up ends in a 1013 Close or an abrupt end.
    reader_less
        .stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let close = reader_less.read_until_close();
    eprintln!("never-reading client: {sent_bytes} bytes sent; close frame {close:?}");
    if let Some(close) = close {
        assert_eq!(close.close_code(), Some(1013));
    }
    assert!(
        ends_within(&mut reader_less.stream, Duration::from_secs(10)),
        "the server dropped it"
    );
    RawClient::open(addr).assert_echo(b"still serving");
    bystander.check();
}

#[test]
fn client_that_never_reads_on_the_epoll_engine_is_closed_too() {
    let mut config = echo_config(1, limits);
    config.engine = switchboard_shards::config::Engine::Epoll;
    let server = start(&config);
    let mut bystander = Bystander::open(server.local_addr());
    flood_without_reading(server.local_addr(), &mut bystander);
    stop(server);
}

#[test]
fn close_with_a_reserved_code_is_answered_with_1002() {
    let server = start(&echo_config(1, limits));
    let mut bystander = Bystander::open(server.local_addr());
    for code in [999u16, 1005, 1006, 1015, 5000] {
        let mut client = RawClient::open(server.local_addr());
        client
            .send_frame(OpCode::Close, true, &code.to_be_bytes(), Some(MASK))
            .unwrap();
        let close = client.read_until_close().expect("a Close frame");
        assert_eq!(close.close_code(), Some(1002), "client sent {code}");
        assert!(ends_within(&mut client.stream, Duration::from_secs(10)));
        bystander.check();
    }
    stop(server);
}

#[test]
fn close_with_an_invalid_utf8_reason_is_answered_with_1007() {
    let server = start(&echo_config(1, limits));
    let mut bystander = Bystander::open(server.local_addr());
    let mut client = RawClient::open(server.local_addr());
    client
        .send_frame(OpCode::Close, true, b"\x03\xe8bad \xff reason", Some(MASK))
        .unwrap();
    let close = client.read_until_close().expect("a Close frame");
    assert_eq!(close.close_code(), Some(1007));
    bystander.check();
    stop(server);
}

#[test]
fn frames_pipelined_behind_the_upgrade_request_are_served() {
    let server = start(&echo_config(1, limits));
    let mut stream = tcp_connect(server.local_addr());
    // The request and two frames in one write: the server must not lose the bytes after the head.
    let mut bytes = server_support::UPGRADE_REQUEST.to_vec();
    switchboard_protocol::ws::encode_frame(&mut bytes, OpCode::Text, true, b"early", Some(MASK))
        .unwrap();
    switchboard_protocol::ws::encode_frame(&mut bytes, OpCode::Binary, true, b"bird", Some(MASK))
        .unwrap();
    stream.write_all(&bytes).unwrap();
    let mut client = RawClient::from_upgraded(stream).expect("a 101");
    let first = client.read_data_frame().unwrap();
    assert_eq!(
        (first.opcode, first.payload.as_slice()),
        (OpCode::Text, &b"early"[..])
    );
    let second = client.read_data_frame().unwrap();
    assert_eq!(
        (second.opcode, second.payload.as_slice()),
        (OpCode::Binary, &b"bird"[..])
    );
    stop(server);
}
