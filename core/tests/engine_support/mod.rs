//! Shared harness for the engine integration tests: a server thread driving an `Engine`, and
//! helpers to run each test against both backends.

#![allow(dead_code)]

use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicBool, Ordering},
        mpsc, Arc,
    },
    thread::{self, JoinHandle},
    time::{Duration, Instant},
};

use switchboard_core::engine::{BackendKind, Engine, EngineConfig, EngineKind, Event, PeerClose};

/// Upper bound on any one test's server loop.
pub const TEST_DURATION_MAX: Duration = Duration::from_secs(30);
/// Client socket read/write timeout.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// The backends to run a test against. io_uring is skipped (with a note) where unavailable.
pub fn backends() -> Vec<EngineKind> {
    let mut kinds = vec![EngineKind::Epoll];
    match Engine::new(&EngineConfig::default(), EngineKind::IoUring) {
        Ok(_) => kinds.insert(0, EngineKind::IoUring),
        Err(err) => eprintln!("io_uring backend not tested here: {err}"),
    }
    kinds
}

/// A small engine config for tests.
pub fn small_config() -> EngineConfig {
    EngineConfig {
        connections_max: 512,
        recv_buffer_bytes: 4096,
        recv_buffer_count: 256,
        ring_entries: 256,
        listen_backlog: 64,
        ..EngineConfig::default()
    }
}

/// What the test server does with its connections.
#[derive(Clone, Debug)]
pub enum Behavior {
    /// Echo every byte back.
    Echo,
    /// On accept, send this many bytes of a known pattern, then keep echoing.
    SendOnAccept(usize),
    /// Echo, but close the connection as soon as it sends `bye`.
    CloseOnBye,
}

/// What the server saw, returned when it stops.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub backend: Option<BackendKind>,
    pub accepted: usize,
    pub peer_closed_eof: usize,
    pub peer_closed_error: usize,
    pub closed: usize,
    pub sends_ok: usize,
    pub sends_failed: usize,
    pub largest_send_ok: usize,
    pub bytes_received: usize,
    pub max_data_event_bytes: usize,
    pub max_connections: usize,
    pub rings: usize,
    pub max_slots_per_ring: Vec<u32>,
}

/// A running server thread.
pub struct Server {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    join: Option<JoinHandle<Stats>>,
}

impl Server {
    /// Starts a server on 127.0.0.1 with an ephemeral port.
    pub fn start(kind: EngineKind, config: EngineConfig, behavior: Behavior) -> Server {
        let stop = Arc::new(AtomicBool::new(false));
        let (addr_tx, addr_rx) = mpsc::channel();
        let stop_flag = stop.clone();
        let join = thread::spawn(move || serve(kind, config, behavior, stop_flag, addr_tx));
        let addr = addr_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("server started");
        Server {
            addr,
            stop,
            join: Some(join),
        }
    }

    /// Stops the server and returns what it saw.
    pub fn stop(mut self) -> Stats {
        self.stop.store(true, Ordering::SeqCst);
        self.join
            .take()
            .unwrap()
            .join()
            .expect("server thread panicked")
    }

