//! Shared helpers of the `chat_*` integration tests: an in-process chat-mode server with a test keyring and
//! its own data directory, token minting, and a switchboard.v1 client on tokio-tungstenite.
//!
//! Every read has a timeout and every loop a bound, so a server bug fails a test instead of hanging it.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use switchboard_protocol::app::{
    encode::Encoder, json, parse_frame, Body, ConversationState, ConversationUpdate, FrameLimits,
    Hello, Message, MessageId, OwnedFrame, Reassembler, ReassemblerConfig, ResumePosition,
    SendMessage,
};
use switchboard_shards::auth::{KeyConfig, Keyring, KeyringConfig, Role};
use switchboard_shards::config::{Engine, Mode, ServeConfig, Shards};
use switchboard_shards::server::Server;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{connect_async, MaybeTlsStream, WebSocketStream};

/// The test signing key (hex, 32 bytes).
pub const KEY_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
/// Its id.
pub const KEY_ID: &str = "test-1";
/// Longest wait for any one frame; generous, as the machine is shared.
pub const READ_TIMEOUT: Duration = Duration::from_secs(15);
/// Bound of one whole test body.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(180);

/// A fresh, empty data directory for one test (under the target dir, removed first).
pub fn data_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("switchboard-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The keyring configuration with the test key.
pub fn keyring_config() -> KeyringConfig {
    KeyringConfig {
        active_key_id: KEY_ID.into(),
        clock_skew_s: 60,
        keys: vec![KeyConfig {
            id: KEY_ID.into(),
            secret_hex: Some(KEY_HEX.into()),
            secret_base64: None,
        }],
    }
}

/// A chat-mode configuration on `127.0.0.1:0` with `shards` shards, logging to `dir`.
pub fn chat_config(shards: usize, dir: &Path) -> ServeConfig {
    let mut config = ServeConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        shards: Shards::Count(shards.try_into().expect("at least one shard")),
        mode: Mode::Chat,
        engine: Engine::Auto,
        admin_listen: None,
        data_dir: dir.to_path_buf(),
        auth: Some(keyring_config()),
        ..ServeConfig::default()
    };
    config.limits.drain_timeout_ms = 2_000;
    // Plain messaging unless a test turns the bot on: its answers would take sequence numbers.
    config.chat.routing_enabled = false;
    // A busy test machine makes slow ticks; load shedding (and its `status` frames) only where a test
    // turns it on.
    config.overload.enabled = false;
    // These tests drive a few connections as fast as they can; the quotas have tests of their own.
    config.chat.lift_client_quotas();
    config.validate().expect("test configuration is valid");
    config
}

/// Starts an in-process server.
pub fn start(config: &ServeConfig) -> Server {
    Server::start(config).expect("chat server starts")
}

/// Drains and joins `server`, failing the test if a shard panicked.
pub fn stop(mut server: Server) {
    server.drain();
    server.join().expect("no shard panicked");
}

/// A token for `user` of `tenant` in `role` (agents with `groups`), valid for an hour.
pub fn token(tenant: u64, user: u64, role: Role, groups: &[u32]) -> String {
    let keyring = Keyring::from_config(&keyring_config()).unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    keyring
        .mint(tenant, user, role, groups, now - 5, 3_600)
        .unwrap()
}

/// Runs `body` on a fresh single-threaded runtime within [`TEST_TIMEOUT`].
pub fn run<T, F: std::future::Future<Output = T>>(body: F) -> T {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        tokio::time::timeout(TEST_TIMEOUT, body)
            .await
            .expect("test finished in time")
    })
}

/// A message id from a number (unique per test).
/// A client's `conversation_update` asking for `state` (with `agent` or `group` as the transfer
/// target).
pub fn update_request(
    conversation: u64,
    state: ConversationState,
    agent: u64,
    group: &str,
) -> Message {
    Message::ConversationUpdate(ConversationUpdate {
        conversation_id: conversation,
        state,
        agent_id: agent,
        agent_group: group.into(),
        reason: "by test".into(),
    })
}

pub fn message_id(n: u64) -> MessageId {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&0x5157_4954_4348_424f_u64.to_be_bytes());
    bytes[8..].copy_from_slice(&n.to_be_bytes());
    MessageId(bytes)
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A reassembler for the server's fragments, with room for the largest page a test asks for.
fn new_reassembler() -> Reassembler {
    Reassembler::new(ReassemblerConfig {
        message_bytes_max: 64 << 20,
        ..ReassemblerConfig::default()
    })
    .unwrap()
}

