//! The JSON record of one comparison run, as appended to `bench/results/history.jsonl` and written
//! to `bench/results/latest.json`. The dashboard reads only these types.
//!
//! One record per `compare` invocation: an echo comparison fills `results.throughput`, `latency` and
//! `memory`; a `--scenario` invocation fills `results.scenarios` (and `settings.scenarios`) instead.
//! Both sections are optional when reading, so records written before scenarios existed still parse.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::load::Percentiles;
use crate::machine::Machine;
pub use crate::scenario::result::{KindSummary, ScenarioResult, Verdict};
use crate::summary::Summary;

/// Version of the record layout; bump when a field changes meaning.
pub const RECORD_SCHEMA: u32 = 1;

/// One comparison run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// [`RECORD_SCHEMA`] at the time of writing.
    pub schema: u32,
    /// Seconds since the Unix epoch when the run finished.
    pub finished_unix_s: u64,
    /// `git rev-parse --short HEAD`, `-dirty` when modified.
    pub git_revision: String,
    /// Where it ran.
    pub machine: Machine,
    /// The engine Switchboard reported choosing (its log line), if it ran.
    pub engine: Option<String>,
    /// How it ran.
    pub settings: Settings,
    /// What it measured.
    pub results: Results,
}

impl Record {
    /// A record of a run that finished now: the current schema, time, revision and machine.
    pub fn finished_now(engine: Option<String>, settings: Settings, results: Results) -> Record {
        Record {
            schema: RECORD_SCHEMA,
            finished_unix_s: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            git_revision: crate::machine::git_revision(),
            machine: Machine::describe(),
            engine,
            settings,
            results,
        }
    }
}

/// The options of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Rounds over all servers (A B A B …).
    pub runs: usize,
    /// Seconds of each measured load run.
    pub duration_s: u64,
    /// Server names in run order.
    pub servers: Vec<String>,
    /// Message sizes in bytes.
    pub message_bytes: Vec<usize>,
    /// Connection counts for the echo runs.
    pub connections: Vec<u32>,
    /// Connection counts for the idle-memory runs.
    pub idle_connections: Vec<u32>,
    /// Fractions of each server's peak used for the open-loop runs.
    pub load_fractions: Vec<f64>,
    /// CPU the servers were pinned to.
    pub server_cpu: usize,
    /// CPU the load generator was pinned to.
    pub loadgen_cpu: usize,
    /// Whether `--quick` shortened the run.
    pub quick: bool,
    /// switchboard.v1 scenarios run (`compare --scenario`); empty for an echo comparison.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scenarios: Vec<String>,
}

/// Everything measured.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Results {
    /// Closed-loop echo throughput cells.
    pub throughput: Vec<ThroughputCell>,
    /// Open-loop latency cells.
    pub latency: Vec<LatencyCell>,
    /// Idle memory cells.
    pub memory: Vec<MemoryCell>,
    /// Figures not measured, with the reason.
    pub skipped: Vec<Skipped>,
    /// switchboard.v1 scenarios (Switchboard only); absent in echo records.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scenarios: Vec<ScenarioResult>,
}

impl Record {
    /// Whether the record has echo figures (throughput, latency or memory).
    pub fn has_echo(&self) -> bool {
        let r = &self.results;
        !(r.throughput.is_empty() && r.latency.is_empty() && r.memory.is_empty())
    }

    /// Whether the record has scenario figures.
    pub fn has_scenarios(&self) -> bool {
        !self.results.scenarios.is_empty()
    }
}

/// Closed-loop echo messages per second of one server at one size and connection count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThroughputCell {
    /// Server name.
    pub server: String,
    /// Concurrent connections.
    pub connections: u32,
    /// Message payload bytes.
    pub message_bytes: usize,
    /// Load driver used.
    pub driver: String,
    /// Messages per second over the runs.
    pub messages_per_s: Summary,
    /// Median divided by Switchboard's median in the same cell.
    pub ratio_to_switchboard: Option<f64>,
    /// Errors counted over all runs.
    pub errors: u64,
    /// Server CPU microseconds per echoed message over the runs (absent in records before it was
    /// measured). On a machine where the load generator saturates its own core, msg/s ratios are
    /// compressed towards 1; this says what each message costs the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_cpu_us_per_message: Option<Summary>,
    /// The system (kernel) part of `server_cpu_us_per_message` (absent in records before it was measured).
    /// On loopback it is mostly TCP work every server pays alike, so a peer's CPU per message divided by
    /// Switchboard's system part bounds the CPU ratio Switchboard could reach with free user space.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_system_cpu_us_per_message: Option<Summary>,
    /// The server's CPU per message divided by Switchboard's in the same cell (above 1: the server
    /// spends more of its core per message than Switchboard).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_ratio_to_switchboard: Option<f64>,
    /// The second, neutral client that drove this cell (`uWebSockets load_test`); absent for the
    /// harness's own client (`switchboard-loadgen`, or its raw TCP fallback). Ratios compare cells of
    /// the same client only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub neutral_client: Option<String>,
}

impl ThroughputCell {
    /// Whether the harness's own client drove this cell (not the neutral one).
    pub fn by_own_client(&self) -> bool {
        self.neutral_client.is_none()
    }
}

