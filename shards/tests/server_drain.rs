//! In-process drain: messages the server already accepted are all delivered before the going-away Close,
//! and a drained server refuses new connections.

mod server_support;

use std::time::{Duration, Instant};

use server_support::{echo_config, ends_within, start, RawClient, MASK};
use switchboard_protocol::ws::OpCode;

#[test]
fn drain_delivers_queued_echoes_before_the_going_away_close() {
    const MESSAGES: usize = 20;
    const MESSAGE_BYTES: usize = 100_000;
    let server = start(&echo_config(1, |limits| {
        limits.send_queue_bytes_max = 8 << 20;
        limits.drain_timeout_ms = 30_000;
    }));
    let mut client = RawClient::open(server.local_addr());
    for i in 0..MESSAGES {
        let payload = vec![i as u8; MESSAGE_BYTES];
        client
            .send_frame(OpCode::Binary, true, &payload, Some(MASK))
            .unwrap();
    }
    // The server handles input in order, so once the Pong for this Ping is back it has queued every echo.
    client
        .send_frame(OpCode::Ping, true, b"marker", Some(MASK))
        .unwrap();
    let mut received = Vec::new();
    let mut partial = Vec::new();
    loop {
        let frame = client.read_frame().expect("echoes, then the Pong");
        match frame.opcode {
            OpCode::Pong if frame.payload == b"marker" => break,
            OpCode::Ping | OpCode::Pong => {}
            _ => collect(&mut received, &mut partial, frame),
        }
    }
    server.drain();
    let close = loop {
        let frame = client
            .read_frame()
            .expect("the rest of the echoes, then a Close");
        match frame.opcode {
            OpCode::Close => break frame,
            OpCode::Ping | OpCode::Pong => {}
            _ => collect(&mut received, &mut partial, frame),
        }
    };
    assert_eq!(close.close_code(), Some(1001));
    assert!(partial.is_empty(), "no message cut short by the Close");
    assert_eq!(
        received.len(),
        MESSAGES,
        "every accepted message is delivered before the Close"
    );
    for (i, message) in received.iter().enumerate() {
        assert!(
            message.len() == MESSAGE_BYTES && message.iter().all(|&b| b == i as u8),
            "message {i}"
        );
    }
    client.reply_close(1001);
    assert!(ends_within(&mut client.stream, Duration::from_secs(15)));
    server_support::stop(server);
}

/// Adds a data frame to the message being reassembled, moving finished messages to `received`.
fn collect(
    received: &mut Vec<Vec<u8>>,
    partial: &mut Vec<u8>,
    frame: server_support::ReceivedFrame,
) {
    partial.extend_from_slice(&frame.payload);
    if frame.fin {
        received.push(std::mem::take(partial));
    }
}

#[test]
fn a_draining_server_refuses_new_connections() {
    let server = start(&echo_config(1, |limits| limits.drain_timeout_ms = 30_000));
    let mut staying = RawClient::open(server.local_addr());
    staying.assert_echo(b"before the drain");
    server.drain();
    let close = staying.read_until_close().expect("a going-away Close");
    assert_eq!(close.close_code(), Some(1001));
    // The shard is draining (it sent the Close above) and still runs, as `staying` has not answered:
    // a newcomer is accepted by the kernel and then refused.
    let deadline = Instant::now() + Duration::from_secs(15);
    let refused = loop {
        match RawClient::try_open(server.local_addr()) {
            Err(head) => break head,
            Ok(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Ok(_) => panic!("a draining server upgraded a new connection"),
        }
    };
    assert!(
        refused.is_empty(),
        "refused without an HTTP answer, got {refused:?}"
    );
    staying.reply_close(1001);
    assert!(ends_within(&mut staying.stream, Duration::from_secs(15)));
    server_support::stop(server);
}

/// A drain closes every connection in one tick: more Closes than one tick may start sends for. The rest
/// are flushed on the following ticks (counted as deferred flushes), and every client still gets its 1001.
#[test]
fn a_drain_of_more_connections_than_one_tick_sends_reaches_every_client() {
    const CLIENTS: usize = 2_500;
    let server = start(&echo_config(1, |limits| limits.drain_timeout_ms = 30_000));
    let mut clients: Vec<RawClient> = (0..CLIENTS)
        .map(|_| RawClient::open(server.local_addr()))
        .collect();
    server.drain();
    for (i, client) in clients.iter_mut().enumerate() {
        let close = client
            .read_until_close()
            .unwrap_or_else(|| panic!("client {i}: no Close"));
        assert_eq!(close.close_code(), Some(1001), "client {i}");
        client.reply_close(1001);
    }
    let deferred: u64 = server
        .stats()
        .iter()
        .map(|shard| shard.flushes_deferred())
        .sum();
    assert!(
        deferred > 0,
        "{CLIENTS} Closes in one tick: some flushes wait for the next tick"
    );
    server_support::stop(server);
}
