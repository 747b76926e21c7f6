//! The conversation layer: identities, conversations, sequencing, de-duplication, PII masking, the durable
//! log, delivery across shards, resume and history. Everything here is sans-IO; `server::chat` drives it
//! from the shard loop.
//!
//! ## Layout
//!
//! - [`config`]: [`ChatConfig`], the `[chat]` bounds.
//! - [`ids`]: new conversation ids, the owner shard of a conversation, [`ids::ShardSet`].
//! - [`conversation`]: [`Conversation`] and [`ConversationState`] (bot, queued, assigned, resolved).
//! - [`frames`]: the frames the owner builds (`deliver`, `ack`, `error`, `gap`), sender roles and lanes.
//! - [`stored`]: the payloads of the log records this layer writes (messages, state changes).
//! - [`recovery`]: rebuilding an owner's conversations from its log at start-up.
//! - [`messages`]: the named types on the cross-core rings ([`messages::ShardMsg`]): requests, replies,
//!   deliveries.
//! - [`owner`]: [`Owner`], the only writer of a conversation: sequence, de-duplication, masking, append,
//!   ack after commit, fan-out, replay, history.
//! - [`session`]: [`Session`], one connection's switchboard.v1 session (hello, token, requests).
//! - [`reads`]: [`reads::ReadGate`], the reads of one connection in flight and waiting, so that what a
//!   client asks to read can never queue more than its send queue holds.
//! - [`quota`]: [`quota::RateBucket`], the token bucket behind the per-connection, per-user and per-tenant
//!   request quotas.
//! - [`local`]: [`LocalIndex`], which local connections follow which conversations.
//! - [`recycle`]: [`recycle::Recycler`], shared values (a `send`'s text, a delivery) reused once every
//!   other holder, on any shard, dropped them: the chat path allocates nothing per message.
//! - [`origins`]: which web origins may connect for a tenant (`[[chat.origins]]`).
//! - [`shard`]: [`ChatCore`], chat mode of one shard without its I/O: the owner, local followers,
//!   requests, deliveries, routing inputs and outputs, quotas, read gates, ring overflow; driven by the
//!   server through [`shard::Host`] and [`shard::Rings`].
//!
//! ## Guarantees and how they are kept
//!
//! - **Order**: one owner assigns a conversation's sequences; every shard gets its deliveries over one FIFO
//!   ring from that owner, so every connection sees them in sequence order (within a lane: urgent frames may
//!   overtake chat, by design).
//! - **No duplicates**: the owner's de-duplication window answers a retried `send` (same 16-byte message id)
//!   with the original `ack`; a new conversation's id is derived from the opening message id, so even the
//!   opening send's retry lands on the same conversation.
//! - **No loss**: an `ack` is sent only after the log commit covers the record (`fsync` durability: on
//!   disk). A connection that misses deliveries (closed, slow) gets them back with `resume`; a follower
//!   that is replaying skips live deliveries the replay already holds (see [`local`]).

#![forbid(unsafe_code)]

pub mod config;
pub mod conversation;
pub mod frames;
pub mod ids;
pub mod local;
pub mod messages;
pub mod origins;
pub mod owner;
pub mod quota;
pub mod reads;
pub mod recovery;
pub mod recycle;
pub mod session;
pub mod shard;
pub mod stored;

pub use config::ChatConfig;
pub use conversation::{Conversation, ConversationState};
pub use local::LocalIndex;
pub use owner::{Outbound, Owner, OwnerCounters};
pub use session::{ConsoleRequest, Encoding, Session, SessionContext, SessionOutput};
pub use shard::ChatCore;
