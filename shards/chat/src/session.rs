//! [`Session`]: the switchboard.v1 side of one client connection, on the shard the connection lives on.
//!
//! Sans-IO: [`Session::handle_message`] takes one WebSocket message (binary frames or one JSON frame) and
//! appends what must happen to an output list: frames for this connection, requests for conversation
//! owners, a close. Order of a session: `hello` (token checked) → `welcome` → anything else. Frames
//! before `hello` other than `ping` get `invalid_state`; a bad token gets `unauthorized` and a close (1008).

use std::sync::Arc;

use switchboard_protocol::app::{
    json, parse_frame, ConversationState, ConversationUpdate, ErrorCode, FrameLimits, Lane,
    Message, MessageId, OwnedFrame, Pong, PresenceState, Reaction, Reassembler, ReassemblerConfig,
};

mod hello;
mod send;

use send::SendFields;

use super::config::{ChatConfig, HISTORY_PAGE_MAX};
use super::messages::{Request, StateChange};
use super::owner::error_frame;
use super::quota::RateBucket;
use super::reads::ReadGate;
use super::recycle::Recycler;
use switchboard_auth::{Claims, Keyring, Role, TokenError};

/// Longest `reason` a client may give in a `conversation_update`, bytes.
pub const UPDATE_REASON_BYTES_MAX: usize = 512;

/// Close code for a session that failed authentication or never said `hello` in time (policy violation).
pub const CLOSE_POLICY: u16 = switchboard_protocol::ws::CloseCode::POLICY_VIOLATION.0;

/// How frames are encoded on this connection (the negotiated subprotocol).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `switchboard.v1`: binary frames with FlatBuffers bodies.
    Binary,
    /// `switchboard.json.v1`: one JSON object per text message.
    Json,
}

/// What the shard must do after a message.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionOutput {
    /// Send this frame to the connection.
    Frame(OwnedFrame),
    /// Send this request to the conversation's owner.
    Request(Request),
    /// The session authenticated: register it (local user index, agent presence).
    Authenticated(Arc<Claims>),
    /// Close the connection with this code (after the frames already queued).
    Close(u16),
    /// A token was refused (for counters and logs; the client's `error` frame says why).
    Unauthorized(TokenError),
    /// A complete frame arrived on this lane (for the per-lane message counts).
    Received(Lane),
    /// An agent's console asks the routing shard for something about the agent itself.
    Console(ConsoleRequest),
}

/// What an agent's console asks about the agent itself (answered by the routing shard).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsoleRequest {
    /// The agent chooses its presence.
    Presence(PresenceState),
    /// The agent's inbox.
    Inbox,
}

/// The environment a message is handled in.
#[derive(Debug, Clone, Copy)]
pub struct SessionContext<'a> {
    /// Verifies tokens.
    pub keyring: &'a Keyring,
    /// Chat limits.
    pub config: &'a ChatConfig,
    /// Unix time, milliseconds (token expiry, `welcome.server_time_ms`).
    pub wall_ms: u64,
    /// The shard's monotonic time, milliseconds (rate limits).
    pub now_ms: u64,
    /// The heartbeat interval to announce in `welcome`.
    pub heartbeat_interval_ms: u64,
}

/// A conversation the connection follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Follow {
    /// The conversation.
    pub conversation: u64,
    /// When the last "started typing" was fanned out, for the typing rate limit.
    pub typing_at_ms: Option<u64>,
    /// The state of the last typing indicator fanned out: a repeat of it is dropped.
    pub typing_active: bool,
}

/// One connection's switchboard.v1 session.
#[derive(Debug)]
pub struct Session {
    encoding: Encoding,
    principal: Option<Arc<Claims>>,
    /// The token from the upgrade request, used when `hello.auth_token` is empty.
    handshake_token: Option<String>,
    /// The upgrade's `Origin`, kept only while `chat.origins` has lists (checked at `hello`).
    origin: Option<String>,
    reassembler: Option<Box<Reassembler>>,
    follows: Vec<Follow>,
    frame_limits: FrameLimits,
    /// This connection's reads in flight and waiting.
    reads: ReadGate,
    /// This connection's request quota (`chat.connection_requests_per_second_max`), full when first used.
    quota: Option<RateBucket>,
    /// When (shard ms) the oldest fragmented message still being reassembled began, if any.
    reassembly_since_ms: Option<u64>,
}

impl Session {
    /// A session on a connection that negotiated `encoding`, with the token from its upgrade request.
    pub fn new(
        encoding: Encoding,
        handshake_token: Option<String>,
        message_bytes_max: u32,
    ) -> Self {
        Session {
            encoding,
            principal: None,
            handshake_token,
            origin: None,
            reassembler: None,
            follows: Vec::new(),
            frame_limits: FrameLimits {
                body_bytes_max: message_bytes_max.clamp(
                    FrameLimits::BODY_BYTES_MAX_MIN,
                    FrameLimits::BODY_BYTES_MAX_MAX,
                ),
            },
            reads: ReadGate::default(),
            quota: None,
            reassembly_since_ms: None,
        }
    }

