//! # switchboard-loadgen
//!
//! The performance engineer's load generator: open-loop WebSocket load with coordinated-omission-free
//! latency, hundreds of thousands of connections from one process, and per-message correctness checks.
//! It runs on Switchboard's own per-core engine (`switchboard_core::engine`, client side) and speaks
//! RFC 6455 through the sans-IO `switchboard_protocol::ws` codec.
//!
//! ## Layout
//!
//! - [`config`]: [`config::RunConfig`], the validated run parameters, and the scenario names.
//! - [`cli`]: the flags and the `--scenario-file` TOML, merged into a `RunConfig`.
//! - [`source`]: spreading connections over source addresses with explicit ports.
//! - [`payload`]: the echo payload header (connection, sequence, intended send time).
//! - [`schedule`]: the open-loop send schedule with its ramp.
//! - [`tracker`]: per-connection lost / duplicated / out-of-order detection.
//! - [`chat`]: the switchboard.v1 scenarios (chat, churn, burst, fanout): actors, frames, checks.
//! - [`client`]: one connection as a sans-IO state machine (upgrade, echo, ping, close).
//! - [`shard`]: one client thread: engine loop, connects, sends, events.
//! - [`stats`]: counters and HDR histograms, merged over threads.
//! - [`run`]: starting the threads, the live progress line, merging.
//! - [`report`]: the JSON result (`--out`, schema documented there) and the summary table.
//! - [`histlog`]: `--histogram-log`, the HdrHistogram interval log (one interval per second).
//! - [`cpu`]: the process's CPU time, to show the tool is not the bottleneck.
//! - [`rng`]: mask keys and handshake nonces.
//!
//! ## Decisions
//!
//! - **Open loop by default.** Each message has an intended send time from a fixed schedule and carries
//!   it in its payload; latency is `receive time − intended time`. A server that stalls for 200 ms makes
//!   the messages scheduled during the stall 200 ms late instead of silently lowering the send rate.
//!   Closed loop exists for peak-throughput runs and says so in its output.
//! - **Direct descriptors.** Client sockets live in io_uring file tables (the engine's `connect`), so one
//!   process is not capped by `RLIMIT_NOFILE` (20,000 here).
//! - **Explicit source ports.** The kernel's ephemeral port search degrades past ~10K ports per source
//!   address; connections are bound to `(127.0.0.N, port)` chosen by the tool (`--source-addrs`).
//! - **Shared nothing.** Each thread owns its connections, engine and histograms; the main thread only
//!   merges snapshots for the progress line and the final result.
//! - **Bounded by design.** Every run has a duration and a connection cap, then drains (bounded) and closes
//!   (bounded); per-connection backlog is capped by `in_flight_max`.

pub mod chat;
pub mod cli;
pub mod client;
pub mod config;
pub mod cpu;
pub mod histlog;
pub mod payload;
pub mod report;
pub mod rng;
pub mod run;
pub mod schedule;
pub mod shard;
pub mod source;
pub mod stats;
pub mod tracker;
