//! Overload: the degradation modes of a shard (normal → brownout → survival), decided from measured
//! queue depths and latencies, and which requests each mode serves. Pure and sans-IO: the shard loop
//! feeds measurements with its own clock and acts on the answers.
//!
//! Layout:
//! - [`mode`]: [`Mode`] (gauge value and label) and [`node_mode`], the worst mode of a node's shards.
//! - [`config`]: [`OverloadConfig`], the `[overload]` table: thresholds, hysteresis, retry-after values.
//! - [`window`]: how one measurement window summarises each signal ([`WindowSummary`], [`Pressure`]).
//! - [`detector`]: [`OverloadDetector`], the per-shard state machine fed with [`LoadSample`]s, returning
//!   a [`Transition`] on every change of mode.
//! - [`admission`]: [`RequestClass`], [`admit`] and the [`Refusal`] sent as an `overloaded` error.
//!
//! Decisions:
//! - The signals are what a client feels, not CPU: bytes queued for clients, cross-core ring occupancy and
//!   latency (tick or delivery). A busy CPU that keeps up is not overloaded; an idle one blocked on a full
//!   ring is.
//! - Escalation is immediate (at the end of the window that crossed, possibly straight to survival);
//!   recovery is slow and one level at a time (below `exit_percent` of the thresholds for `recover_ms`),
//!   so a load hovering at a threshold cannot make the mode — and the clients told about it — flap.
//! - Each shard decides for itself (shared-nothing: no cross-shard state); the node's mode, for the
//!   metric, is the worst shard's.
//! - Keeping sessions alive beats shedding their tiny frames: `hello` and heartbeats are served in every
//!   mode (see [`admission`] for the table and the reasons).

pub mod admission;
pub mod config;
pub mod detector;
pub mod mode;
pub mod window;

#[cfg(test)]
mod tests;

pub use admission::{admit, Refusal, RequestClass};
pub use config::OverloadConfig;
pub use detector::{LoadSample, OverloadDetector, Transition, TransitionCause};
pub use mode::{node_mode, Mode};
pub use window::{Pressure, WindowSummary};
