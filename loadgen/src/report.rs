//! The run's result: the JSON document written by `--out FILE` and the summary table on stdout.
//!
//! # JSON schema (`schema_version` 1)
//!
//! The benchmark dashboard reads this file. All times are in **microseconds** (floating point) unless the
//! field name says otherwise; counts are integers.
//!
//! ```text
//! {
//!   "schema_version": 1,
//!   "tool": "switchboard-loadgen", "tool_version": "0.1.0",
//!   "args": ["--url", "ws://127.0.0.1:7878/", ...],       // the command line, after the program name
//!   "scenario": "echo" | "idle" | "chat" | "churn" | "burst" | "fanout",
//!   "url": "ws://127.0.0.1:7878/",
//!   "pacing": { "mode": "open_loop", "rate_per_sec": 10000.0, "ramp_secs": 0.0 }
//!           | { "mode": "closed_loop", "in_flight": 1,
//!               "note": "closed loop: latency hides server stalls" }
//!           | { "mode": "none" },                            // idle
//!   "threads": 2, "size_bytes": 64,
//!   "connections": { "target": 100, "started": 100, "connected": 100, "upgraded": 100,
//!                    "open_at_end": 100 },                   // open when the load phase ended
//!   "duration_secs": 10.0,          // configured load phase
//!   "elapsed_secs": 10.4,           // wall time of the whole run, drain and close included
//!   "messages": { "sent": 1000, "received": 1000, "bytes_sent": 64000, "bytes_received": 64000,
//!                 "lost": 0, "duplicated": 0, "out_of_order": 0, "skipped_backlog": 0,
//!                 "pings_answered": 0,
//!                 // switchboard.v1 scenarios only (0 otherwise):
//!                 "acked": 1000, "unacked": 0,      // sends acked / never acked by the end
//!                 "resent": 0,                      // unacked sends re-sent after a reconnect
//!                 "replayed": 0, "redelivered": 0,  // deliveries via resume; asked-for repeats
//!                 "gaps": 0,                        // sequences in expired/deleted gaps: errors
//!                 "gaps_paged": 0, "history_paged": 0,  // `unavailable` gaps, and what history filled in
//!                 "reconnects": 0, "replies_dropped": 0 },
//!   "throughput": { "sent_per_sec": 100.0, "received_per_sec": 100.0 },   // over duration_secs
//!   "latency": [ { "kind": "echo", "lane": "ws", "count": 1000,
//!                  "p50": 41.2, "p90": 55.0, "p99": 80.1, "p99_9": 120.0, "p99_99": 300.0,
//!                  "max": 310.0, "mean": 43.0 } ],
//!   "send_lag": { same percentile fields },   // how late the client sent vs. its schedule
//!   "connect_latency": { same fields },       // connect() to TCP established
//!   "upgrade_latency": { same fields },       // connect() to a validated 101
//!   "routing": { "bot_answers": 900, "follow_ups": 40, "handoffs": 120,   // routed chat only
//!                "assignments": 118, "handoffs_unplanned": 3, "tickets": 25 },
//!   "errors": { "total": 0, "by_cause": { "connect: Connection refused (os error 111)": 3 } },
//!   "correctness_ok": true,         // no errors, nothing lost, duplicated, reordered or skipped
//!   "cpu": { "user_secs": 1.2, "system_secs": 3.4, "total_secs": 4.6,
//!            "share_of_one_core": 0.44 }   // total_secs / elapsed_secs
//! }
//! ```
//!
//! `latency` has one entry per message kind and priority lane: plain WebSocket echo has one kind (`echo`)
//! on one lane (`ws`); the switchboard.v1 scenarios have `ack` (send → ack at the sender) and `deliver`
//! (send → live deliver, one value per recipient) on lane `chat`, both from the intended send time.
//! Routed chat (`routing = true`) adds `bot_answer` on lane `ai_answer` (customer question → the AI
//! message answering it), `handoff` on lane `urgent` (an out-of-scope or angry customer's first message →
//! the `handoff` assigning it at the agent) and `agent_reply` on lane `chat` (agent reply → its live
//! deliver at the customer), all from the intended send time, and the `routing` counts object (absent
//! otherwise): AI answers and follow-up questions received by customers, conversations handed off (seen
//! by customers) and assigned (seen by agents), handoffs of bot-question customers, tickets.
//! In those scenarios `sent` counts sends and `received` first deliveries (over all recipients), and
//! `lost` counts acked sequences never delivered to a follower connected at the end. Percentiles come from HDR
//! histograms with 3 significant digits recorded in nanoseconds.

