//! # switchboard-shards
//!
//! Connection shards, conversation ownership, delivery, the durable log and the routing/AI shard.
//!
//! ## Layout
//!
//! - [`config`]: `ServeConfig`, the `switchboard serve` TOML configuration with embedded defaults.
//! - [`conn`]: the sans-IO connection logic (handshake, heartbeats, priority send lanes, close codes).
//! - [`routing`]: the routing/AI logic: knowledge base, intent and sentiment classifier, dialogue and tickets, agent assignment.

pub mod config;
pub mod conn;
pub mod routing;
