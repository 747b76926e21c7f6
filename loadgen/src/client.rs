//! One client connection as a sans-IO state machine: upgrade, echo messages, pings, close.
//!
//! The shard feeds it engine events (`handle_connected`, `handle_bytes`) with the time as an argument and
//! sends whatever it appends to the caller's output buffer. It never touches a socket or a clock, so its
//! accounting can be tested with plain byte strings.

use switchboard_protocol::ws::handshake::{
    ClientHandshake, ClientHandshakeError, ClientRequest, HandshakeLimits,
};
use switchboard_protocol::ws::{
    encode_close, encode_frame, AssemblerLimits, CloseCode, Event, MessageAssembler, OpCode, Role,
    WsError,
};

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
    /// A text message arrived on a binary echo run.
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
}

/// The per-call context: where results go and what time it is.
pub struct Context<'a> {
    /// This thread's counters.
    pub stats: &'a mut Stats,
    /// Mask keys.
    pub rng: &'a mut Rng,
    /// Now, in nanoseconds since the run's epoch.
    pub now_ns: u64,
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
        }
    }

    /// TCP is up: appends the upgrade request to `out`.
    pub fn handle_connected(&mut self, target: &Target, ctx: &mut Context<'_>, out: &mut Vec<u8>) {
        assert_eq!(self.phase, Phase::Connecting, "connected twice");
        record(&mut ctx.stats.connect, ctx.now_ns - self.started_ns);
        ctx.stats.connected += 1;
        let request = ClientRequest {
            host: &target.host,
            path_and_query: &target.path,
            subprotocols: &[],
            origin: None,
            authorization: None,
        };
        self.handshake = Some(request.write(ctx.rng.nonce(), out));
        self.phase = Phase::Upgrading;
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
                    let header = PayloadHeader::read(payload)
                        .filter(|h| h.connection == self.number)
                        .ok_or(ClientError::CorruptPayload)?;
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
        let assembler = MessageAssembler::new(Role::Client, AssemblerLimits::default())
            .expect("default limits are valid");
        self.assembler = Some(assembler);
        self.phase = Phase::Open;
        record(&mut ctx.stats.upgrade, ctx.now_ns - self.started_ns);
        ctx.stats.upgraded += 1;
        ctx.stats.open += 1;
        Ok(Some(rest))
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