use std::fmt::Write as _;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::config::{Pacing, RunConfig};
use crate::cpu::CpuTime;
use crate::stats::Stats;

/// The note every closed-loop output carries.
pub const CLOSED_LOOP_NOTE: &str = "closed loop: latency hides server stalls";

/// Percentiles of one histogram, in microseconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Percentiles {
    /// Values recorded.
    pub count: u64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p99_9: f64,
    /// 99.99th percentile.
    pub p99_99: f64,
    /// Largest value.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

impl Percentiles {
    /// Summarises a nanosecond histogram.
    pub fn of(histogram: &Histogram<u64>) -> Percentiles {
        let us = |ns: u64| ns as f64 / 1000.0;
        let at = |q: f64| us(histogram.value_at_quantile(q));
        Percentiles {
            count: histogram.len(),
            p50: at(0.5),
            p90: at(0.9),
            p99: at(0.99),
            p99_9: at(0.999),
            p99_99: at(0.9999),
            max: us(histogram.max()),
            mean: histogram.mean() / 1000.0,
        }
    }
}

/// Latency of one message kind on one lane.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KindLatency {
    /// Message kind (`echo`).
    pub kind: String,
    /// Priority lane (`ws` for plain WebSocket).
    pub lane: String,
    /// The percentiles.
    #[serde(flatten)]
    pub percentiles: Percentiles,
}

/// See the module docs for every field.
#[derive(Debug, Clone, Serialize)]
#[allow(missing_docs)]
pub struct RunReport {
    pub schema_version: u32,
    pub tool: &'static str,
    pub tool_version: &'static str,
    pub args: Vec<String>,
    pub scenario: &'static str,
    pub url: String,
    pub pacing: serde_json::Value,
    pub threads: usize,
    pub size_bytes: usize,
    pub connections: serde_json::Value,
    pub duration_secs: f64,
    pub elapsed_secs: f64,
    pub messages: serde_json::Value,
    pub throughput: serde_json::Value,
    pub latency: Vec<KindLatency>,
    pub send_lag: Percentiles,
    pub connect_latency: Percentiles,
    pub upgrade_latency: Percentiles,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routing: Option<serde_json::Value>,
    pub errors: serde_json::Value,
    pub correctness_ok: bool,
    pub cpu: serde_json::Value,
}

/// The `latency` list: `echo` on `ws`, or `ack` and `deliver` on `chat`.
fn latency_entries(config: &RunConfig, stats: &Stats) -> Vec<KindLatency> {
    let entry = |kind: &str, lane: &str, histogram| KindLatency {
        kind: kind.into(),
        lane: lane.into(),
        percentiles: Percentiles::of(histogram),
    };
    if config.scenario.is_chat() {
        let mut entries = vec![
            entry("ack", "chat", &stats.ack_latency),
            entry("deliver", "chat", &stats.deliver_latency),
        ];
        if routed(config) {
            entries.push(entry("bot_answer", "ai_answer", &stats.bot_answer_latency));
            entries.push(entry("handoff", "urgent", &stats.handoff_latency));
            entries.push(entry("agent_reply", "chat", &stats.agent_reply_latency));
        }
        entries
    } else {
        vec![entry("echo", "ws", &stats.latency)]
    }
}

