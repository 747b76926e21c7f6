//! [`Owner`]: the owner side of the conversations one shard owns — the only writer of their state.
//!
//! Sans-IO apart from the log storage it is given: requests come in through [`Owner::handle`], the shard
//! commits the log once per loop tick ([`Owner::commit`]), and replies and deliveries come out of
//! [`Owner::poll_output`] in the order they must be acted on.
//!
//! A `send` goes: access check → de-duplication by message id → PII masking → next sequence → log append.
//! Nothing is acknowledged or delivered until the log's commit covers the record (with `fsync` durability
//! that means it is on disk); then the sender gets its `ack` and every shard following the conversation
//! gets the `deliver`, in sequence order. Resume and history read only released (acknowledged) messages,
//! which is what makes a replay and the live messages after it meet without loss or duplicates.
//!
//! - `request`: [`Owner::handle`], access checks and dispatch.
//! - `send`: opening a conversation and storing a `send`.
//! - `commit`: group commit and release (acks, deliveries, routing input).
//! - `replay`: `resume` and `history_query`.
//! - `update`: `conversation_update` (resolve, transfer, take).
//! - `routing`: the routing shard's decisions applied to a conversation.
//! - `open_count`: open conversations per customer and tenant (the open quota).
//! - `log_health`: the owner while its durable log is degraded.
//! - `tickets`: durable tickets, opened by the bot and worked by agents.
//! - `eviction`: idle resolved and bot conversations leave memory and come back from the log.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use switchboard_protocol::app::{ErrorCode, Lane, MessageId, OwnedFrame};
use tracing::error;

mod acks;
mod commit;
mod eviction;
mod log_health;
#[cfg(test)]
mod log_health_tests;
mod open_count;
pub use log_health::{LOG_RETRY_DELAY_MS_MAX, LOG_RETRY_DELAY_MS_MIN, RETRY_AFTER_LOG_DEGRADED_MS};
mod replay;
mod request;
mod routing;
mod send;
mod tickets;
pub use tickets::{TICKETS_PER_SHARD_MAX, TICKET_ID_SHARD_BITS};
#[cfg(test)]
mod tests;
mod update;

use super::config::ChatConfig;
use super::conversation::{Conversation, ConversationState};
pub use super::frames::{ack_frame, deliver_frame, error_frame, gap_frame, lane_of, sender_role};
use super::ids::ShardSet;
use super::messages::{AckReply, Audience, ConnRef, Delivery, Reply, Request};
use super::recovery::recover_conversations;
use super::recycle::Recycler;
use super::stored::{StoredMessage, StoredState, META_CONVERSATION, RECORD_MESSAGE, RECORD_STATE};
use open_count::OpenCount;
use switchboard_auth::{Action, Claims, Role};
use switchboard_log::{LogError, LogFile, LogStorage, Lsn, RecordHeader, ShardLog};
use switchboard_routing::shard::RoutingInput;

/// The file handle type of a storage's segments (a raw fd on disk).
pub type FileHandle<S> = <<S as LogStorage>::File as LogFile>::Handle;
use switchboard_pii::{PiiCounts, PiiPolicy};

/// Deliveries of stored messages kept for reuse (see [`crate::recycle`]): enough for the messages
/// between their append and the last shard's delivery under load; beyond it they are allocated.
pub const DELIVERIES_KEPT_MAX: usize = 1_024;

/// How long a client refused because the log's next commit group is full should wait, milliseconds.
const RETRY_LOG_BUSY_MS: u32 = 20;

/// The `sender_id` of the bot's messages.
pub const BOT_USER_ID: u64 = 0;

/// How long a client should wait before retrying after a server-side failure, in milliseconds.
const RETRY_AFTER_FAILURE_MS: u32 = 1_000;

