//! The named message types connection shards and owner shards exchange over the cross-core rings.
//!
//! A connection shard turns a client frame into a [`Request`] for the conversation's owner; the owner answers
//! the requesting connection with a [`Reply`] and fans messages out as [`Delivery`]s to every shard that
//! follows the conversation. Both travel in a [`ShardMsg`] on the SPSC ring from one shard to another (or are
//! handled in place when the owner is the same shard). Each ring is FIFO, which is what keeps a
//! conversation's deliveries in sequence order on every shard and a resume's replay before the live messages
//! that follow it.

use std::sync::Arc;

use switchboard_core::engine::ConnId;
use switchboard_protocol::app::{Lane, MessageId, OwnedFrame};

use switchboard_auth::Claims;
use switchboard_routing::shard::{RoutingInput, RoutingOutput};

/// A connection anywhere on the node: its shard and its engine id (index and generation, so a reply for a
/// connection that closed never reaches the next one on the same slot).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnRef {
    /// The shard the connection lives on.
    pub shard: usize,
    /// The connection on that shard.
    pub conn: ConnId,
}

/// What a client asks of a conversation's owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Store and deliver a message (`send`). `create` when the client sent to conversation 0 and
    /// `conversation` is the derived new id.
    Send {
        /// The client's message id (de-duplication key).
        message_id: MessageId,
        /// The conversation.
        conversation: u64,
        /// Whether this send opens the conversation.
        create: bool,
        /// The text, as the client sent it (masked by the owner); a buffer of the connection shard's
        /// [`Recycler`](crate::recycle::Recycler), reused once the owner dropped it.
        text: Arc<String>,
        /// When the connection shard decoded it, on the process-wide microsecond clock (0: not measured);
        /// the stage latencies (persisted, delivered) are measured from here.
        received_us: u64,
    },
    /// Replay what the client missed after `last_sequence` (`resume`).
    Resume {
        /// The conversation.
        conversation: u64,
        /// The last sequence the client holds.
        last_sequence: u64,
    },
    /// A page of older messages (`history_query`).
    History {
        /// Echoed in the result.
        query_id: u32,
        /// The conversation.
        conversation: u64,
        /// Messages below this sequence; 0 = the latest.
        before_sequence: u64,
        /// At most this many (already capped).
        limit: u16,
    },
    /// A typing indicator to fan out.
    Typing {
        /// The conversation.
        conversation: u64,
        /// Started or stopped.
        active: bool,
    },
    /// A read receipt to fan out.
    Read {
        /// The conversation.
        conversation: u64,
        /// Highest sequence read.
        sequence: u64,
    },
    /// A state change asked by a client (`conversation_update`): resolve or transfer.
    Update {
        /// The conversation.
        conversation: u64,
        /// What to change.
        change: StateChange,
        /// Why, in the client's words (shown to the agents; may be empty).
        reason: String,
    },
    /// An agent (or admin) changes a ticket of the conversation (`ticket`, client → server).
    Ticket {
        /// The ticket's conversation.
        conversation: u64,
        /// The ticket.
        ticket: u64,
        /// The new status (`assigned`, `pending`, `resolved` or `closed`; checked by the owner).
        status: switchboard_protocol::app::TicketStatus,
        /// The agent's note (bounded by the session).
        note: String,
    },
}

/// A conversation state change a client may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateChange {
    /// End the conversation (its customer, an agent on it, or an admin). A later customer message re-opens it.
    Resolve,
    /// Move it to this agent group's queue (agents and admins).
    ToGroup(u32),
    /// Give it to this agent (agents and admins); the agent must be online with capacity.
    ToAgent(u64),
}

impl Request {
    /// The conversation the request is about.
    pub fn conversation(&self) -> u64 {
        match self {
            Request::Send { conversation, .. }
            | Request::Resume { conversation, .. }
            | Request::History { conversation, .. }
            | Request::Typing { conversation, .. }
            | Request::Read { conversation, .. }
            | Request::Update { conversation, .. }
            | Request::Ticket { conversation, .. } => *conversation,
        }
    }

    /// Whether this request reads (and so is answered with a page or a replay, bounded in bytes and
    /// admitted by the connection's [`super::reads::ReadGate`]).
    pub fn is_read(&self) -> bool {
        matches!(self, Request::Resume { .. } | Request::History { .. })
    }
}

/// The owner's answer to one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The connection that asked.
    pub to: ConnRef,
    /// Frames for it, in order.
    pub frames: Vec<OwnedFrame>,
    /// Set when the reply ends a resume of this conversation: the connection follows it live from now on.
    /// Its frames are queued on one lane ([`REPLAY_QUEUE_LANE`]) so they arrive in the order given
    /// (sequence order), whatever lane each frame names.
    pub resumed: Option<u64>,
    /// Set when the connection was refused access: it stops following this conversation.
    pub refused: Option<u64>,
    /// Set when this reply answers a read ([`Request::is_read`]): every read gets exactly one such
    /// reply, which frees its place at the connection's [`super::reads::ReadGate`].
    pub completes_read: bool,
}

