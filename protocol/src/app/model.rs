//! The owned frame model: one plain struct per kind. Decoding views convert into it
//! ([`crate::app::Frame::to_owned_frame`]), both encoders take it, and the conformance tests compare it.
//!
//! Identifier types: message ids are 16 bytes ([`MessageId`], a client-made UUID v4 or v7); conversation,
//! user, agent and ticket ids are `u64`; sequences are `u64` per conversation, starting at 1. An empty
//! string means "absent" in both encodings.

use super::codes::{
    ConversationState, ErrorCode, GapReason, PresenceState, SenderRole, StatusMode, TicketStatus,
};
use super::kind::{Kind, Lane};

/// A 16-byte message id chosen by the sending client (UUID v4 or v7), used to de-duplicate retries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct MessageId(pub [u8; 16]);

impl MessageId {
    /// The two halves stored in FlatBuffers bodies: bytes 0..8 and 8..16, each big-endian.
    pub fn to_halves(self) -> (u64, u64) {
        let (hi, lo) = self.0.split_at(8);
        (
            u64::from_be_bytes(hi.try_into().expect("8 bytes")),
            u64::from_be_bytes(lo.try_into().expect("8 bytes")),
        )
    }

    /// The id from its two big-endian halves.
    pub fn from_halves(hi: u64, lo: u64) -> MessageId {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&hi.to_be_bytes());
        bytes[8..].copy_from_slice(&lo.to_be_bytes());
        MessageId(bytes)
    }
}

/// `hello`: client → server, first frame of a connection.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Hello {
    /// The protocol version the client speaks (1 for this document).
    pub protocol_version: u16,
    /// Bearer token; empty when it came with the WebSocket handshake.
    pub auth_token: String,
    /// Resume token from an earlier `welcome`; empty for a new session.
    pub resume_token: String,
}

/// `welcome`: server → client, answer to `hello`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Welcome {
    /// The protocol version the server will speak on this connection.
    pub protocol_version: u16,
    /// Send a `ping` when nothing was sent for this long, in milliseconds.
    pub heartbeat_interval_ms: u32,
    /// Token to present in a later `hello`/`resume` to resume this session.
    pub resume_token: String,
    /// Server wall clock, Unix milliseconds.
    pub server_time_ms: u64,
}

/// `send`: client → server, a new chat message.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SendMessage {
    /// Client-chosen id; a retry carries the same id and is acked, not stored twice.
    pub message_id: MessageId,
    /// Target conversation.
    pub conversation_id: u64,
    /// The text (UTF-8).
    pub text: String,
}

/// `ack`: server → client, the `send` with `message_id` is stored under `sequence`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Ack {
    /// The id from the `send`.
    pub message_id: MessageId,
    /// The conversation.
    pub conversation_id: u64,
    /// The sequence the owner shard assigned.
    pub sequence: u64,
}

/// `deliver`: server → client, one message of a conversation.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Deliver {
    /// The conversation.
    pub conversation_id: u64,
    /// Position in the conversation (gapless, starting at 1).
    pub sequence: u64,
    /// The sender's message id.
    pub message_id: MessageId,
    /// The sending user.
    pub sender_id: u64,
    /// The sender's role.
    pub sender_role: SenderRole,
    /// When the server stored it, Unix milliseconds.
    pub sent_at_ms: u64,
    /// The text (UTF-8).
    pub text: String,
}

/// One conversation inside a `resume`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ResumePosition {
    /// The conversation.
    pub conversation_id: u64,
    /// The last sequence the client holds; 0 when it holds none.
    pub last_sequence: u64,
}

/// `resume`: client → server, where the client stands in each conversation after a reconnect.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Resume {
    /// Resume token from the previous `welcome`.
    pub resume_token: String,
    /// One entry per conversation.
    pub positions: Vec<ResumePosition>,
}

/// `replay`: server → client, `deliver` frames for `from_sequence..=to_sequence` follow, in order.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Replay {
    /// The conversation.
    pub conversation_id: u64,
    /// First replayed sequence.
    pub from_sequence: u64,
    /// Last replayed sequence.
    pub to_sequence: u64,
}

