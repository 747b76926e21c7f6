//! Reads the JSON report `switchboard-loadgen --out FILE.json` writes into a [`LoadResult`].
//!
//! This is the one place that knows the report's layout: `schema_version` 1 as documented in
//! `loadgen/src/report.rs` (times in microseconds).

use anyhow::{bail, Context};
use serde::Deserialize;

use crate::load::{LoadResult, Percentiles};

/// The report layout this reader understands.
pub const LOADGEN_SCHEMA_VERSION: u32 = 1;

/// The fields of the loadgen report the harness uses (others are ignored).
#[derive(Debug, Deserialize)]
struct Report {
    schema_version: u32,
    connections: Connections,
    throughput: Throughput,
    latency: Vec<KindLatency>,
    errors: Errors,
    cpu: Cpu,
}

#[derive(Debug, Deserialize)]
struct Connections {
    /// Connections open when the load phase ended.
    open_at_end: u64,
}

#[derive(Debug, Deserialize)]
struct Throughput {
    /// Echoes received per second over the load phase.
    received_per_sec: f64,
}

/// One entry of the report's `latency` list (shared with the scenario reader, `scenario::outcome`).
#[derive(Debug, Deserialize)]
pub(crate) struct KindLatency {
    pub(crate) kind: String,
    /// The lane the kind travels on (switchboard.v1 scenarios; absent for echo).
    #[serde(default)]
    pub(crate) lane: String,
    pub(crate) count: u64,
    p50: f64,
    p90: f64,
    p99: f64,
    p99_9: f64,
    p99_99: f64,
    max: f64,
}

impl KindLatency {
    /// Its percentiles, microseconds.
    pub(crate) fn percentiles(&self) -> Percentiles {
        Percentiles {
            p50: self.p50,
            p90: self.p90,
            p99: self.p99,
            p99_9: self.p99_9,
            p99_99: self.p99_99,
            max: self.max,
        }
    }
}

/// The report's `errors` object.
#[derive(Debug, Deserialize)]
pub(crate) struct Errors {
    pub(crate) total: u64,
}

/// Refuses a report of another layout than [`LOADGEN_SCHEMA_VERSION`].
pub(crate) fn check_schema(schema_version: u32) -> anyhow::Result<()> {
    if schema_version != LOADGEN_SCHEMA_VERSION {
        bail!(
            "switchboard-loadgen report schema {schema_version} (this harness reads {LOADGEN_SCHEMA_VERSION})"
        );
    }
    Ok(())
}

#[derive(Debug, Deserialize)]
struct Cpu {
    total_secs: f64,
}

/// Parses one report.
///
/// # Errors
///
/// The text is not JSON, has another schema version, or lacks a field the harness needs.
pub fn parse_loadgen_report(text: &str) -> anyhow::Result<LoadResult> {
    let report: Report =
        serde_json::from_str(text).context("parsing the switchboard-loadgen report")?;
    check_schema(report.schema_version)?;
    let echo = report
        .latency
        .iter()
        .find(|l| l.kind == "echo" && l.count > 0);
    Ok(LoadResult {
        messages_per_s: report.throughput.received_per_sec,
        latency_us: echo.map(KindLatency::percentiles),
        connections_established: Some(report.connections.open_at_end),
        errors: report.errors.total,
        loadgen_cpu_s: Some(report.cpu.total_secs),
        server_cpu_s: None,
        server_system_cpu_s: None,
        server_cpu_window_s: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example document of `loadgen/src/report.rs`, trimmed to valid JSON.
    const EXAMPLE: &str = r#"{
      "schema_version": 1, "tool": "switchboard-loadgen", "scenario": "echo",
      "connections": { "target": 100, "started": 100, "connected": 100, "upgraded": 100, "open_at_end": 100 },
      "throughput": { "sent_per_sec": 100.0, "received_per_sec": 99.5 },
      "latency": [ { "kind": "echo", "lane": "ws", "count": 1000, "p50": 41.2, "p90": 55.0,
                     "p99": 80.1, "p99_9": 120.0, "p99_99": 300.0, "max": 310.0, "mean": 43.0 } ],
      "errors": { "total": 2, "by_cause": {} },
      "cpu": { "user_secs": 1.2, "system_secs": 3.4, "total_secs": 4.6, "share_of_one_core": 0.44 }
    }"#;

    #[test]
    fn reads_the_documented_example() {
        let result = parse_loadgen_report(EXAMPLE).unwrap();
        assert_eq!(result.messages_per_s, 99.5);
        assert_eq!(result.errors, 2);
        assert_eq!(result.connections_established, Some(100));
        assert_eq!(result.loadgen_cpu_s, Some(4.6));
        assert_eq!(result.latency_us.unwrap().p99_9, 120.0);
        let newer = EXAMPLE.replace("\"schema_version\": 1", "\"schema_version\": 2");
        assert!(parse_loadgen_report(&newer).is_err());
    }
}
