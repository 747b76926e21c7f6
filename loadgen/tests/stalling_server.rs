//! Open-loop accounting against a server that deliberately stops reading for 200 ms.
//!
//! A closed-loop client would simply send less during the stall and report low latency; the open-loop
//! schedule keeps sending, stamps each message with its intended time, and so the stall appears as
//! latency at the scheduled points while the number of messages sent still follows rate × duration.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use switchboard_loadgen::cli::Args;
use switchboard_loadgen::run::run;
use switchboard_protocol::ws::handshake::{parse_upgrade_request, HandshakeLimits};
use switchboard_protocol::ws::{
    encode_frame, AssemblerLimits, Event, MessageAssembler, OpCode, Role,
};

const STALL: Duration = Duration::from_millis(200);
/// Messages (over all connections) echoed before the stall starts.
const STALL_AFTER_MESSAGES: u64 = 300;
/// Connections the test server serves at most (each gets a thread).
const CONNECTIONS_MAX: usize = 8;

/// What every connection thread shares: how many messages were echoed and until when to stall.
#[derive(Default)]
struct StallState {
    echoed: AtomicU64,
    stall_until: Mutex<Option<Instant>>,
}

/// A std::net WebSocket echo server that stops reading for [`STALL`] once, after
/// [`STALL_AFTER_MESSAGES`] messages, on every connection at once.
fn start_stalling_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let state = Arc::new(StallState::default());
    thread::spawn(move || {
        for stream in listener.incoming().take(CONNECTIONS_MAX) {
            let (stream, state) = (stream.unwrap(), Arc::clone(&state));
            thread::spawn(move || serve(stream, &state));
        }
    });
    addr
}

fn serve(mut stream: TcpStream, state: &StallState) {
    stream.set_nodelay(true).unwrap();
    let mut head = Vec::new();
    let mut buf = vec![0u8; 64 << 10];
    let rest = loop {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "client hung up during the handshake");
        head.extend_from_slice(&buf[..n]);
        if let Some((request, used)) =
            parse_upgrade_request(&head, &HandshakeLimits::default()).unwrap()
        {
            let mut response = Vec::new();
            request.write_response(&mut response);
            stream.write_all(&response).unwrap();
            break head[used..].to_vec();
        }
    };
    let mut assembler = MessageAssembler::new(Role::Server, AssemblerLimits::default()).unwrap();
    let mut pending = rest;
    loop {
        if !echo_all(&mut assembler, &pending, &mut stream, state) {
            return;
        }
        wait_out_stall(state);
        let n = match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        pending = buf[..n].to_vec();
    }
}

/// Echoes every complete message in `input`; `false` once the client closed.
fn echo_all(
    assembler: &mut MessageAssembler,
    input: &[u8],
    stream: &mut TcpStream,
    state: &StallState,
) -> bool {
    let mut offset = 0;
    let mut out = Vec::new();
    loop {
        offset += assembler.handle_bytes(&input[offset..]).unwrap();
        match assembler.poll_event() {
            Some(Event::Binary(payload)) => {
                encode_frame(&mut out, OpCode::Binary, true, payload, None).unwrap();
                if state.echoed.fetch_add(1, Ordering::SeqCst) + 1 == STALL_AFTER_MESSAGES {
                    *state.stall_until.lock().unwrap() = Some(Instant::now() + STALL);
                }
            }
            Some(Event::Ping(payload)) => {
                encode_frame(&mut out, OpCode::Pong, true, payload, None).unwrap();
            }
            Some(Event::Close(_)) => {
                encode_frame(&mut out, OpCode::Close, true, &[0x03, 0xE8], None).unwrap();
                let _ = stream.write_all(&out);
                return false;
            }
            Some(_) => {}
            None => break,
        }
    }
    stream.write_all(&out).is_ok()
}

fn wait_out_stall(state: &StallState) {
    let until = *state.stall_until.lock().unwrap();
    if let Some(until) = until {
        let now = Instant::now();
        if now < until {
            thread::sleep(until - now);
        }
    }
}

#[test]
fn a_server_stall_shows_as_latency_not_as_a_lower_rate() {
    let addr = start_stalling_server();
    let url = format!("ws://{addr}/");
    let (rate, duration_secs) = (500.0, 2.0);
    let args = Args::parse_from([
        "switchboard-loadgen",
        "--url",
        &url,
        "--quiet",
        "--connections",
        "2",
        "--threads",
        "1",
        "--duration",
        "2",
        "--rate",
        "500",
        "--size",
        "64",
    ]);
    let outcome = run(args.to_config().unwrap(), false).expect("run completes");
    let stats = outcome.stats;
    assert_eq!(
        stats.correctness_failures(),
        0,
        "errors: {:?}",
        stats.errors
    );
    assert_eq!(stats.received, stats.sent);
    // The stall is certain to have happened (300 of ~1000 messages) and lasts 200 ms: the message sent
    // at its start waits at least that long, measured from when it was scheduled.
    let max_ms = stats.latency.max() as f64 / 1e6;
    assert!(max_ms >= 150.0, "stall not visible: max {max_ms:.1} ms");
    // ~100 messages (10%) were scheduled inside the stall, so p99 is inside it too.
    let p99_ms = stats.latency.value_at_quantile(0.99) as f64 / 1e6;
    assert!(p99_ms >= 50.0, "p99 {p99_ms:.1} ms hides the stall");
    // The schedule was kept: the stall did not lower the number of messages sent (generous bounds).
    let expected = rate * duration_secs;
    let sent = stats.sent as f64;
    assert!(
        sent >= 0.8 * expected && sent <= 1.05 * expected,
        "sent {sent}, expected ~{expected}"
    );
}

#[test]
fn closed_loop_hides_the_same_stall_in_its_rate() {
    let addr = start_stalling_server();
    let url = format!("ws://{addr}/");
    let args = Args::parse_from([
        "switchboard-loadgen",
        "--url",
        &url,
        "--quiet",
        "--connections",
        "2",
        "--threads",
        "1",
        "--duration",
        "1",
        "--closed-loop",
    ]);
    let outcome = run(args.to_config().unwrap(), false).expect("run completes");
    let stats = outcome.stats;
    assert_eq!(
        stats.correctness_failures(),
        0,
        "errors: {:?}",
        stats.errors
    );
    // With one message in flight per connection, only two messages can be waiting during the stall, so
    // the stall all but vanishes from the percentiles (a generous bound allows for a busy machine).
    let stalled = stats.latency.count_between(100_000_000, u64::MAX);
    assert!(stalled <= 10, "{stalled} messages waited through the stall");
}