/// Whether the run is routed chat.
fn routed(config: &RunConfig) -> bool {
    config.chat.as_ref().is_some_and(|c| c.routing.is_some())
}

/// What the run measured besides the merged counters.
#[derive(Debug, Clone, Copy)]
pub struct RunTimes {
    /// Wall time of the whole run.
    pub elapsed_secs: f64,
    /// CPU the process used during the run.
    pub cpu: CpuTime,
}

impl RunReport {
    /// Builds the report of a finished run.
    pub fn new(config: &RunConfig, args: Vec<String>, stats: &Stats, times: RunTimes) -> RunReport {
        let duration_secs = config.duration.as_secs_f64();
        let pacing = match config.pacing {
            _ if config.scenario == crate::config::Scenario::Idle => {
                serde_json::json!({ "mode": "none" })
            }
            Pacing::OpenLoop { rate_per_sec, ramp } => serde_json::json!({
                "mode": "open_loop", "rate_per_sec": rate_per_sec, "ramp_secs": ramp.as_secs_f64() }),
            Pacing::ClosedLoop { in_flight } => serde_json::json!({
                "mode": "closed_loop", "in_flight": in_flight, "note": CLOSED_LOOP_NOTE }),
        };
        let cpu_total = times.cpu.total().as_secs_f64();
        RunReport {
            schema_version: 1,
            tool: "switchboard-loadgen",
            tool_version: env!("CARGO_PKG_VERSION"),
            args,
            scenario: config.scenario.as_str(),
            url: config.url.clone(),
            pacing,
            threads: config.threads,
            size_bytes: config.size_bytes,
            connections: serde_json::json!({
                "target": config.connections, "started": stats.connects_started,
                "connected": stats.connected, "upgraded": stats.upgraded,
                "open_at_end": stats.open_at_end }),
            duration_secs,
            elapsed_secs: times.elapsed_secs,
            messages: serde_json::json!({
                "sent": stats.sent, "received": stats.received,
                "bytes_sent": stats.bytes_sent, "bytes_received": stats.bytes_received,
                "lost": stats.lost, "duplicated": stats.duplicated,
                "out_of_order": stats.out_of_order, "skipped_backlog": stats.skipped_backlog,
                "pings_answered": stats.pings_answered, "relayed": stats.relayed,
                "acked": stats.acked, "unacked": stats.unacked, "resent": stats.resent,
                "replayed": stats.replayed, "redelivered": stats.redelivered, "gaps": stats.gaps,
                "gaps_paged": stats.gaps_paged, "history_paged": stats.history_paged,
                "reconnects": stats.reconnects, "replies_dropped": stats.replies_dropped }),
            throughput: serde_json::json!({
                "sent_per_sec": stats.sent as f64 / duration_secs,
                "received_per_sec": stats.received as f64 / duration_secs }),
            latency: latency_entries(config, stats),
            send_lag: Percentiles::of(&stats.send_lag),
            connect_latency: Percentiles::of(&stats.connect),
            upgrade_latency: Percentiles::of(&stats.upgrade),
            routing: routed(config).then(|| {
                serde_json::json!({
                    "bot_answers": stats.bot_answers, "follow_ups": stats.follow_ups,
                    "handoffs": stats.handoffs, "assignments": stats.assignments,
                    "handoffs_unplanned": stats.handoffs_unplanned, "tickets": stats.tickets })
            }),
            errors: serde_json::json!({ "total": stats.error_count(), "by_cause": stats.errors }),
            correctness_ok: stats.correctness_failures() == 0,
            cpu: serde_json::json!({
                "user_secs": times.cpu.user.as_secs_f64(),
                "system_secs": times.cpu.system.as_secs_f64(),
                "total_secs": cpu_total,
                "share_of_one_core": cpu_total / times.elapsed_secs.max(1e-9) }),
        }
    }

