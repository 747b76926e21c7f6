//! Per-shard connection limit over real loopback sockets: a connection beyond `connections_per_shard_max`
//! is refused without harming the ones already open, and a slot freed by a close is usable again.

mod server_support;

use std::io::Write;
use std::time::{Duration, Instant};

use server_support::{
    echo_config, ends_within, start, stop, tcp_connect, RawClient, MASK, UPGRADE_REQUEST,
};
use switchboard_protocol::ws::OpCode;
use switchboard_shards::server::stats::CloseCause;

const CONNECTIONS_MAX: u64 = 5;

#[test]
fn connection_beyond_the_shard_limit_is_refused_and_the_others_keep_working() {
    let server = start(&echo_config(1, |limits| {
        limits.connections_per_shard_max = CONNECTIONS_MAX
    }));
    let addr = server.local_addr();
    let mut clients: Vec<RawClient> = (0..CONNECTIONS_MAX)
        .map(|_| RawClient::open(addr))
        .collect();
    for (i, client) in clients.iter_mut().enumerate() {
        client.assert_echo(format!("client {i}").as_bytes());
    }

    // The sixth gets a TCP connection from the kernel, then the server ends it without a 101.
    let mut sixth = tcp_connect(addr);
    let _ = sixth.write_all(UPGRADE_REQUEST);
    assert!(
        ends_within(&mut sixth, Duration::from_secs(15)),
        "the sixth connection is refused"
    );

    for (i, client) in clients.iter_mut().enumerate() {
        client.assert_echo(format!("client {i} after the refusal").as_bytes());
    }
    assert!(
        server.stats()[0].closed(CloseCause::Refused) >= 1,
        "the refusal is counted"
    );

    // Closing one frees its slot: a new client gets in (the close completes asynchronously, so retry a
    // bounded number of times).
    let mut leaving = clients.pop().unwrap();
    leaving
        .send_frame(OpCode::Close, true, &1000u16.to_be_bytes(), Some(MASK))
        .unwrap();
    assert!(leaving.read_until_close().is_some());
    assert!(ends_within(&mut leaving.stream, Duration::from_secs(15)));
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut newcomer = loop {
        if let Ok(client) = RawClient::try_open(addr) {
            break client;
        }
        assert!(Instant::now() < deadline, "a freed slot is never reused");
        std::thread::sleep(Duration::from_millis(100));
    };
    newcomer.assert_echo(b"newcomer");
    for client in &mut clients {
        client.assert_echo(b"still here");
    }
    stop(server);
}
