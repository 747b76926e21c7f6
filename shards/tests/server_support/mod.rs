//! Shared helpers of the `server_*` integration tests: an in-process echo server on a loopback port, and a
//! raw blocking WebSocket client built on the protocol crate's codec (for malformed input that a real client
//! library refuses to send).
//!
//! Every read has a socket timeout and every loop a bound, so a server bug fails a test instead of hanging it.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use switchboard_protocol::ws::{encode_frame, FrameHeader, OpCode, Role};
use switchboard_shards::config::{Engine, Limits, Mode, ServeConfig, Shards};
use switchboard_shards::server::Server;

/// Longest a test waits for any single answer from the server; generous, as the machine is shared.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(15);
/// Masking key of the raw client's frames (any key is valid; a fixed one keeps failures reproducible).
pub const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
/// Largest server frame payload the raw client accepts before calling the stream broken.
const FRAME_PAYLOAD_BYTES_MAX: u64 = 64 << 20;
/// Frames the raw client skips while looking for a Close before it gives up.
const FRAMES_BEFORE_CLOSE_MAX: usize = 1_000_000;

/// An upgrade request with a fixed key and no subprotocol.
pub const UPGRADE_REQUEST: &[u8] = b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// An echo-mode configuration on `127.0.0.1:0` with `shards` shards, the admin listener off, and the
/// limits changed by `tweak`.
pub fn echo_config(shards: usize, tweak: impl FnOnce(&mut Limits)) -> ServeConfig {
    let mut config = ServeConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        shards: Shards::Count(shards.try_into().expect("at least one shard")),
        mode: Mode::Echo,
        engine: Engine::Auto,
        admin_listen: None,
        ..ServeConfig::default()
    };
    // Tests stop the server with clients still open that never answer the going-away Close.
    config.limits.drain_timeout_ms = 2_000;
    tweak(&mut config.limits);
    config.validate().expect("test configuration is valid");
    config
}

/// Starts an in-process server for `config`.
pub fn start(config: &ServeConfig) -> Server {
    Server::start(config).expect("server starts on a loopback port")
}

/// Drains and joins `server`, failing the test if a shard panicked.
pub fn stop(mut server: Server) {
    server.drain();
    server.join().expect("no shard panicked");
}

/// A TCP connection to `addr` with read and write timeouts set.
pub fn tcp_connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect to the server");
    stream.set_read_timeout(Some(ANSWER_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(ANSWER_TIMEOUT)).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

/// Reads an HTTP response head (up to and including the blank line) and returns its status code, or `None`
/// when the server closed (or reset, or timed out) before a status line arrived.
pub fn read_http_status(stream: &mut TcpStream) -> Option<u16> {
    let head = read_http_head(stream, &mut Vec::new())?;
    let line = head.lines().next()?;
    let mut parts = line.split(' ');
    (parts.next()? == "HTTP/1.1").then_some(())?;
    parts.next()?.parse().ok()
}

/// Reads until the end of an HTTP head; returns the head as text and leaves later bytes in `rest`.
fn read_http_head(stream: &mut TcpStream, rest: &mut Vec<u8>) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            rest.extend_from_slice(&buf[end + 4..]);
            return Some(String::from_utf8_lossy(&buf[..end + 4]).into_owned());
        }
        if buf.len() > 64 * 1024 {
            return None;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => {
                return (!buf.is_empty()).then(|| String::from_utf8_lossy(&buf).into_owned())
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Whether the server ends the connection (EOF or reset) within `within`, discarding whatever it sends.
pub fn ends_within(stream: &mut TcpStream, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    let mut chunk = [0u8; 64 * 1024];
    while Instant::now() < deadline {
        stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        match stream.read(&mut chunk) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return true,
        }
    }
    false
}

/// One frame as the raw client received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedFrame {
    /// Final fragment.
    pub fin: bool,
    /// Opcode.
    pub opcode: OpCode,
    /// Payload (servers never mask).
    pub payload: Vec<u8>,
}

impl ReceivedFrame {
    /// The code of a Close frame (`None` for an empty Close payload).
    pub fn close_code(&self) -> Option<u16> {
        assert_eq!(self.opcode, OpCode::Close, "not a Close frame: {self:?}");
        (self.payload.len() >= 2).then(|| u16::from_be_bytes([self.payload[0], self.payload[1]]))
    }
}

/// A blocking WebSocket client that writes whatever frames it is told to, valid or not.
pub struct RawClient {
    /// The socket.
    pub stream: TcpStream,
    /// Received bytes not yet parsed into frames.
    pending: Vec<u8>,
}

impl RawClient {
    /// Connects and completes a plain (no subprotocol) handshake; panics unless the server answers 101.
    pub fn open(addr: SocketAddr) -> RawClient {
        match RawClient::try_open(addr) {
            Ok(client) => client,
            Err(head) => panic!("expected 101, got {head:?}"),
        }
    }

