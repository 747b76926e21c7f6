//! Chat mode inside a shard loop: sessions on this shard's connections, this shard's [`Owner`], and the
//! cross-core rings to the other shards.
//!
//! Per tick the shard calls, in order: [`ChatShard::drain_mesh`] (requests, replies and deliveries from
//! other shards), the connection flushes (which hand complete messages to [`ChatShard::message`]), then
//! [`ChatShard::end_tick`]: one log commit for everything appended this tick, then the owner's outputs
//! (acks, replies, deliveries) to local connections or onto the rings, then one wake-up per peer.
//!
//! A full ring never blocks and never drops: a request that does not fit is refused to its client with
//! `overloaded` (nothing was stored, the client retries); a reply or delivery that does not fit waits in a
//! per-peer overflow queue that is retried first on the next tick (the data is already durable).
//!
//! Submodules: `admit` (request quotas and each connection's waiting reads), `budget` (the shard's share
//! of the node's budget for bytes held for clients), `deliver` (a conversation's frame to this shard's
//! connections, re-checking access, one encoding shared by all), `inbound` (a connection's life in chat
//! mode: upgrade, messages in, requests out to owners, deadlines, close), `mesh` (the rings to the other shards and the routing shard), `status`
//! (the overload mode told to clients).

mod admit;
mod budget;
mod deliver;
mod inbound;
mod mesh;
mod status;

use std::collections::VecDeque;
use std::sync::{Arc, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use switchboard_core::channel::Endpoint;
use switchboard_core::engine::{ConnId, Engine};
use switchboard_protocol::app::{encode::Encoder, OwnedFrame};
use tracing::{debug, error, info, warn};

use self::admit::Quotas;
use self::deliver::{send_encoded, send_encoded_on, Encoded};
use super::chat_stats::{ChatStats, STAGE_DELIVERED, STAGE_PERSISTED};
use super::table::{Entry, Table};
use crate::auth::{Claims, Keyring, Role};
use crate::chat::ids::owner_of;
use crate::chat::messages::{Reply, Request, ShardMsg, REPLAY_QUEUE_LANE};
use crate::chat::{ChatConfig, ConsoleRequest, LocalIndex, Outbound, Owner, SessionOutput};
use crate::conn::lane::LANE_COUNT;
use crate::log::{CommitCompletion, CommitIo, DirStorage, LogConfig, ShardLog};
use crate::overload::{LoadSample, Mode, OverloadConfig, OverloadDetector, RequestClass};
use crate::pii::PiiKind;
use crate::pii::PiiPolicy;
use crate::routing::shard::RoutingInput;

/// Stage latency samples kept between two publishes (one per tick); more in one tick are not sampled.
const STAGE_SAMPLES_MAX: usize = 65_536;
/// Items taken from each peer's ring per tick, so one busy peer cannot starve the others.
const MESH_BATCH_PER_PEER: usize = 1_024;
/// The body of the 400 answering a chat-mode upgrade that offered no subprotocol.
const NO_SUBPROTOCOL_BODY: &str =
    "offer Sec-WebSocket-Protocol: switchboard.v1 or switchboard.json.v1 (docs/protocol.md section 1)";
/// Close code for a WebSocket message of the wrong type for the negotiated subprotocol (text under
/// `switchboard.v1`, binary under `switchboard.json.v1`): unsupported data.
const CLOSE_WRONG_MESSAGE_TYPE: u16 = 1003;
/// How often the bytes queued for clients are summed for the overload detector, shard milliseconds.
const QUEUE_SCAN_MS: u64 = 250;
/// How often the log's retention (age, size) is applied, shard milliseconds.
const RETENTION_CHECK_MS: u64 = 60_000;
/// How long a client refused for a full ring should wait, milliseconds.
const RING_FULL_RETRY_AFTER_MS: u32 = 100;

/// What a shard needs to run chat mode; built by `Server::start`.
pub(crate) struct ChatSetup {
    pub(crate) endpoint: Endpoint<ShardMsg>,
    pub(crate) keyring: Arc<Keyring>,
    /// What a plain HTTP request on the WebSocket port gets (pages, assets, demo tokens).
    pub(crate) site: Arc<crate::web::Site>,
    pub(crate) config: ChatConfig,
    pub(crate) pii: PiiPolicy,
    pub(crate) log: LogConfig,
    pub(crate) overload: OverloadConfig,
    pub(crate) shards: usize,
    /// `limits.send_queue_bytes_max`: what a read's answer may queue for one client is admitted against it.
    pub(crate) send_queue_bytes_max: usize,
    /// `limits.partial_message_timeout_ms`, for fragmented switchboard.v1 messages.
    pub(crate) partial_message_timeout_ms: u64,
    /// This shard's share of `limits.buffered_bytes_max`.
    pub(crate) buffered_bytes_share: u64,
}

/// Counters of the chat side of one shard.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ChatCounters {
    pub(crate) unauthorized: u64,
    pub(crate) ring_full: u64,
    pub(crate) requests_refused_ring_full: u64,
    pub(crate) overload_refusals: u64,
    /// Followers dropped because a state change took their access away.
    pub(crate) access_revoked: u64,
    /// Requests refused (or dropped after a refusal in the same message) over a request quota.
    pub(crate) quota_refusals: u64,
    /// Reads refused because the connection had `reads_pending_per_connection_max` waiting.
    pub(crate) reads_refused: u64,
    /// Connections closed (1013) to bring the shard back under its share of `buffered_bytes_max`.
    pub(crate) budget_closes: u64,
}

