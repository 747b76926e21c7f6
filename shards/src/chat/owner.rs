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
    Ack, Deliver, ErrorCode, ErrorReport, Gap, GapReason, HistoryResult, Lane, Message, MessageId,
    OwnedFrame, ReadReceipt, Replay, SenderRole, Typing,
};
use tracing::{error, warn};

use super::config::ChatConfig;
use super::conversation::{Conversation, ConversationState};
use super::ids::ShardSet;
use super::messages::{ConnRef, Delivery, Reply, Request};
use super::recovery::recover_conversations;
use super::stored::{StoredMessage, StoredState, META_CONVERSATION, RECORD_MESSAGE, RECORD_STATE};
use crate::auth::{authorize, Action, Claims, Role};
use crate::log::{
    CommitCompletion, CommitIo, CommitStep, LogError, LogFile, LogStorage, Lsn, RecordHeader,
    ShardLog,
};

/// The file handle type of a storage's segments (a raw fd on disk).
pub type FileHandle<S> = <<S as LogStorage>::File as LogFile>::Handle;
use crate::pii::{mask, PiiCounts, PiiPolicy};
use crate::routing::shard::RoutingOutput;
use crate::routing::ticket::ConversationSummary;
use switchboard_protocol::app::{Handoff, Ticket as TicketFrame, TicketStatus};

/// How long a client refused because the log's next commit group is full should wait, milliseconds.
const RETRY_LOG_BUSY_MS: u32 = 20;

/// The `sender_id` of the bot's messages.
pub const BOT_USER_ID: u64 = 0;

