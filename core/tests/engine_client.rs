//! The client side (`connect`), wake-ups, and backend choice, for both backends.

mod engine_support;

use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpListener},
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
    thread,
    time::Duration,
};

use engine_support::{backends, drive_until, small_config, OwnedEvent};
use switchboard_core::engine::{
    BackendKind, ChoiceReason, Engine, EngineConfig, EngineError, EngineKind, Errno, Event,
    PeerClose,
};

const STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// Polls until `Event::Connected` (operations are only submitted by `poll`).
fn wait_connected(engine: &mut Engine) -> bool {
    drive_until(engine, STEP_TIMEOUT, |_, event| {
        matches!(event, OwnedEvent::Other(Event::Connected { .. }))
    })
}

#[test]
fn connect_send_receive_and_peer_close() {
    for kind in backends() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let peer = thread::spawn(move || {
            let (mut stream, from) = listener.accept().unwrap();
            stream.set_read_timeout(Some(STEP_TIMEOUT)).unwrap();
            let mut got = [0; 4];
            stream.read_exact(&mut got).unwrap();
            stream.write_all(b"pong").unwrap();
            (got, from)
        });
        let (mut engine, _) = Engine::new(&small_config(), kind).unwrap();
        // An explicit source port (free right now); SO_REUSEADDR lets it be reused at once.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let source: SocketAddr = SocketAddr::from(([127, 0, 0, 1], port));
        let conn = engine.connect(addr, Some(source)).unwrap();
        // Queued before the connection is up: it goes out once connected.
        engine.send(conn, b"ping".to_vec());
        let (mut connected, mut sent, mut reply, mut eof) = (false, false, Vec::new(), false);
        let done = drive_until(&mut engine, STEP_TIMEOUT, |engine, event| {
            match event {
                OwnedEvent::Other(Event::Connected { conn: c }) => connected = c == conn,
                OwnedEvent::Other(Event::SendComplete { buf, result, .. }) => {
                    sent = result.is_ok() && buf == b"ping";
                }
                OwnedEvent::Data(c, bytes) if c == conn => reply.extend_from_slice(&bytes),
                OwnedEvent::Other(Event::PeerClosed {
                    conn: c,
                    cause: PeerClose::Eof,
                }) if c == conn => {
                    eof = true;
                    engine.close(conn).unwrap();
                }
                OwnedEvent::Other(Event::Closed { conn: c }) => return c == conn,
                _ => {}
            }
            false
        });
        let (got, from) = peer.join().unwrap();
        assert_eq!(
            from, source,
            "{kind:?}: the connection came from the requested source"
        );
        assert!(done, "{kind:?}: closed in time");
        assert!(
            connected && sent && eof,
            "{kind:?}: connected {connected} sent {sent} eof {eof}"
        );
        assert_eq!(&got, b"ping");
        assert_eq!(reply, b"pong", "{kind:?}");
        assert_eq!(engine.connections(), 0);
    }
}

#[test]
fn connect_to_a_closed_port_fails_with_refused() {
    for kind in backends() {
        let addr = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let (mut engine, _) = Engine::new(&small_config(), kind).unwrap();
        let conn = engine.connect(addr, None).unwrap();
        engine.send(conn, b"never".to_vec());
        let (mut cause, mut returned) = (None, false);
        let done = drive_until(&mut engine, STEP_TIMEOUT, |_, event| match event {
            OwnedEvent::Other(Event::SendComplete { buf, result, .. }) => {
                returned = buf == b"never" && result.is_err();
                false
            }
            OwnedEvent::Other(Event::ConnectFailed {
                conn: c,
                cause: why,
            }) if c == conn => {
                cause = Some(why);
                true
            }
            _ => false,
        });
        assert!(done, "{kind:?}");
        assert_eq!(cause, Some(Errno(libc::ECONNREFUSED)), "{kind:?}");
        assert!(returned, "{kind:?}: the queued buffer came back");
        // Let the io_uring backend finish closing the descriptor silently.
        drive_until(&mut engine, Duration::from_millis(100), |_, _| false);
        assert_eq!(engine.connections(), 0, "{kind:?}");
    }
}

