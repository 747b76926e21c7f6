//! Receive buffers shared by many connections: with incremental consumption (io_uring, kernel 6.12+)
//! slices of different connections sit in the same provided buffer. Every byte must come back to the
//! right client, in order, across rounds separated by idle periods (an earlier version gave the pages
//! back when idle, which lost bytes the kernel wrote meanwhile). Runs on every available backend;
//! bounded in count and time.

mod engine_support;

use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    thread,
    time::Duration,
};

use engine_support::{backends, small_config, Behavior, Server, CLIENT_TIMEOUT};
use switchboard_core::engine::EngineConfig;

/// Clients talking at once.
const CLIENTS: usize = 16;
/// Messages each client sends per round (sizes vary from 1 byte to a few buffers).
const MESSAGES_PER_ROUND: usize = 40;
/// An idle period between rounds (the engine polls with nothing to do).
const IDLE_BETWEEN_ROUNDS: Duration = Duration::from_millis(1_300);

/// The bytes client `client` sends as message `index`: content unique to both.
fn message(client: usize, index: usize) -> Vec<u8> {
    let len = 1 + (index * 997 + client * 131) % 9_000;
    (0..len)
        .map(|j| (client * 31 + index * 7 + j) as u8)
        .collect()
}

/// One client's round: ping-pong every message and check each echo byte for byte.
fn round(stream: &mut TcpStream, client: usize) -> bool {
    (0..MESSAGES_PER_ROUND).all(|index| {
        let sent = message(client, index);
        stream.write_all(&sent).unwrap();
        let mut got = vec![0; sent.len()];
        stream.read_exact(&mut got).unwrap();
        got == sent
    })
}

fn rounds_with_idle_between(addr: SocketAddr) -> Vec<bool> {
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            thread::spawn(move || {
                let mut stream = TcpStream::connect(addr).unwrap();
                stream.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
                let first = round(&mut stream, client);
                thread::sleep(IDLE_BETWEEN_ROUNDS);
                first && round(&mut stream, client)
            })
        })
        .collect();
    clients.into_iter().map(|c| c.join().unwrap()).collect()
}

#[test]
fn connections_sharing_buffers_get_their_own_bytes_back_across_idle_periods() {
    for kind in backends() {
        // 16 buffers of 4 KiB for 16 clients sending up to 9 KB: buffers are shared, refilled and
        // sometimes exhausted.
        let config = EngineConfig {
            recv_buffer_bytes: 4096,
            recv_buffer_count: 16,
            ..small_config()
        };
        let server = Server::start(kind, config, Behavior::Echo);
        let results = rounds_with_idle_between(server.addr);
        let stats = server.stop();
        for (client, ok) in results.iter().enumerate() {
            assert!(ok, "{kind:?}: client {client} got its own bytes back");
        }
        let expected: usize = (0..CLIENTS)
            .flat_map(|client| (0..MESSAGES_PER_ROUND).map(move |i| message(client, i).len()))
            .sum();
        assert_eq!(stats.bytes_received, 2 * expected, "{kind:?}");
        assert!(stats.max_data_event_bytes <= 4096, "{kind:?}");
    }
}
