//! What a [`ChatCore`](super::ChatCore) needs from the runtime around it: its shard's connections
//! ([`Host`]) and the rings to the other shards ([`Rings`]).
//!
//! The server implements them over its connection table, the engine and the lock-free rings; the
//! deterministic simulator (crate `switchboard-sim`) over in-memory clients and seeded queues. The core
//! never blocks and never does I/O itself: it asks the host to queue bytes, close, or admit.

use bytes::Bytes;
use switchboard_core::channel::Outboxes;
use switchboard_core::engine::ConnId;
use switchboard_protocol::app::{Lane, OwnedFrame};

use crate::messages::{Request, ShardMsg};
use crate::session::{ConsoleRequest, Encoding, Session};
use switchboard_auth::Claims;

/// What is asked to be admitted by the host's overload policy.
#[derive(Debug, Clone, Copy)]
pub enum Admitting<'a> {
    /// A request to a conversation's owner.
    Request(&'a Request),
    /// A console request to the routing shard.
    Console(ConsoleRequest),
}

/// The connections of one shard, as the chat core uses them.
pub trait Host {
    /// The session of `conn`, if it is open and speaks switchboard.v1.
    fn session(&mut self, conn: ConnId) -> Option<&mut Session>;
    /// Queues `bytes` (a frame encoded as `encoding`, the session's) on `lane` of `conn`. A connection
    /// whose queue is full is closed by the host (the client resumes).
    fn send(&mut self, conn: ConnId, lane: Lane, encoding: Encoding, bytes: Bytes);
    /// Closes `conn` with `code` after what is queued.
    fn close(&mut self, conn: ConnId, code: u16);
    /// Bytes queued for `conn` and not yet written (the read gate admits reads against it).
    fn queued_bytes(&self, conn: ConnId) -> usize;
    /// The host's overload policy: `Err(frame)` refuses (the frame tells the client why).
    fn admit(&mut self, what: Admitting<'_>, principal: &Claims) -> Result<(), OwnedFrame>;
    /// The shard's monotonic time, milliseconds (rate limits, read gates).
    fn now_ms(&self) -> u64;
    /// Unix time, milliseconds (tokens, stored timestamps).
    fn wall_ms(&self) -> u64;
    /// A monotonic microsecond clock shared by every shard (stage latencies; 0 = not measured).
    fn clock_us(&self) -> u64;
}

/// The outgoing rings of one shard: peers `0..shards` and the routing shard (`shards`).
pub trait Rings {
    /// Pushes `message` to peer `to` without blocking; a full ring hands it back.
    ///
    /// # Errors
    ///
    /// The message, when the ring to `to` is full.
    fn push(&mut self, to: usize, message: ShardMsg) -> Result<(), ShardMsg>;
}

impl Rings for Outboxes<ShardMsg> {
    fn push(&mut self, to: usize, message: ShardMsg) -> Result<(), ShardMsg> {
        // Woken once per tick by the server loop (`Outboxes::wake_peers`).
        self.push_deferred(to, message).map_err(|full| full.0)
    }
}