#[test]
fn eventfd_wakes_the_engine() {
    for kind in backends() {
        // SAFETY: plain syscall; the result is checked and then owned.
        let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        assert!(raw >= 0);
        // SAFETY: `raw` is a fresh descriptor owned by nobody else.
        let eventfd = unsafe { OwnedFd::from_raw_fd(raw) };
        let (mut engine, _) = Engine::new(&small_config(), kind).unwrap();
        let token = engine.watch_eventfd(eventfd.as_raw_fd()).unwrap();
        let writer_fd = eventfd.as_raw_fd();
        let signal = move || {
            let one = 1u64;
            // SAFETY: writes 8 bytes from a live u64 to an eventfd kept open by the test.
            let n = unsafe { libc::write(writer_fd, std::ptr::from_ref(&one).cast(), 8) };
            assert_eq!(n, 8);
        };
        for round in 0..3 {
            let waker = thread::spawn(move || {
                thread::sleep(Duration::from_millis(20));
                signal();
            });
            let mut woken = false;
            // Blocking poll with no timeout: only the wake can end it.
            engine.poll(None).unwrap();
            while let Some(event) = engine.next_event() {
                woken |= matches!(event, Event::Wake { token: t } if t == token);
            }
            waker.join().unwrap();
            assert!(woken, "{kind:?} round {round}");
        }
        drop(engine);
    }
}

#[test]
fn backend_choice_is_reported() {
    let (_, choice) = Engine::new(&small_config(), EngineKind::Epoll).unwrap();
    assert_eq!(choice.backend, BackendKind::Epoll);
    assert_eq!(choice.reason, ChoiceReason::EpollRequested);
    // The epoll backend is limited by RLIMIT_NOFILE, and says so when that bites.
    let huge = EngineConfig {
        connections_max: 10_000_000,
        ..small_config()
    };
    let (_, choice) = Engine::new(&huge, EngineKind::Epoll).unwrap();
    assert!(choice.connections_max < 10_000_000);
    assert!(choice.limited_by.unwrap().contains("RLIMIT_NOFILE"));
    let (engine, choice) = Engine::new(&small_config(), EngineKind::Auto).unwrap();
    assert_eq!(engine.backend(), choice.backend);
    assert!(!choice.to_string().is_empty());
}

#[test]
fn invalid_config_names_the_field() {
    let config = EngineConfig {
        recv_buffer_count: 100,
        ..small_config()
    };
    match Engine::new(&config, EngineKind::Auto) {
        Err(EngineError::Config(err)) => assert_eq!(err.field, "recv_buffer_count"),
        other => panic!(
            "expected a config error, got {:?}",
            other.map(|(_, choice)| choice)
        ),
    }
}

#[test]
fn send_to_a_stale_connection_returns_the_buffer() {
    for kind in backends() {
        let (mut engine, _) = Engine::new(&small_config(), kind).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let conn = engine
            .connect(listener.local_addr().unwrap(), None)
            .unwrap();
        engine.close(conn).unwrap();
        assert_eq!(engine.close(conn), Err(EngineError::UnknownConn(conn)));
        engine.send(conn, vec![7; 3]);
        let mut back = false;
        drive_until(&mut engine, Duration::from_secs(2), |_, event| {
            if let OwnedEvent::Other(Event::SendComplete { buf, result, .. }) = event {
                back = buf == [7; 3] && result == Err(Errno(libc::EBADF));
            }
            back
        });
        assert!(back, "{kind:?}");
    }
}

