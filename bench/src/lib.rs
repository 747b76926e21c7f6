//! # switchboard-bench
//!
//! Benchmarks and reports for Switchboard: criterion micro-benchmarks (`benches/`), the wire-size
//! report (`src/bin/size_report.rs`), bench-only peer echo servers, the side-by-side comparison
//! harness and its dashboard.
//!
//! ## Layout
//!
//! - [`peer`]: start-up shared by the peer echo servers `src/bin/peer_tokio_tungstenite.rs`,
//!   `peer_fastwebsockets.rs` and `peer_tokio_tcp.rs` (each one current-thread tokio runtime).
//! - [`load`]: what a load run asks for and what it measured; the [`load::LoadDriver`] trait.
//! - [`loadgen`]: the drivers, `switchboard-loadgen` (WebSocket, and `--raw-echo` for the raw TCP
//!   references) and the engine's `tcp_echo load` (fallback for the raw
//!   TCP, closed loop); [`loadgen_report`] reads `switchboard-loadgen`'s JSON report.
//! - [`uws_load_test`]: uWebSockets' `load_test`, a second, neutral WebSocket client for a few
//!   closed-loop cells (`compare --load-test-cells`), beside `switchboard-loadgen`.
//! - [`servers`]: the servers compared, started pinned to a CPU; their RSS.
//! - [`compare`], [`phases`], [`assemble`]: `switchboard-bench compare` — interleaved rounds of
//!   closed-loop throughput, open-loop latency and idle memory, summarised as median with min–max.
//! - [`scenario`]: `switchboard-bench compare --scenario …` — the switchboard.v1 scenarios (chat,
//!   routed chat, fan-out, burst, churn) against a chat-mode Switchboard, Switchboard only, with a
//!   PASS/FAIL verdict from the loadgen's correctness counts.
//! - [`summary`]: median/min/max and ratios. [`machine`]: revision, CPU, memory, kernel.
//! - [`record`]: the JSON record kept in `bench/results/history.jsonl` and `latest.json`.
//! - [`table`]: Markdown tables of a record. [`report`]: the static HTML dashboard.
//!
//! ## Why this shape
//!
//! Servers run one at a time, interleaved A B A B … over rounds, so slow drift on a shared machine
//! hits every server alike; each figure is a median with its min–max, never a single run. The load
//! generator sits behind a trait so the comparison does not depend on one tool's report format,
//! and the dashboard is generated SVG so it needs no network and no script.

pub mod assemble;
pub mod compare;
pub mod load;
pub mod loadgen;
pub mod loadgen_report;
pub mod machine;
pub mod peer;
pub mod phases;
pub mod record;
pub mod report;
pub mod scenario;
pub mod servers;
pub mod summary;
pub mod table;
pub mod uws_load_test;
