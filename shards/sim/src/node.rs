//! [`Node`]: one simulated connection shard: its [`ChatCore`] over an in-memory log, its connections,
//! and its log I/O in flight (each write and sync completes after a seeded delay, like the engine's).

use std::sync::Arc;

use switchboard_auth::Keyring;
use switchboard_chat::{ChatConfig, ChatCore, Owner};
use switchboard_core::engine::ConnId;
use switchboard_log::{CommitIo, LogConfig, MemoryHandle, MemoryStorage, ShardLog};
use switchboard_pii::PiiPolicy;

use crate::host::{SimConn, SimHost};
use crate::net::Net;
use crate::rng::Rng;
use crate::SimError;

/// Ring items a shard takes from each peer per step (the server's batch, scaled down).
const RING_BATCH_PER_PEER: usize = 64;
/// `limits.send_queue_bytes_max` of the simulated connections.
const SEND_QUEUE_BYTES_MAX: usize = 4 << 20;
/// Heartbeat interval announced in `welcome`.
const HEARTBEAT_INTERVAL_MS: u64 = 15_000;

/// What a node needs to (re)build its shards.
#[derive(Debug, Clone)]
pub struct NodeSetup {
    /// Shards of the node.
    pub shards: usize,
    /// Verifies the clients' tokens.
    pub keyring: Arc<Keyring>,
    /// `[chat]`.
    pub chat: ChatConfig,
    /// `[log]`.
    pub log: LogConfig,
}

/// One connection shard.
pub struct Node {
    id: usize,
    /// The chat core.
    pub core: ChatCore<MemoryStorage>,
    /// Its connections.
    pub host: SimHost,
    /// Its log's storage (kept across crashes: what was synced survives).
    storage: MemoryStorage,
    /// The log I/O in flight and the step it completes at.
    io: Option<(u64, CommitIo<MemoryHandle>)>,
    /// The next connection index (ids are never reused within a run).
    next_conn: u32,
    /// The current step.
    step: u64,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Node {
    /// Shard `id`, recovered from `storage`.
    ///
    /// # Errors
    ///
    /// The log or the owner could not be rebuilt from what the storage holds.
    pub fn open(id: usize, setup: &NodeSetup, storage: MemoryStorage) -> Result<Node, SimError> {
        let (log, _report) = ShardLog::open(setup.log.clone(), storage.clone())
            .map_err(|e| SimError::Setup(format!("log of shard {id}: {e}")))?;
        let owner = Owner::new(
            id,
            setup.shards,
            setup.chat.clone(),
            PiiPolicy::default(),
            log,
        )
        .map_err(|e| SimError::Setup(format!("owner of shard {id}: {e}")))?;
        let core = ChatCore::new(
            id,
            setup.shards,
            Arc::clone(&setup.keyring),
            setup.chat.clone(),
            owner,
            SEND_QUEUE_BYTES_MAX,
        );
        Ok(Node {
            id,
            core,
            host: SimHost::default(),
            storage,
            io: None,
            next_conn: 0,
            step: 0,
        })
    }

    /// The storage under the log.
    pub fn storage(&self) -> &MemoryStorage {
        &self.storage
    }

    /// A new connection speaking `encoding`.
    pub fn connect(&mut self, encoding: switchboard_chat::Encoding) -> ConnId {
        let conn = ConnId::new(self.next_conn, 0);
        self.next_conn += 1;
        self.host.conns.insert(conn, SimConn::new(encoding));
        conn
    }

    /// One complete client message on `conn`.
    pub fn client_message(&mut self, conn: ConnId, payload: &[u8], net: &mut Net, rng: &mut Rng) {
        let mut rings = net.sender(self.id, self.step, rng);
        self.core.message(
            (&mut self.host, &mut rings),
            conn,
            payload,
            HEARTBEAT_INTERVAL_MS,
        );
    }

    /// `conn` is gone (the client left, or read the server's close): the core forgets it.
    pub fn disconnect(&mut self, conn: ConnId, net: &mut Net, rng: &mut Rng) {
        if let Some(c) = self.host.conns.remove(&conn) {
            let mut rings = net.sender(self.id, self.step, rng);
            self.core.closed(&mut rings, conn, &c.session);
        }
    }

    /// Start of a step: the clock, then what the peers sent.
    pub fn begin_step(&mut self, step: u64, step_ms: u64, net: &mut Net, rng: &mut Rng) {
        self.step = step;
        self.host.now_ms = step * step_ms;
        let messages = net.receive(self.id, step, RING_BATCH_PER_PEER, rng);
        let mut rings = net.sender(self.id, step, rng);
        for message in messages {
            self.core.ring_message(message, &mut self.host, &mut rings);
        }
    }

    /// End of a step: the overflow, the log's I/O, and what its commits released.
    ///
    /// # Errors
    ///
    /// The log failed (the simulated disk never fails: a bug).
    pub fn end_step(
        &mut self,
        step: u64,
        (net, rng): (&mut Net, &mut Rng),
        io_delay_max: u64,
    ) -> Result<(), SimError> {
        let delay = rng.below(io_delay_max + 1);
        let mut rings = net.sender(self.id, step, rng);
        self.core.retry_overflow(&mut rings);
        if self.io.as_ref().is_some_and(|(due, _)| *due <= step) {
            let (_, io) = self.io.take().expect("checked");
            let completion = self.storage.perform(io);
            if let Some(next) = self.core.owner_mut().io_complete(completion) {
                self.io = Some((step + 1, next));
            }
        }
        if self.io.is_none() {
            if let Some(io) = self.core.owner_mut().begin_commit() {
                self.io = Some((step + delay, io));
            }
        }
        if self.core.owner().log_degraded() {
            return Err(SimError::Setup(format!(
                "log of shard {} degraded",
                self.id
            )));
        }
        self.core.release(&mut self.host, &mut rings);
        Ok(())
    }

    /// Whether the log has nothing to commit and nothing in flight.
    pub fn settled(&self) -> bool {
        self.io.is_none() && !self.core.owner().needs_commit() && !self.core.overflow_pending()
    }
}