#[test]
fn close_cancels_an_unfinished_send_and_returns_its_buffer() {
    for kind in backends() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let (mut engine, _) = Engine::new(&small_config(), kind).unwrap();
        let conn = engine
            .connect(listener.local_addr().unwrap(), None)
            .unwrap();
        // The peer never reads, so 64 MiB cannot all fit in the socket buffers.
        let len = 64 << 20;
        engine.send(conn, vec![1; len]);
        assert!(wait_connected(&mut engine), "{kind:?}");
        let (_peer, _) = listener.accept().unwrap();
        // Give the send time to fill the socket buffers and block.
        drive_until(&mut engine, Duration::from_millis(100), |_, _| false);
        engine.close(conn).unwrap();
        let (mut returned, mut closed_after_return) = (None, false);
        let done = drive_until(&mut engine, STEP_TIMEOUT, |_, event| match event {
            OwnedEvent::Other(Event::SendComplete { buf, result, .. }) => {
                returned = Some((buf.len(), result));
                false
            }
            OwnedEvent::Other(Event::Closed { conn: c }) if c == conn => {
                closed_after_return = returned.is_some();
                true
            }
            _ => false,
        });
        assert!(done, "{kind:?}: Closed arrived");
        assert!(
            closed_after_return,
            "{kind:?}: the buffer came back before Closed"
        );
        assert_eq!(returned, Some((len, Err(Errno::CANCELLED))), "{kind:?}");
        assert_eq!(engine.connections(), 0, "{kind:?}");
    }
}

#[test]
fn peer_reset_is_reported_as_an_error() {
    for kind in backends() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let (mut engine, _) = Engine::new(&small_config(), kind).unwrap();
        let conn = engine
            .connect(listener.local_addr().unwrap(), None)
            .unwrap();
        assert!(wait_connected(&mut engine), "{kind:?}");
        let (peer, _) = listener.accept().unwrap();
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: `linger` is a valid struct of the given size for the duration of the call.
        let set = unsafe {
            libc::setsockopt(
                peer.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                std::ptr::from_ref(&linger).cast(),
                size_of::<libc::linger>() as libc::socklen_t,
            )
        };
        assert_eq!(set, 0);
        drop(peer); // linger 0: the close sends RST
        let mut cause = None;
        let done = drive_until(&mut engine, STEP_TIMEOUT, |_, event| match event {
            OwnedEvent::Other(Event::PeerClosed {
                conn: c,
                cause: why,
            }) if c == conn => {
                cause = Some(why);
                true
            }
            _ => false,
        });
        assert!(done, "{kind:?}");
        assert_eq!(
            cause,
            Some(PeerClose::Error(Errno(libc::ECONNRESET))),
            "{kind:?}"
        );
    }
}

#[test]
fn many_queued_sends_arrive_in_order_and_complete_in_order() {
    for kind in backends() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let (mut engine, _) = Engine::new(&small_config(), kind).unwrap();
        let conn = engine
            .connect(listener.local_addr().unwrap(), None)
            .unwrap();
        // Small buffers batch into one sendmsg; the large ones force short sends mid-batch.
        let bufs: Vec<Vec<u8>> = (0..100u32)
            .map(|i| {
                let len = if i % 25 == 24 {
                    300_000
                } else {
                    1 + (i as usize % 7) * 50
                };
                (0..len).map(|j| (i as usize * 31 + j) as u8).collect()
            })
            .collect();
        let expected: Vec<u8> = bufs.concat();
        let total = expected.len();
        for buf in &bufs {
            engine.send(conn, buf.clone());
        }
        // Accept in the reader thread: the engine only submits the connect when polled.
        let reader = thread::spawn(move || {
            let (mut peer, _) = listener.accept().unwrap();
            peer.set_read_timeout(Some(STEP_TIMEOUT)).unwrap();
            let mut got = vec![0; total];
            peer.read_exact(&mut got).unwrap();
            got
        });
        let mut completed = Vec::new();
        drive_until(&mut engine, STEP_TIMEOUT, |_, event| {
            if let OwnedEvent::Other(Event::SendComplete { buf, result, .. }) = event {
                assert_eq!(result, Ok(()), "{kind:?}");
                completed.push(buf);
            }
            completed.len() == bufs.len()
        });
        assert!(
            reader.join().unwrap() == expected,
            "{kind:?}: bytes in send order"
        );
        assert!(
            completed == bufs,
            "{kind:?}: buffers handed back in send order"
        );
    }
}
