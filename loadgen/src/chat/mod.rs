//! The switchboard.v1 scenarios: `chat`, `churn`, `burst` and `fanout`.
//!
//! ## Layout
//!
//! - [`params`]: [`ChatParams`], the `[chat]` and `[auth]` tables of the scenario file.
//! - [`wire`]: frames in and out (hello, send, resume, pong), message ids that carry the intended time.
//! - [`ledger`]: [`ledger::FollowerTrack`], per follower and conversation: lost, duplicated, out of order.
//! - [`actor`]: [`actor::Actor`], a logical client that outlives its connections; roles per scenario.
//! - [`world`]: [`ChatWorld`], one thread's actors and conversations: acks, deliveries, replies, resume.
//! - [`questions`]: [`questions::QuestionPool`], what routed customers say (held-out KB questions,
//!   out-of-scope and angry lines).
//! - [`routed`]: routed chat (`routing = true`): bot answers, handoffs, agents assigned by the server.
//!
//! ## Decisions
//!
//! - **A conversation and all its followers live on one client thread**, so the checks need no
//!   cross-thread state (shared nothing, like the server). Connection `n` belongs to thread
//!   `n % threads`; roles are laid out over each thread's own connections. `fanout` therefore has one
//!   sender per thread (exactly one with `--threads 1`).
//! - **Two kinds of agents.** By default agents are admin-role observers and the tool plays the router:
//!   when a customer's opening send is acked, the group's agent `resume`s the conversation from 0 and
//!   replies to customer messages after a think time. With `routing = true` (chat) agents hold agent-role
//!   tokens with groups and wait for the server's routing shard to assign them (`handoff`), and customers
//!   ask real questions; see [`routed`].
//! - **Message ids carry the intended send time**, so `ack` and every `deliver` give latency from the
//!   *intended* time (open loop) with no per-message table.
//! - **Nothing lost, nothing twice**: each actor keeps its unacked sends and, per followed conversation,
//!   what it has seen. After a reconnect it resumes from its contiguous prefix and re-sends the unacked
//!   sends with their original ids; the server must de-duplicate them and replay exactly what was missed.

pub mod actor;
pub mod ledger;
pub mod params;
pub mod questions;
pub mod routed;
#[cfg(test)]
mod routed_tests;
pub mod wire;
pub mod world;
#[cfg(test)]
mod world_tests;

pub use params::{ChatParams, ChatSection, RoutingParams};
pub use world::{ChatContext, ChatWorld};
