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

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use switchboard_protocol::app::{
    ErrorCode, Lane, Message, MessageId, OwnedFrame, ReadReceipt, Typing,
};
use tracing::{error, warn};

mod commit;
mod log_health;
#[cfg(test)]
mod log_health_tests;
mod open_count;
pub use log_health::{LOG_RETRY_DELAY_MS_MAX, LOG_RETRY_DELAY_MS_MIN, RETRY_AFTER_LOG_DEGRADED_MS};
mod replay;
mod routing;
#[cfg(test)]
mod tests;
mod update;

use super::config::ChatConfig;
use super::conversation::{Conversation, ConversationState};
pub use super::frames::{ack_frame, deliver_frame, error_frame, gap_frame, lane_of, sender_role};
use super::ids::ShardSet;
use super::messages::{ConnRef, Delivery, Reply, Request};
use super::recovery::recover_conversations;
use super::stored::{StoredMessage, StoredState, META_CONVERSATION, RECORD_MESSAGE, RECORD_STATE};
use crate::auth::{authorize, Action, Claims, Role};
use crate::log::{LogError, LogFile, LogStorage, Lsn, RecordHeader, ShardLog};
use crate::routing::shard::RoutingInput;
use open_count::OpenCount;

/// The file handle type of a storage's segments (a raw fd on disk).
pub type FileHandle<S> = <<S as LogStorage>::File as LogFile>::Handle;
use crate::pii::{mask, PiiCounts, PiiPolicy};

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
    /// [`crate::log::DamagedRange::records_max`]).
    pub log_damaged: u64,
}

/// A message appended but not yet covered by a commit.
#[derive(Debug)]
struct Pending {
    lsn: Lsn,
    conversation: u64,
    sequence: u64,
    /// Connections to ack (the sender, plus retries that arrived before the commit).
    ack_to: Vec<(ConnRef, MessageId)>,
    delivery: Delivery,
    /// For customer messages the routing shard should see: the customer's value to the tenant, `0..=1`.
    for_routing: Option<f32>,
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
        Ok(Owner {
            shard,
            shards,
            config,
            pii,
            log,
            conversations,
            meta_seq,
            pending: VecDeque::new(),
            out: VecDeque::new(),
            counters,
            pii_counts: PiiCounts::default(),
            scratch: Vec::new(),
            transfers: HashMap::new(),
            open,
            degraded: None,
        })
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

    /// Handles one request from `from` at wall-clock `wall_ms` (Unix milliseconds, stored as `sent_at_ms`).
    /// A read ([`Request::is_read`]) is answered by exactly one reply marked `completes_read`.
    pub fn handle(&mut self, from: ConnRef, principal: &Claims, request: Request, wall_ms: u64) {
        let is_read = request.is_read();
        let outputs_before = self.out.len();
        self.handle_request(from, principal, request, wall_ms);
        if is_read {
            self.mark_read_answered(from, outputs_before);
        }
    }

    /// Marks the reply to `from` pushed since `outputs_before` as the answer of a read.
    fn mark_read_answered(&mut self, from: ConnRef, outputs_before: usize) {
        let answer = self
            .out
            .range_mut(outputs_before..)
            .find_map(|output| match output {
                Outbound::Reply(reply) if reply.to == from => Some(reply),
                _ => None,
            });
        match answer {
            Some(reply) => reply.completes_read = true,
            None => {
                // Every read path replies; a silent one would stall the connection's reads for good.
                debug_assert!(false, "a read was not answered");
                self.out.push_back(Outbound::Reply(Reply {
                    to: from,
                    frames: Vec::new(),
                    resumed: None,
                    refused: None,
                    completes_read: true,
                }));
            }
        }
    }