    /// Keeps the upgrade's `Origin` for the tenant check at `hello` (`chat.origins`).
    pub fn set_origin(&mut self, origin: Option<String>) {
        self.origin = origin;
    }

    /// When (shard ms) the fragmented messages this connection has started and not finished began to
    /// arrive (`None`: none unfinished). The shard closes a connection that leaves one unfinished for
    /// `limits.partial_message_timeout_ms`.
    pub fn reassembly_since_ms(&self) -> Option<u64> {
        self.reassembly_since_ms
    }

    /// Bytes held for fragmented messages being reassembled.
    pub fn reassembly_bytes(&self) -> usize {
        self.reassembler
            .as_ref()
            .map_or(0, |reassembler| reassembler.buffered_bytes())
    }

    /// This connection's reads in flight and waiting (driven by the shard).
    pub fn reads_mut(&mut self) -> &mut ReadGate {
        &mut self.reads
    }

    /// Takes one request from this connection's quota at `now_ms` (a full bucket of `rate_per_second`
    /// the first time), or says how many milliseconds until one is available.
    pub fn take_quota(&mut self, rate_per_second: u64, now_ms: u64) -> Result<(), u64> {
        self.quota
            .get_or_insert_with(|| RateBucket::full(rate_per_second, now_ms))
            .take(rate_per_second, now_ms)
    }

    /// The negotiated encoding.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// Who is on the other end, once `hello` succeeded.
    pub fn principal(&self) -> Option<&Arc<Claims>> {
        self.principal.as_ref()
    }

    /// The conversations this connection follows.
    pub fn follows(&self) -> &[Follow] {
        &self.follows
    }

    /// Records that the connection follows `conversation` because it is a participant (no limit applies:
    /// a customer or agent always receives its own conversations).
    pub fn note_follow(&mut self, conversation: u64) {
        if !self
            .follows
            .iter()
            .any(|follow| follow.conversation == conversation)
        {
            self.follows.push(Follow {
                conversation,
                typing_at_ms: None,
                typing_active: false,
            });
        }
    }

    /// Stops following `conversation` (access refused, or the owner said so). Returns whether it was followed.
    pub fn unfollow(&mut self, conversation: u64) -> bool {
        let before = self.follows.len();
        self.follows
            .retain(|follow| follow.conversation != conversation);
        self.follows.len() != before
    }