/// Chat mode state of one shard.
pub(crate) struct ChatShard {
    id: usize,
    shards: usize,
    keyring: Arc<Keyring>,
    site: Arc<crate::web::Site>,
    config: ChatConfig,
    owner: Owner<DirStorage>,
    endpoint: Endpoint<ShardMsg>,
    local: LocalIndex,
    encoder: Encoder,
    overflow: Vec<VecDeque<ShardMsg>>,
    batch: Vec<ShardMsg>,
    outputs: Vec<SessionOutput>,
    targets: Vec<ConnId>,
    joined: Vec<ConnId>,
    pub(crate) counters: ChatCounters,
    overload: OverloadDetector,
    /// The mode (and log state) last told to the clients in `status` frames.
    told_mode: status::Told,
    /// Bytes queued for this shard's clients at the last scan, and when (shard ms) the next scan is due.
    queued_bytes: u64,
    next_queue_scan_ms: u64,
    /// When the log commit in flight started.
    commit_started: Option<Instant>,
    /// When (shard ms) the log's retention is applied next.
    next_retention_ms: u64,
    /// Stage latency samples (stage, microseconds) since the last publish; bounded by
    /// [`STAGE_SAMPLES_MAX`] per tick.
    stage_samples: Vec<(usize, u64)>,
    /// Complete frames received from clients by lane since the shard last took them.
    lanes_in: [u64; LANE_COUNT],
    /// The per-user and per-tenant request quotas.
    quotas: Quotas,
    /// Connections whose reads wait for room in their send queue, retried every tick.
    read_waiters: Vec<ConnId>,
    /// `limits.send_queue_bytes_max`.
    send_queue_bytes_max: usize,
    /// `limits.partial_message_timeout_ms`.
    partial_message_timeout_ms: u64,
    /// This shard's share of `limits.buffered_bytes_max`.
    buffered_bytes_share: u64,
    /// Scratch of the budget scan: (unfinished bytes, connection), kept to avoid reallocating.
    budget_holders: Vec<(u64, ConnId)>,
}