/// Something the shard must do for the owner, in order.
#[derive(Debug)]
pub enum Outbound {
    /// Answer one connection (on its shard).
    Reply(Reply),
    /// Acknowledge a stored message to the connection that sent it (on its shard).
    Ack(AckReply),
    /// Fan a frame out to these shards (each delivers to its own followers).
    Deliver {
        /// The shards following the conversation.
        shards: ShardSet,
        /// What to deliver.
        delivery: Arc<Delivery>,
    },
    /// A customer message the routing shard should see (after it was acknowledged).
    CustomerMessage {
        /// The conversation's tenant.
        tenant: u64,
        /// The conversation.
        conversation: u64,
        /// The customer.
        customer: u64,
        /// The message's sequence.
        sequence: u64,
        /// The stored (masked) text.
        text: String,
        /// The customer's value to the tenant, `0..=1` (from their token).
        customer_value: f32,
        /// The unmasked text when masking changed it (for the bot's slots; never stored).
        raw: Option<String>,
    },
    /// Anything else for the routing shard (a resolved conversation, a transfer).
    ToRouting(RoutingInput),
    /// An agent answered in a conversation (stops the routing shard's reply timer).
    AgentReplied {
        /// The conversation's tenant.
        tenant: u64,
        /// The agent.
        agent: u64,
        /// The conversation.
        conversation: u64,
    },
}

/// Counters of one owner, read by the shard's metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OwnerCounters {
    /// Messages appended (first copies).
    pub messages_stored: u64,
    /// Retries answered with the original ack.
    pub duplicates: u64,
    /// Conversations created.
    pub conversations_created: u64,
    /// Requests refused by the access rules.
    pub forbidden: u64,
    /// Requests for conversations that do not exist.
    pub not_found: u64,
    /// Resumes served, and the messages they replayed.
    pub resumes: u64,
    /// Messages replayed by resumes.
    pub replayed: u64,
    /// Gap frames sent.
    pub gaps: u64,
    /// History pages served.
    pub history_queries: u64,
    /// Log failures (append or commit; a degraded log counts once, when it degrades).
    pub log_errors: u64,
    /// Conversations not opened or re-opened because the customer or tenant had too many open.
    pub quota_refusals: u64,
    /// Retries of a degraded log that failed.
    pub log_retries: u64,
    /// Sends (and conversation creations) refused because the log was degraded, including the waiting
    /// messages whose senders were told to retry when it degraded.
    pub log_refused: u64,
    /// The most records the damage found by the log's recovery may have lost (see
    /// [`switchboard_log::DamagedRange::records_max`]).
    pub log_damaged: u64,
    /// Conversations evicted from memory while idle.
    pub evicted: u64,
    /// Evicted conversations brought back from the log.
    pub reloaded: u64,
}

/// A message appended but not yet covered by a commit.
#[derive(Debug)]
struct Pending {
    lsn: Lsn,
    conversation: u64,
    sequence: u64,
    /// Connections to ack (the sender, plus retries that arrived before the commit).
    ack_to: acks::Acks,
    /// Its delivery, from [`Owner::deliveries`], handed to the followers' shards once committed.
    delivery: Arc<Delivery>,
    /// For customer messages the routing shard should see: the customer's value to the tenant, `0..=1`,
    /// and the unmasked text when masking changed it (memory only, until the commit hands it over).
    for_routing: Option<(f32, Option<String>)>,
    /// Set for agent messages (the routing shard's reply timer).
    from_agent: Option<u64>,
}

/// The conversations one shard owns, with their log.
pub struct Owner<S: LogStorage> {
    shard: usize,
    shards: usize,
    config: ChatConfig,
    pii: PiiPolicy,
    log: ShardLog<S>,
    conversations: HashMap<u64, Conversation>,
    meta_seq: u64,
    pending: VecDeque<Pending>,
    /// The deliveries of stored messages, reused once every shard dropped them.
    deliveries: Recycler<Delivery>,
    /// Outputs that tell of a state or ticket record not yet committed, with that record's LSN: released
    /// by the commit that covers it, in log order with the messages in `pending`.
    held: VecDeque<(Lsn, Outbound)>,
    out: VecDeque<Outbound>,
    counters: OwnerCounters,
    pii_counts: PiiCounts,
    scratch: Vec<u8>,
    /// Transfers sent to the routing shard, by conversation: who asked, and the reason text.
    transfers: HashMap<u64, (ConnRef, String)>,
    /// Open conversations by customer and tenant, for the open-conversation quotas.
    open: OpenCount,
    /// Set while the log is degraded (see `log_health`).
    degraded: Option<log_health::Degraded>,
    /// The tickets of this shard's conversations.
    tickets: tickets::Tickets,
    /// Conversations evicted from memory while idle, with the state they had (see `eviction`).
    evicted: HashMap<u64, ConversationState>,
    /// The latest wall-clock milliseconds the owner was given (activity stamps).
    wall_ms: u64,
}

