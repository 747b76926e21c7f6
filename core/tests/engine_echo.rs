//! Echo over real loopback sockets, for both backends: many connections, partial reads,
//! buffer-ring exhaustion, large sends, closes from either side.

mod engine_support;

use std::{
    io::{Read, Write},
    net::{Shutdown, TcpStream},
    thread,
    time::Duration,
};

use engine_support::{backends, expected_pattern, small_config, Behavior, Server, CLIENT_TIMEOUT};
use switchboard_core::engine::{EngineConfig, EngineKind};

fn client(server: &Server) -> TcpStream {
    let stream = TcpStream::connect(server.addr).expect("connect");
    stream.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

/// Opens `count` connections at once, then round-trips a distinct message on each.
fn echo_many(kind: EngineKind, config: EngineConfig, count: usize) -> engine_support::Stats {
    let server = Server::start(kind, config, Behavior::Echo);
    // Paced so a small listen backlog does not overflow (dropped SYNs retry only after 1 s).
    let mut clients: Vec<TcpStream> = (0..count)
        .map(|i| {
            if i % 8 == 7 {
                thread::sleep(Duration::from_millis(2));
            }
            client(&server)
        })
        .collect();
    for round in 0..3 {
        for (i, stream) in clients.iter_mut().enumerate() {
            stream
                .write_all(format!("hello {i} round {round};").as_bytes())
                .unwrap();
        }
        for (i, stream) in clients.iter_mut().enumerate() {
            let want = format!("hello {i} round {round};");
            let mut got = vec![0; want.len()];
            stream.read_exact(&mut got).unwrap();
            assert_eq!(got, want.as_bytes(), "{kind:?} connection {i}");
        }
    }
    drop(clients);
    server.stop_after_settling(Duration::from_millis(300))
}

#[test]
fn echoes_on_200_connections_and_detects_peer_close() {
    for kind in backends() {
        let stats = echo_many(kind, small_config(), 200);
        assert_eq!(stats.accepted, 200, "{kind:?}");
        assert_eq!(stats.max_connections, 200, "{kind:?}");
        assert_eq!(
            stats.peer_closed_eof + stats.peer_closed_error,
            200,
            "{kind:?}: {stats:?}"
        );
        assert_eq!(stats.closed, 200, "{kind:?}: every close reports Closed");
    }
}

#[test]
fn holds_more_connections_than_one_file_table() {
    for kind in backends() {
        // Backlog 32 < table 64: each ring starts with multishot accept and switches to single-shot
        // accepts as it fills, so both paths run.
        let config = EngineConfig {
            connections_max: 200,
            file_table_slots_max: 64,
            listen_backlog: 32,
            ..small_config()
        };
        let stats = echo_many(kind, config, 200);
        assert_eq!(stats.accepted, 200, "{kind:?}");
        assert_eq!(stats.max_connections, 200, "{kind:?}");
        if kind == EngineKind::IoUring {
            assert_eq!(stats.rings, 4, "200 connections in tables of 64");
            assert_eq!(
                stats.max_slots_per_ring.iter().sum::<u32>(),
                200,
                "{stats:?}"
            );
            assert!(
                stats.max_slots_per_ring.iter().all(|&used| used <= 64),
                "{stats:?}"
            );
        }
    }
}

#[test]
fn connections_fill_the_primary_ring_first() {
    // A shard sized for many rings but holding few connections keeps them all on the primary ring,
    // so each tick enters one ring (the extra ones only start accepting once the one before is
    // nearly full: at most a backlog of free slots).
    let config = EngineConfig {
        connections_max: 200,
        file_table_slots_max: 64,
        listen_backlog: 32,
        ..small_config()
    };
    let stats = echo_many(EngineKind::IoUring, config, 30);
    assert_eq!(stats.accepted, 30);
    assert_eq!(stats.rings, 4, "200 connections in tables of 64");
    assert_eq!(stats.max_slots_per_ring, vec![30, 0, 0, 0], "{stats:?}");
}

#[test]
fn partial_reads_reassemble_a_message_larger_than_a_buffer() {
    for kind in backends() {
        let config = EngineConfig {
            recv_buffer_bytes: 64,
            ..small_config()
        };
        let server = Server::start(kind, config, Behavior::Echo);
        let mut stream = client(&server);
        let message = expected_pattern(10_000);
        for chunk in message.chunks(333) {
            stream.write_all(chunk).unwrap();
        }
        let mut got = vec![0; message.len()];
        stream.read_exact(&mut got).unwrap();
        assert_eq!(got, message, "{kind:?}");
        drop(stream);
        let stats = server.stop_after_settling(Duration::from_millis(100));
        assert!(
            stats.max_data_event_bytes <= 64,
            "{kind:?}: data events are at most one buffer"
        );
        assert_eq!(stats.bytes_received, 10_000, "{kind:?}");
    }
}

#[test]
fn buffer_exhaustion_still_echoes_everything() {
    for kind in backends() {
        // 8 buffers of 256 bytes, 40 clients sending 8 KiB each at once: the ring runs dry.
        let config = EngineConfig {
            recv_buffer_bytes: 256,
            recv_buffer_count: 8,
            ..small_config()
        };
        let server = Server::start(kind, config, Behavior::Echo);
        let addr = server.addr;
        let clients: Vec<_> = (0..40)
            .map(|i| {
                thread::spawn(move || {
                    let mut stream = TcpStream::connect(addr).unwrap();
                    stream.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
                    let message: Vec<u8> = (0..8192).map(|j| ((i * 7 + j) % 256) as u8).collect();
                    let mut reader = stream.try_clone().unwrap();
                    let expected = message.clone();
                    let read = thread::spawn(move || {
                        let mut got = vec![0; expected.len()];
                        reader.read_exact(&mut got).unwrap();
                        got == expected
                    });
                    stream.write_all(&message).unwrap();
                    read.join().unwrap()
                })
            })
            .collect();
        for (i, handle) in clients.into_iter().enumerate() {
            assert!(
                handle.join().unwrap(),
                "{kind:?}: client {i} got its bytes back in order"
            );
        }
        let stats = server.stop();
        assert_eq!(stats.bytes_received, 40 * 8192, "{kind:?}");
    }
}

#[test]
fn one_mebibyte_send_completes() {
    for kind in backends() {
        let len = 1 << 20;
        let server = Server::start(kind, small_config(), Behavior::SendOnAccept(len));
        let mut stream = client(&server);
        let mut got = vec![0; len];
        stream.read_exact(&mut got).unwrap();
        assert!(
            got == expected_pattern(len),
            "{kind:?}: 1 MiB arrives intact"
        );
        drop(stream);
        let stats = server.stop_after_settling(Duration::from_millis(100));
        assert_eq!(
            stats.largest_send_ok, len,
            "{kind:?}: the buffer came back with Ok"
        );
        assert_eq!(stats.sends_failed, 0, "{kind:?}");
    }
}

#[test]
fn server_close_is_seen_by_the_client() {
    for kind in backends() {
        let server = Server::start(kind, small_config(), Behavior::CloseOnBye);
        let mut stream = client(&server);
        stream.write_all(b"ping").unwrap();
        let mut got = [0; 4];
        stream.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"ping");
        stream.write_all(b"bye").unwrap();
        let mut rest = Vec::new();
        // EOF (Ok) or a reset both mean the server closed; a timeout would be a failure.
        match stream.read_to_end(&mut rest) {
            Ok(_) => assert!(rest.is_empty(), "{kind:?}"),
            Err(err) => assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "{kind:?}"),
        }
        let stats = server.stop();
        assert_eq!(stats.closed, 1, "{kind:?}");
    }
}

#[test]
fn half_close_from_client_is_eof_and_replies_still_flow() {
    for kind in backends() {
        let server = Server::start(kind, small_config(), Behavior::Echo);
        let mut stream = client(&server);
        stream.write_all(b"last words").unwrap();
        stream.shutdown(Shutdown::Write).unwrap();
        let mut got = Vec::new();
        // The harness closes on PeerClosed, so the echo may or may not beat the close; what
        // must hold is that the client sees the connection end, not a hang.
        let _ = stream.read_to_end(&mut got);
        assert!(b"last words".starts_with(&got), "{kind:?}");
        let stats = server.stop_after_settling(Duration::from_millis(100));
        assert_eq!(stats.peer_closed_eof, 1, "{kind:?}");
        assert_eq!(stats.closed, 1, "{kind:?}");
    }
}