/// `gap`: server → client, `from_sequence..=to_sequence` were missed and cannot be replayed.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Gap {
    /// The conversation.
    pub conversation_id: u64,
    /// First missing sequence.
    pub from_sequence: u64,
    /// Last missing sequence.
    pub to_sequence: u64,
    /// Why.
    pub reason: GapReason,
}

/// `typing`: both directions.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Typing {
    /// The conversation.
    pub conversation_id: u64,
    /// Who is typing (set by the server; 0 from clients).
    pub user_id: u64,
    /// Started (true) or stopped (false) typing.
    pub active: bool,
}

/// `read_receipt`: both directions, `user_id` has read up to and including `sequence`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ReadReceipt {
    /// The conversation.
    pub conversation_id: u64,
    /// The reader (set by the server; 0 from clients).
    pub user_id: u64,
    /// Highest sequence read.
    pub sequence: u64,
}

/// `ticket`: server → client a ticket was opened or changed; client → server an agent changes one.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Ticket {
    /// The ticket: unique per tenant for ever.
    pub ticket_id: u64,
    /// Its conversation.
    pub conversation_id: u64,
    /// New state.
    pub status: TicketStatus,
    /// Short subject line.
    pub subject: String,
    /// The agent group it is routed to, as decimal text; may be empty.
    pub agent_group: String,
    /// The agent holding it; 0 for none.
    pub agent_id: u64,
    /// Free text with the change.
    pub note: String,
}

/// `handoff`: server → client, the conversation moves to an agent.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Handoff {
    /// The conversation.
    pub conversation_id: u64,
    /// The receiving agent; 0 while queued for a group.
    pub agent_id: u64,
    /// The agent group.
    pub agent_group: String,
    /// Why (for the agent console).
    pub reason: String,
}

/// `error`: both directions.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ErrorReport {
    /// Machine-readable code.
    pub code: ErrorCode,
    /// Human-readable detail (English, for logs).
    pub message: String,
    /// Retry no sooner than this, in milliseconds.
    pub retry_after_ms: Option<u32>,
}

/// `ping`: both directions; the receiver answers with `pong` at once.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Ping {
    /// Sender's clock, milliseconds (any epoch; echoed back).
    pub timestamp_ms: u64,
    /// Server → client only: the new heartbeat interval when it changed.
    pub heartbeat_interval_ms: Option<u32>,
}

/// `pong`: both directions.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Pong {
    /// `timestamp_ms` of the answered `ping`.
    pub ping_timestamp_ms: u64,
    /// Answering side's clock, milliseconds.
    pub timestamp_ms: u64,
}

/// `history_query`: client → server.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct HistoryQuery {
    /// Client-chosen id echoed in the result.
    pub query_id: u32,
    /// The conversation.
    pub conversation_id: u64,
    /// Messages with a sequence below this; 0 means "the latest".
    pub before_sequence: u64,
    /// At most this many messages.
    pub limit: u16,
}

/// `history_result`: server → client.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct HistoryResult {
    /// The `query_id` of the query.
    pub query_id: u32,
    /// The conversation.
    pub conversation_id: u64,
    /// Ascending by sequence.
    pub messages: Vec<Deliver>,
    /// More messages exist before the first one returned.
    pub has_more: bool,
}

/// `fragment`: one piece of a large encoded frame (see [`crate::app::Fragmenter`]).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Fragment {
    /// Sender-chosen id of the fragmented message, unique among its partial messages.
    pub fragment_id: u64,
    /// Position of this piece, from 0.
    pub index: u32,
    /// Number of pieces.
    pub count: u32,
    /// Length of the whole message, in bytes.
    pub total_bytes: u32,
    /// This piece's bytes.
    pub data: Vec<u8>,
}

/// `conversation_update`: both directions. Client → server it asks for a state change (agents and admins;
/// customers only `resolved` for their own conversation); server → client it announces the new state to
/// every follower of the conversation.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ConversationUpdate {
    /// The conversation.
    pub conversation_id: u64,
    /// The requested or new state.
    pub state: ConversationState,
    /// The assigned (or requested) agent; 0 for none.
    pub agent_id: u64,
    /// The agent group's id as decimal text (a transfer target when queued); may be empty.
    pub agent_group: String,
    /// Why (for the agent console and logs).
    pub reason: String,
}