impl<S: LogStorage> std::fmt::Debug for Owner<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Owner")
            .field("shard", &self.shard)
            .field("conversations", &self.conversations.len())
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

impl<S: LogStorage> Owner<S> {
    /// The owner of shard `shard` (of `shards`) over a recovered log; rebuilds the conversations from it.
    ///
    /// # Errors
    ///
    /// [`LogError`] when the log cannot be read back.
    pub fn new(
        shard: usize,
        shards: usize,
        config: ChatConfig,
        pii: PiiPolicy,
        log: ShardLog<S>,
    ) -> Result<Self, LogError> {
        let conversations = recover_conversations(&log, shards)?;
        // A state record lost to damage may have used a meta sequence: never give it again.
        let meta_seq = log.sequence_high_water(META_CONVERSATION).unwrap_or(0);
        let counters = OwnerCounters {
            log_damaged: log.damaged_ranges().iter().map(|r| r.records_max).sum(),
            ..OwnerCounters::default()
        };
        let open = OpenCount::of(conversations.values());
        let tickets = tickets::Tickets::recover(&log)?;
        let mut owner = Owner {
            shard,
            shards,
            config,
            pii,
            log,
            conversations,
            meta_seq,
            pending: VecDeque::new(),
            deliveries: Recycler::new(DELIVERIES_KEPT_MAX),
            held: VecDeque::new(),
            out: VecDeque::new(),
            counters,
            pii_counts: PiiCounts::default(),
            scratch: Vec::new(),
            transfers: HashMap::new(),
            open,
            degraded: None,
            tickets,
            evicted: HashMap::new(),
            wall_ms: 0,
        };
        owner.announce_open_tickets();
        owner.announce_held_conversations();
        Ok(owner)
    }

    /// The stored status of ticket `id`, if this owner holds it.
    pub fn ticket_status(&self, id: u64) -> Option<switchboard_protocol::app::TicketStatus> {
        self.tickets
            .by_id
            .get(&id)
            .map(|t| switchboard_protocol::app::TicketStatus(t.status))
    }

    /// The counters so far.
    pub fn counters(&self) -> OwnerCounters {
        self.counters
    }

    /// PII detections and actions so far.
    pub fn pii_counts(&self) -> &PiiCounts {
        &self.pii_counts
    }

    /// Conversations held.
    pub fn conversation_count(&self) -> usize {
        self.conversations.len()
    }

    /// Conversations held in `state`.
    pub fn count_in_state(&self, state: ConversationState) -> usize {
        self.conversations
            .values()
            .filter(|conversation| conversation.state == state)
            .count()
    }

    /// A conversation's current facts (tests and the routing wiring).
    pub fn conversation(&self, id: u64) -> Option<&Conversation> {
        self.conversations.get(&id)
    }

    /// The log (for metrics and tests).
    pub fn log(&self) -> &ShardLog<S> {
        &self.log
    }

    /// Messages appended and not yet committed.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// The next thing to do, in order.
    pub fn poll_output(&mut self) -> Option<Outbound> {
        self.out.pop_front()
    }

    /// `shard` has no connection following `conversation` any more.
    pub fn unfollow(&mut self, conversation: u64, shard: usize, epoch: u64) {
        if let Some(conversation) = self.conversations.get_mut(&conversation) {
            if epoch >= conversation.interest_epoch {
                conversation.interest.remove(shard);
            }
        }
    }