    /// Handles one WebSocket message: all binary frames in it, or one JSON frame. A `send`'s text goes
    /// to its owner in a buffer from `texts` (the shard's, so that it is reused once the owner is done).
    pub fn handle_message(
        &mut self,
        payload: &[u8],
        (ctx, texts): (&SessionContext<'_>, &mut Recycler<String>),
        out: &mut Vec<SessionOutput>,
    ) {
        match self.encoding {
            Encoding::Json => {
                let mut text = payload.to_vec();
                match json::parse_json(&mut text) {
                    Ok(frame) => self.handle_frame(frame, (ctx, texts), out),
                    Err(error) => react(error.reaction(), &error.to_string(), out),
                }
            }
            Encoding::Binary => {
                let partials = |session: &Session| {
                    session
                        .reassembler
                        .as_ref()
                        .map_or(0, |reassembler| reassembler.partial_messages())
                };
                let before = partials(self);
                self.handle_binary(payload, (ctx, texts), out, 0);
                let after = partials(self);
                // The clock runs from the first unfinished message, and restarts when one finishes (the
                // client is making progress).
                self.reassembly_since_ms = match (after, self.reassembly_since_ms) {
                    (0, _) => None,
                    (_, None) => Some(ctx.now_ms),
                    (_, Some(_)) if after < before => Some(ctx.now_ms),
                    (_, since) => since,
                };
            }
        }
    }

    fn handle_binary(
        &mut self,
        mut input: &[u8],
        (ctx, texts): (&SessionContext<'_>, &mut Recycler<String>),
        out: &mut Vec<SessionOutput>,
        depth: u8,
    ) {
        while !input.is_empty() {
            match parse_frame(input, &self.frame_limits) {
                Ok(Some((frame, consumed))) => {
                    input = &input[consumed..];
                    if let switchboard_protocol::app::Body::Fragment(piece) = frame.body {
                        if depth > 0 {
                            // A fragment inside a reassembled message would allow unbounded nesting.
                            return out.push(SessionOutput::Close(1002));
                        }
                        let reassembler = self.reassembler.get_or_insert_with(|| {
                            Box::new(
                                Reassembler::new(ReassemblerConfig::default())
                                    .expect("default limits are valid"),
                            )
                        });
                        match reassembler.push(piece) {
                            Ok(Some(whole)) => {
                                self.handle_binary(&whole, (ctx, texts), out, depth + 1)
                            }
                            Ok(None) => {}
                            Err(error) => return react(error.reaction(), &error.to_string(), out),
                        }
                    } else if let switchboard_protocol::app::Body::Send(send) = frame.body {
                        // Read in place: the text is copied once, into a recycled buffer.
                        let send = SendFields {
                            message_id: MessageId::from_halves(
                                send.message_id_hi(),
                                send.message_id_lo(),
                            ),
                            conversation_id: send.conversation_id(),
                            text: send.text().unwrap_or_default(),
                        };
                        self.send_in_place(frame.lane, send, (ctx, texts), out);
                    } else {
                        self.handle_frame(frame.to_owned_frame(), (ctx, texts), out);
                    }
                }
                // A frame cut at the end of a WebSocket message: frames never span messages.
                Ok(None) => return out.push(SessionOutput::Close(1002)),
                Err(error) => {
                    react(error.reaction(), &error.to_string(), out);
                    match error.skip_bytes() {
                        Some(skip) => input = &input[skip.min(input.len())..],
                        None => return,
                    }
                }
            }
            // A close is always the last output pushed; nothing after it is read.
            if matches!(out.last(), Some(SessionOutput::Close(_))) {
                return;
            }
        }
    }

    fn handle_frame(
        &mut self,
        frame: OwnedFrame,
        (ctx, texts): (&SessionContext<'_>, &mut Recycler<String>),
        out: &mut Vec<SessionOutput>,
    ) {
        out.push(SessionOutput::Received(frame.lane));
        match frame.message {
            Message::Ping(ping) => {
                out.push(SessionOutput::Frame(OwnedFrame::new(Message::Pong(Pong {
                    ping_timestamp_ms: ping.timestamp_ms,
                    timestamp_ms: ctx.wall_ms,
                }))))
            }
            Message::Pong(_) | Message::Error(_) => {}
            Message::Hello(hello) => self.hello(hello, ctx, out),
            _ if self.principal.is_none() => {
                out.push(refusal(ErrorCode::INVALID_STATE, "send hello first"))
            }
            Message::Send(send) => self.send(
                SendFields {
                    message_id: send.message_id,
                    conversation_id: send.conversation_id,
                    text: &send.text,
                },
                (ctx, texts),
                out,
            ),
            Message::Resume(resume) => {
                if !resume.resume_token.is_empty()
                    && !resume.resume_token.starts_with(RESUME_TOKEN_PREFIX)
                {
                    out.push(refusal(ErrorCode::RESUME_REJECTED, "unknown resume token"));
                }
                for (index, position) in resume.positions.iter().enumerate() {
                    if index as u64 >= ctx.config.resume_positions_max {
                        out.push(refusal(
                            ErrorCode::INVALID_STATE,
                            "too many resume positions",
                        ));
                        break;
                    }
                    if self.follow(position.conversation_id, ctx, out) {
                        out.push(SessionOutput::Request(Request::Resume {
                            conversation: position.conversation_id,
                            last_sequence: position.last_sequence,
                        }));
                    }
                }
            }
            Message::HistoryQuery(query) => out.push(SessionOutput::Request(Request::History {
                query_id: query.query_id,
                conversation: query.conversation_id,
                before_sequence: query.before_sequence,
                limit: query.limit.clamp(1, HISTORY_PAGE_MAX),
            })),
            Message::Typing(typing) => self.typing(typing.conversation_id, typing.active, ctx, out),
            Message::ReadReceipt(receipt) => out.push(SessionOutput::Request(Request::Read {
                conversation: receipt.conversation_id,
                sequence: receipt.sequence,
            })),
            Message::ConversationUpdate(update) => match state_change(&update) {
                Ok(change) if update.reason.len() <= UPDATE_REASON_BYTES_MAX => {
                    out.push(SessionOutput::Request(Request::Update {
                        conversation: update.conversation_id,
                        change,
                        reason: update.reason,
                    }))
                }
                Ok(_) => out.push(refusal(
                    ErrorCode::MESSAGE_TOO_LARGE,
                    "conversation_update reason longer than 512 bytes",
                )),
                Err(why) => out.push(refusal(ErrorCode::INVALID_STATE, why)),
            },
            Message::Presence(presence) => match self.principal.as_ref().map(|p| p.role) {
                Some(Role::Agent) if presence.presence.name().is_some() => out.push(
                    SessionOutput::Console(ConsoleRequest::Presence(presence.presence)),
                ),
                Some(Role::Agent) => out.push(refusal(
                    ErrorCode::INVALID_STATE,
                    "presence must be offline, online or away",
                )),
                _ => out.push(refusal(ErrorCode::FORBIDDEN, "only agents have a presence")),
            },
            Message::Inbox(_) => match self.principal.as_ref().map(|p| p.role) {
                Some(Role::Agent) => out.push(SessionOutput::Console(ConsoleRequest::Inbox)),
                _ => out.push(refusal(ErrorCode::FORBIDDEN, "only agents have an inbox")),
            },
            Message::Ticket(ticket) if ticket.note.len() <= UPDATE_REASON_BYTES_MAX => {
                out.push(SessionOutput::Request(Request::Ticket {
                    conversation: ticket.conversation_id,
                    ticket: ticket.ticket_id,
                    status: ticket.status,
                    note: ticket.note,
                }))
            }
            Message::Ticket(_) => out.push(refusal(
                ErrorCode::MESSAGE_TOO_LARGE,
                "ticket note longer than 512 bytes",
            )),
            Message::Welcome(_)
            | Message::Status(_)
            | Message::Ack(_)
            | Message::Deliver(_)
            | Message::Replay(_)
            | Message::Gap(_)
            | Message::Handoff(_)
            | Message::HistoryResult(_)
            | Message::Fragment(_) => out.push(refusal(
                ErrorCode::INVALID_STATE,
                "server-to-client frame kind",
            )),
        }
    }

    fn typing(
        &mut self,
        conversation: u64,
        active: bool,
        ctx: &SessionContext<'_>,
        out: &mut Vec<SessionOutput>,
    ) {
        let interval = ctx.config.typing_interval_ms_min;
        if !self.follow(conversation, ctx, out) {
            return;
        }
        let follow = self
            .follows
            .iter_mut()
            .find(|follow| follow.conversation == conversation)
            .expect("just followed");
        // "Stopped" goes through once after "started" (a repeat of it is dropped: 20,000 in one message
        // all reached the follower before); "started" at most once per interval.
        let repeat_too_soon = follow
            .typing_at_ms
            .is_some_and(|at| ctx.now_ms < at + interval);
        if (!active && !follow.typing_active) || (active && repeat_too_soon) {
            return;
        }
        follow.typing_active = active;
        if active {
            follow.typing_at_ms = Some(ctx.now_ms);
        }
        out.push(SessionOutput::Request(Request::Typing {
            conversation,
            active,
        }));
    }

    /// Follows `conversation` (idempotent). Refuses with `rate_limited` beyond the per-connection bound.
    fn follow(
        &mut self,
        conversation: u64,
        ctx: &SessionContext<'_>,
        out: &mut Vec<SessionOutput>,
    ) -> bool {
        if self
            .follows
            .iter()
            .any(|follow| follow.conversation == conversation)
        {
            return true;
        }
        if self.follows.len() as u64 >= ctx.config.subscriptions_per_connection_max {
            out.push(refusal(
                ErrorCode::RATE_LIMITED,
                "following too many conversations on this connection",
            ));
            return false;
        }
        self.follows.push(Follow {
            conversation,
            typing_at_ms: None,
            typing_active: false,
        });
        true
    }
}

/// Resume tokens this server issues start with this; any other non-empty token is `resume_rejected`.
/// Sessions hold no server-side state beyond the connection, so the token only identifies the issuer:
/// resuming is driven by the per-conversation positions, which are always served.
pub const RESUME_TOKEN_PREFIX: &str = "sb1.";

/// What a client's `conversation_update` asks for, or why it is malformed.
fn state_change(update: &ConversationUpdate) -> Result<StateChange, &'static str> {
    match update.state {
        ConversationState::RESOLVED => Ok(StateChange::Resolve),
        ConversationState::QUEUED => update
            .agent_group
            .parse()
            .map(StateChange::ToGroup)
            .map_err(|_| "a transfer to a queue needs agent_group as a group id"),
        ConversationState::ASSIGNED if update.agent_id != 0 => {
            Ok(StateChange::ToAgent(update.agent_id))
        }
        ConversationState::ASSIGNED => Err("a transfer to an agent needs agent_id"),
        _ => Err("clients may only resolve or transfer a conversation"),
    }
}

fn refusal(code: ErrorCode, why: &str) -> SessionOutput {
    SessionOutput::Frame(error_frame(code, why, None))
}

fn react(reaction: Reaction, why: &str, out: &mut Vec<SessionOutput>) {
    match reaction {
        Reaction::ErrorFrame(code) => out.push(refusal(code, why)),
        Reaction::Close(code) => out.push(SessionOutput::Close(code)),
    }
}