    /// Lets the server run for `timeout` more, then stops it.
    pub fn stop_after_settling(self, timeout: Duration) -> Stats {
        thread::sleep(timeout);
        self.stop()
    }
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// The byte pattern `SendOnAccept` sends.
pub fn expected_pattern(len: usize) -> Vec<u8> {
    pattern(len)
}

fn serve(
    kind: EngineKind,
    config: EngineConfig,
    behavior: Behavior,
    stop: Arc<AtomicBool>,
    addr_tx: mpsc::Sender<SocketAddr>,
) -> Stats {
    let (mut engine, _choice) = Engine::new(&config, kind).expect("engine");
    let (_, addr) = engine
        .listen("127.0.0.1:0".parse().unwrap())
        .expect("listen");
    addr_tx.send(addr).unwrap();
    let mut stats = Stats {
        backend: Some(engine.backend()),
        ..Stats::default()
    };
    if let Engine::Uring(uring) = &engine {
        stats.rings = uring.rings();
        stats.max_slots_per_ring = vec![0; uring.rings()];
    }
    let deadline = Instant::now() + TEST_DURATION_MAX;
    while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
        engine.poll(Some(Duration::from_millis(5))).expect("poll");
        while let Some(event) = engine.next_event() {
            match event {
                Event::Accepted { conn, .. } => {
                    stats.accepted += 1;
                    if let Behavior::SendOnAccept(len) = behavior {
                        engine.send(conn, pattern(len));
                    }
                }
                Event::Data { conn, bytes } => {
                    stats.bytes_received += bytes.len();
                    stats.max_data_event_bytes = stats.max_data_event_bytes.max(bytes.len());
                    let bye = matches!(behavior, Behavior::CloseOnBye) && bytes.ends_with(b"bye");
                    let reply = bytes.to_vec();
                    if bye {
                        engine.close(conn).expect("close");
                    } else {
                        engine.send(conn, reply);
                    }
                }
                Event::SendComplete { buf, result, .. } => match result {
                    Ok(()) => {
                        stats.sends_ok += 1;
                        stats.largest_send_ok = stats.largest_send_ok.max(buf.len());
                    }
                    Err(_) => stats.sends_failed += 1,
                },
                Event::PeerClosed { conn, cause } => {
                    match cause {
                        PeerClose::Eof => stats.peer_closed_eof += 1,
                        PeerClose::Error(_) => stats.peer_closed_error += 1,
                    }
                    engine.close(conn).expect("close after peer close");
                }
                Event::Closed { .. } => stats.closed += 1,
                _ => {}
            }
        }
        stats.max_connections = stats.max_connections.max(engine.connections());
        if let Engine::Uring(uring) = &engine {
            for (max, used) in stats
                .max_slots_per_ring
                .iter_mut()
                .zip(uring.slots_used_per_ring())
            {
                *max = (*max).max(used);
            }
        }
    }
    stats
}

/// Polls `engine` until `done` returns true for an event or `timeout` passes; returns whether
/// it was done.
pub fn drive_until(
    engine: &mut Engine,
    timeout: Duration,
    mut done: impl FnMut(&mut Engine, OwnedEvent) -> bool,
) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        engine.poll(Some(Duration::from_millis(5))).expect("poll");
        let mut finished = false;
        while let Some(event) = engine.next_event() {
            // The event may borrow the engine; copy what is needed first.
            let owned = own(event);
            if done(engine, owned) {
                finished = true;
            }
        }
        if finished {
            return true;
        }
    }
    false
}

/// An event with `Data` bytes copied out, so the handler can use the engine.
pub enum OwnedEvent {
    Data(switchboard_core::engine::ConnId, Vec<u8>),
    Other(Event<'static>),
}

fn own(event: Event<'_>) -> OwnedEvent {
    match event {
        Event::Data { conn, bytes } => OwnedEvent::Data(conn, bytes.to_vec()),
        Event::Accepted {
            listener,
            conn,
            peer,
        } => OwnedEvent::Other(Event::Accepted {
            listener,
            conn,
            peer,
        }),
        Event::Connected { conn } => OwnedEvent::Other(Event::Connected { conn }),
        Event::ConnectFailed { conn, cause } => {
            OwnedEvent::Other(Event::ConnectFailed { conn, cause })
        }
        Event::SendComplete { conn, buf, result } => {
            OwnedEvent::Other(Event::SendComplete { conn, buf, result })
        }
        Event::PeerClosed { conn, cause } => OwnedEvent::Other(Event::PeerClosed { conn, cause }),
        Event::Closed { conn } => OwnedEvent::Other(Event::Closed { conn }),
        Event::FileWritten { token, buf, result } => {
            OwnedEvent::Other(Event::FileWritten { token, buf, result })
        }
        Event::FileSynced { token, result } => {
            OwnedEvent::Other(Event::FileSynced { token, result })
        }
        Event::Wake { token } => OwnedEvent::Other(Event::Wake { token }),
        Event::Timeout => OwnedEvent::Other(Event::Timeout),
    }
}
