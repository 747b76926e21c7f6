//! The admin listener serves connections concurrently: idle or slow clients never hold up `/readyz`, a
//! connection beyond the cap is answered 503 at once, and an idle client is answered 408 at its deadline.
//! Nothing here asserts how fast: only that answers come while the other connections are open.

mod admin_support;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread::sleep;
use std::time::Duration;

use admin_support::{echo_config, http_get, http_raw, IO_TIMEOUT_MS};
use switchboard_shards::admin::{self, AdminHandle, AdminLimits, AdminSource};
use switchboard_shards::server::Server;

/// Idle and slow connections held open at once (the issue saw 20 delay `/readyz` by 44 s).
const HELD_CONNECTIONS: usize = 20;
/// A request deadline far longer than any test, so a held connection is provably still open when the
/// server answers another one.
const LONG_DEADLINE_MS: u64 = 60_000;
/// Probes are retried this many times while connection threads finish (bounded; no timing is asserted).
const PROBE_ATTEMPTS_MAX: u32 = 500;
const PROBE_RETRY_MS: u64 = 10;

fn start(limits: AdminLimits) -> (Server, AdminHandle) {
    let server = Server::start(&echo_config(1)).expect("the echo server starts");
    let admin = admin::start_with_limits(
        "127.0.0.1:0".parse().unwrap(),
        AdminSource::from_server(&server),
        limits,
    )
    .expect("admin starts");
    (server, admin)
}

/// Opens `count` connections: even ones send nothing, odd ones send half a request head.
fn hold(addr: SocketAddr, count: usize) -> Vec<TcpStream> {
    (0..count)
        .map(|index| {
            let mut stream = TcpStream::connect(addr).expect("connect a held connection");
            if index % 2 == 1 {
                stream.write_all(b"GET /metrics HTTP/1.1\r\nHo").unwrap();
            }
            stream
        })
        .collect()
}

/// Asserts the server has neither answered nor closed `stream`: a non-blocking read finds nothing yet.
fn assert_still_open(stream: &mut TcpStream) {
    stream.set_nonblocking(true).unwrap();
    let mut byte = [0u8; 1];
    match stream.read(&mut byte) {
        Err(error) if error.kind() == ErrorKind::WouldBlock => {}
        other => panic!("a held connection was answered or closed early: {other:?}"),
    }
    stream.set_nonblocking(false).unwrap();
}

#[test]
fn readyz_answers_while_idle_and_slow_connections_are_open() {
    let (_server, admin) = start(AdminLimits {
        request_deadline_ms: LONG_DEADLINE_MS,
        ..AdminLimits::default()
    });
    let addr = admin.local_addr();
    let mut held = hold(addr, HELD_CONNECTIONS);
    assert_eq!(http_get(addr, "/readyz"), (200, "ready\n".to_owned()));
    assert_eq!(http_get(addr, "/healthz"), (200, "ok\n".to_owned()));
    for stream in &mut held {
        assert_still_open(stream);
    }
    // Held connections close before the handle drops, so its stop does not wait for their deadline.
    drop(held);
}

#[test]
fn a_connection_beyond_the_cap_is_answered_503_and_the_cap_frees_up() {
    const CONNECTIONS_MAX: usize = 4;
    let (_server, admin) = start(AdminLimits {
        connections_max: CONNECTIONS_MAX,
        request_deadline_ms: LONG_DEADLINE_MS,
    });
    let addr = admin.local_addr();
    let mut held = hold(addr, CONNECTIONS_MAX);
    // The accept loop takes connections in order, so the held ones are all being served by now. The
    // refused client sends nothing, so the close cannot turn into a reset over unread bytes.
    let (status, body) = http_raw(addr, b"");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("too many admin connections"), "{body}");
    for stream in &mut held {
        assert_still_open(stream);
    }

    drop(held);
    let ready = (0..PROBE_ATTEMPTS_MAX).any(|_| {
        let answer = try_readyz(addr);
        if answer.is_none() {
            sleep(Duration::from_millis(PROBE_RETRY_MS));
        }
        answer.is_some()
    });
    assert!(
        ready,
        "/readyz answers 200 again once the held connections close"
    );
}

/// `GET /readyz`: `Some` on 200, `None` when refused at the cap (503, or a reset when the refusal's close
/// raced the request bytes); panics on any other answer.
fn try_readyz(addr: SocketAddr) -> Option<()> {
    let mut stream = TcpStream::connect(addr).expect("connect to the admin listener");
    stream
        .set_read_timeout(Some(Duration::from_millis(IO_TIMEOUT_MS)))
        .unwrap();
    let mut response = String::new();
    let sent = stream.write_all(b"GET /readyz HTTP/1.1\r\nHost: admin\r\n\r\n");
    match sent.and_then(|()| stream.read_to_string(&mut response)) {
        Ok(_) if response.starts_with("HTTP/1.1 200 ") => Some(()),
        Ok(_) if response.starts_with("HTTP/1.1 503 ") && response.contains("too many") => None,
        Err(error) if error.kind() == ErrorKind::ConnectionReset => None,
        other => panic!("unexpected /readyz answer: {other:?} {response}"),
    }
}

#[test]
fn an_idle_connection_is_answered_408_at_its_deadline() {
    let (_server, admin) = start(AdminLimits {
        request_deadline_ms: 100,
        ..AdminLimits::default()
    });
    let mut stream = TcpStream::connect(admin.local_addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(IO_TIMEOUT_MS)))
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(
        response.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
        "{response}"
    );
}

#[test]
fn out_of_range_limits_are_refused() {
    let server = Server::start(&echo_config(1)).expect("the echo server starts");
    let error = admin::start_with_limits(
        "127.0.0.1:0".parse().unwrap(),
        AdminSource::from_server(&server),
        AdminLimits {
            connections_max: 0,
            ..AdminLimits::default()
        },
    )
    .unwrap_err();
    assert!(error.to_string().contains("connections_max"), "{error}");
}
