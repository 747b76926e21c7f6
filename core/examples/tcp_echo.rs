//! Raw TCP echo on the engine: the ceiling later benchmarks compare against.
//!
//! ```text
//! tcp_echo serve ADDR [uring|epoll|auto] [SHARDS] [SECONDS]
//! tcp_echo relay ADDR [uring|epoll|auto] [SHARDS] [SECONDS]
//! tcp_echo load  ADDR [uring|epoll|auto] [CONNECTIONS] [SECONDS] [MESSAGE_BYTES]
//! ```
//!
//! `serve` runs one engine per shard thread, each with its own `SO_REUSEPORT` listener, and
//! echoes every byte (forever unless SECONDS is given). `relay` is the chat path's socket work
//! without the chat (issue 19, `bench/scripts/chat-ceiling.sh`): connections are paired in the order
//! a shard accepts them, and every whole masked WebSocket frame a connection sends is written back
//! to it (the ack) and, if it carries data, to its partner (the delivery; a Close or ping concerns the
//! sender alone); `switchboard-loadgen --raw-relay` drives it. `load` opens CONNECTIONS client
//! connections from one engine and plays ping-pong (send MESSAGE_BYTES, wait for them to come
//! back, repeat), then prints messages per second.

use std::{
    collections::HashMap,
    env,
    net::SocketAddr,
    process::ExitCode,
    thread,
    time::{Duration, Instant},
};

use switchboard_core::engine::{ConnId, Engine, EngineConfig, EngineKind, Event};

/// Default ping-pong message size.
const MESSAGE_BYTES_DEFAULT: usize = 64;

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("serve") => serve(&args[1..], false),
        Some("relay") => serve(&args[1..], true),
        Some("load") => load(&args[1..]),
        _ => Err("usage: tcp_echo serve|relay|load ADDR [uring|epoll|auto] ...".to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("tcp_echo: {message}");
            ExitCode::FAILURE
        }
    }
}

fn arg<T: std::str::FromStr>(args: &[String], index: usize, default: T) -> Result<T, String> {
    match args.get(index) {
        None => Ok(default),
        Some(text) => text.parse().map_err(|_| format!("bad argument `{text}`")),
    }
}

fn kind(args: &[String]) -> Result<EngineKind, String> {
    match args.get(1).map(String::as_str) {
        None | Some("auto") => Ok(EngineKind::Auto),
        Some("uring" | "io_uring") => Ok(EngineKind::IoUring),
        Some("epoll") => Ok(EngineKind::Epoll),
        Some(other) => Err(format!("unknown engine `{other}` (uring, epoll, auto)")),
    }
}

fn serve(args: &[String], relay: bool) -> Result<(), String> {
    let addr: SocketAddr = arg(args, 0, "127.0.0.1:7000".parse().unwrap())?;
    let kind = kind(args)?;
    let shards: usize = arg(args, 2, 1)?;
    let seconds: u64 = arg(args, 3, 0)?;
    let deadline = (seconds > 0).then(|| Instant::now() + Duration::from_secs(seconds));
    let threads: Vec<_> = (0..shards)
        .map(|shard| {
            thread::spawn(move || match relay {
                false => serve_shard(shard, addr, kind, deadline),
                true => relay_shard(shard, addr, kind, deadline),
            })
        })
        .collect();
    for handle in threads {
        handle.join().map_err(|_| "shard panicked".to_owned())??;
    }
    Ok(())
}

/// One shard's engine, listening on `addr` (`what` it does, for the start-up line).
fn start_shard(
    shard: usize,
    addr: SocketAddr,
    kind: EngineKind,
    what: &str,
) -> Result<Engine, String> {
    let (mut engine, choice) =
        Engine::new(&EngineConfig::default(), kind).map_err(|e| e.to_string())?;
    let (_, bound) = engine.listen(addr).map_err(|e| e.to_string())?;
    println!("shard {shard}: {choice}; {what} on {bound}");
    Ok(engine)
}

fn serve_shard(
    shard: usize,
    addr: SocketAddr,
    kind: EngineKind,
    deadline: Option<Instant>,
) -> Result<(), String> {
    let mut engine = start_shard(shard, addr, kind, "listening")?;
    // Sent buffers come back in SendComplete and are reused, so echo allocates only at warm-up.
    let mut spare: Vec<Vec<u8>> = Vec::new();
    while deadline.is_none_or(|d| Instant::now() < d) {
        engine
            .poll(Some(Duration::from_millis(100)))
            .map_err(|e| e.to_string())?;
        while let Some(event) = engine.next_event() {
            match event {
                Event::Data { conn, bytes } => {
                    let mut buf = spare.pop().unwrap_or_default();
                    buf.clear();
                    buf.extend_from_slice(&bytes);
                    engine.send(conn, buf);
                }
                Event::SendComplete { buf, .. } => spare.push(buf),
                Event::PeerClosed { conn, .. } => engine.close(conn).map_err(|e| e.to_string())?,
                _ => {}
            }
        }
    }
    Ok(())
}

