//! # switchboard-shards
//!
//! Connection shards, conversation ownership, delivery, the durable log and the routing/AI shard.
//!
//! ## Layout
//!
//! - [`config`]: `ServeConfig`, the `switchboard serve` TOML configuration with embedded defaults.
//! - [`conn`]: the sans-IO connection logic (handshake, heartbeats, priority send lanes, close codes).
//! - [`server`]: the connection server: one pinned shard thread per core running the engine loop over
//!   [`conn::Connection`] state machines, graceful drain, per-shard statistics.
//! - [`describe`]: the protocol self-description printed by `switchboard describe`.
//! - [`routing`]: the routing/AI logic (knowledge base, intent and sentiment classifier, dialogue,
//!   tickets, agent assignment), pure and single-threaded; `switchboard ai` evaluates it.

pub mod config;
pub mod conn;
pub mod describe;
pub mod routing;
pub mod server;
