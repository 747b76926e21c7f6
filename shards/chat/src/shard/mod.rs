//! [`ChatCore`]: chat mode of one shard without its I/O. The shard's [`Owner`], which local connections
//! follow which conversations ([`LocalIndex`]), the sessions' requests to owners, deliveries to local
//! connections, the routing shard's inputs and outputs, request quotas and read gates, and the per-peer
//! overflow queues of the rings.
//!
//! The server drives it from its loop (`switchboard_shards::server::chat`) through a [`Host`] over its
//! connection table and [`Rings`] over the lock-free rings; the deterministic simulator (crate `switchboard-sim`)
//! drives several cores and the routing shard in one thread over in-memory logs. Both call, per tick:
//! [`ChatCore::ring_message`] for what peers sent, [`ChatCore::message`] for each complete client message,
//! the owner's commit, then [`ChatCore::release`] (the owner's outputs to local connections and rings).
//!
//! A full ring never blocks and never drops: a request that does not fit is refused to its client with
//! `overloaded` (nothing was stored, the client retries); a reply or delivery that does not fit waits in
//! a per-peer overflow queue that is retried first on the next tick (the data is already durable).
//!
//! Submodules: `host` (the traits), `encoded` (one encoding per frame shared by every connection),
//! `frame_bytes` (the slots frames are encoded into, reused once written),
//! `deliver` (deliveries, replies and agent notices to local connections), `inbound` (client messages,
//! requests to owners, closes), `admit` (quotas and read gates), `rings` (pushes, overflow, routing).

mod admit;
mod deliver;
mod encoded;
mod frame_bytes;
mod host;
mod inbound;
mod rings;

use std::collections::VecDeque;
use std::sync::Arc;

use switchboard_auth::Keyring;
use switchboard_core::engine::ConnId;
use switchboard_log::LogStorage;

use crate::messages::ShardMsg;
use crate::owner::{Outbound, Owner};
use crate::recycle::Recycler;
use crate::session::SessionOutput;
use crate::{ChatConfig, LocalIndex};

pub use self::admit::Quotas;
pub use self::encoded::Encoded;
pub use self::frame_bytes::{FrameBytes, FRAME_SLOTS_MAX, FRAME_SLOT_BYTES};
pub use self::host::{Admitting, Host, Rings};
pub use self::inbound::MessageOutcome;
pub use self::rings::route_output;

/// `send` texts kept for reuse (see [`crate::recycle`]): enough for the messages between their decode
/// and their owner's append under load; beyond it they are allocated.
pub const TEXTS_KEPT_MAX: usize = 1_024;

/// Stage latency samples kept between two takes (one per tick); more are not sampled.
pub const STAGE_SAMPLES_MAX: usize = 65_536;
/// Stage of a message: stored and acknowledged (its commit released it). The stages index the
/// server's stage metrics (`persisted`, `delivered`).
pub const STAGE_PERSISTED: usize = 0;
/// Stage of a message: queued to a follower's connection.
pub const STAGE_DELIVERED: usize = 1;

/// Counters of the chat side of one shard.
#[derive(Debug, Clone, Copy, Default)]
pub struct CoreCounters {
    /// Tokens refused (in `hello` or at the upgrade) and sessions without `hello` in time.
    pub unauthorized: u64,
    /// Pushes that found a ring full (held in the overflow queue, or routed to a human).
    pub ring_full: u64,
    /// Requests refused `overloaded` because their owner's ring was full.
    pub requests_refused_ring_full: u64,
    /// Requests refused by the host's overload policy.
    pub overload_refusals: u64,
    /// Followers dropped because a state change took their access away.
    pub access_revoked: u64,
    /// Requests refused (or dropped after a refusal in the same message) over a request quota.
    pub quota_refusals: u64,
    /// Reads refused because the connection had `reads_pending_per_connection_max` waiting.
    pub reads_refused: u64,
    /// Connections closed (1013) to bring the shard back under its share of `buffered_bytes_max`.
    pub budget_closes: u64,
}

