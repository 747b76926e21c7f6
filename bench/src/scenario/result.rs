//! A scenario's figures over its runs, as kept in the record (`results.scenarios`), and the verdict:
//! any run that lost, duplicated, reordered or left unacked a message (or failed to run) fails the
//! scenario, and a failed scenario makes `compare` exit non-zero.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::load::Percentiles;
use crate::scenario::outcome::{Correctness, RunOutcome};
use crate::summary::Summary;

/// Whether a scenario's runs were all correct.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every run ran and every correctness count was zero.
    Pass,
    /// At least one run failed to run or counted a correctness failure.
    Fail,
}

impl Verdict {
    /// `PASS` or `FAIL`, for tables.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
        }
    }
}

/// One message kind's latency over the runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KindSummary {
    /// Message kind (`ack`, `deliver`, `bot_answer`, `handoff`, `agent_reply`).
    pub kind: String,
    /// Priority lane.
    pub lane: String,
    /// Values recorded over all runs.
    pub count: u64,
    /// Median over runs of each percentile, in microseconds.
    pub median_us: Percentiles,
    /// p50 over runs (microseconds), for the min–max spread.
    pub p50_us: Summary,
    /// p99 over runs (microseconds).
    pub p99_us: Summary,
    /// p99.9 over runs (microseconds).
    pub p99_9_us: Summary,
}

/// One scenario of a `compare --scenario` invocation: Switchboard only (the peers do not speak
/// switchboard.v1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioResult {
    /// Scenario name (`chat`, `chat-routed`, `fanout`, `burst`, `churn`).
    pub name: String,
    /// The loadgen scenario file it ran.
    pub file: String,
    /// Whether the server's routing shard ran.
    pub routing: bool,
    /// Connections the loadgen opened.
    pub connections: Option<u32>,
    /// Offered customer messages per second (agent replies come on top).
    pub rate_per_s: Option<f64>,
    /// Runs attempted.
    pub runs: usize,
    /// Sends per second over the runs that produced a report.
    pub sent_per_s: Option<Summary>,
    /// First deliveries per second (over all recipients).
    pub delivered_per_s: Option<Summary>,
    /// Latency per message kind.
    pub latency: Vec<KindSummary>,
    /// Correctness counts summed over the runs.
    pub correctness: Correctness,
    /// Routed chat's counts summed over the runs; empty otherwise.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub routing_counts: BTreeMap<String, u64>,
    /// Largest server RSS of each run, in bytes.
    pub server_rss_bytes_max: Option<Summary>,
    /// Server CPU time over wall time of each run (1.0 = one core).
    pub server_cpu_share: Option<Summary>,
    /// Loadgen CPU time over wall time of each run (1.0 = one core).
    pub loadgen_cpu_share: Option<Summary>,
    /// PASS only when every run passed.
    pub verdict: Verdict,
    /// Why runs failed (`run 2: lost 3`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<String>,
    /// What the harness changed in the scenario for this run length, and similar remarks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The per-run loadgen reports kept under the results directory.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reports: Vec<String>,
}

impl ScenarioResult {
    /// The latency of `kind`, if measured.
    pub fn kind(&self, kind: &str) -> Option<&KindSummary> {
        self.latency.iter().find(|k| k.kind == kind)
    }
}

/// What a scenario is, independent of its runs.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioMeta {
    /// Scenario name.
    pub name: String,
    /// Its loadgen file.
    pub file: String,
    /// Whether routing ran.
    pub routing: bool,
    /// Connections opened.
    pub connections: Option<u32>,
    /// Offered customer rate.
    pub rate_per_s: Option<f64>,
    /// Remarks.
    pub notes: Vec<String>,
}

/// One run: its outcome, or why it did not produce one.
pub type RunAttempt = Result<RunOutcome, String>;

/// Why one run fails, or an empty list when it passed.
pub fn run_failures(attempt: &RunAttempt) -> Vec<String> {
    match attempt {
        Err(reason) => vec![format!("did not run: {reason}")],
        Ok(run) => {
            let mut reasons = run.correctness.failures();
            if reasons.is_empty() && !run.loadgen_ok {
                reasons.push("the loadgen reported a correctness failure".to_owned());
            }
            reasons
        }
    }
}

/// Summarises a scenario's runs: medians with min–max, summed counts and the verdict.
pub fn summarise(
    meta: ScenarioMeta,
    attempts: &[RunAttempt],
    reports: Vec<String>,
) -> ScenarioResult {
    let runs: Vec<&RunOutcome> = attempts.iter().filter_map(|a| a.as_ref().ok()).collect();
    let of = |value: &dyn Fn(&RunOutcome) -> Option<f64>| {
        Summary::of(&runs.iter().filter_map(|r| value(r)).collect::<Vec<_>>())
    };
    let failures: Vec<String> = attempts
        .iter()
        .enumerate()
        .flat_map(|(index, attempt)| {
            run_failures(attempt)
                .into_iter()
                .map(move |reason| format!("run {}: {reason}", index + 1))
        })
        .collect();
    let mut routing_counts = BTreeMap::new();
    for run in &runs {
        for (name, count) in &run.routing {
            *routing_counts.entry(name.clone()).or_insert(0) += count;
        }
    }
    ScenarioResult {
        name: meta.name,
        file: meta.file,
        routing: meta.routing,
        connections: meta.connections,
        rate_per_s: meta.rate_per_s,
        runs: attempts.len(),
        sent_per_s: of(&|r| Some(r.sent_per_s)),
        delivered_per_s: of(&|r| Some(r.delivered_per_s)),
        latency: kinds(&runs),
        correctness: runs
            .iter()
            .fold(Correctness::default(), |sum, r| sum.plus(&r.correctness)),
        routing_counts,
        server_rss_bytes_max: of(&|r| r.server_rss_bytes_max.map(|b| b as f64)),
        server_cpu_share: of(&|r| r.server_cpu_share),
        loadgen_cpu_share: of(&|r| Some(r.loadgen_cpu_share)),
        verdict: if failures.is_empty() && !attempts.is_empty() {
            Verdict::Pass
        } else {
            Verdict::Fail
        },
        failures,
        notes: meta.notes,
        reports,
    }
}

