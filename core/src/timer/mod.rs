//! Timers: one hierarchical timer wheel per shard.
//!
//! Layout:
//! - [`config`]: [`TimerConfig`], the wheel's tick and capacity, validated.
//! - [`wheel`]: [`TimerWheel`], O(1) insert and cancel with generation-checked [`TimerHandle`]s,
//!   and `advance(now_ms, ..)` that fires every due timer exactly once, never early.
//!
//! Why a wheel and not a heap or a kernel timer per connection: a shard holds hundreds of thousands
//! of heartbeat timers that are mostly re-armed or cancelled before they fire. A wheel makes both
//! O(1), expires many timers per tick without a syscall, and the event loop needs only
//! [`TimerWheel::next_deadline`] to bound its wait. Time is passed in, never read, so tests are
//! deterministic.

pub mod config;
pub mod wheel;

pub use config::{TimerConfig, TIMERS_MAX_LIMIT};
pub use wheel::{TimerError, TimerHandle, TimerWheel};
