//! Chat mode inside a shard loop: the shard's [`ChatCore`] (sessions' requests, its [`Owner`](crate::chat::Owner),
//! deliveries, routing inputs; sans-IO, in `switchboard-chat`) driven over this shard's connection table,
//! engine and cross-core rings, plus what only a running server has: the upgrade and plain HTTP, deadlines,
//! the log's I/O through the engine, retention, the overload detector, the budget scan, metrics.
//!
//! Per tick the shard calls, in order: [`ChatShard::drain_mesh`] (requests, replies and deliveries from
//! other shards), the connection flushes (which hand complete messages to [`ChatShard::message`]), then
//! [`ChatShard::end_tick`]: one log commit for everything appended this tick, then the owner's outputs
//! (acks, replies, deliveries) to local connections or onto the rings, then one wake-up per peer.
//!
//! Submodules: `budget` (the shard's share of the node's budget for bytes held for clients), `host` (the
//! connection table as the core's [`Host`](crate::chat::shard::Host)), `inbound` (a connection's life in
//! chat mode: upgrade, messages in, deadlines, close), `mesh` (draining the rings, the once-per-tick
//! overload sample and metrics), `status` (the overload mode told to clients).

mod budget;
mod host;
mod inbound;
mod mesh;
mod status;

use std::sync::{Arc, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use switchboard_core::channel::Endpoint;
use switchboard_core::engine::{ConnId, Engine};
use tracing::{debug, error, info};

use self::host::ShardHost;
use super::chat_stats::ChatStats;
use super::table::{Entry, Table};
use crate::auth::Keyring;
use crate::chat::messages::ShardMsg;
use crate::chat::{ChatConfig, ChatCore, Owner};
use crate::conn::lane::LANE_COUNT;
use crate::log::{CommitCompletion, CommitIo, DirStorage, LogConfig, ShardLog};
use crate::overload::{Mode, OverloadConfig, OverloadDetector};
use crate::pii::PiiPolicy;

/// Items taken from each peer's ring per tick, so one busy peer cannot starve the others.
const MESH_BATCH_PER_PEER: usize = 1_024;
/// The body of the 400 answering a chat-mode upgrade that offered no subprotocol.
const NO_SUBPROTOCOL_BODY: &str =
    "offer Sec-WebSocket-Protocol: switchboard.v1 or switchboard.json.v1 (docs/protocol.md section 1)";
/// Close code for a WebSocket message of the wrong type for the negotiated subprotocol (text under
/// `switchboard.v1`, binary under `switchboard.json.v1`): unsupported data.
const CLOSE_WRONG_MESSAGE_TYPE: u16 = switchboard_protocol::ws::CloseCode::UNSUPPORTED_DATA.0;
/// How often the bytes queued for clients are summed for the overload detector, shard milliseconds.
const QUEUE_SCAN_MS: u64 = 250;
/// How often the log's retention (age, size) is applied, shard milliseconds.
const RETENTION_CHECK_MS: u64 = 60_000;

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

/// Chat mode state of one shard.
pub(crate) struct ChatShard {
    id: usize,
    core: ChatCore<DirStorage>,
    site: Arc<crate::web::Site>,
    endpoint: Endpoint<ShardMsg>,
    batch: Vec<ShardMsg>,
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
    /// Complete frames received from clients by lane since the shard last took them.
    lanes_in: [u64; LANE_COUNT],
    /// `limits.partial_message_timeout_ms`.
    partial_message_timeout_ms: u64,
    /// This shard's share of `limits.buffered_bytes_max`.
    buffered_bytes_share: u64,
    /// Scratch of the budget scan: (unfinished bytes, connection), kept to avoid reallocating.
    budget_holders: Vec<(u64, ConnId)>,
    /// Scratch of [`ChatShard::message`]: the connections its frames marked, kept to avoid reallocating.
    marked: Vec<ConnId>,
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
        let core = ChatCore::new(
            id,
            setup.shards,
            setup.keyring,
            setup.config,
            owner,
            setup.send_queue_bytes_max,
        );
        let mut chat = ChatShard {
            id,
            core,
            site: setup.site,
            endpoint: setup.endpoint,
            batch: Vec::new(),
            overload: OverloadDetector::new(setup.overload)
                .map_err(|e| format!("[overload]: {e}"))?,
            told_mode: (Mode::Normal, false),
            queued_bytes: 0,
            next_queue_scan_ms: 0,
            commit_started: None,
            next_retention_ms: RETENTION_CHECK_MS,
            lanes_in: [0; LANE_COUNT],
            partial_message_timeout_ms: setup.partial_message_timeout_ms,
            buffered_bytes_share: setup.buffered_bytes_share,
            budget_holders: Vec::new(),
            marked: Vec::new(),
        };
        chat.core.announce_recovered(&mut chat.endpoint.outboxes);
        Ok(chat)
    }

    /// The eventfd other shards write to wake this one.
    pub(crate) fn wake_fd(&self) -> std::os::fd::RawFd {
        self.endpoint.inbox.wake_fd()
    }

    /// Announces a sleep (see `switchboard_core::channel::wake`); `false` when work arrived or is pending,
    /// so the loop must not block.
    pub(crate) fn may_sleep(&self) -> bool {
        !self.core.owner().commit_due()
            && !self.core.overflow_pending()
            && self.endpoint.inbox.prepare_to_sleep()
    }

    /// When (shard ms) the loop must wake up even without traffic: the next retry of a degraded log.
    /// The shard loop's poll timeout must not sleep past it (see `server::shard`'s `poll_timeout`).
    pub(crate) fn wake_by_ms(&self) -> Option<u64> {
        self.core.owner().log_retry_due_ms()
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
        self.core.retry_overflow(&mut self.endpoint.outboxes);
        let owner = self.core.owner_mut();
        if now >= self.next_retention_ms {
            self.next_retention_ms = now + RETENTION_CHECK_MS;
            match owner.retain(wall_ms()) {
                Ok(report) => debug!(shard = self.id, ?report, "retention"),
                Err(error) => tracing::warn!(shard = self.id, %error, "log retention failed"),
            }
        }
        // A degraded log is retried here, when its backoff allows (blocking, like a segment roll).
        owner.retry_log(now);
        if let Some(io) = owner.begin_commit() {
            self.commit_started = Some(Instant::now());
            submit(engine, io);
        }
        let mut host = ShardHost {
            table,
            dirty,
            overload: &self.overload,
            now,
        };
        self.core.release(&mut host, &mut self.endpoint.outboxes);
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
        match self.core.owner_mut().io_complete(completion) {
            Some(io) => submit(engine, io),
            None => {
                if let Some(started) = self.commit_started.take() {
                    stats.record_commit_us(started.elapsed().as_micros() as u64);
                }
            }
        }
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

impl ChatShard {
    /// Frames received from clients by lane (indexed by `lane_index`) since the last call.
    pub(crate) fn take_lanes_in(&mut self) -> [u64; LANE_COUNT] {
        std::mem::take(&mut self.lanes_in)
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