    /// The human-readable summary table.
    pub fn summary(&self, stats: &Stats) -> String {
        let mut s = String::new();
        let pacing = self.pacing["mode"].as_str().unwrap_or("");
        let _ = writeln!(
            s,
            "scenario {} ({pacing}) against {}",
            self.scenario, self.url
        );
        if pacing == "closed_loop" {
            let _ = writeln!(s, "NOTE: {CLOSED_LOOP_NOTE}");
        }
        let c = &self.connections;
        let _ = writeln!(
            s,
            "connections: target {} started {} connected {} upgraded {} open at end {}",
            c["target"], c["started"], c["connected"], c["upgraded"], c["open_at_end"]
        );
        let _ = writeln!(
            s,
            "messages: sent {} received {} ({:.0}/s sent, {:.0}/s received over {:.1} s)",
            stats.sent,
            stats.received,
            self.throughput["sent_per_sec"].as_f64().unwrap_or(0.0),
            self.throughput["received_per_sec"].as_f64().unwrap_or(0.0),
            self.duration_secs
        );
        let _ = writeln!(
            s,
            "checks: lost {} duplicated {} out-of-order {} skipped (backlog) {} pings answered {}",
            stats.lost,
            stats.duplicated,
            stats.out_of_order,
            stats.skipped_backlog,
            stats.pings_answered
        );
        if stats.acked + stats.unacked > 0 {
            let _ = writeln!(
                s,
                "chat: acked {} unacked {} resent {} replayed {} redelivered {} gaps {} (paged in: {} of {}) reconnects {}",
                stats.acked,
                stats.unacked,
                stats.resent,
                stats.replayed,
                stats.redelivered,
                stats.gaps,
                stats.history_paged,
                stats.gaps_paged,
                stats.reconnects
            );
        }
        if let Some(r) = &self.routing {
            let _ = writeln!(
                s,
                "routing: bot answers {} follow-ups {} handoffs {} (unplanned {}) assignments {} tickets {}",
                r["bot_answers"], r["follow_ups"], r["handoffs"], r["handoffs_unplanned"],
                r["assignments"], r["tickets"]
            );
        }
        let _ = writeln!(
            s,
            "{:<24}{:>9}{:>11}{:>11}{:>11}{:>11}{:>11}{:>11}",
            "latency (us)", "count", "p50", "p90", "p99", "p99.9", "p99.99", "max"
        );
        let kinds = self
            .latency
            .iter()
            .map(|k| (format!("{} ({})", k.kind, k.lane), &k.percentiles));
        let others = [
            ("send lag", &self.send_lag),
            ("tcp connect", &self.connect_latency),
            ("ws upgrade", &self.upgrade_latency),
        ]
        .map(|(name, p)| (name.to_string(), p));
        for (name, p) in kinds.chain(others) {
            let _ = writeln!(
                s,
                "{name:<24}{:>9}{:>11.1}{:>11.1}{:>11.1}{:>11.1}{:>11.1}{:>11.1}",
                p.count, p.p50, p.p90, p.p99, p.p99_9, p.p99_99, p.max
            );
        }
        let _ = writeln!(s, "errors: {}", stats.error_count());
        for (cause, count) in &stats.errors {
            let _ = writeln!(s, "  {count:>10}  {cause}");
        }
        let cpu = &self.cpu;
        let _ = writeln!(
            s,
            "loadgen cpu: user {:.2} s system {:.2} s = {:.0}% of one core over {:.1} s",
            cpu["user_secs"].as_f64().unwrap_or(0.0),
            cpu["system_secs"].as_f64().unwrap_or(0.0),
            cpu["share_of_one_core"].as_f64().unwrap_or(0.0) * 100.0,
            self.elapsed_secs
        );
        let verdict = if self.correctness_ok { "OK" } else { "FAILED" };
        let _ = writeln!(s, "result: {verdict}");
        s
    }
}
