//! [`AdminSource`]: what the admin listener reads — lock-free views of the running server — and
//! [`Readiness`], the answer of `/readyz`.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use switchboard_core::engine::EngineChoice;

use crate::server::chat_stats::RoutingStatsReader;
use crate::server::stats::{Recovery, StatsReader};
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
    /// Set once a caller's own recovery is done; readiness waits for it (and for every shard's own).
    recovery_done: Arc<AtomicBool>,
    /// The routing shard's metrics (chat mode with routing enabled).
    routing: Option<RoutingStatsReader>,
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
    /// A shard's durable log is degraded: a write or sync failed (a full disk, an I/O error), sends are
    /// refused and the shard retries with backoff.
    ShardLogDegraded {
        /// Which shard.
        shard: usize,
    },
    /// A shard is still replaying its durable log and rebuilding its conversations.
    ShardRecovering {
        /// Which shard.
        shard: usize,
    },
    /// Recovery run by the caller (see [`AdminSource::with_recovery_flag`]) has not finished.
    Recovering,
}

impl fmt::Display for Readiness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Readiness::Ready => f.write_str("ready"),
            Readiness::Draining => f.write_str("draining"),
            Readiness::ShardNotListening { shard } => write!(f, "shard {shard} is not listening"),
            Readiness::ShardRecovering { shard } => write!(f, "shard {shard} recovering"),
            Readiness::ShardLogDegraded { shard } => {
                write!(
                    f,
                    "shard {shard} durable log degraded (write or sync failing)"
                )
            }
            Readiness::Recovering => f.write_str("recovery in progress"),
        }
    }
}

impl AdminSource {
    /// A view of `server`. Each shard publishes its own log recovery (see [`Readiness::ShardRecovering`]);
    /// a caller that recovers more state first passes its own flag with [`AdminSource::with_recovery_flag`].
    pub fn from_server(server: &Server) -> AdminSource {
        AdminSource {
            shards: server.stats().to_vec(),
            engines: server.engine_choices().to_vec(),
            drain: server.drain_watch(),
            recovery_done: Arc::new(AtomicBool::new(true)),
            routing: server.routing_stats().cloned(),
        }
    }

    /// Exports the routing shard's metrics (`switchboard_routing_*`) from `routing`.
    pub fn with_routing_stats(mut self, routing: RoutingStatsReader) -> AdminSource {
        self.routing = Some(routing);
        self
    }

    /// The routing shard's metrics, when routing runs.
    pub fn routing(&self) -> Option<&RoutingStatsReader> {
        self.routing.as_ref()
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

    /// The answer of `/readyz`: the first reason not to be ready, checked in the order draining, shards
    /// recovering, shards not listening, shards whose log is degraded, the caller's recovery.
    pub fn readiness(&self) -> Readiness {
        readiness(&self.shards, self.draining(), &self.recovery_done)
    }
}

/// [`AdminSource::readiness`] over its parts.
fn readiness(shards: &[StatsReader], draining: bool, recovery_done: &AtomicBool) -> Readiness {
    if draining {
        return Readiness::Draining;
    }
    let recovering = |shard: &StatsReader| shard.recovery() == Recovery::Running;
    if let Some(shard) = shards.iter().position(recovering) {
        return Readiness::ShardRecovering { shard };
    }
    if let Some(shard) = shards.iter().position(|shard| !shard.listening()) {
        return Readiness::ShardNotListening { shard };
    }
    if let Some(shard) = shards.iter().position(|shard| shard.chat().log_degraded()) {
        return Readiness::ShardLogDegraded { shard };
    }
    if !recovery_done.load(Ordering::Acquire) {
        return Readiness::Recovering;
    }
    Readiness::Ready
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::stats::ShardStats;

    #[test]
    fn readiness_names_the_missing_condition() {
        let (mut first, first_reader) = ShardStats::new();
        let (mut second, second_reader) = ShardStats::new();
        let shards = [first_reader, second_reader];
        let done = AtomicBool::new(true);
        assert_eq!(
            readiness(&shards, false, &done),
            Readiness::ShardNotListening { shard: 0 }
        );
        first.recovery_started();
        second.recovery_started();
        first.recovery_done();
        let answer = readiness(&shards, false, &done);
        assert_eq!(answer, Readiness::ShardRecovering { shard: 1 });
        assert_eq!(answer.to_string(), "shard 1 recovering");
        second.recovery_done();
        first.listening.set(1);
        second.listening.set(1);
        assert_eq!(readiness(&shards, false, &done), Readiness::Ready);
        // A degraded log (a full disk) takes the node out of rotation until its retry succeeds.
        second.chat.publish_log_degraded(true);
        let answer = readiness(&shards, false, &done);
        assert_eq!(answer, Readiness::ShardLogDegraded { shard: 1 });
        assert!(answer.to_string().contains("durable log degraded"));
        second.chat.publish_log_degraded(false);
        assert_eq!(readiness(&shards, false, &done), Readiness::Ready);
        assert_eq!(readiness(&shards, true, &done), Readiness::Draining);
        done.store(false, Ordering::Release);
        assert_eq!(readiness(&shards, false, &done), Readiness::Recovering);
    }
}