/// The owner's `ack` of a stored message, for the connection that sent it (and each retry of it): a
/// reply without a frame list, so that acknowledging costs no allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckReply {
    /// The connection that sent the message.
    pub to: ConnRef,
    /// The client's message id.
    pub message_id: MessageId,
    /// The conversation.
    pub conversation: u64,
    /// The sequence the message got.
    pub sequence: u64,
}

impl AckReply {
    /// The `ack` frame.
    pub fn frame(&self) -> OwnedFrame {
        crate::frames::ack_frame(self.message_id, self.conversation, self.sequence)
    }
}

/// The connection-queue lane of every frame of a resume's reply (docs/protocol.md §4, resume): one lane
/// keeps a replay in sequence order, and live `chat` deliveries queued after it stay behind it.
pub const REPLAY_QUEUE_LANE: switchboard_protocol::app::Lane =
    switchboard_protocol::app::Lane::Chat;

/// One frame for every connection following a conversation (and the participants' other devices).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The conversation's tenant.
    pub tenant: u64,
    /// The conversation.
    pub conversation: u64,
    /// Its customer: the customer's connections receive it even before they follow the conversation.
    pub customer: u64,
    /// Its agent, likewise.
    pub agent: Option<u64>,
    /// The agent group it is queued to or assigned through, when the frame was made: with the
    /// customer and agent, what decides who may still read it ([`Delivery::facts`]).
    pub group: Option<u32>,
    /// The frame (a `deliver`, `handoff`, `ticket`, `typing` or `read_receipt`), on its lane.
    pub frame: OwnedFrame,
    /// The connection that caused it (it got an `ack` instead), skipped.
    pub origin: Option<ConnRef>,
    /// For a client's message: when its `send` was decoded, on the process-wide microsecond clock; 0 for
    /// everything else (not measured).
    pub received_us: u64,
    /// Who among the followers gets it.
    pub audience: Audience,
    /// The conversation's interest epoch when it was sent (see [`ShardMsg::Unfollow`]).
    pub interest_epoch: u64,
    /// The connection-queue lane to queue it on instead of the frame's own: the recent messages sent
    /// with an assignment and their `replay` announcement queue together on [`REPLAY_QUEUE_LANE`], so a
    /// console gets them in sequence order, as a resume's replay.
    pub queue_lane: Option<Lane>,
}

/// Who among a conversation's followers gets a [`Delivery`]: a `handoff` tells agents what the bot
/// understood (intent, confidence, sentiment) and tells the customer, in other words, what happens next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Audience {
    /// Every follower.
    #[default]
    All,
    /// Agents and admins only (internal scoring, console summaries).
    Staff,
    /// The customer's connections only (customer-facing text).
    Customer,
}

impl Audience {
    /// Whether a connection of `role` gets a delivery for this audience.
    pub fn includes(self, role: switchboard_auth::Role) -> bool {
        match self {
            Audience::All => true,
            Audience::Staff => role != switchboard_auth::Role::Customer,
            Audience::Customer => role == switchboard_auth::Role::Customer,
        }
    }
}

impl Delivery {
    /// The conversation as access control sees it, when this frame was made.
    pub fn facts(&self) -> switchboard_auth::ConversationFacts {
        switchboard_auth::ConversationFacts {
            tenant: self.tenant,
            customer: self.customer,
            assigned_agent: self.agent,
            group: self.group,
        }
    }

    /// Whether the frame announces a change of who handles the conversation (`handoff`,
    /// `conversation_update`): followers who lose access by the change still get this one, so their
    /// console learns the conversation left them.
    pub fn announces_change(&self) -> bool {
        matches!(
            self.frame.message,
            switchboard_protocol::app::Message::Handoff(_)
                | switchboard_protocol::app::Message::ConversationUpdate(_)
        )
    }

    /// The frame's lane.
    pub fn lane(&self) -> Lane {
        self.frame.lane
    }
}

/// One item on a shard-to-shard ring.
#[derive(Debug)]
pub enum ShardMsg {
    /// To the owner: a client's request, with who asked.
    Request {
        /// The asking connection.
        from: ConnRef,
        /// Its verified identity.
        principal: Arc<Claims>,
        /// What it asks.
        request: Request,
    },
    /// From the owner to the asking connection's shard.
    Reply(Reply),
    /// From the owner to the sending connection's shard: its message is stored.
    Ack(AckReply),
    /// From the owner to a shard following the conversation. Shared by every shard, and recycled by
    /// the owner once every shard dropped it (see [`crate::recycle`]).
    Deliver(Arc<Delivery>),
    /// To the routing shard: a customer message, an agent's presence or reply.
    ToRouting(RoutingInput),
    /// From the routing shard to a conversation's owner: its decision.
    FromRouting(RoutingOutput),
    /// To the owner: this shard no longer has a connection following `conversation`.
    Unfollow {
        /// The conversation.
        conversation: u64,
        /// The shard leaving.
        shard: usize,
        /// The conversation's interest epoch the shard had seen ([`Delivery::interest_epoch`]); an
        /// owner whose epoch moved on since ignores it (the shard was added again meanwhile).
        epoch: u64,
    },
}