/// `status`: server → client, the shard's degradation mode.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Status {
    /// The current mode.
    pub mode: StatusMode,
    /// Advice for request classes the mode refuses, in milliseconds; 0 in normal mode.
    pub retry_after_ms: u32,
    /// Human-readable detail (English, for logs).
    pub message: String,
}

/// `presence`: client → server an agent chooses its presence; server → client the agent's effective
/// presence.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Presence {
    /// The agent (set by the server; 0 from clients).
    pub user_id: u64,
    /// The presence.
    pub presence: PresenceState,
    /// Why it changed.
    pub reason: String,
}

/// One conversation in an agent's [`Inbox`].
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct InboxEntry {
    /// The conversation.
    pub conversation_id: u64,
    /// Its customer.
    pub customer_id: u64,
    /// Its routing state.
    pub state: ConversationState,
    /// The assigned agent; 0 while queued.
    pub agent_id: u64,
    /// The agent group's id as decimal text.
    pub agent_group: String,
    /// The newest sequence the server knows of; 0 if unknown.
    pub last_sequence: u64,
    /// Customer messages since the agent's last reply.
    pub unread: u32,
    /// Milliseconds waited in the queue, or since the assignment.
    pub waiting_ms: u64,
    /// Place in the group's queue, from 1; 0 when assigned.
    pub position: u32,
}

/// `inbox`: client → server an agent asks (all fields empty); server → client the snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Inbox {
    /// The agent.
    pub agent_id: u64,
    /// The agent's effective presence.
    pub presence: PresenceState,
    /// Conversations assigned to the agent.
    pub assigned: Vec<InboxEntry>,
    /// Conversations waiting in the agent's groups' queues, first served first.
    pub queued: Vec<InboxEntry>,
    /// Open tickets of the agent's groups.
    pub tickets: Vec<Ticket>,
}

/// The body of a frame, by kind.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(missing_docs)] // Each variant is the struct of the same name.
pub enum Message {
    Hello(Hello),
    Welcome(Welcome),
    Send(SendMessage),
    Ack(Ack),
    Deliver(Deliver),
    Resume(Resume),
    Replay(Replay),
    Gap(Gap),
    Typing(Typing),
    ReadReceipt(ReadReceipt),
    Ticket(Ticket),
    Handoff(Handoff),
    Error(ErrorReport),
    Ping(Ping),
    Pong(Pong),
    HistoryQuery(HistoryQuery),
    HistoryResult(HistoryResult),
    Fragment(Fragment),
    ConversationUpdate(ConversationUpdate),
    Status(Status),
    Presence(Presence),
    Inbox(Inbox),
}

impl Message {
    /// The frame kind that carries this message.
    pub fn kind(&self) -> Kind {
        match self {
            Message::Hello(_) => Kind::Hello,
            Message::Welcome(_) => Kind::Welcome,
            Message::Send(_) => Kind::Send,
            Message::Ack(_) => Kind::Ack,
            Message::Deliver(_) => Kind::Deliver,
            Message::Resume(_) => Kind::Resume,
            Message::Replay(_) => Kind::Replay,
            Message::Gap(_) => Kind::Gap,
            Message::Typing(_) => Kind::Typing,
            Message::ReadReceipt(_) => Kind::ReadReceipt,
            Message::Ticket(_) => Kind::Ticket,
            Message::Handoff(_) => Kind::Handoff,
            Message::Error(_) => Kind::Error,
            Message::Ping(_) => Kind::Ping,
            Message::Pong(_) => Kind::Pong,
            Message::HistoryQuery(_) => Kind::HistoryQuery,
            Message::HistoryResult(_) => Kind::HistoryResult,
            Message::Fragment(_) => Kind::Fragment,
            Message::ConversationUpdate(_) => Kind::ConversationUpdate,
            Message::Status(_) => Kind::Status,
            Message::Presence(_) => Kind::Presence,
            Message::Inbox(_) => Kind::Inbox,
        }
    }
}

/// A whole frame: lane plus message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedFrame {
    /// The priority lane.
    pub lane: Lane,
    /// The body.
    pub message: Message,
}

impl OwnedFrame {
    /// A frame on its kind's default lane.
    pub fn new(message: Message) -> OwnedFrame {
        OwnedFrame {
            lane: message.kind().default_lane(),
            message,
        }
    }
}