/// A switchboard.v1 client (binary, or JSON with `json`).
pub struct Client {
    ws: Ws,
    json: bool,
    encoder: Encoder,
    /// Frames read but not yet taken.
    pending: std::collections::VecDeque<OwnedFrame>,
    /// Reassembles the server's application-level fragments (large history pages and replays).
    reassembler: Reassembler,
}

impl Client {
    /// Connects and negotiates the subprotocol, without `hello`.
    pub async fn connect_raw(addr: SocketAddr, json: bool) -> Client {
        let mut request = format!("ws://{addr}/ws").into_client_request().unwrap();
        let protocol = if json {
            "switchboard.json.v1"
        } else {
            "switchboard.v1"
        };
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", protocol.parse().unwrap());
        let (ws, _) = connect_async(request).await.expect("handshake succeeds");
        Client {
            ws,
            json,
            encoder: Encoder::new(),
            pending: Default::default(),
            reassembler: new_reassembler(),
        }
    }

    /// Connects (binary) with the client socket's receive buffer fixed at `recv_buffer_bytes`, so that a
    /// client that stops reading makes the server queue frames (lane tests), then sends `hello`.
    pub async fn connect_small_window(
        addr: SocketAddr,
        token: &str,
        recv_buffer_bytes: u32,
    ) -> Client {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(recv_buffer_bytes).unwrap();
        let stream = socket.connect(addr).await.unwrap();
        let mut request = format!("ws://{addr}/ws").into_client_request().unwrap();
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", "switchboard.v1".parse().unwrap());
        let (ws, _) = tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(stream))
            .await
            .expect("handshake succeeds");
        let mut client = Client {
            ws,
            json: false,
            encoder: Encoder::new(),
            pending: Default::default(),
            reassembler: new_reassembler(),
        };
        client.hello(token).await;
        client
    }

    /// Connects (binary), or `None` when the server does not accept connections (yet).
    pub async fn try_connect_raw(addr: SocketAddr) -> Option<Client> {
        let mut request = format!("ws://{addr}/ws").into_client_request().unwrap();
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", "switchboard.v1".parse().unwrap());
        let (ws, _) = connect_async(request).await.ok()?;
        Some(Client {
            ws,
            json: false,
            encoder: Encoder::new(),
            pending: Default::default(),
            reassembler: new_reassembler(),
        })
    }

    /// Connects, sends `hello` with `token` and returns after the `welcome`.
    pub async fn connect(addr: SocketAddr, token: &str) -> Client {
        let mut client = Client::connect_raw(addr, false).await;
        client.hello(token).await;
        client
    }

    /// Sends `hello` and expects `welcome`.
    pub async fn hello(&mut self, token: &str) {
        self.send_frame(Message::Hello(Hello {
            protocol_version: 1,
            auth_token: token.into(),
            resume_token: String::new(),
        }))
        .await;
        let frame = self.next().await;
        assert!(
            matches!(frame.message, Message::Welcome(_)),
            "expected welcome, got {frame:?}"
        );
    }

    /// Sends one frame on its kind's default lane.
    pub async fn send_frame(&mut self, message: Message) {
        let frame = OwnedFrame::new(message);
        let mut out = Vec::new();
        if self.json {
            json::encode_json(&frame, &mut out);
            self.ws
                .send(WsMessage::text(String::from_utf8(out).unwrap()))
                .await
                .unwrap();
        } else {
            self.encoder.encode(&frame, &mut out);
            self.ws.send(WsMessage::binary(out)).await.unwrap();
        }
    }

    /// Sends one WebSocket message as it is (hostile tests: batches, wrong types, broken frames).
    pub async fn send_ws(&mut self, message: WsMessage) {
        self.ws.send(message).await.unwrap();
    }

    /// Sends `messages` as binary frames back to back in one WebSocket message.
    pub async fn send_batch(&mut self, messages: impl IntoIterator<Item = Message>) {
        let mut out = Vec::new();
        for message in messages {
            self.encoder.encode(&OwnedFrame::new(message), &mut out);
        }
        self.ws.send(WsMessage::binary(out)).await.unwrap();
    }

    /// Reads frames until none arrives for `quiet` (or the stream closes), at most `max`.
    pub async fn drain(&mut self, quiet: Duration, max: usize) -> Vec<OwnedFrame> {
        let mut frames = Vec::new();
        while frames.len() < max {
            match self.try_next(quiet).await {
                Some(frame) => frames.push(frame),
                None => break,
            }
        }
        frames
    }

    /// Sends one frame; `false` when the connection is gone (crash tests).
    pub async fn try_send_frame(&mut self, message: Message) -> bool {
        let frame = OwnedFrame::new(message);
        let mut out = Vec::new();
        self.encoder.encode(&frame, &mut out);
        self.ws.send(WsMessage::binary(out)).await.is_ok()
    }

    /// Sends a chat message.
    pub async fn send(&mut self, conversation: u64, id: MessageId, text: &str) {
        self.send_frame(Message::Send(SendMessage {
            message_id: id,
            conversation_id: conversation,
            text: text.into(),
        }))
        .await;
    }

    /// Sends a `resume` with `(conversation, last_sequence)` positions.
    pub async fn resume(&mut self, positions: &[(u64, u64)]) {
        self.send_frame(Message::Resume(switchboard_protocol::app::Resume {
            resume_token: String::new(),
            positions: positions
                .iter()
                .map(|&(conversation_id, last_sequence)| ResumePosition {
                    conversation_id,
                    last_sequence,
                })
                .collect(),
        }))
        .await;
    }

    /// The next frame (skipping WebSocket pings), failing after [`READ_TIMEOUT`].
    pub async fn next(&mut self) -> OwnedFrame {
        self.try_next(READ_TIMEOUT).await.expect("a frame in time")
    }

    /// The next frame within `wait`, or `None` (timeout or closed stream).
    pub async fn try_next(&mut self, wait: Duration) -> Option<OwnedFrame> {
        if let Some(frame) = self.pending.pop_front() {
            return Some(frame);
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let message = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()??
                .ok()?;
            match message {
                WsMessage::Binary(bytes) => {
                    let mut input: &[u8] = &bytes;
                    let limits = FrameLimits {
                        body_bytes_max: 16 << 20,
                    };
                    while !input.is_empty() {
                        let (frame, used) = parse_frame(input, &limits).unwrap().unwrap();
                        input = &input[used..];
                        let Body::Fragment(piece) = frame.body else {
                            self.pending.push_back(frame.to_owned_frame());
                            continue;
                        };
                        if let Some(whole) = self.reassembler.push(piece).unwrap() {
                            let (inner, _) = parse_frame(&whole, &limits).unwrap().unwrap();
                            self.pending.push_back(inner.to_owned_frame());
                        }
                    }
                }
                WsMessage::Text(text) => {
                    let mut bytes = text.as_bytes().to_vec();
                    self.pending
                        .push_back(json::parse_json(&mut bytes).unwrap());
                }
                WsMessage::Close(_) => return None,
                _ => continue,
            }
            if let Some(frame) = self.pending.pop_front() {
                return Some(frame);
            }
        }
    }

    /// The first frame (already read or next to arrive) for which `wanted` holds, leaving every other
    /// frame in place, in order, for later reads: for frames whose relative order the lanes may change
    /// (an urgent `handoff` can overtake a chat-lane `ack` queued with it). Reads at most 100 frames.
    pub async fn take(&mut self, wanted: impl Fn(&Message) -> bool) -> OwnedFrame {
        let mut skipped = std::collections::VecDeque::new();
        for _ in 0..100 {
            let frame = self.next().await;
            if wanted(&frame.message) {
                skipped.extend(self.pending.drain(..));
                self.pending = skipped;
                return frame;
            }
            skipped.push_back(frame);
        }
        panic!("the wanted frame did not come: {skipped:?}");
    }

    /// The close code if the server closed within `wait` (frames before it are skipped); `None` when the
    /// connection is still open after `wait` or went away without a code.
    pub async fn try_close(&mut self, wait: Duration) -> Option<u16> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Ok(Some(Ok(WsMessage::Close(frame)))) => return frame.map(|f| u16::from(f.code)),
                Ok(Some(Ok(_))) => continue,
                Ok(Some(Err(_)) | None) | Err(_) => return None,
            }
        }
    }

    /// Closes from the client side (1000) and waits until the server has answered and ended the
    /// connection.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
        let deadline = tokio::time::Instant::now() + READ_TIMEOUT;
        while let Ok(Some(Ok(_))) = tokio::time::timeout_at(deadline, self.ws.next()).await {}
    }

    /// Reads until the stream closes; returns the close code seen (if any).
    pub async fn expect_close(&mut self) -> Option<u16> {
        let deadline = tokio::time::Instant::now() + READ_TIMEOUT;
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Ok(Some(Ok(WsMessage::Close(frame)))) => return frame.map(|f| u16::from(f.code)),
                Ok(Some(Ok(_))) => continue,
                Ok(Some(Err(_)) | None) => return None,
                Err(_) => panic!("no close in time"),
            }
        }
    }
}