/// Open-loop round-trip latency of one server at one offered load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencyCell {
    /// Server name.
    pub server: String,
    /// Concurrent connections.
    pub connections: u32,
    /// Message payload bytes.
    pub message_bytes: usize,
    /// Fraction of this server's closed-loop peak offered.
    pub load_fraction: f64,
    /// Offered messages per second.
    pub rate_per_s: u64,
    /// Median over runs of each percentile, in microseconds.
    pub median_us: Percentiles,
    /// p99 over runs (microseconds), for the min–max spread.
    pub p99_us: Summary,
    /// Achieved messages per second over runs.
    pub achieved_per_s: Summary,
    /// Errors counted over all runs.
    pub errors: u64,
}

/// Server RSS per idle connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemoryCell {
    /// Server name.
    pub server: String,
    /// Connections requested.
    pub connections: u32,
    /// Connections established (smallest over runs).
    pub established_min: u64,
    /// (peak RSS of the run − RSS before) / established, in bytes, over runs. The peak includes the connect
    /// ramp's handshake state and the closing burst at the end, so it is above what an idle connection holds.
    pub bytes_per_connection: Summary,
    /// (median RSS over the middle half of the hold − RSS before) / established, in bytes, over runs: what
    /// an open, idle connection holds (as `bench/scripts/idle.sh` reports it). Absent in records before it
    /// was measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steady_bytes_per_connection: Option<Summary>,
    /// Median divided by Switchboard's median in the same cell.
    pub ratio_to_switchboard: Option<f64>,
}

/// A figure that was not measured, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    /// Server name.
    pub server: String,
    /// Which figure (`throughput 100 conns 64 B`, `latency`, `memory 100000`).
    pub figure: String,
    /// Why.
    pub reason: String,
}

/// Appends `record` as one line to the history file and writes it alone to `latest`.
///
/// # Errors
///
/// The files cannot be written.
pub fn save(record: &Record, history: &Path, latest: &Path) -> anyhow::Result<()> {
    let line = serde_json::to_string(record)?;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(history)
        .with_context(|| format!("opening {}", history.display()))?;
    writeln!(file, "{line}")?;
    std::fs::write(latest, serde_json::to_string_pretty(record)? + "\n")
        .with_context(|| format!("writing {}", latest.display()))?;
    Ok(())
}

/// Reads every record of a history file, skipping blank lines.
///
/// # Errors
///
/// The file cannot be read or a line is not a record (the error names the line).
pub fn load_history(history: &Path) -> anyhow::Result<Vec<Record>> {
    let text = std::fs::read_to_string(history)
        .with_context(|| format!("reading {}", history.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| {
            serde_json::from_str(line)
                .with_context(|| format!("{} line {}", history.display(), index + 1))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::outcome::Correctness;

    /// A record written before scenarios existed (the committed sample).
    const OLD_RECORD: &str = include_str!("../results/sample-history.jsonl");

    fn scenario_result() -> ScenarioResult {
        let spread = Summary {
            median: 900.0,
            min: 800.0,
            max: 1000.0,
            runs: 3,
        };
        ScenarioResult {
            name: "chat".to_owned(),
            file: "loadgen/scenarios/chat.toml".to_owned(),
            routing: false,
            connections: Some(100),
            rate_per_s: Some(500.0),
            runs: 3,
            sent_per_s: Some(spread),
            delivered_per_s: Some(spread),
            latency: vec![KindSummary {
                kind: "deliver".to_owned(),
                lane: "chat".to_owned(),
                count: 3000,
                median_us: Percentiles::from_values([400.0, 900.0, 1500.0, 5900.0, 7000.0, 8000.0]),
                p50_us: spread,
                p99_us: spread,
                p99_9_us: spread,
            }],
            correctness: Correctness::default(),
            routing_counts: Default::default(),
            server_rss_bytes_max: Some(spread),
            server_cpu_share: None,
            loadgen_cpu_share: Some(spread),
            verdict: Verdict::Pass,
            failures: Vec::new(),
            notes: vec!["a note".to_owned()],
            reports: vec!["bench/results/scenario-chat-1.json".to_owned()],
        }
    }

    #[test]
    fn old_records_still_parse() {
        let line = OLD_RECORD.lines().find(|l| !l.trim().is_empty()).unwrap();
        assert!(!line.contains("scenarios"), "the sample predates scenarios");
        let record: Record = serde_json::from_str(line).unwrap();
        assert!(record.has_echo());
        assert!(!record.has_scenarios());
        assert!(record.settings.scenarios.is_empty());
        let written = serde_json::to_string(&record).unwrap();
        assert!(
            !written.contains("scenarios"),
            "echo records keep their old shape"
        );
    }

    #[test]
    fn scenario_records_round_trip_through_the_history_file() {
        let line = OLD_RECORD.lines().find(|l| !l.trim().is_empty()).unwrap();
        let mut record: Record = serde_json::from_str(line).unwrap();
        record.results = Results {
            scenarios: vec![scenario_result()],
            ..Results::default()
        };
        record.settings.scenarios = vec!["chat".to_owned()];
        assert!(record.has_scenarios() && !record.has_echo());
        let dir = std::env::temp_dir().join(format!("sb-bench-record-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (history, latest) = (dir.join("history.jsonl"), dir.join("latest.json"));
        std::fs::write(&history, format!("{line}\n\n")).unwrap();
        save(&record, &history, &latest).unwrap();
        let back = load_history(&history).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[1], record);
        assert!(back[0].results.scenarios.is_empty());
        let latest: Record =
            serde_json::from_str(&std::fs::read_to_string(&latest).unwrap()).unwrap();
        assert_eq!(latest, record);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