    /// Connects and sends a plain upgrade request: the client after a 101, otherwise the response head
    /// (empty when the connection was refused or ended without an answer).
    pub fn try_open(addr: SocketAddr) -> Result<RawClient, String> {
        let Ok(mut stream) = TcpStream::connect(addr) else {
            return Err(String::new());
        };
        stream.set_read_timeout(Some(ANSWER_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(ANSWER_TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        if stream.write_all(UPGRADE_REQUEST).is_err() {
            return Err(String::new());
        }
        RawClient::from_upgraded(stream)
    }

    /// Reads the answer to an upgrade request already written to `stream`: the client after a 101,
    /// otherwise the response head (empty when the server ended the connection without answering).
    pub fn from_upgraded(mut stream: TcpStream) -> Result<RawClient, String> {
        let mut pending = Vec::new();
        let head = read_http_head(&mut stream, &mut pending).unwrap_or_default();
        if !head.starts_with("HTTP/1.1 101") {
            return Err(head);
        }
        Ok(RawClient { stream, pending })
    }

    /// Writes one frame; `mask: None` writes an (illegal) unmasked client frame.
    pub fn send_frame(
        &mut self,
        opcode: OpCode,
        fin: bool,
        payload: &[u8],
        mask: Option<[u8; 4]>,
    ) -> std::io::Result<()> {
        let mut out = Vec::with_capacity(payload.len() + 14);
        encode_frame(&mut out, opcode, fin, payload, mask).expect("encodable frame");
        self.stream.write_all(&out)
    }

    /// Writes raw bytes (a hand-made header, say).
    pub fn send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Reads the next frame; `Err` on EOF, reset, timeout or a malformed server frame.
    pub fn read_frame(&mut self) -> std::io::Result<ReceivedFrame> {
        let mut chunk = [0u8; 64 * 1024];
        loop {
            match FrameHeader::parse(&self.pending, Role::Client) {
                Err(e) => return Err(std::io::Error::new(ErrorKind::InvalidData, e.to_string())),
                Ok(Some((header, header_len))) => {
                    assert!(
                        header.payload_len <= FRAME_PAYLOAD_BYTES_MAX,
                        "absurd frame {header:?}"
                    );
                    let end = header_len + header.payload_len as usize;
                    if self.pending.len() >= end {
                        let payload = self.pending[header_len..end].to_vec();
                        self.pending.drain(..end);
                        return Ok(ReceivedFrame {
                            fin: header.fin,
                            opcode: header.opcode,
                            payload,
                        });
                    }
                }
                Ok(None) => {}
            }
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(ErrorKind::UnexpectedEof.into());
            }
            self.pending.extend_from_slice(&chunk[..n]);
        }
    }

    /// Reads the next data frame, skipping any server Ping.
    pub fn read_data_frame(&mut self) -> std::io::Result<ReceivedFrame> {
        loop {
            let frame = self.read_frame()?;
            if frame.opcode != OpCode::Ping {
                return Ok(frame);
            }
        }
    }

    /// Sends `payload` as one masked binary message and checks that the same bytes come back.
    pub fn assert_echo(&mut self, payload: &[u8]) {
        self.send_frame(OpCode::Binary, true, payload, Some(MASK))
            .expect("send to the server");
        let mut echoed = Vec::new();
        loop {
            let frame = self.read_data_frame().expect("an echo from the server");
            assert!(
                matches!(frame.opcode, OpCode::Binary | OpCode::Continuation),
                "expected the echo, got {frame:?}"
            );
            echoed.extend_from_slice(&frame.payload);
            if frame.fin {
                break;
            }
        }
        assert_eq!(echoed, payload, "echo differs");
    }

    /// Reads frames until a Close; returns its frame, or `None` if the server ended the connection first.
    pub fn read_until_close(&mut self) -> Option<ReceivedFrame> {
        for _ in 0..FRAMES_BEFORE_CLOSE_MAX {
            match self.read_frame() {
                Ok(frame) if frame.opcode == OpCode::Close => return Some(frame),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
        None
    }

    /// Reads frames, answering every server Ping with a Pong, until a Close (returned) or the end of the
    /// connection (`None`); also returns how many Pings arrived.
    pub fn read_until_close_answering_pings(&mut self) -> (Option<ReceivedFrame>, usize) {
        let mut pings = 0;
        for _ in 0..FRAMES_BEFORE_CLOSE_MAX {
            match self.read_frame() {
                Ok(frame) if frame.opcode == OpCode::Close => return (Some(frame), pings),
                Ok(frame) if frame.opcode == OpCode::Ping => {
                    pings += 1;
                    if self
                        .send_frame(OpCode::Pong, true, &frame.payload, Some(MASK))
                        .is_err()
                    {
                        return (None, pings);
                    }
                }
                Ok(_) => {}
                Err(_) => return (None, pings),
            }
        }
        (None, pings)
    }

    /// Answers a server Close with the same code, as a polite client does.
    pub fn reply_close(&mut self, code: u16) {
        let _ = self.send_frame(OpCode::Close, true, &code.to_be_bytes(), Some(MASK));
    }
}

/// A healthy client kept open beside a misbehaving one: it must keep echoing whatever the other does.
pub struct Bystander {
    client: RawClient,
    round: u32,
}

impl Bystander {
    /// Opens the bystander and checks a first echo.
    pub fn open(addr: SocketAddr) -> Bystander {
        let mut bystander = Bystander {
            client: RawClient::open(addr),
            round: 0,
        };
        bystander.check();
        bystander
    }

    /// Checks that a fresh, distinct message is still echoed.
    pub fn check(&mut self) {
        self.round += 1;
        let payload: Vec<u8> = (0..200u32).map(|i| (i * 7 + self.round) as u8).collect();
        self.client.assert_echo(&payload);
    }
}