/// The process's resident memory, bytes (`VmRSS`). The servers in these tests run in-process, so this
/// is the server's memory plus the test's own clients'.
pub fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .expect("VmRSS in /proc/self/status");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|field| field.parse().ok())
        .expect("VmRSS in kB");
    kib * 1024
}

/// The chat configuration with the client quotas at their shipped defaults (the hostile-client tests).
pub fn hostile_config(shards: usize, dir: &Path) -> ServeConfig {
    let mut config = chat_config(shards, dir);
    let defaults = switchboard_shards::chat::ChatConfig::default();
    config.chat = switchboard_shards::chat::ChatConfig {
        routing_enabled: false,
        ..defaults
    };
    // Test clients stop reading for seconds at a time (to attack, or while another client drains), and
    // tungstenite answers the server's pings only while read: keep heartbeats out of the way.
    config.limits.heartbeat_interval_ms_min = 600_000;
    config.limits.heartbeat_interval_ms_max = 600_000;
    config.limits.pong_timeout_ms_min = 600_000;
    config.limits.pong_timeout_ms_max = 600_000;
    config
        .validate()
        .expect("hostile test configuration is valid");
    config
}

/// A well-behaved customer beside an attacker: each [`Canary::check`] sends one message and expects its
/// `ack`, failing on any `error` or `status` frame (no customer may see `overloaded` because another
/// attacks).
pub struct Canary {
    client: Client,
    user: u64,
    conversation: u64,
    sent: u64,
}

