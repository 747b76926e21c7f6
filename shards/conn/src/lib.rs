//! The sans-IO side of a connection shard: everything one client connection needs, with no sockets and no
//! clock, so the shard's I/O loop only moves bytes and timestamps in and out.
//!
//! Layout:
//! - [`app_fragment`]: the switchboard.v1 `fragment` prefix, so urgent frames overtake large ones.
//! - [`connection`]: [`Connection`], the per-connection state machine (handshake → open → closing → closed);
//!   its upgrade handling in `connection/handshake.rs`, its receive side (frames in, what each does) in
//!   `connection/receive.rs`.
//! - [`connection_config`]: [`ConnectionConfig`], the per-connection settings derived from `Limits`.
//! - [`fragmentation`]: [`Fragmentation`], how large messages are cut, and the app-level fragment prefix.
//! - [`close`]: [`CloseReason`] and the close codes we send.
//! - [`rate`]: [`rate::FrameRateLimiter`], the token bucket behind `frames_per_second_max`.
//! - [`heartbeat`]: [`Heartbeat`], the adaptive ping interval and pong deadline (RTT and activity driven).
//! - `inbound`: a received frame, decoded directly when whole or copied out of the assembler (private).
//! - [`lane`]: [`Lane`] (the protocol's four priority lanes) and [`DataKind`].
//! - [`lending`]: [`LendingInput`], received bytes unmasked in place and lent by reference (echo).
//! - [`send_queue`]: [`SendQueue`], per-lane queuing, fragmentation, batching and the byte bound; large
//!   payloads handed out by reference instead of copied (`poll_transmit_vectored`).
//! - `spare`: the last written payload kept for the next received one, so echo does not allocate (private).
//! - [`wire`]: unmasked server frame headers and inline control frames.
//! - [`limits`]: [`Limits`], the `[limits]` table of the serve configuration, and [`mode`]: [`Mode`],
//!   echo or chat; [`error`]: [`ConfigError`], why limits were refused.
//!
//! Handshake failures are answered with the protocol crate's HTTP status (400, 405, 414, 426, 431) and a
//! slow handshake with 408, then the transport is closed once the response is flushed.
//!
//! Close codes (decided here, documented in `docs/architecture.md`):
//! - Heartbeat timeout: the transport is dropped without a close handshake (the client sees 1006). A peer
//!   that missed its pong deadline is most likely unreachable; a Close frame would hold the slot for another
//!   `close_timeout_ms` for nothing, and no code describes "you stopped answering" without blaming a bug.
//! - Send queue full (client not reading): 1013 (try again later). The condition is temporary from the
//!   client's side; it should reconnect and resume from its last acknowledged message.
//! - Frame rate above `frames_per_second_max`: 1008 (policy violation).
//! - Idle (no text/binary message for `idle_timeout_ms`): 1000 (normal closure): nothing is wrong, and
//!   client libraries should not reconnect until the user acts.
//! - Drain on deploy: 1001 (going away).

#![forbid(unsafe_code)]

pub mod app_fragment;
pub mod close;
pub mod connection;
pub mod connection_config;
pub mod error;
pub mod fragmentation;
pub mod heartbeat;
mod inbound;
pub mod lane;
pub mod lending;
pub mod limits;
pub mod mode;
pub mod rate;
pub mod send_queue;
mod spare;
pub mod wire;

pub use close::CloseReason;
pub use connection::{Connection, ConnectionEvent, ConnectionState};
pub use connection_config::ConnectionConfig;
pub use error::ConfigError;
pub use heartbeat::{Heartbeat, HeartbeatAction, HeartbeatConfig};
pub use lane::{DataKind, Lane};
pub use lending::{CopyingInput, LendingInput};
pub use limits::Limits;
pub use mode::Mode;
pub use send_queue::{FragmentInfo, Fragmentation, SendQueue, SendQueueCounters, SendQueueError};