    fn handle_request(
        &mut self,
        from: ConnRef,
        principal: &Claims,
        request: Request,
        wall_ms: u64,
    ) {
        let conversation_id = request.conversation();
        if let Request::Send { create: true, .. } = &request {
            if !self.conversations.contains_key(&conversation_id) {
                match self.create(conversation_id, principal) {
                    Ok(()) => {}
                    Err(ErrorCode::RATE_LIMITED) => return self.too_many_open(from),
                    Err(code) => {
                        return self.refuse(
                            from,
                            code,
                            "cannot open a conversation",
                            conversation_id,
                        )
                    }
                }
            }
        }
        let Some(conversation) = self.conversations.get_mut(&conversation_id) else {
            self.counters.not_found += 1;
            return self.refuse(
                from,
                ErrorCode::NOT_FOUND,
                "no such conversation",
                conversation_id,
            );
        };
        let action = match request {
            Request::Send { .. }
            | Request::Typing { .. }
            | Request::Read { .. }
            | Request::Update { .. } => Action::Write,
            Request::Resume { .. } | Request::History { .. } => Action::Read,
        };
        if let Err(denied) = authorize(principal, action, &conversation.facts()) {
            self.counters.forbidden += 1;
            debug_denied(principal, conversation_id, denied.label());
            return self.refuse(from, denied.error_code(), denied.label(), conversation_id);
        }
        conversation.interest.insert(from.shard);
        let reopens = conversation.state == ConversationState::Resolved
            && principal.role == Role::Customer
            && matches!(request, Request::Send { .. });
        if reopens
            && self
                .log
                .lookup_message(conversation_id, &request_message_id(&request))
                .is_none()
        {
            let (tenant, customer) = (conversation.tenant, conversation.customer);
            if !self.open.allows(tenant, customer, &self.config) {
                self.counters.quota_refusals += 1;
                return self.too_many_open(from);
            }
            self.reopen(conversation_id);
        }
        match request {
            Request::Update { change, reason, .. } => {
                self.update(from, principal, conversation_id, change, &reason)
            }
            Request::Send {
                message_id,
                text,
                received_us,
                ..
            } => self.send(
                Some(from),
                principal,
                conversation_id,
                message_id,
                &text,
                (wall_ms, received_us),
            ),
            Request::Resume { last_sequence, .. } => {
                self.resume(from, conversation_id, last_sequence)
            }
            Request::History {
                query_id,
                before_sequence,
                limit,
                ..
            } => self.history(from, conversation_id, query_id, before_sequence, limit),
            Request::Typing { active, .. } => {
                let frame = Message::Typing(Typing {
                    conversation_id,
                    user_id: principal.user,
                    active,
                });
                self.fan_out(conversation_id, OwnedFrame::new(frame), Some(from));
            }
            Request::Read { sequence, .. } => {
                let frame = Message::ReadReceipt(ReadReceipt {
                    conversation_id,
                    user_id: principal.user,
                    sequence,
                });
                self.fan_out(conversation_id, OwnedFrame::new(frame), Some(from));
            }
        }
    }

    /// `shard` has no connection following `conversation` any more.
    pub fn unfollow(&mut self, conversation: u64, shard: usize) {
        if let Some(conversation) = self.conversations.get_mut(&conversation) {
            conversation.interest.remove(shard);
        }
    }

    pub(super) fn create(&mut self, id: u64, principal: &Claims) -> Result<(), ErrorCode> {
        if principal.role != Role::Customer {
            return Err(ErrorCode::FORBIDDEN);
        }
        if !self
            .open
            .allows(principal.tenant, principal.user, &self.config)
        {
            self.counters.quota_refusals += 1;
            return Err(ErrorCode::RATE_LIMITED);
        }
        if self.conversations.len() as u64 >= self.config.conversations_per_shard_max {
            warn!(
                shard = self.shard,
                "conversation table full; refusing a new conversation"
            );
            return Err(ErrorCode::OVERLOADED);
        }
        let mut conversation = Conversation::new(id, principal.tenant, principal.user, self.shards);
        if !self.config.routing_enabled {
            conversation.state = ConversationState::Queued;
            conversation.group = Some(self.config.fallback_group);
        }
        self.append_state(&conversation).map_err(|_| {
            if self.log.is_degraded() {
                self.counters.log_refused += 1;
                ErrorCode::OVERLOADED
            } else {
                ErrorCode::INTERNAL
            }
        })?;
        self.conversations.insert(id, conversation);
        self.open.opened(principal.tenant, principal.user);
        self.counters.conversations_created += 1;
        Ok(())
    }