impl ChatShard {
    /// Opens (and recovers) this shard's log and builds its owner.
    pub(crate) fn new(id: usize, setup: ChatSetup) -> Result<ChatShard, String> {
        let (log, report) = ShardLog::open_dir(setup.log.clone(), id)
            .map_err(|e| format!("durable log of shard {id}: {e}"))?;
        if report.corrupt.is_empty() {
            info!(shard = id, report = ?report, "log recovered");
        } else {
            // Acknowledged messages may be lost: say so loudly, once, with the counts. Resumes report
            // the holes as `damaged` gaps and the lost sequences are never given again.
            error!(
                shard = id,
                damaged_ranges = report.corrupt.len(),
                damaged_records_max = report.damaged_records_max(),
                damaged_bytes = report.damaged_bytes(),
                records = report.records,
                report = ?report,
                "durable log damaged: records lost; serving the rest, resumes report the holes as damaged gaps"
            );
        }
        let owner = Owner::new(id, setup.shards, setup.config.clone(), setup.pii, log)
            .map_err(|e| format!("rebuilding conversations of shard {id}: {e}"))?;
        info!(
            shard = id,
            conversations = owner.conversation_count(),
            "conversations recovered"
        );
        let mut chat = ChatShard {
            id,
            shards: setup.shards,
            keyring: setup.keyring,
            site: setup.site,
            config: setup.config,
            owner,
            overflow: (0..=setup.shards).map(|_| VecDeque::new()).collect(),
            endpoint: setup.endpoint,
            local: LocalIndex::default(),
            encoder: Encoder::new(),
            batch: Vec::new(),
            outputs: Vec::new(),
            targets: Vec::new(),
            joined: Vec::new(),
            counters: ChatCounters::default(),
            overload: OverloadDetector::new(setup.overload)
                .map_err(|e| format!("[overload]: {e}"))?,
            told_mode: (Mode::Normal, false),
            queued_bytes: 0,
            next_queue_scan_ms: 0,
            commit_started: None,
            next_retention_ms: RETENTION_CHECK_MS,
            stage_samples: Vec::new(),
            lanes_in: [0; LANE_COUNT],
            quotas: Quotas::default(),
            read_waiters: Vec::new(),
            send_queue_bytes_max: setup.send_queue_bytes_max,
            partial_message_timeout_ms: setup.partial_message_timeout_ms,
            buffered_bytes_share: setup.buffered_bytes_share,
            budget_holders: Vec::new(),
        };
        chat.announce_recovered();
        Ok(chat)
    }

    /// Hands the routing shard what the owner recovered for it (open tickets) before any client can
    /// connect, so an agent's first inbox already lists them (a ticket that arrives after an agent
    /// connected still reaches it as a `ticket` notice).
    fn announce_recovered(&mut self) {
        let mut later = VecDeque::new();
        while let Some(output) = self.owner.poll_output() {
            match output {
                Outbound::ToRouting(input) if self.config.routing_enabled => {
                    self.push(self.shards, ShardMsg::ToRouting(input))
                }
                Outbound::ToRouting(_) => {}
                other => later.push_back(other),
            }
        }
        debug_assert!(
            later.is_empty(),
            "a recovered owner has nothing else to say"
        );
    }

    /// The eventfd other shards write to wake this one.
    pub(crate) fn wake_fd(&self) -> std::os::fd::RawFd {
        self.endpoint.inbox.wake_fd()
    }

    /// Announces a sleep (see `switchboard_core::channel::wake`); `false` when work arrived or is pending,
    /// so the loop must not block.
    pub(crate) fn may_sleep(&self) -> bool {
        !self.owner.commit_due()
            && self.overflow.iter().all(VecDeque::is_empty)
            && self.endpoint.inbox.prepare_to_sleep()
    }

    /// When (shard ms) the loop must wake up even without traffic: the next retry of a degraded log.
    /// The shard loop's poll timeout must not sleep past it (see `server::shard`'s `poll_timeout`).
    pub(crate) fn wake_by_ms(&self) -> Option<u64> {
        self.owner.log_retry_due_ms()
    }

    /// After every wake-up.
    pub(crate) fn woke(&self) {
        self.endpoint.inbox.drain_wake();
    }