    pub(super) fn append_state(&mut self, conversation: &Conversation) -> Result<Lsn, LogError> {
        let state = StoredState {
            conversation: conversation.id,
            tenant: conversation.tenant,
            customer: conversation.customer,
            state: conversation.state,
            agent: conversation.agent,
            group: conversation.group,
        };
        self.scratch.clear();
        state.encode(&mut self.scratch);
        self.meta_seq += 1;
        let mut message_id = [0xFF; 16];
        message_id[8..].copy_from_slice(&self.meta_seq.to_be_bytes());
        message_id[..4].copy_from_slice(&(self.shard as u32).to_be_bytes());
        let header = RecordHeader {
            conversation_id: META_CONVERSATION,
            sequence: self.meta_seq,
            message_id,
            timestamp_ms: 0,
            lane: Lane::System as u8,
            kind: RECORD_STATE,
        };
        self.log
            .append(&header, &self.scratch)
            .inspect_err(|error| {
                if !self.log_error(error) {
                    self.counters.log_errors += 1;
                    error!(shard = self.shard, %error, "state record append failed");
                }
            })
    }

    pub(super) fn fan_out(
        &mut self,
        conversation_id: u64,
        frame: OwnedFrame,
        origin: Option<ConnRef>,
    ) {
        self.fan_out_to(conversation_id, frame, origin, Audience::All);
    }

    /// Like [`Owner::fan_out`], for one part of the followers only.
    pub(super) fn fan_out_to(
        &mut self,
        conversation_id: u64,
        frame: OwnedFrame,
        origin: Option<ConnRef>,
        audience: Audience,
    ) {
        self.fan_out_queued(conversation_id, frame, (origin, audience), None);
    }

    /// As [`Owner::fan_out_to`], queued on `queue_lane` instead of the frame's lane when set.
    pub(super) fn fan_out_queued(
        &mut self,
        conversation_id: u64,
        frame: OwnedFrame,
        (origin, audience): (Option<ConnRef>, Audience),
        queue_lane: Option<Lane>,
    ) {
        let conversation = &self.conversations[&conversation_id];
        let delivery = Delivery {
            tenant: conversation.tenant,
            conversation: conversation_id,
            customer: conversation.customer,
            agent: conversation.agent,
            group: conversation.group,
            frame,
            origin,
            received_us: 0,
            audience,
            interest_epoch: conversation.interest_epoch,
            queue_lane,
        };
        self.out.push_back(Outbound::Deliver {
            shards: conversation.interest,
            delivery: Arc::new(delivery),
        });
    }

    /// Acknowledges `message_id`, stored as `sequence` of `conversation`, to `to`.
    pub(super) fn ack(
        &mut self,
        to: ConnRef,
        message_id: MessageId,
        conversation: u64,
        sequence: u64,
    ) {
        self.out.push_back(Outbound::Ack(AckReply {
            to,
            message_id,
            conversation,
            sequence,
        }));
    }

    pub(super) fn reply(&mut self, to: ConnRef, frames: Vec<OwnedFrame>) {
        self.out.push_back(Outbound::Reply(Reply {
            to,
            frames,
            resumed: None,
            refused: None,
            completes_read: false,
        }));
    }

    pub(super) fn refuse(&mut self, to: ConnRef, code: ErrorCode, why: &str, conversation: u64) {
        self.out.push_back(Outbound::Reply(Reply {
            to,
            frames: vec![error_frame(code, why, None)],
            resumed: None,
            refused: Some(conversation),
            completes_read: false,
        }));
    }

    fn log_failed(&mut self, from: ConnRef, conversation: u64, error: &LogError) {
        self.counters.log_errors += 1;
        error!(shard = self.shard, conversation, %error, "durable log refused a record");
        self.reply(
            from,
            vec![error_frame(
                ErrorCode::INTERNAL,
                "message not stored",
                Some(RETRY_AFTER_FAILURE_MS),
            )],
        );
    }
}

/// The value routing assumes for a customer whose token carries none, `0..=1`.
pub const UNRATED_CUSTOMER_VALUE: f32 = 0.5;

/// A customer's value to the tenant for routing, `0..=1`: the token's rating, or
/// [`UNRATED_CUSTOMER_VALUE`].
fn customer_value(principal: &Claims) -> f32 {
    principal
        .value_percent
        .map_or(UNRATED_CUSTOMER_VALUE, |percent| f32::from(percent) / 100.0)
}