    pub(super) fn send(
        &mut self,
        from: Option<ConnRef>,
        principal: &Claims,
        conversation_id: u64,
        message_id: MessageId,
        text: &str,
        (wall_ms, received_us): (u64, u64),
    ) {
        if let Some(sequence) = self.log.lookup_message(conversation_id, &message_id.0) {
            if let Some(from) = from {
                self.duplicate(from, message_id, conversation_id, sequence);
            }
            return;
        }
        if self.degraded.is_some() {
            if let Some(from) = from {
                self.refuse_degraded(from);
            }
            return;
        }
        let masked = mask(text, self.pii.rules_for(principal.tenant));
        self.pii_counts.add(&masked.counts);
        let conversation = self
            .conversations
            .get_mut(&conversation_id)
            .expect("checked by handle");
        let sequence = conversation.appended_seq + 1;
        let sender_role = sender_role(principal.role);
        let stored = StoredMessage {
            tenant: conversation.tenant,
            customer: conversation.customer,
            sender: principal.user,
            sender_role,
            text: masked.text.into_owned(),
        };
        self.scratch.clear();
        stored.encode(&mut self.scratch);
        let header = RecordHeader {
            conversation_id,
            sequence,
            message_id: message_id.0,
            timestamp_ms: wall_ms,
            lane: lane_of(sender_role) as u8,
            kind: RECORD_MESSAGE,
        };
        let lsn = match self.log.append(&header, &self.scratch) {
            Ok(lsn) => lsn,
            Err(LogError::WriteBufferFull { .. }) => {
                // A commit is in flight and the next group is full: nothing stored, the client retries.
                if let Some(from) = from {
                    self.reply(
                        from,
                        vec![error_frame(
                            ErrorCode::OVERLOADED,
                            "log busy",
                            Some(RETRY_LOG_BUSY_MS),
                        )],
                    );
                }
                return;
            }
            Err(error) if self.log_error(&error) => {
                // Nothing stored: the log degraded on this record's write (a full buffer or segment).
                if let Some(from) = from {
                    self.refuse_degraded(from);
                }
                return;
            }
            Err(error) => {
                self.counters.log_errors += 1;
                error!(shard = self.shard, conversation_id, %error, "durable log refused a record");
                if let Some(from) = from {
                    self.reply(
                        from,
                        vec![error_frame(
                            ErrorCode::INTERNAL,
                            "message not stored",
                            Some(RETRY_AFTER_FAILURE_MS),
                        )],
                    );
                }
                return;
            }
        };
        conversation.appended_seq = sequence;
        self.counters.messages_stored += 1;
        let delivery = Delivery {
            tenant: conversation.tenant,
            customer: conversation.customer,
            agent: conversation.agent,
            group: conversation.group,
            conversation: conversation_id,
            frame: deliver_frame(&header, &stored),
            origin: from,
            received_us,
        };
        // The routing shard sees every customer message (for humans' conversations it only refreshes the
        // summary and sentiment).
        let routed = principal.role == Role::Customer && self.config.routing_enabled;
        self.pending.push_back(Pending {
            lsn,
            conversation: conversation_id,
            sequence,
            ack_to: from.map(|from| (from, message_id)).into_iter().collect(),
            delivery,
            for_routing: routed.then(|| customer_value(principal)),
            from_agent: (principal.role == Role::Agent).then_some(principal.user),
        });
    }

    /// A `send` whose message id is already stored in `conversation`: the original ack, never a second
    /// copy.
    pub(super) fn duplicate(
        &mut self,
        from: ConnRef,
        message_id: MessageId,
        conversation: u64,
        sequence: u64,
    ) {
        self.counters.duplicates += 1;
        if let Some(pending) = self
            .pending
            .iter_mut()
            .find(|p| p.conversation == conversation && p.sequence == sequence)
        {
            if self.degraded.is_some() {
                // Stored in memory, not yet durable; the ack comes with the commit after recovery.
                return self.refuse_degraded(from);
            }
            // Not committed yet: the retry is acked together with the original.
            pending.ack_to.push((from, message_id));
            return;
        }
        self.reply(from, vec![ack_frame(message_id, conversation, sequence)]);
    }

    pub(super) fn append_state(&mut self, conversation: &Conversation) -> Result<(), LogError> {
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
            .map(drop)
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
        };
        self.out.push_back(Outbound::Deliver {
            shards: conversation.interest,
            delivery: Arc::new(delivery),
        });
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

    /// The customer (or its tenant) has too many conversations open to open or re-open another.
    fn too_many_open(&mut self, to: ConnRef) {
        self.reply(
            to,
            vec![error_frame(
                ErrorCode::RATE_LIMITED,
                "too many open conversations; resolve one first",
                Some(OPEN_QUOTA_RETRY_AFTER_MS),
            )],
        );
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

/// How long a customer refused for having too many open conversations is told to wait, milliseconds.
const OPEN_QUOTA_RETRY_AFTER_MS: u32 = 60_000;

/// The value routing assumes for a customer whose token carries none, `0..=1`.
pub const UNRATED_CUSTOMER_VALUE: f32 = 0.5;

/// A customer's value to the tenant for routing, `0..=1`: the token's rating, or
/// [`UNRATED_CUSTOMER_VALUE`].
fn customer_value(principal: &Claims) -> f32 {
    principal
        .value_percent
        .map_or(UNRATED_CUSTOMER_VALUE, |percent| f32::from(percent) / 100.0)
}

/// The message id of a `send` (zeros for other requests).
fn request_message_id(request: &Request) -> [u8; 16] {
    match request {
        Request::Send { message_id, .. } => message_id.0,
        _ => [0; 16],
    }
}

fn debug_denied(principal: &Claims, conversation: u64, why: &str) {
    tracing::debug!(
        tenant = principal.tenant,
        user = principal.user,
        role = principal.role.name(),
        conversation,
        why,
        "access refused"
    );
}
