//! One scenario run's measurements: what `switchboard-loadgen --out` reported for a switchboard.v1
//! scenario, plus what the harness sampled of the server.
//!
//! This is the one place that knows the scenario fields of the loadgen report (`schema_version` 1,
//! `loadgen/src/report.rs`; times in microseconds). Unknown fields (new kinds, new counts) are
//! ignored, so a loadgen that reports more still parses.

use std::collections::BTreeMap;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::load::Percentiles;
use crate::loadgen_report::{check_schema, Errors, KindLatency};

/// Correctness counts of a run (or summed over runs): any non-zero count fails the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Correctness {
    /// Acked sequences never delivered to a follower still connected at the end.
    pub lost: u64,
    /// Sequences delivered twice.
    pub duplicated: u64,
    /// Sends never acked by the end of the drain.
    pub unacked: u64,
    /// Deliveries of a lower sequence after a higher one on the same lane.
    pub out_of_order: u64,
    /// Sequences the server announced as gaps.
    #[serde(default)]
    pub gaps: u64,
    /// Scheduled sends skipped because too many were outstanding.
    #[serde(default)]
    pub skipped_backlog: u64,
    /// Errors by any cause (server `error` frames, failed connects, unexpected frames).
    pub errors: u64,
}

impl Correctness {
    /// Each count with its name, in table order.
    pub fn named(&self) -> [(&'static str, u64); 7] {
        [
            ("lost", self.lost),
            ("duplicated", self.duplicated),
            ("unacked", self.unacked),
            ("out of order", self.out_of_order),
            ("gaps", self.gaps),
            ("skipped (backlog)", self.skipped_backlog),
            ("errors", self.errors),
        ]
    }

    /// The sum of `self` and `other`.
    pub fn plus(&self, other: &Correctness) -> Correctness {
        Correctness {
            lost: self.lost + other.lost,
            duplicated: self.duplicated + other.duplicated,
            unacked: self.unacked + other.unacked,
            out_of_order: self.out_of_order + other.out_of_order,
            gaps: self.gaps + other.gaps,
            skipped_backlog: self.skipped_backlog + other.skipped_backlog,
            errors: self.errors + other.errors,
        }
    }

    /// Why these counts fail a run: one `name count` per non-zero count; empty when clean.
    pub fn failures(&self) -> Vec<String> {
        self.named()
            .into_iter()
            .filter(|(_, count)| *count > 0)
            .map(|(name, count)| format!("{name} {count}"))
            .collect()
    }
}

/// Latency of one message kind (`ack`, `deliver`, `bot_answer`, …) in one run.
#[derive(Debug, Clone, PartialEq)]
pub struct KindRun {
    /// Message kind.
    pub kind: String,
    /// Priority lane.
    pub lane: String,
    /// Values recorded.
    pub count: u64,
    /// Percentiles in microseconds.
    pub percentiles: Percentiles,
}

/// What one scenario run measured.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunOutcome {
    /// Sends per second over the load phase (customer messages and agent replies).
    pub sent_per_s: f64,
    /// First deliveries per second over the load phase, over all recipients.
    pub delivered_per_s: f64,
    /// Latency per kind, kinds with no value left out.
    pub latency: Vec<KindRun>,
    /// Correctness counts.
    pub correctness: Correctness,
    /// The loadgen's own verdict (`correctness_ok`).
    pub loadgen_ok: bool,
    /// Routed chat's counts (`bot_answers`, `handoffs`, …); empty otherwise.
    pub routing: BTreeMap<String, u64>,
    /// The loadgen's CPU time over its wall time (1.0 = one core busy).
    pub loadgen_cpu_share: f64,
    /// Largest server RSS seen during the run, in bytes.
    pub server_rss_bytes_max: Option<u64>,
    /// Server CPU time over the run's wall time (1.0 = one core busy).
    pub server_cpu_share: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct Report {
    schema_version: u32,
    messages: Messages,
    throughput: Throughput,
    latency: Vec<KindLatency>,
    #[serde(default)]
    routing: Option<BTreeMap<String, serde_json::Value>>,
    errors: Errors,
    correctness_ok: bool,
    cpu: Cpu,
}

#[derive(Debug, Deserialize)]
struct Messages {
    lost: u64,
    duplicated: u64,
    out_of_order: u64,
    #[serde(default)]
    unacked: u64,
    #[serde(default)]
    gaps: u64,
    #[serde(default)]
    skipped_backlog: u64,
}

#[derive(Debug, Deserialize)]
struct Throughput {
    sent_per_sec: f64,
    received_per_sec: f64,
}

#[derive(Debug, Deserialize)]
struct Cpu {
    share_of_one_core: f64,
}

/// Parses one loadgen report of a switchboard.v1 scenario (server figures left empty).
///
/// # Errors
///
/// The text is not JSON, has another schema version, or lacks a field the harness needs.
pub fn parse_scenario_report(text: &str) -> anyhow::Result<RunOutcome> {
    let report: Report =
        serde_json::from_str(text).context("parsing the switchboard-loadgen scenario report")?;
    check_schema(report.schema_version)?;
    let m = &report.messages;
    Ok(RunOutcome {
        sent_per_s: report.throughput.sent_per_sec,
        delivered_per_s: report.throughput.received_per_sec,
        latency: report
            .latency
            .iter()
            .filter(|k| k.count > 0)
            .map(|k| KindRun {
                kind: k.kind.clone(),
                lane: k.lane.clone(),
                count: k.count,
                percentiles: k.percentiles(),
            })
            .collect(),
        correctness: Correctness {
            lost: m.lost,
            duplicated: m.duplicated,
            unacked: m.unacked,
            out_of_order: m.out_of_order,
            gaps: m.gaps,
            skipped_backlog: m.skipped_backlog,
            errors: report.errors.total,
        },
        loadgen_ok: report.correctness_ok,
        routing: report
            .routing
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(name, value)| Some((name, value.as_u64()?)))
            .collect(),
        loadgen_cpu_share: report.cpu.share_of_one_core,
        server_rss_bytes_max: None,
        server_cpu_share: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A trimmed real report of `switchboard-loadgen --scenario-file loadgen/scenarios/chat.toml`.
    pub(crate) const CHAT_REPORT: &str = r#"{
      "schema_version": 1, "tool": "switchboard-loadgen", "scenario": "chat",
      "connections": { "connected": 10, "open_at_end": 10, "started": 10, "target": 10, "upgraded": 10 },
      "messages": { "acked": 2899, "duplicated": 0, "gaps": 0, "lost": 0, "out_of_order": 0,
                    "received": 2899, "sent": 2899, "skipped_backlog": 0, "unacked": 0 },
      "throughput": { "received_per_sec": 966.3, "sent_per_sec": 966.3 },
      "latency": [
        { "kind": "ack", "lane": "chat", "count": 2899, "p50": 780.8, "p90": 4104.2, "p99": 7094.3,
          "p99_9": 11067.4, "p99_99": 11321.3, "max": 11321.3, "mean": 1544.2 },
        { "kind": "deliver", "lane": "chat", "count": 2891, "p50": 797.7, "p90": 4106.2, "p99": 7184.4,
          "p99_9": 11141.1, "p99_99": 11337.7, "max": 11337.7, "mean": 1559.5 },
        { "kind": "handoff", "lane": "urgent", "count": 0, "p50": 0, "p90": 0, "p99": 0,
          "p99_9": 0, "p99_99": 0, "max": 0, "mean": 0 }
      ],
      "routing": { "bot_answers": 12, "handoffs": 3 },
      "errors": { "by_cause": {}, "total": 0 },
      "correctness_ok": true,
      "cpu": { "share_of_one_core": 0.076, "system_secs": 0.18, "total_secs": 0.23, "user_secs": 0.05 }
    }"#;

    #[test]
    fn reads_a_chat_report() {
        let run = parse_scenario_report(CHAT_REPORT).unwrap();
        assert_eq!(run.sent_per_s, 966.3);
        assert_eq!(run.delivered_per_s, 966.3);
        let kinds: Vec<_> = run.latency.iter().map(|k| k.kind.as_str()).collect();
        assert_eq!(
            kinds,
            ["ack", "deliver"],
            "kinds without values are left out"
        );
        assert_eq!(run.latency[1].percentiles.p99_9, 11141.1);
        assert_eq!(run.correctness, Correctness::default());
        assert!(run.loadgen_ok);
        assert_eq!(run.routing.get("handoffs"), Some(&3));
        assert_eq!(run.loadgen_cpu_share, 0.076);
        let newer = CHAT_REPORT.replace("\"schema_version\": 1", "\"schema_version\": 2");
        assert!(parse_scenario_report(&newer).is_err());
        assert!(parse_scenario_report("{}").is_err());
    }

    #[test]
    fn failures_name_every_bad_count() {
        assert!(Correctness::default().failures().is_empty());
        let bad = Correctness {
            lost: 2,
            unacked: 1,
            ..Correctness::default()
        };
        assert_eq!(bad.failures(), ["lost 2", "unacked 1"]);
        let sum = bad.plus(&Correctness {
            duplicated: 4,
            lost: 1,
            ..Correctness::default()
        });
        assert_eq!((sum.lost, sum.duplicated, sum.unacked), (3, 4, 1));
    }
}