    /// Commits the log once for the whole tick, then acts on every owner output, then wakes peers.
    pub(crate) fn end_tick(
        &mut self,
        engine: &mut Engine,
        table: &mut Table,
        dirty: &mut Vec<ConnId>,
        now: u64,
    ) {
        self.retry_overflow();
        if now >= self.next_retention_ms {
            self.next_retention_ms = now + RETENTION_CHECK_MS;
            match self.owner.retain(wall_ms()) {
                Ok(report) => debug!(shard = self.id, ?report, "retention"),
                Err(error) => warn!(shard = self.id, %error, "log retention failed"),
            }
        }
        // A degraded log is retried here, when its backoff allows (blocking, like a segment roll).
        self.owner.retry_log(now);
        if let Some(io) = self.owner.begin_commit() {
            self.commit_started = Some(Instant::now());
            submit(engine, io);
        }
        while let Some(output) = self.owner.poll_output() {
            match output {
                Outbound::Reply(reply) if reply.to.shard == self.id => {
                    self.apply_reply(reply, table, dirty, now)
                }
                Outbound::Reply(reply) => self.push(reply.to.shard, ShardMsg::Reply(reply)),
                Outbound::Deliver { shards, delivery } => {
                    if delivery.received_us != 0 {
                        // Released by the commit that covers it: stored and acknowledged now.
                        self.stage_sample(STAGE_PERSISTED, delivery.received_us);
                    }
                    for shard in shards.iter() {
                        if shard == self.id {
                            self.deliver_local(&delivery, table, dirty, now);
                        } else {
                            self.push(shard, ShardMsg::Deliver(Arc::clone(&delivery)));
                        }
                    }
                }
                Outbound::CustomerMessage {
                    tenant,
                    conversation,
                    customer,
                    sequence,
                    text,
                    customer_value,
                    raw,
                } => {
                    let input = RoutingInput::CustomerMessage {
                        tenant,
                        conversation,
                        customer,
                        sequence,
                        text,
                        customer_value,
                        raw,
                    };
                    self.route_or_degrade(input, conversation);
                }
                // With routing off nobody consumes the routing ring (tickets stored while it was on
                // are still announced at start-up).
                Outbound::ToRouting(_) if !self.config.routing_enabled => {}
                Outbound::ToRouting(input) => self.push(self.shards, ShardMsg::ToRouting(input)),
                Outbound::AgentReplied {
                    tenant,
                    agent,
                    conversation,
                } => {
                    let agent = u32::try_from(agent).ok();
                    if let Some(agent) = agent.filter(|_| self.config.routing_enabled) {
                        let input = RoutingInput::AgentReplied {
                            tenant,
                            agent,
                            conversation,
                        };
                        self.push(self.shards, ShardMsg::ToRouting(input));
                    }
                }
            }
        }
        self.retry_waiting_reads(table, dirty, now);
        self.endpoint.outboxes.wake_peers();
    }

    /// The engine finished one of the log's writes or syncs: continue the commit (or finish it, which
    /// releases its acks and deliveries to the next [`ChatShard::end_tick`]).
    pub(crate) fn log_io_done(
        &mut self,
        engine: &mut Engine,
        completion: CommitCompletion,
        stats: &mut ChatStats,
    ) {
        match self.owner.io_complete(completion) {
            Some(io) => submit(engine, io),
            None => {
                if let Some(started) = self.commit_started.take() {
                    stats.record_commit_us(started.elapsed().as_micros() as u64);
                }
            }
        }
    }

    fn apply_reply(&mut self, reply: Reply, table: &mut Table, dirty: &mut Vec<ConnId>, now: u64) {
        let Some(entry) = table.get_mut(reply.to.conn) else {
            return;
        };
        if let Some(conversation) = reply.resumed {
            self.local.set_live(conversation, entry.id);
        }
        if let Some(conversation) = reply.refused {
            if let Some(session) = entry.session.as_mut() {
                session.unfollow(conversation);
            }
            if self.local.unfollow(conversation, entry.id) && self.owner_is_remote(conversation) {
                self.tell_unfollow(conversation, 0);
            }
        }
        let Some(entry) = table.get_mut(reply.to.conn) else {
            return;
        };
        let queue_lane = reply.resumed.map(|_| REPLAY_QUEUE_LANE);
        for frame in &reply.frames {
            let mut encoded = Encoded::new(frame);
            let lane = queue_lane.unwrap_or(frame.lane);
            send_encoded_on(&mut self.encoder, entry, &mut encoded, lane, now);
        }
        if reply.completes_read {
            self.read_answered(entry, now);
        }
        mark(entry, dirty);
    }

