//! One client connection as a sans-IO state machine: upgrade, echo messages, pings, close.
//!
//! The shard feeds it engine events (`handle_connected`, `handle_bytes`) with the time as an argument and
//! sends whatever it appends to the caller's output buffer. It never touches a socket or a clock, so its
//! accounting can be tested with plain byte strings.

use switchboard_protocol::ws::handshake::{
    ClientHandshake, ClientHandshakeError, ClientRequest, HandshakeLimits, Subprotocol,
};
use switchboard_protocol::ws::{
    encode_close, encode_frame, AssemblerLimits, CloseCode, Event, MessageAssembler, OpCode, Role,
    WsError,
};

use crate::chat::{ChatContext, ChatWorld};
use crate::payload::PayloadHeader;
use crate::rng::Rng;
use crate::stats::{record, Stats};
use crate::tracker::{Delivery, SequenceTracker};

/// Where the connection upgrades to.
#[derive(Debug, Clone)]
pub struct Target {
    /// `Host` header value.
    pub host: String,
    /// Request target.
    pub path: String,
    /// `--raw-echo`: no upgrade; the server echoes our masked frames back as they are.
    pub raw_echo: bool,
    /// `--raw-relay`: frames of other connections (forwarded by a relay) are counted, not errors.
    pub raw_relay: bool,
}

/// Why a connection failed. Every variant is the server's (or the network's) fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClientError {
    /// The 101 response was missing or invalid.
    #[error("upgrade: {0}")]
    Upgrade(#[from] ClientHandshakeError),
    /// The server broke RFC 6455.
    #[error("protocol: {0}")]
    Protocol(#[from] WsError),
    /// A binary message that is not one of ours (wrong header or connection).
    #[error("corrupt echo payload")]
    CorruptPayload,
    /// A switchboard.v1 frame that does not parse.
    #[error("bad switchboard.v1 frame: {0}")]
    BadFrame(String),
    /// A text message arrived on a binary run.
    #[error("unexpected text message")]
    UnexpectedText,
    /// The server closed while we were not closing.
    #[error("server closed with {0}")]
    ServerClosed(u16),
}

/// Lifecycle of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// TCP connect in progress.
    Connecting,
    /// Upgrade request sent, waiting for 101.
    Upgrading,
    /// Upgraded: messages flow.
    Open,
    /// We sent a Close; waiting for the server's Close or EOF.
    Closing,
    /// The WebSocket is over (Close exchanged or failed); the transport is being shut.
    Done,
}

/// What `handle_bytes` found, for the shard to act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    /// The upgrade completed during this call.
    pub upgraded: bool,
    /// Echoes received (first deliveries) during this call.
    pub echoes: u32,
    /// The WebSocket ended (Close received); shut the transport down.
    pub finished: bool,
    /// switchboard.v1: the `welcome` arrived during this call.
    pub welcomed: bool,
}

/// The per-call context: where results go and what time it is.
pub struct Context<'a> {
    /// This thread's counters.
    pub stats: &'a mut Stats,
    /// Mask keys.
    pub rng: &'a mut Rng,
    /// Now, in nanoseconds since the run's epoch.
    pub now_ns: u64,
    /// switchboard.v1 scenarios: the thread's chat state, which binary messages go to.
    pub chat: Option<&'a mut ChatWorld>,
}

/// One client connection.
#[derive(Debug)]
pub struct ClientConn {
    /// Connection number within the run (stamped into every payload).
    pub number: u32,
    /// Where it is in its life.
    pub phase: Phase,
    /// When `connect` was called, in nanoseconds since the epoch.
    started_ns: u64,
    handshake: Option<ClientHandshake>,
    /// Response bytes until the head is complete.
    head: Vec<u8>,
    assembler: Option<MessageAssembler>,
    tracker: SequenceTracker,
    /// Messages sent: the next sequence number.
    sent: u64,
    /// Distinct echoes received.
    received: u64,
    /// Index of the next scheduled message (open loop).
    pub next_index: u64,
    /// `--raw-relay`: frames of other connections are counted as relayed (set at connect).
    raw_relay: bool,
}

impl ClientConn {
    /// A connection whose `connect` was issued at `now_ns`.
    pub fn new(number: u32, now_ns: u64) -> ClientConn {
        ClientConn {
            number,
            phase: Phase::Connecting,
            started_ns: now_ns,
            handshake: None,
            head: Vec::new(),
            assembler: None,
            tracker: SequenceTracker::default(),
            sent: 0,
            received: 0,
            next_index: 0,
            raw_relay: false,
        }
    }