/// Bytes of the whole masked frames at the start of `bytes` (a client frame: 2 header bytes, 0, 2 or 8
/// length bytes, a 4-byte mask key, the payload); `data` gets those of them that carry data (text, binary,
/// continuation: not a Close or ping, which concern the sender alone).
fn whole_frames_len(bytes: &[u8], data: &mut Vec<u8>) -> usize {
    let mut at = 0;
    loop {
        let rest = &bytes[at..];
        if rest.len() < 2 {
            return at;
        }
        let (len, header) = match rest[1] & 0x7f {
            126 if rest.len() >= 4 => (u64::from(u16::from_be_bytes([rest[2], rest[3]])), 8),
            127 if rest.len() >= 10 => {
                let len: [u8; 8] = rest[2..10].try_into().expect("8 bytes");
                (u64::from_be_bytes(len), 14)
            }
            126 | 127 => return at,
            len => (u64::from(len), 6),
        };
        let Some(frame) = usize::try_from(len)
            .ok()
            .and_then(|l| l.checked_add(header))
        else {
            return at;
        };
        if rest.len() < frame {
            return at;
        }
        if rest[0] & 0x08 == 0 {
            data.extend_from_slice(&rest[..frame]);
        }
        at += frame;
    }
}

/// One relayed connection: its partner, and the start of a frame it has not finished sending.
#[derive(Default)]
struct Relayed {
    partner: Option<ConnId>,
    partial: Vec<u8>,
}

fn relay_shard(
    shard: usize,
    addr: SocketAddr,
    kind: EngineKind,
    deadline: Option<Instant>,
) -> Result<(), String> {
    let mut engine = start_shard(shard, addr, kind, "relaying")?;
    let mut conns: HashMap<ConnId, Relayed> = HashMap::new();
    let mut waiting: Option<ConnId> = None;
    let mut spare: Vec<Vec<u8>> = Vec::new();
    let mut whole = Vec::new();
    let mut data = Vec::new();
    while deadline.is_none_or(|d| Instant::now() < d) {
        engine
            .poll(Some(Duration::from_millis(100)))
            .map_err(|e| e.to_string())?;
        while let Some(event) = engine.next_event() {
            match event {
                Event::Accepted { conn, .. } => {
                    let mut relayed = Relayed::default();
                    if let Some(other) = waiting.take() {
                        relayed.partner = Some(other);
                        if let Some(o) = conns.get_mut(&other) {
                            o.partner = Some(conn);
                        }
                    } else {
                        waiting = Some(conn);
                    }
                    conns.insert(conn, relayed);
                }
                Event::Data { conn, bytes } => {
                    let Some(state) = conns.get_mut(&conn) else {
                        continue;
                    };
                    // Only whole frames go out, so a partner's stream never has ours cut into a frame.
                    whole.clear();
                    whole.append(&mut state.partial);
                    whole.extend_from_slice(&bytes);
                    data.clear();
                    let len = whole_frames_len(&whole, &mut data);
                    state.partial.extend_from_slice(&whole[len..]);
                    let partner = state.partner.filter(|_| !data.is_empty());
                    for (target, bytes) in [(Some(conn), &whole[..len]), (partner, &data[..])] {
                        let Some(target) = target.filter(|_| !bytes.is_empty()) else {
                            continue;
                        };
                        let mut buf = spare.pop().unwrap_or_default();
                        buf.clear();
                        buf.extend_from_slice(bytes);
                        engine.send(target, buf);
                    }
                }
                Event::SendComplete { buf, .. } => spare.push(buf),
                Event::PeerClosed { conn, .. } => {
                    if let Some(partner) = conns.remove(&conn).and_then(|r| r.partner) {
                        if let Some(p) = conns.get_mut(&partner) {
                            p.partner = None;
                        }
                    }
                    if waiting == Some(conn) {
                        waiting = None;
                    }
                    engine.close(conn).map_err(|e| e.to_string())?;
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Ping-pong state of one client connection.
#[derive(Clone, Copy, Default)]
struct Pinger {
    /// Bytes of the current reply received so far.
    received: usize,
}

fn load(args: &[String]) -> Result<(), String> {
    let addr: SocketAddr = arg(args, 0, "127.0.0.1:7000".parse().unwrap())?;
    let kind = kind(args)?;
    let connections: u32 = arg(args, 2, 100)?;
    let seconds: u64 = arg(args, 3, 5)?;
    let message_bytes: usize = arg(args, 4, MESSAGE_BYTES_DEFAULT)?;
    let config = EngineConfig {
        connections_max: connections.max(1),
        ..EngineConfig::default()
    };
    let (mut engine, choice) = Engine::new(&config, kind).map_err(|e| e.to_string())?;
    println!("load: {choice}");
    let mut pingers = vec![Pinger::default(); connections as usize];
    for _ in 0..connections {
        engine.connect(addr, None).map_err(|e| e.to_string())?;
    }
    let message = vec![b'x'; message_bytes];
    let mut spare: Vec<Vec<u8>> = Vec::new();
    let (mut round_trips, mut failures) = (0u64, 0u64);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    while Instant::now() < deadline {
        engine
            .poll(Some(Duration::from_millis(100)))
            .map_err(|e| e.to_string())?;
        while let Some(event) = engine.next_event() {
            let conn = match event {
                Event::Connected { conn } => conn,
                Event::Data { conn, bytes } => {
                    let pinger = &mut pingers[conn.index()];
                    pinger.received += bytes.len();
                    if pinger.received < message_bytes {
                        continue;
                    }
                    pinger.received -= message_bytes;
                    round_trips += 1;
                    conn
                }
                Event::SendComplete { buf, .. } => {
                    spare.push(buf);
                    continue;
                }
                Event::ConnectFailed { .. } | Event::PeerClosed { .. } => {
                    failures += 1;
                    continue;
                }
                _ => continue,
            };
            let mut buf = spare.pop().unwrap_or_default();
            buf.clear();
            buf.extend_from_slice(&message);
            engine.send(conn, buf);
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "load: {connections} connections, {message_bytes} B messages: {round_trips} round trips in {elapsed:.1} s \
         = {:.0} msg/s ({failures} failures)",
        round_trips as f64 / elapsed
    );
    Ok(())
}
