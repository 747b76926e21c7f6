//! [`AdminSource`]: what the admin listener reads — lock-free views of the running server — and
//! [`Readiness`], the answer of `/readyz`.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use switchboard_core::engine::EngineChoice;

use crate::server::stats::StatsReader;
use crate::server::{DrainWatch, Server};

/// Everything the admin listener renders. Cheap to clone; every part is readable from any thread without
/// locks.
#[derive(Debug, Clone)]
pub struct AdminSource {
    /// One reader per shard, in shard order.
    shards: Vec<StatsReader>,
    /// Which engine each shard chose, and why.
    engines: Vec<EngineChoice>,
    /// Whether [`Server::drain`] was called.
    drain: DrainWatch,
    /// Set once recovery (replaying the durable log) is done; readiness waits for it.
    recovery_done: Arc<AtomicBool>,
}

/// Whether the node should receive traffic, and if not, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// Every shard listens, the server is not draining and recovery is done.
    Ready,
    /// [`Server::drain`] was called: the load balancer should stop sending new connections.
    Draining,
    /// A shard's loop is not running (it stopped on an engine error or finished draining).
    ShardNotListening {
        /// Which shard.
        shard: usize,
    },
    /// Recovery has not finished.
    Recovering,
}

impl fmt::Display for Readiness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Readiness::Ready => f.write_str("ready"),
            Readiness::Draining => f.write_str("draining"),
            Readiness::ShardNotListening { shard } => write!(f, "shard {shard} is not listening"),
            Readiness::Recovering => f.write_str("recovery in progress"),
        }
    }
}

impl AdminSource {
    /// A view of `server`. Recovery counts as done: the server has no durable log to replay yet; a caller
    /// that recovers state first passes its own flag with [`AdminSource::with_recovery_flag`].
    pub fn from_server(server: &Server) -> AdminSource {
        AdminSource {
            shards: server.stats().to_vec(),
            engines: server.engine_choices().to_vec(),
            drain: server.drain_watch(),
            recovery_done: Arc::new(AtomicBool::new(true)),
        }
    }

    /// Makes readiness wait until `done` is set (with `Release`) by whoever runs recovery.
    pub fn with_recovery_flag(mut self, done: Arc<AtomicBool>) -> AdminSource {
        self.recovery_done = done;
        self
    }

    /// The shards' statistics readers, in shard order.
    pub fn shards(&self) -> &[StatsReader] {
        &self.shards
    }

    /// Which engine each shard chose.
    pub fn engines(&self) -> &[EngineChoice] {
        &self.engines
    }

    /// Whether the server is draining.
    pub fn draining(&self) -> bool {
        self.drain.is_draining()
    }

    /// The answer of `/readyz`: the first reason not to be ready, checked in the order draining, shards,
    /// recovery.
    pub fn readiness(&self) -> Readiness {
        if self.draining() {
            return Readiness::Draining;
        }
        if let Some(shard) = self.shards.iter().position(|shard| !shard.listening()) {
            return Readiness::ShardNotListening { shard };
        }
        if !self.recovery_done.load(Ordering::Acquire) {
            return Readiness::Recovering;
        }
        Readiness::Ready
    }
}