    /// TCP is up: appends the upgrade request to `out`. Returns `true` when the connection is open at
    /// once (`--raw-echo`: there is no upgrade, messages may go out now).
    pub fn handle_connected(
        &mut self,
        target: &Target,
        ctx: &mut Context<'_>,
        out: &mut Vec<u8>,
    ) -> bool {
        assert_eq!(self.phase, Phase::Connecting, "connected twice");
        record(&mut ctx.stats.connect, ctx.now_ns - self.started_ns);
        ctx.stats.connected += 1;
        self.raw_relay = target.raw_relay;
        if target.raw_echo {
            // What comes back are our own frames, masked: read them as a server reads a client's.
            self.open(Role::Server, ctx);
            return true;
        }
        let subprotocols: &[Subprotocol] = match ctx.chat {
            Some(_) => &[Subprotocol::Binary],
            None => &[],
        };
        let request = ClientRequest {
            host: &target.host,
            path_and_query: &target.path,
            subprotocols,
            origin: None,
            authorization: None,
        };
        self.handshake = Some(request.write(ctx.rng.nonce(), out));
        self.phase = Phase::Upgrading;
        false
    }

    /// Bytes from the server. Control replies (pong, close) are appended to `out`.
    pub fn handle_bytes(
        &mut self,
        mut bytes: &[u8],
        ctx: &mut Context<'_>,
        out: &mut Vec<u8>,
    ) -> Result<Progress, ClientError> {
        let mut progress = Progress::default();
        if self.phase == Phase::Upgrading {
            match self.take_head(bytes, ctx)? {
                Some(rest) => {
                    progress.upgraded = true;
                    bytes = rest;
                }
                None => return Ok(progress),
            }
        }
        let Some(assembler) = self.assembler.as_mut() else {
            return Ok(progress); // Done: late bytes after the close are ignored.
        };
        let mut offset = 0;
        loop {
            offset += assembler.handle_bytes(&bytes[offset..])?;
            let Some(event) = assembler.poll_event() else {
                break;
            };
            match event {
                Event::Binary(payload) => {
                    if let Some(world) = ctx.chat.as_deref_mut() {
                        ctx.stats.bytes_received += payload.len() as u64;
                        let mut chat = ChatContext {
                            stats: &mut *ctx.stats,
                            rng: &mut *ctx.rng,
                            now_ns: ctx.now_ns,
                        };
                        progress.welcomed |=
                            world.on_payload(self.number, payload, &mut chat, out)?;
                        continue;
                    }
                    let header = PayloadHeader::read(payload).ok_or(ClientError::CorruptPayload)?;
                    if header.connection != self.number {
                        if !self.raw_relay {
                            return Err(ClientError::CorruptPayload);
                        }
                        ctx.stats.relayed += 1;
                        continue;
                    }
                    ctx.stats.bytes_received += payload.len() as u64;
                    if account(&mut self.tracker, header, self.sent, ctx) {
                        self.received += 1;
                        progress.echoes += 1;
                    }
                }
                Event::Text(_) => return Err(ClientError::UnexpectedText),
                Event::Ping(data) => {
                    encode_frame(out, OpCode::Pong, true, data, Some(ctx.rng.mask()))
                        .expect("a ping payload fits a pong");
                    ctx.stats.pings_answered += 1;
                }
                Event::Pong(_) => {}
                Event::Close(frame) => {
                    let code = frame.map_or(1005, |f| f.code.0);
                    let ours = self.phase == Phase::Closing;
                    if !ours {
                        let reply = CloseCode(if code == 1005 { 1000 } else { code });
                        if encode_close(out, reply, "", Some(ctx.rng.mask())).is_err() {
                            encode_close(out, CloseCode(1000), "", Some(ctx.rng.mask()))
                                .expect("1000 is valid");
                        }
                    }
                    self.finish(ctx.stats);
                    progress.finished = true;
                    if !ours {
                        return Err(ClientError::ServerClosed(code));
                    }
                    return Ok(progress);
                }
            }
        }
        Ok(progress)
    }