/// Chat mode of one shard, sans-IO.
pub struct ChatCore<S: LogStorage> {
    id: usize,
    shards: usize,
    keyring: Arc<Keyring>,
    config: ChatConfig,
    owner: Owner<S>,
    local: LocalIndex,
    /// Encodes the frames for this shard's connections.
    frames: FrameBytes,
    /// The texts of this shard's clients' `send`s, on their way to their owners.
    texts: Recycler<String>,
    /// Per peer (and the routing shard, last): what did not fit its ring, in order.
    overflow: Vec<VecDeque<ShardMsg>>,
    outputs: Vec<SessionOutput>,
    targets: Vec<ConnId>,
    joined: Vec<ConnId>,
    /// The shard's counters.
    pub counters: CoreCounters,
    /// Stage latency samples (stage, microseconds) since the last take.
    stage_samples: Vec<(usize, u64)>,
    /// The per-user and per-tenant request quotas.
    quotas: Quotas,
    /// Connections whose reads wait for room in their send queue, retried every tick.
    read_waiters: Vec<ConnId>,
    /// `limits.send_queue_bytes_max`: what a read's answer may queue for one client.
    send_queue_bytes_max: usize,
}

impl<S: LogStorage> std::fmt::Debug for ChatCore<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatCore")
            .field("id", &self.id)
            .field("shards", &self.shards)
            .field("counters", &self.counters)
            .finish_non_exhaustive()
    }
}

impl<S: LogStorage> ChatCore<S> {
    /// Shard `id` of `shards`, around its recovered `owner`. Returns the core and what the owner
    /// recovered for the routing shard (open tickets), already pushed or held for `rings`.
    pub fn new(
        id: usize,
        shards: usize,
        keyring: Arc<Keyring>,
        config: ChatConfig,
        owner: Owner<S>,
        send_queue_bytes_max: usize,
    ) -> Self {
        ChatCore {
            id,
            shards,
            keyring,
            config,
            owner,
            local: LocalIndex::default(),
            frames: FrameBytes::new(),
            texts: Recycler::new(TEXTS_KEPT_MAX),
            overflow: (0..=shards).map(|_| VecDeque::new()).collect(),
            outputs: Vec::new(),
            targets: Vec::new(),
            joined: Vec::new(),
            counters: CoreCounters::default(),
            stage_samples: Vec::new(),
            quotas: Quotas::default(),
            read_waiters: Vec::new(),
            send_queue_bytes_max,
        }
    }

    /// Hands the routing shard what the owner recovered for it (open tickets) before any client can
    /// connect, so an agent's first inbox already lists them.
    pub fn announce_recovered(&mut self, rings: &mut impl Rings) {
        while let Some(output) = self.owner.poll_output() {
            match output {
                Outbound::ToRouting(input) if self.config.routing_enabled => {
                    self.push(rings, self.shards, ShardMsg::ToRouting(input));
                }
                Outbound::ToRouting(_) => {}
                other => debug_assert!(false, "a recovered owner said {other:?}"),
            }
        }
    }

    /// This shard's index.
    pub fn id(&self) -> usize {
        self.id
    }

    /// The chat configuration.
    pub fn config(&self) -> &ChatConfig {
        &self.config
    }

    /// The token keyring.
    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    /// This shard's owner.
    pub fn owner(&self) -> &Owner<S> {
        &self.owner
    }

    /// This shard's owner, to drive its commits, retries and retention.
    pub fn owner_mut(&mut self) -> &mut Owner<S> {
        &mut self.owner
    }

    /// The shard's follower and user indexes.
    pub fn local(&self) -> &LocalIndex {
        &self.local
    }

    /// The encoder of this shard's frames.
    pub fn frames(&mut self) -> &mut FrameBytes {
        &mut self.frames
    }

    /// Whether something waits in an overflow queue (the loop must not sleep).
    pub fn overflow_pending(&self) -> bool {
        self.overflow.iter().any(|queue| !queue.is_empty())
    }

    /// Takes the stage latency samples (stage, microseconds) since the last take.
    pub fn take_stage_samples(&mut self, mut each: impl FnMut(usize, u64)) {
        for (stage, micros) in self.stage_samples.drain(..) {
            each(stage, micros);
        }
    }

    /// Notes that a message measured from `received_us` reached `stage` at `now_us`.
    fn stage_sample(&mut self, stage: usize, received_us: u64, now_us: u64) {
        if self.stage_samples.len() < STAGE_SAMPLES_MAX {
            self.stage_samples
                .push((stage, now_us.saturating_sub(received_us)));
        }
    }

    /// Acts on every output of the owner (acks, replies, deliveries, routing inputs) after its commit,
    /// then retries the reads waiting for room. Call once per tick, after the commit was started.
    pub fn release(&mut self, host: &mut impl Host, rings: &mut impl Rings) {
        while let Some(output) = self.owner.poll_output() {
            self.outbound(output, host, rings);
        }
        self.retry_waiting_reads(host, rings);
    }
}