    fn owner_is_remote(&self, conversation: u64) -> bool {
        owner_of(conversation, self.shards) != self.id
    }
}

/// Token of the log's file operations in engine completions (the shard has one log).
pub(crate) const LOG_IO_TOKEN: u64 = 1;

/// Hands one of the log's I/O steps to the engine (submitted with the tick's other operations).
fn submit(engine: &mut Engine, io: CommitIo<std::os::fd::RawFd>) {
    match io {
        CommitIo::Write {
            file,
            offset,
            bytes,
        } => engine.write_file(file, offset, bytes, LOG_IO_TOKEN),
        CommitIo::Sync { file } => engine.sync_file(file, LOG_IO_TOKEN, true),
    }
}

/// Whether the connection's session has authenticated.
fn session_principal_set(entry: &Entry) -> bool {
    entry
        .session
        .as_ref()
        .is_some_and(|session| session.principal().is_some())
}

fn mark(entry: &mut Entry, dirty: &mut Vec<ConnId>) {
    if !entry.dirty {
        entry.dirty = true;
        dirty.push(entry.id);
    }
}

/// Encodes `frame` for the session's encoding and queues it on its lane.
fn send_frame(encoder: &mut Encoder, entry: &mut Entry, frame: &OwnedFrame, now: u64) {
    send_encoded(encoder, entry, &mut Encoded::new(frame), now);
}

/// The admission class of a request: a customer's chat send is a ticket-bearing message only through the
/// bot, so only agents' and the bot's sends count as handoff traffic here.
fn request_class(request: &Request, principal: &Claims) -> RequestClass {
    match request {
        Request::Send { .. } if principal.role == Role::Agent => RequestClass::Handoff,
        Request::Send { .. } => RequestClass::ChatSend,
        Request::Resume { .. } => RequestClass::Resume,
        Request::History { .. } => RequestClass::HistoryQuery,
        Request::Typing { .. } => RequestClass::Typing,
        Request::Read { .. } => RequestClass::ReadReceipt,
        Request::Update { .. } => RequestClass::Handoff,
        Request::Ticket { .. } => RequestClass::Ticket,
    }
}

/// The admission class of a console request: presence changes who takes conversations (handoff
/// traffic, served in survival so agents can come back); an inbox is a read, like a resume.
fn console_class(request: ConsoleRequest) -> RequestClass {
    match request {
        ConsoleRequest::Presence(_) => RequestClass::Handoff,
        ConsoleRequest::Inbox => RequestClass::Resume,
    }
}

impl ChatShard {
    /// Frames received from clients by lane (indexed by `lane_index`) since the last call.
    pub(crate) fn take_lanes_in(&mut self) -> [u64; LANE_COUNT] {
        std::mem::take(&mut self.lanes_in)
    }

    /// Notes that a message measured from `received_us` reached `stage` now.
    fn stage_sample(&mut self, stage: usize, received_us: u64) {
        if self.stage_samples.len() < STAGE_SAMPLES_MAX {
            let micros = process_us().saturating_sub(received_us);
            self.stage_samples.push((stage, micros));
        }
    }
}

/// Microseconds on a monotonic clock shared by every thread of the process (from its first use, plus one so
/// that 0 can mean "not measured"): a message's stage latencies are measured across shards.
pub(crate) fn process_us() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_micros() as u64 + 1
}

/// Unix time in milliseconds (0 if the clock is before 1970).
fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}