    /// Collects the response head; on success returns the bytes after it (already frames).
    fn take_head<'b>(
        &mut self,
        bytes: &'b [u8],
        ctx: &mut Context<'_>,
    ) -> Result<Option<&'b [u8]>, ClientError> {
        let handshake = self.handshake.as_ref().expect("set when connected");
        let limits = HandshakeLimits::default();
        // Fast path: the whole head in one read, no copy.
        let (parsed, from_head) = if self.head.is_empty() {
            (handshake.parse_response(bytes, &limits)?, false)
        } else {
            self.head.extend_from_slice(bytes);
            (handshake.parse_response(&self.head, &limits)?, true)
        };
        let Some((_response, consumed)) = parsed else {
            if !from_head {
                self.head.extend_from_slice(bytes);
            }
            return Ok(None);
        };
        let rest = if from_head {
            // Bytes of this read that follow the head.
            let before = self.head.len() - bytes.len();
            &bytes[consumed.saturating_sub(before)..]
        } else {
            &bytes[consumed..]
        };
        self.head = Vec::new();
        self.handshake = None;
        record(&mut ctx.stats.upgrade, ctx.now_ns - self.started_ns);
        self.open(Role::Client, ctx);
        Ok(Some(rest))
    }

    /// Messages may flow; frames are read as `role` reads them (`Role::Server` for our own echoed,
    /// masked frames in `--raw-echo`).
    fn open(&mut self, role: Role, ctx: &mut Context<'_>) {
        let assembler = MessageAssembler::new(role, AssemblerLimits::default())
            .expect("default limits are valid");
        self.assembler = Some(assembler);
        self.phase = Phase::Open;
        ctx.stats.upgraded += 1;
        ctx.stats.open += 1;
    }

    /// Appends the next echo message (intended at `intended_ns`) to `out`; `scratch` holds the payload.
    pub fn write_message(
        &mut self,
        intended_ns: u64,
        size_bytes: usize,
        ctx: &mut Context<'_>,
        scratch: &mut Vec<u8>,
        out: &mut Vec<u8>,
    ) {
        assert_eq!(self.phase, Phase::Open, "send before upgrade");
        scratch.clear();
        let header = PayloadHeader {
            connection: self.number,
            sequence: self.sent,
            intended_ns,
        };
        header.write(size_bytes, scratch);
        encode_frame(out, OpCode::Binary, true, scratch, Some(ctx.rng.mask()))
            .expect("data frames always encode");
        self.sent += 1;
        ctx.stats.sent += 1;
        ctx.stats.bytes_sent += size_bytes as u64;
        if intended_ns < ctx.now_ns {
            record(&mut ctx.stats.send_lag, ctx.now_ns - intended_ns);
        } else {
            record(&mut ctx.stats.send_lag, 1);
        }
    }

    /// Starts our side of the close (appends a Close 1000 to `out`).
    pub fn write_close(&mut self, ctx: &mut Context<'_>, out: &mut Vec<u8>) {
        assert_eq!(self.phase, Phase::Open, "close only an open connection");
        encode_close(out, CloseCode(1000), "", Some(ctx.rng.mask())).expect("1000 is valid");
        self.phase = Phase::Closing;
    }

    /// Messages sent and not (yet) answered.
    pub fn in_flight(&self) -> u64 {
        self.sent - self.received
    }

    /// Marks the WebSocket over and counts what never came back as lost.
    pub fn finish(&mut self, stats: &mut Stats) {
        if matches!(self.phase, Phase::Open | Phase::Closing) {
            stats.open -= 1;
        }
        if self.phase != Phase::Done {
            stats.lost += self.tracker.unanswered(self.sent);
        }
        self.phase = Phase::Done;
        self.assembler = None;
    }
}

