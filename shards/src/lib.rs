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
//! - [`admin`]: the admin HTTP listener: Prometheus `/metrics`, `/healthz`, `/readyz`, off the hot path.
//! - [`describe`]: the protocol self-description printed by `switchboard describe`.
//! - [`tls`]: TLS termination on the WebSocket port (`[tls]` certificate and key, reloaded on SIGHUP).
//! - [`web`]: HTTP on the WebSocket port in chat mode: the start page, the customer widget, the agent
//!   console (embedded files) and demo tokens while the development key is in use.
//! - [`auth`] (the `switchboard-auth` crate, `shards/auth/`): signed access tokens and the access rules.
//! - [`chat`] (`switchboard-chat`, `shards/chat/`): the conversation layer: sessions, owners (sequence, de-duplication, masking, log, ack),
//!   delivery across shards, resume and history.
//! - [`pii`] (`switchboard-pii`, `shards/pii/`): PII masking applied before anything is persisted.
//! - [`log`] (`switchboard-log`, `shards/log/`): the durable log, one append-only segmented log per owner shard: CRC-framed records, group
//!   commit, start-up recovery, conversation and de-duplication indexes, retention.
//! - [`overload`]: degradation modes (normal, brownout, survival) from queue depths and latencies; admission.
//! - [`routing`] (`switchboard-routing`, `shards/routing/`): the routing/AI logic (knowledge base, intent and sentiment classifier, dialogue,
//!   tickets, agent assignment), pure and single-threaded; `switchboard ai` evaluates it.

pub mod admin;
pub use switchboard_auth as auth;
pub use switchboard_chat as chat;
pub mod config;
pub use switchboard_conn as conn;
pub mod describe;
pub use switchboard_log as log;
pub mod overload;
pub use switchboard_pii as pii;
pub use switchboard_routing as routing;
pub mod server;
pub mod tls;
pub mod web;