/// Per kind, in order of first appearance: the median of each percentile and the spreads.
fn kinds(runs: &[&RunOutcome]) -> Vec<KindSummary> {
    let mut order: Vec<(String, String)> = Vec::new();
    for kind in runs.iter().flat_map(|r| &r.latency) {
        let key = (kind.kind.clone(), kind.lane.clone());
        if !order.contains(&key) {
            order.push(key);
        }
    }
    order
        .into_iter()
        .filter_map(|(kind, lane)| {
            let measured: Vec<_> = runs
                .iter()
                .flat_map(|r| &r.latency)
                .filter(|k| k.kind == kind && k.lane == lane)
                .collect();
            let level = |index: usize| -> Vec<f64> {
                measured
                    .iter()
                    .map(|k| k.percentiles.values()[index])
                    .collect()
            };
            let mut medians = [0.0; 6];
            for (index, slot) in medians.iter_mut().enumerate() {
                *slot = Summary::of(&level(index))?.median;
            }
            Some(KindSummary {
                count: measured.iter().map(|k| k.count).sum(),
                median_us: Percentiles::from_values(medians),
                p50_us: Summary::of(&level(0))?,
                p99_us: Summary::of(&level(2))?,
                p99_9_us: Summary::of(&level(3))?,
                kind,
                lane,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::outcome::KindRun;

    fn meta() -> ScenarioMeta {
        ScenarioMeta {
            name: "chat".to_owned(),
            file: "loadgen/scenarios/chat.toml".to_owned(),
            routing: false,
            connections: Some(10),
            rate_per_s: Some(500.0),
            notes: Vec::new(),
        }
    }

    fn run(deliver_p99: f64, correctness: Correctness) -> RunOutcome {
        let kind = |kind: &str, scale: f64| KindRun {
            kind: kind.to_owned(),
            lane: "chat".to_owned(),
            count: 100,
            percentiles: Percentiles::from_values([
                scale,
                scale * 2.0,
                deliver_p99 * scale / 100.0,
                scale * 20.0,
                scale * 30.0,
                scale * 40.0,
            ]),
        };
        RunOutcome {
            sent_per_s: deliver_p99 * 10.0,
            delivered_per_s: deliver_p99 * 10.0,
            latency: vec![kind("ack", 90.0), kind("deliver", 100.0)],
            correctness,
            loadgen_ok: correctness.failures().is_empty(),
            routing: BTreeMap::from([("handoffs".to_owned(), 2)]),
            loadgen_cpu_share: 0.1,
            server_rss_bytes_max: Some(1 << 20),
            server_cpu_share: Some(0.3),
        }
    }

    #[test]
    fn clean_runs_pass_with_medians_and_spreads() {
        let attempts = vec![
            Ok(run(300.0, Correctness::default())),
            Ok(run(100.0, Correctness::default())),
            Ok(run(200.0, Correctness::default())),
        ];
        let result = summarise(meta(), &attempts, vec!["a.json".to_owned()]);
        assert_eq!(result.verdict, Verdict::Pass);
        assert!(result.failures.is_empty());
        assert_eq!(result.runs, 3);
        let deliver = result.kind("deliver").unwrap();
        assert_eq!(deliver.median_us.p99, 200.0);
        assert_eq!((deliver.p99_us.min, deliver.p99_us.max), (100.0, 300.0));
        assert_eq!(deliver.count, 300);
        assert_eq!(result.sent_per_s.unwrap().median, 2000.0);
        assert_eq!(result.routing_counts["handoffs"], 6);
        assert_eq!(
            result.server_rss_bytes_max.unwrap().median,
            (1 << 20) as f64
        );
        assert_eq!(
            result.latency[0].kind, "ack",
            "kinds keep the report's order"
        );
    }

    #[test]
    fn any_loss_duplicate_unacked_or_missing_run_fails() {
        for bad in [
            Correctness {
                lost: 1,
                ..Correctness::default()
            },
            Correctness {
                duplicated: 1,
                ..Correctness::default()
            },
            Correctness {
                unacked: 1,
                ..Correctness::default()
            },
            Correctness {
                out_of_order: 1,
                ..Correctness::default()
            },
        ] {
            let attempts = vec![Ok(run(100.0, Correctness::default())), Ok(run(100.0, bad))];
            let result = summarise(meta(), &attempts, Vec::new());
            assert_eq!(result.verdict, Verdict::Fail, "{bad:?}");
            assert_eq!(result.failures.len(), 1);
            assert!(result.failures[0].starts_with("run 2: "));
        }
        let missing = vec![
            Ok(run(100.0, Correctness::default())),
            Err("server exited".to_owned()),
        ];
        let result = summarise(meta(), &missing, Vec::new());
        assert_eq!(result.verdict, Verdict::Fail);
        assert_eq!(result.failures, ["run 2: did not run: server exited"]);
        assert_eq!(result.sent_per_s.unwrap().runs, 1);
        assert_eq!(summarise(meta(), &[], Vec::new()).verdict, Verdict::Fail);
        let mut silent = run(100.0, Correctness::default());
        silent.loadgen_ok = false;
        assert_eq!(run_failures(&Ok(silent)).len(), 1);
    }
}
