//! Regression test: a close requested on a connection that lives on a secondary io_uring ring must reach
//! the kernel without any unrelated wake-up. The close is queued while reaping the cancel's completion;
//! before the fix it sat in the secondary ring's submission queue while the shard slept in `poll(None)`,
//! so the client never saw the server close (Autobahn 3.2 reported "server did not close TCP").

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use switchboard_core::channel::WakeSignal;
use switchboard_core::engine::{Engine, EngineConfig, EngineKind, Event};

/// How long the client waits for the server's close before the test fails.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections opened; with tables of 64 slots and 192 connections the engine runs 3 rings, all accepting.
const CONNECTIONS: usize = 6;

#[test]
fn close_on_a_secondary_ring_is_submitted_while_the_shard_sleeps() {
    let config = EngineConfig {
        connections_max: 192,
        recv_buffer_count: 512,
        ring_entries: 64,
        file_table_slots_max: 64,
        listen_backlog: 16,
        ..EngineConfig::default()
    };
    if Engine::new(&config, EngineKind::IoUring).is_err() {
        eprintln!("io_uring unavailable here; nothing to test");
        return;
    }
    let stop = Arc::new(WakeSignal::new().expect("eventfd"));
    let (addr_tx, addr_rx) = mpsc::channel();
    let server_stop = Arc::clone(&stop);
    let server = thread::spawn(move || {
        let (mut engine, _) = Engine::new(&config, EngineKind::IoUring).expect("engine");
        let (_, addr) = engine
            .listen("127.0.0.1:0".parse().unwrap())
            .expect("listen");
        engine.watch_eventfd(server_stop.raw_fd()).expect("watch");
        addr_tx.send(addr).unwrap();
        let mut closed = 0;
        let mut stopping_ticks = None;
        loop {
            // Wait with no timeout until told to stop: only real completions may wake the loop.
            // Once stopping, give the last `Closed` events a bounded number of short ticks.
            match &mut stopping_ticks {
                None => engine.poll(None).expect("poll"),
                Some(0) => return closed,
                Some(ticks) => {
                    *ticks -= 1;
                    engine.poll(Some(Duration::from_millis(10))).expect("poll")
                }
            };
            if stopping_ticks.is_some() && closed == CONNECTIONS {
                return closed;
            }
            while let Some(event) = engine.next_event() {
                match event {
                    // Like a WebSocket shard: answer with a final frame, close once it is written.
                    Event::Data { conn, bytes } if bytes.ends_with(b"bye") => {
                        engine.send(conn, b"closing".to_vec());
                    }
                    Event::SendComplete { conn, .. } => {
                        let _ = engine.close(conn);
                    }
                    Event::PeerClosed { conn, .. } => {
                        let _ = engine.close(conn);
                    }
                    Event::Closed { .. } => closed += 1,
                    Event::Wake { .. } => stopping_ticks = Some(500),
                    _ => {}
                }
            }
        }
    });
    let addr = addr_rx.recv().expect("server address");
    let mut clients: Vec<TcpStream> = (0..CONNECTIONS)
        .map(|_| {
            let stream = TcpStream::connect(addr).expect("connect");
            stream.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
            stream
        })
        .collect();
    for (i, stream) in clients.iter_mut().enumerate() {
        stream.write_all(b"bye").unwrap();
        let mut rest = Vec::new();
        match stream.read_to_end(&mut rest) {
            Ok(_) => assert_eq!(rest, b"closing"),
            Err(err) => assert_eq!(
                err.kind(),
                std::io::ErrorKind::ConnectionReset,
                "connection {i}: the server's close never reached the kernel ({err})"
            ),
        }
    }
    stop.notify();
    let closed = server.join().expect("server thread");
    assert_eq!(closed, CONNECTIONS);
}
