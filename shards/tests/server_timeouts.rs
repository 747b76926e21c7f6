//! Timers and rate limits over real loopback sockets: heartbeat pings on a quiet connection, the dead-peer
//! drop of a client that never answers them, the idle close, and the frame-rate close — each beside a
//! healthy client that must not notice.

mod server_support;

use std::time::Duration;

use server_support::{echo_config, ends_within, start, stop, Bystander, RawClient, MASK};
use switchboard_protocol::ws::OpCode;
use switchboard_shards::config::Limits;

/// Fast heartbeats (every 200 ms) with a generous pong deadline, and an idle close after 3 s.
fn fast_heartbeats(limits: &mut Limits) {
    limits.heartbeat_interval_ms_min = 200;
    limits.heartbeat_interval_ms_max = 200;
    limits.pong_timeout_ms_min = 500;
    limits.pong_timeout_ms_max = 1_000;
    limits.idle_timeout_ms = 3_000;
}

#[test]
fn quiet_client_that_answers_pings_is_kept_until_the_idle_close() {
    let server = start(&echo_config(1, fast_heartbeats));
    let mut client = RawClient::open(server.local_addr());
    client.assert_echo(b"then silence");
    // Nothing but pongs from here: the server pings every ~200 ms, then closes with 1000 at the idle limit.
    let (close, pings) = client.read_until_close_answering_pings();
    let close = close.expect("an idle Close, not a dropped connection");
    assert_eq!(close.close_code(), Some(1000));
    assert!(
        pings >= 2,
        "a quiet connection is pinged (got {pings} pings)"
    );
    client.reply_close(1000);
    assert!(ends_within(&mut client.stream, Duration::from_secs(10)));
    stop(server);
}

#[test]
fn client_that_never_answers_pings_is_dropped_and_others_stay() {
    let server = start(&echo_config(1, |limits| {
        fast_heartbeats(limits);
        limits.idle_timeout_ms = 600_000;
    }));
    let mut bystander = Bystander::open(server.local_addr());
    let mut deaf = RawClient::open(server.local_addr());
    deaf.assert_echo(b"then deaf");
    // `read_until_close` never answers a Ping: the pong deadline passes and the server drops the transport
    // without a Close (the client sees 1006).
    let mut rounds = 0;
    while rounds < 100 {
        // The bystander stays busy (a busy connection needs no pong to count as alive) and keeps echoing.
        bystander.check();
        rounds += 1;
        if deaf
            .stream
            .set_read_timeout(Some(Duration::from_millis(100)))
            .is_ok()
            && deaf_ended(&mut deaf)
        {
            break;
        }
    }
    assert!(rounds < 100, "a client that never answers pings is dropped");
    bystander.check();
    stop(server);
}

/// Reads whatever the deaf client has (pings) without answering; whether the server ended the connection.
fn deaf_ended(deaf: &mut RawClient) -> bool {
    loop {
        match deaf.read_frame() {
            Ok(frame) => assert_ne!(frame.opcode, OpCode::Close, "dropped without a Close frame"),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false
            }
            Err(_) => return true,
        }
    }
}

#[test]
fn frames_above_the_rate_limit_are_closed_with_1008() {
    // A long close timeout: the connection must end because the close handshake completes, not because
    // the server gave up waiting for the client's Close.
    let server = start(&echo_config(1, |limits| {
        limits.frames_per_second_max = 20;
        limits.close_timeout_ms = 600_000;
    }));
    let mut bystander = Bystander::open(server.local_addr());
    let mut flooder = RawClient::open(server.local_addr());
    // Far above 20 per second (burst 20), all in one write.
    let mut burst = Vec::new();
    for i in 0..200u8 {
        switchboard_protocol::ws::encode_frame(&mut burst, OpCode::Ping, true, &[i], Some(MASK))
            .unwrap();
    }
    flooder.send_raw(&burst).unwrap();
    let close = flooder.read_until_close().expect("a Close frame");
    assert_eq!(close.close_code(), Some(1008));
    flooder.reply_close(1008);
    assert!(
        ends_within(&mut flooder.stream, Duration::from_secs(10)),
        "our Close completes the handshake even though we are over the frame rate"
    );
    bystander.check();
    stop(server);
}