impl Canary {
    /// Connects `user` of tenant 1 and opens its conversation.
    pub async fn open(addr: SocketAddr, user: u64) -> Canary {
        let mut canary = Canary {
            client: Client::connect(addr, &token(1, user, Role::Customer, &[])).await,
            user,
            conversation: 0,
            sent: 0,
        };
        canary.check().await;
        canary
    }

    /// Sends one message and expects its ack and nothing else.
    pub async fn check(&mut self) {
        self.sent += 1;
        // Unique per canary user, so canaries of different users never share a message id.
        let id = message_id((0xCA << 48) | (self.user << 24) | self.sent);
        self.client.send(self.conversation, id, "canary").await;
        let frame = self.client.next().await;
        match frame.message {
            Message::Ack(ack) => {
                assert_eq!(ack.message_id, id, "the canary's own ack");
                self.conversation = ack.conversation_id;
            }
            other => panic!("the canary got {other:?} instead of its ack"),
        }
    }
}

/// Frames a test reads at most while waiting for one it expects (each read has its own timeout).
pub const FRAMES_READ_MAX: usize = 40;

/// Reads frames (at most [`FRAMES_READ_MAX`]) until `pick` returns something.
pub async fn until<T>(client: &mut Client, mut pick: impl FnMut(Message) -> Option<T>) -> T {
    for _ in 0..FRAMES_READ_MAX {
        if let Some(found) = pick(client.next().await.message) {
            return found;
        }
    }
    panic!("the expected frame did not come");
}

/// A chat configuration with `shards` shards and the routing shard on, and every agent group's id.
pub fn routed_config(shards: usize, dir: &Path) -> (ServeConfig, Vec<u32>) {
    let mut config = chat_config(shards, dir);
    config.chat.routing_enabled = true;
    let groups = switchboard_shards::routing::shard::RoutingShard::new(Default::default())
        .unwrap()
        .groups()
        .iter()
        .map(|group| group.id)
        .collect();
    (config, groups)
}