/// Records one echo; returns whether it was a first delivery.
fn account(
    tracker: &mut SequenceTracker,
    header: PayloadHeader,
    sent: u64,
    ctx: &mut Context<'_>,
) -> bool {
    match tracker.receive(header.sequence, sent) {
        delivery @ (Delivery::InOrder | Delivery::Ahead(_) | Delivery::Late) => {
            if delivery == Delivery::Late {
                ctx.stats.out_of_order += 1;
            }
            let latency = ctx.now_ns.saturating_sub(header.intended_ns);
            record(&mut ctx.stats.latency, latency);
            ctx.stats.received += 1;
            true
        }
        Delivery::Duplicate => {
            ctx.stats.duplicated += 1;
            false
        }
        Delivery::NeverSent => {
            ctx.stats.error("echo of a message never sent");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use switchboard_protocol::ws::handshake::parse_upgrade_request;

    use super::*;

    fn target() -> Target {
        Target {
            host: "127.0.0.1:9".into(),
            path: "/".into(),
            raw_echo: false,
            raw_relay: false,
        }
    }

    /// Plays the server: answers the upgrade request written by `conn`.
    fn upgraded(stats: &mut Stats, rng: &mut Rng) -> ClientConn {
        let mut conn = ClientConn::new(3, 1_000);
        let mut request = Vec::new();
        let mut ctx = Context {
            stats,
            rng,
            now_ns: 2_000,
            chat: None,
        };
        conn.handle_connected(&target(), &mut ctx, &mut request);
        let limits = HandshakeLimits::default();
        let (upgrade, _) = parse_upgrade_request(&request, &limits).unwrap().unwrap();
        let mut response = Vec::new();
        upgrade.write_response(&mut response);
        // Split the response to exercise the buffered head path.
        let (first, second) = response.split_at(10);
        let mut out = Vec::new();
        let progress = conn.handle_bytes(first, &mut ctx, &mut out).unwrap();
        assert!(!progress.upgraded);
        let progress = conn.handle_bytes(second, &mut ctx, &mut out).unwrap();
        assert!(progress.upgraded && out.is_empty());
        conn
    }

    /// The server's unmasked echo of a client frame.
    fn echo_of(frame: &[u8]) -> Vec<u8> {
        let mut assembler =
            MessageAssembler::new(Role::Server, AssemblerLimits::default()).unwrap();
        assembler.handle_bytes(frame).unwrap();
        let Some(Event::Binary(payload)) = assembler.poll_event() else {
            panic!("expected a binary frame");
        };
        let mut echo = Vec::new();
        encode_frame(&mut echo, OpCode::Binary, true, payload, None).unwrap();
        echo
    }

    #[test]
    fn a_relay_partners_frames_are_counted_and_only_a_relay_may_send_them() {
        for relay in [true, false] {
            let (mut stats, mut rng) = (Stats::default(), Rng::new(1));
            let mut ctx = Context {
                stats: &mut stats,
                rng: &mut rng,
                now_ns: 1_000,
                chat: None,
            };
            let raw = Target {
                raw_echo: true,
                raw_relay: relay,
                ..target()
            };
            let (mut ours, mut partner) = (ClientConn::new(3, 0), ClientConn::new(4, 0));
            assert!(ours.handle_connected(&raw, &mut ctx, &mut Vec::new()));
            assert!(partner.handle_connected(&raw, &mut ctx, &mut Vec::new()));
            let (mut scratch, mut frame) = (Vec::new(), Vec::new());
            partner.write_message(1_000, 64, &mut ctx, &mut scratch, &mut frame);
            // A relay forwards the partner's masked frame as it is.
            let result = ours.handle_bytes(&frame, &mut ctx, &mut Vec::new());
            if relay {
                assert_eq!(result.unwrap().echoes, 0);
                assert_eq!(ctx.stats.relayed, 1);
            } else {
                assert!(matches!(result, Err(ClientError::CorruptPayload)));
            }
        }
    }

    #[test]
    fn echo_latency_counts_from_the_intended_time() {
        let (mut stats, mut rng) = (Stats::default(), Rng::new(1));
        let mut conn = upgraded(&mut stats, &mut rng);
        let (mut scratch, mut frame) = (Vec::new(), Vec::new());
        let mut ctx = Context {
            stats: &mut stats,
            rng: &mut rng,
            now_ns: 5_000_000,
            chat: None,
        };
        // Scheduled at 1 ms, sent late at 5 ms.
        conn.write_message(1_000_000, 64, &mut ctx, &mut scratch, &mut frame);
        assert_eq!(conn.in_flight(), 1);
        let echo = echo_of(&frame);
        let mut ctx = Context {
            stats: &mut stats,
            rng: &mut rng,
            now_ns: 9_000_000,
            chat: None,
        };
        let mut out = Vec::new();
        let progress = conn.handle_bytes(&echo, &mut ctx, &mut out).unwrap();
        assert_eq!(progress.echoes, 1);
        assert_eq!(conn.in_flight(), 0);
        // 9 ms − 1 ms, not 9 ms − 5 ms: the client's own lateness is not forgiven.
        let latency_ns = stats.latency.max();
        assert!(stats.latency.equivalent(latency_ns, 8_000_000));
        assert!(stats.send_lag.equivalent(stats.send_lag.max(), 4_000_000));
        // The same echo again is a duplicate.
        let mut ctx = Context {
            stats: &mut stats,
            rng: &mut rng,
            now_ns: 9_500_000,
            chat: None,
        };
        conn.handle_bytes(&echo, &mut ctx, &mut out).unwrap();
        assert_eq!((stats.received, stats.duplicated), (1, 1));
    }

    #[test]
    fn pings_get_masked_pongs_and_server_close_is_an_error() {
        let (mut stats, mut rng) = (Stats::default(), Rng::new(2));
        let mut conn = upgraded(&mut stats, &mut rng);
        let mut ping = Vec::new();
        encode_frame(&mut ping, OpCode::Ping, true, b"hb", None).unwrap();
        let mut out = Vec::new();
        let mut ctx = Context {
            stats: &mut stats,
            rng: &mut rng,
            now_ns: 3_000,
            chat: None,
        };
        conn.handle_bytes(&ping, &mut ctx, &mut out).unwrap();
        let mut server = MessageAssembler::new(Role::Server, AssemblerLimits::default()).unwrap();
        server.handle_bytes(&out).unwrap();
        assert_eq!(server.poll_event(), Some(Event::Pong(b"hb")));
        let mut close = Vec::new();
        encode_close(&mut close, CloseCode(1001), "bye", None).unwrap();
        let result = conn.handle_bytes(&close, &mut ctx, &mut out);
        assert_eq!(result, Err(ClientError::ServerClosed(1001)));
        assert_eq!(conn.phase, Phase::Done);
        assert_eq!(stats.pings_answered, 1);
        assert_eq!(stats.open, 0);
    }
}