/// One line for the agent console: what the bot understood.
fn summary_line(summary: &ConversationSummary) -> String {
    let intent = summary.intent.as_deref().unwrap_or("unknown");
    let mut line = format!(
        "intent {intent} ({:.0}%), sentiment {:.2}",
        summary.confidence * 100.0,
        summary.sentiment
    );
    for (slot, value) in &summary.slots {
        line.push_str(&format!(", {slot}={value}"));
    }
    if let Some(last) = summary.last_messages.last() {
        line.push_str(&format!("; last: {last}"));
    }
    line
}

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
    },
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
    /// Log failures (append or commit).
    pub log_errors: u64,
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
    /// Set for customer messages the routing shard should see.
    for_routing: bool,
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
        let meta_seq = log.last_sequence(META_CONVERSATION).unwrap_or(0);
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
            counters: OwnerCounters::default(),
            pii_counts: PiiCounts::default(),
            scratch: Vec::new(),
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
    pub fn handle(&mut self, from: ConnRef, principal: &Claims, request: Request, wall_ms: u64) {
        let conversation_id = request.conversation();
        if let Request::Send {
            create: true,
            message_id,
            ..
        } = &request
        {
            if !self.conversations.contains_key(&conversation_id) {
                if let Err(code) = self.create(conversation_id, principal) {
                    return self.refuse(from, code, "cannot open a conversation", conversation_id);
                }
                let _ = message_id;
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
            Request::Send { .. } | Request::Typing { .. } | Request::Read { .. } => Action::Write,
            Request::Resume { .. } | Request::History { .. } => Action::Read,
        };
        if let Err(denied) = authorize(principal, action, &conversation.facts()) {
            self.counters.forbidden += 1;
            debug_denied(principal, conversation_id, denied.label());
            return self.refuse(from, denied.error_code(), denied.label(), conversation_id);
        }
        conversation.interest.insert(from.shard);
        match request {
            Request::Send {
                message_id, text, ..
            } => self.send(
                Some(from),
                principal,
                conversation_id,
                message_id,
                &text,
                wall_ms,
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

    fn create(&mut self, id: u64, principal: &Claims) -> Result<(), ErrorCode> {
        if principal.role != Role::Customer {
            return Err(ErrorCode::FORBIDDEN);
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
        self.append_state(&conversation)
            .map_err(|_| ErrorCode::INTERNAL)?;
        self.conversations.insert(id, conversation);
        self.counters.conversations_created += 1;
        Ok(())
    }

    fn send(
        &mut self,
        from: Option<ConnRef>,
        principal: &Claims,
        conversation_id: u64,
        message_id: MessageId,
        text: &str,
        wall_ms: u64,
    ) {
        if let Some((conversation, sequence)) = self.log.lookup_message(&message_id.0) {
            if let Some(from) = from {
                self.duplicate(from, message_id, conversation_id, conversation, sequence);
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
            conversation: conversation_id,
            frame: deliver_frame(&header, &stored),
            origin: from,
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
            for_routing: routed,
            from_agent: (principal.role == Role::Agent).then_some(principal.user),
        });
    }

    /// A `send` whose message id is already stored: the original ack, never a second copy.
    fn duplicate(
        &mut self,
        from: ConnRef,
        message_id: MessageId,
        asked: u64,
        conversation: u64,
        sequence: u64,
    ) {
        if conversation != asked {
            return self.refuse(
                from,
                ErrorCode::INVALID_STATE,
                "message id already used in another conversation",
                asked,
            );
        }
        self.counters.duplicates += 1;
        if let Some(pending) = self
            .pending
            .iter_mut()
            .find(|p| p.conversation == conversation && p.sequence == sequence)
        {
            // Not committed yet: the retry is acked together with the original.
            pending.ack_to.push((from, message_id));
            return;
        }
        self.reply(from, vec![ack_frame(message_id, conversation, sequence)]);
    }

    fn resume(&mut self, from: ConnRef, conversation_id: u64, last_sequence: u64) {
        let current = self.conversations[&conversation_id].released_seq;
        self.counters.resumes += 1;
        let mut frames = Vec::new();
        if last_sequence < current {
            let mut from_seq = last_sequence + 1;
            let replay_max = self.config.replay_messages_max;
            if current - last_sequence > replay_max {
                // Too much to replay: the oldest part is a gap the client pages in with `history_query`.
                let to = current - replay_max;
                frames.push(gap_frame(
                    conversation_id,
                    from_seq,
                    to,
                    GapReason::UNAVAILABLE,
                ));
                from_seq = to + 1;
            }
            match self
                .log
                .read(conversation_id, from_seq, current, usize::MAX)
            {
                Ok(records) => {
                    self.replay_frames(conversation_id, from_seq, current, &records, &mut frames)
                }
                Err(error) => {
                    error!(shard = self.shard, conversation_id, %error, "replay read failed");
                    self.counters.log_errors += 1;
                    frames.push(gap_frame(
                        conversation_id,
                        from_seq,
                        current,
                        GapReason::UNAVAILABLE,
                    ));
                }
            }
        }
        self.counters.gaps += frames
            .iter()
            .filter(|frame| matches!(frame.message, Message::Gap(_)))
            .count() as u64;
        self.out.push_back(Outbound::Reply(Reply {
            to: from,
            frames,
            resumed: Some(conversation_id),
            refused: None,
        }));
    }

    /// The `replay` announcement, the urgent-lane messages, then the rest in sequence order, with a `gap`
    /// for every missing (expired) range.
    fn replay_frames(
        &mut self,
        conversation_id: u64,
        from_seq: u64,
        to_seq: u64,
        records: &[crate::log::Record],
        frames: &mut Vec<OwnedFrame>,
    ) {
        let mut expected = from_seq;
        let mut delivers = Vec::with_capacity(records.len());
        for record in records {
            let header = &record.header;
            if header.sequence > expected {
                frames.push(gap_frame(
                    conversation_id,
                    expected,
                    header.sequence - 1,
                    GapReason::EXPIRED,
                ));
            }
            expected = header.sequence + 1;
            match StoredMessage::decode(&record.payload) {
                Ok(stored) => delivers.push(deliver_frame(header, &stored)),
                Err(error) => {
                    error!(shard = self.shard, conversation_id, sequence = header.sequence, %error, "unreadable record");
                    frames.push(gap_frame(
                        conversation_id,
                        header.sequence,
                        header.sequence,
                        GapReason::UNAVAILABLE,
                    ));
                }
            }
        }
        if expected <= to_seq {
            frames.push(gap_frame(
                conversation_id,
                expected,
                to_seq,
                GapReason::EXPIRED,
            ));
        }
        if let (Some(first), Some(last)) = (delivers.first(), delivers.last()) {
            let (Message::Deliver(first), Message::Deliver(last)) = (&first.message, &last.message)
            else {
                unreachable!("deliver frames only");
            };
            let announce = Replay {
                conversation_id,
                from_sequence: first.sequence,
                to_sequence: last.sequence,
            };
            frames.push(OwnedFrame {
                lane: Lane::Urgent,
                message: Message::Replay(announce),
            });
        }
        self.counters.replayed += delivers.len() as u64;
        // Urgent first, then sequence order (the sort is stable).
        delivers.sort_by_key(|frame| frame.lane != Lane::Urgent);
        frames.extend(delivers);
    }

    fn history(
        &mut self,
        from: ConnRef,
        conversation_id: u64,
        query_id: u32,
        before_sequence: u64,
        limit: u16,
    ) {
        self.counters.history_queries += 1;
        let released = self.conversations[&conversation_id].released_seq;
        let below = if before_sequence == 0 {
            released + 1
        } else {
            before_sequence.min(released + 1)
        };
        let limit = u64::from(limit.clamp(1, super::config::HISTORY_PAGE_MAX));
        let first = below.saturating_sub(limit).max(1);
        let mut messages = Vec::new();
        if below > 1 {
            match self
                .log
                .read(conversation_id, first, below - 1, limit as usize)
            {
                Ok(records) => {
                    for record in &records {
                        if let Ok(stored) = StoredMessage::decode(&record.payload) {
                            if let Message::Deliver(deliver) =
                                deliver_frame(&record.header, &stored).message
                            {
                                messages.push(deliver);
                            }
                        }
                    }
                }
                Err(error) => return self.log_failed(from, conversation_id, &error),
            }
        }
        let result = HistoryResult {
            query_id,
            conversation_id,
            messages,
            has_more: first > 1,
        };
        self.reply(from, vec![OwnedFrame::new(Message::HistoryResult(result))]);
    }

    /// Commits the log and releases everything the commit covers: acks to senders, deliveries to
    /// followers, customer messages to routing. Call once per loop tick when [`Owner::needs_commit`].
    ///
    /// # Errors
    ///
    /// The log's error; the pending messages are then answered with `internal` (they were not acked, so
    /// clients retry them) and the log refuses further appends.
    pub fn commit(&mut self) -> Result<(), LogError> {
        match self.log.commit() {
            Ok(committed) => {
                self.release(committed);
                Ok(())
            }
            Err(error) => {
                self.counters.log_errors += 1;
                for pending in std::mem::take(&mut self.pending) {
                    for (to, _) in pending.ack_to {
                        self.reply(
                            to,
                            vec![error_frame(
                                ErrorCode::INTERNAL,
                                "log commit failed",
                                Some(RETRY_AFTER_FAILURE_MS),
                            )],
                        );
                    }
                }
                Err(error)
            }
        }
    }

    /// Starts an asynchronous group commit (the shard performs the I/O through its engine and reports it
    /// with [`Owner::io_complete`]). Returns the first I/O, or `None` when nothing is to be done now
    /// (nothing appended, a commit already in flight, or the commit finished at once).
    pub fn begin_commit(&mut self) -> Option<CommitIo<FileHandle<S>>> {
        if !self.log.needs_commit() || self.log.commit_in_flight() {
            return None;
        }
        let step = self.log.begin_commit();
        self.after_step(step)
    }

    /// Reports the completion of the I/O [`Owner::begin_commit`] or a previous call returned; returns
    /// the next I/O, or `None` once the commit is done (and its messages released).
    pub fn io_complete(&mut self, completion: CommitCompletion) -> Option<CommitIo<FileHandle<S>>> {
        let step = self.log.io_complete(completion).map(Some);
        self.after_step(step)
    }

    fn after_step(
        &mut self,
        step: Result<Option<CommitStep<FileHandle<S>>>, LogError>,
    ) -> Option<CommitIo<FileHandle<S>>> {
        match step {
            Ok(Some(CommitStep::Io(io))) => Some(io),
            Ok(Some(CommitStep::Committed(committed))) => {
                self.release(committed);
                None
            }
            Ok(None) => None,
            Err(error) => {
                self.fail_pending(&error);
                None
            }
        }
    }

    fn fail_pending(&mut self, error: &LogError) {
        self.counters.log_errors += 1;
        error!(shard = self.shard, %error, "log commit failed; pending messages refused");
        for pending in std::mem::take(&mut self.pending) {
            for (to, _) in pending.ack_to {
                self.reply(
                    to,
                    vec![error_frame(
                        ErrorCode::INTERNAL,
                        "log commit failed",
                        Some(RETRY_AFTER_FAILURE_MS),
                    )],
                );
            }
        }
    }

    /// Whether a commit should start now: records wait and no commit is in flight.
    pub fn commit_due(&self) -> bool {
        self.log.needs_commit() && !self.log.commit_in_flight()
    }

    /// Whether appended records wait for [`Owner::commit`].
    pub fn needs_commit(&self) -> bool {
        self.log.needs_commit()
    }

    fn release(&mut self, committed: Lsn) {
        while self.pending.front().is_some_and(|p| p.lsn < committed) {
            let pending = self.pending.pop_front().expect("checked");
            let Some(conversation) = self.conversations.get_mut(&pending.conversation) else {
                continue;
            };
            conversation.released_seq = conversation.released_seq.max(pending.sequence);
            let shards = conversation.interest;
            let tenant = conversation.tenant;
            let customer = conversation.customer;
            for (to, message_id) in pending.ack_to {
                let frame = ack_frame(message_id, pending.conversation, pending.sequence);
                self.reply(to, vec![frame]);
            }
            let text = match (&pending.delivery.frame.message, pending.for_routing) {
                (Message::Deliver(deliver), true) => Some(deliver.text.clone()),
                _ => None,
            };
            self.out.push_back(Outbound::Deliver {
                shards,
                delivery: Arc::new(pending.delivery),
            });
            if let Some(text) = text {
                self.out.push_back(Outbound::CustomerMessage {
                    tenant,
                    conversation: pending.conversation,
                    customer,
                    sequence: pending.sequence,
                    text,
                });
            }
            if let Some(agent) = pending.from_agent {
                self.out.push_back(Outbound::AgentReplied {
                    tenant,
                    agent,
                    conversation: pending.conversation,
                });
            }
        }
    }

    /// Acts on a decision of the routing shard about one of this shard's conversations.
    pub fn handle_routing(&mut self, output: RoutingOutput, wall_ms: u64) {
        match output {
            RoutingOutput::BotMessage {
                conversation, text, ..
            } => self.bot_message(conversation, &text, wall_ms),
            RoutingOutput::Ticket {
                conversation,
                ticket,
                ..
            } => {
                if self.conversations.contains_key(&conversation) {
                    let frame = Message::Ticket(TicketFrame {
                        ticket_id: ticket.id,
                        conversation_id: conversation,
                        status: TicketStatus::OPENED,
                        subject: ticket.category.clone(),
                    });
                    self.fan_out(conversation, OwnedFrame::new(frame), None);
                }
            }
            RoutingOutput::Queued {
                conversation,
                group,
                summary,
                ..
            } => {
                let reason = summary.map_or_else(String::new, |summary| summary_line(&summary));
                self.change_state(
                    conversation,
                    ConversationState::Queued,
                    None,
                    Some(group),
                    reason,
                );
            }
            RoutingOutput::Assigned {
                conversation,
                agent,
                group,
                agent_shards,
                summary,
                ..
            } => {
                if let Some(state) = self.conversations.get_mut(&conversation) {
                    for shard in agent_shards {
                        if shard < self.shards {
                            state.interest.insert(shard);
                        }
                    }
                }
                let reason = summary.map_or_else(String::new, |summary| summary_line(&summary));
                self.change_state(
                    conversation,
                    ConversationState::Assigned,
                    Some(u64::from(agent)),
                    Some(group),
                    reason,
                );
            }
            RoutingOutput::Requeued { conversation, .. } => {
                let group = self.conversations.get(&conversation).and_then(|c| c.group);
                self.change_state(
                    conversation,
                    ConversationState::Queued,
                    None,
                    group,
                    "re-queued".into(),
                );
            }
            RoutingOutput::Transferred { .. } | RoutingOutput::AgentAway { .. } => {}
        }
    }

    /// The routing shard could not take a customer message (its ring is full): the conversation waits
    /// for a human in the fallback group rather than for an answer that will not come.
    pub fn routing_unavailable(&mut self, conversation: u64) {
        let in_bot = self.conversations.get(&conversation).is_some_and(|c| {
            matches!(
                c.state,
                ConversationState::Bot | ConversationState::Resolved
            )
        });
        if in_bot {
            let group = self.config.fallback_group;
            self.change_state(
                conversation,
                ConversationState::Queued,
                None,
                Some(group),
                "routing shard busy".into(),
            );
        }
    }

    fn bot_message(&mut self, conversation_id: u64, text: &str, wall_ms: u64) {
        let Some(conversation) = self.conversations.get(&conversation_id) else {
            return;
        };
        if !matches!(
            conversation.state,
            ConversationState::Bot | ConversationState::Resolved
        ) {
            return;
        }
        let mut message_id = [0xA1; 16];
        message_id[4..8].copy_from_slice(&(self.shard as u32).to_be_bytes());
        message_id[8..].copy_from_slice(&self.log.next_lsn().to_be_bytes());
        let bot = Claims {
            key_id: String::new(),
            tenant: conversation.tenant,
            user: BOT_USER_ID,
            role: Role::Bot,
            groups: Vec::new(),
            issued_at_s: 0,
            expires_at_s: 0,
        };
        self.send(
            None,
            &bot,
            conversation_id,
            MessageId(message_id),
            text,
            wall_ms,
        );
    }

    fn change_state(
        &mut self,
        conversation_id: u64,
        state: ConversationState,
        agent: Option<u64>,
        group: Option<u32>,
        reason: String,
    ) {
        let Some(conversation) = self.conversations.get_mut(&conversation_id) else {
            return;
        };
        conversation.state = state;
        conversation.agent = agent;
        conversation.group = group;
        let snapshot = conversation.clone();
        let _ = self.append_state(&snapshot);
        let frame = Message::Handoff(Handoff {
            conversation_id,
            agent_id: agent.unwrap_or(0),
            agent_group: group.map_or_else(String::new, |g| g.to_string()),
            reason,
        });
        self.fan_out(conversation_id, OwnedFrame::new(frame), None);
    }

    fn append_state(&mut self, conversation: &Conversation) -> Result<(), LogError> {
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
                self.counters.log_errors += 1;
                error!(shard = self.shard, %error, "state record append failed");
            })
    }

    fn fan_out(&mut self, conversation_id: u64, frame: OwnedFrame, origin: Option<ConnRef>) {
        let conversation = &self.conversations[&conversation_id];
        let delivery = Delivery {
            tenant: conversation.tenant,
            conversation: conversation_id,
            customer: conversation.customer,
            agent: conversation.agent,
            frame,
            origin,
        };
        self.out.push_back(Outbound::Deliver {
            shards: conversation.interest,
            delivery: Arc::new(delivery),
        });
    }

    fn reply(&mut self, to: ConnRef, frames: Vec<OwnedFrame>) {
        self.out.push_back(Outbound::Reply(Reply {
            to,
            frames,
            resumed: None,
            refused: None,
        }));
    }

    fn refuse(&mut self, to: ConnRef, code: ErrorCode, why: &str, conversation: u64) {
        self.out.push_back(Outbound::Reply(Reply {
            to,
            frames: vec![error_frame(code, why, None)],
            resumed: None,
            refused: Some(conversation),
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

/// The protocol's sender role for an authenticated role.
pub fn sender_role(role: Role) -> SenderRole {
    match role {
        Role::Customer => SenderRole::CUSTOMER,
        Role::Agent => SenderRole::AGENT,
        Role::Bot => SenderRole::AI,
        Role::Admin => SenderRole::SYSTEM,
    }
}

/// The lane a stored message travels on: AI answers overtake chat, system notices come last.
pub fn lane_of(role: SenderRole) -> Lane {
    match role {
        SenderRole::AI => Lane::AiAnswer,
        SenderRole::SYSTEM => Lane::System,
        _ => Lane::Chat,
    }
}

/// The `deliver` frame of a stored message.
pub fn deliver_frame(header: &RecordHeader, stored: &StoredMessage) -> OwnedFrame {
    let lane = Lane::from_flags(header.lane);
    OwnedFrame {
        lane,
        message: Message::Deliver(Deliver {
            conversation_id: header.conversation_id,
            sequence: header.sequence,
            message_id: MessageId(header.message_id),
            sender_id: stored.sender,
            sender_role: stored.sender_role,
            sent_at_ms: header.timestamp_ms,
            text: stored.text.clone(),
        }),
    }
}

/// An `ack` frame.
pub fn ack_frame(message_id: MessageId, conversation_id: u64, sequence: u64) -> OwnedFrame {
    OwnedFrame::new(Message::Ack(Ack {
        message_id,
        conversation_id,
        sequence,
    }))
}

/// An `error` frame (urgent lane).
pub fn error_frame(code: ErrorCode, message: &str, retry_after_ms: Option<u32>) -> OwnedFrame {
    OwnedFrame::new(Message::Error(ErrorReport {
        code,
        message: message.to_owned(),
        retry_after_ms,
    }))
}

/// A `gap` frame (urgent lane, so it reaches the client with the replay it interrupts).
pub fn gap_frame(conversation_id: u64, from: u64, to: u64, reason: GapReason) -> OwnedFrame {
    OwnedFrame {
        lane: Lane::Urgent,
        message: Message::Gap(Gap {
            conversation_id,
            from_sequence: from,
            to_sequence: to,
            reason,
        }),
    }
}
