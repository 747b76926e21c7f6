//! `switchboard-bench compare --scenario chat|chat-routed|fanout|burst|churn|all`: the full
//! switchboard.v1 scenarios of `switchboard-loadgen` against a chat-mode Switchboard.
//!
//! Layout:
//! - [`catalog`]: the scenarios and their loadgen files; `--scenario` selection.
//! - [`config`]: the generated server config (the scenario file's keyring, routing only for the
//!   routed scenario) and the scenario file as a run uses it.
//! - [`mod@run`]: one run (server pinned to one CPU, loadgen to another, RSS and CPU sampled).
//! - [`outcome`]: reading a run's loadgen report; the correctness counts.
//! - [`result`]: a scenario's figures over its runs as recorded, and the PASS/FAIL verdict.
//! - [`table`]: the Markdown tables printed by `compare` and shown on the dashboard.
//!
//! Why this shape: the peers of the echo comparison do not speak switchboard.v1, so scenario rows are
//! Switchboard only and have no ratio column. Runs are interleaved over scenarios (chat, fanout, …,
//! then again) like the echo rounds, each with a fresh server and data directory, so one run's log
//! never slows the next. A correctness failure in any run fails the scenario and makes `compare`
//! exit non-zero: a fast server that loses messages has not passed a benchmark.

pub mod catalog;
pub mod config;
pub mod outcome;
pub mod result;
pub mod run;
pub mod table;

use std::path::PathBuf;

use crate::record::{Record, Results, Settings};
use crate::scenario::catalog::Scenario;
use crate::scenario::config::ScenarioFile;
use crate::scenario::result::{summarise, ScenarioMeta, ScenarioResult};
use crate::servers::Binaries;

/// What `compare --scenario` runs.
#[derive(Debug, Clone)]
pub struct ScenarioOptions {
    /// Scenarios in run order.
    pub scenarios: Vec<Scenario>,
    /// Directory of the loadgen scenario files (`loadgen/scenarios`).
    pub scenarios_dir: PathBuf,
    /// Runs of each scenario.
    pub runs: usize,
    /// Seconds of load per run (the loadgen's drain comes on top).
    pub duration_s: u64,
    /// Connections, overriding each scenario file's.
    pub connections: Option<u32>,
    /// CPU the server is pinned to.
    pub server_cpu: usize,
    /// CPU the loadgen is pinned to.
    pub loadgen_cpu: usize,
    /// `switchboard-loadgen --threads`.
    pub loadgen_threads: u32,
    /// Scratch directory (configs, data directories, logs).
    pub work_dir: PathBuf,
    /// Where the per-run loadgen reports are kept (`scenario-<name>-<run>.json`).
    pub results_dir: PathBuf,
    /// Where the binaries are.
    pub binaries: Binaries,
    /// Whether `--quick` shortened the run.
    pub quick: bool,
}

/// Runs every scenario `runs` times, interleaved, and returns the record (not yet saved).
///
/// # Errors
///
/// A scenario file cannot be read or has no `[auth]` table; failed runs are not errors, they are
/// recorded and fail the scenario's verdict.
pub fn run(options: &ScenarioOptions) -> anyhow::Result<Record> {
    let mut files = Vec::new();
    for &scenario in &options.scenarios {
        let file = ScenarioFile::load(&scenario.file(&options.scenarios_dir))?;
        file.auth()?;
        files.push((scenario, file));
    }
    let mut attempts = vec![Vec::new(); files.len()];
    let mut reports = vec![Vec::new(); files.len()];
    let mut engine = None;
    for round in 1..=options.runs {
        eprintln!(" round {round}/{}", options.runs);
        for (index, (scenario, file)) in files.iter().enumerate() {
            let (attempt, artifacts) = run::run_once(*scenario, file, round, options);
            eprintln!("  {:<12} {}", scenario.name(), describe(&attempt));
            engine = engine.or(artifacts.engine);
            if let Some(kept) = artifacts.kept_report {
                reports[index].push(kept.display().to_string());
            }
            attempts[index].push(attempt);
        }
    }
    let scenarios = files
        .iter()
        .zip(attempts)
        .zip(reports)
        .map(|(((scenario, file), attempts), reports)| {
            summarise(meta(*scenario, file, options), &attempts, reports)
        })
        .collect();
    Ok(record(options, scenarios, engine))
}

fn describe(attempt: &result::RunAttempt) -> String {
    match attempt {
        Ok(run) => format!(
            "{:.0} sent/s, {:.0} delivered/s, {}",
            run.sent_per_s,
            run.delivered_per_s,
            match result::run_failures(attempt).as_slice() {
                [] => "correct".to_owned(),
                reasons => format!("FAIL: {}", reasons.join(", ")),
            }
        ),
        Err(reason) => format!("FAIL: {reason}"),
    }
}

fn meta(scenario: Scenario, file: &ScenarioFile, options: &ScenarioOptions) -> ScenarioMeta {
    let (_, mut notes) = file.for_duration(options.duration_s as f64);
    if options.connections.is_some() {
        notes.push("connections set on the command line".to_owned());
    }
    ScenarioMeta {
        name: scenario.name().to_owned(),
        file: format!("loadgen/scenarios/{}", scenario.file_name()),
        routing: scenario.routing(),
        connections: options.connections.or(file.connections()),
        rate_per_s: file.rate_per_s(),
        notes,
    }
}

/// The record of a scenario invocation: the echo sections are empty, `results.scenarios` holds the
/// scenarios and `settings.scenarios` their names.
pub fn record(
    options: &ScenarioOptions,
    scenarios: Vec<ScenarioResult>,
    engine: Option<String>,
) -> Record {
    let settings = Settings {
        runs: options.runs,
        duration_s: options.duration_s,
        servers: vec!["switchboard".to_owned()],
        message_bytes: Vec::new(),
        connections: options.connections.into_iter().collect(),
        idle_connections: Vec::new(),
        load_fractions: Vec::new(),
        server_cpu: options.server_cpu,
        loadgen_cpu: options.loadgen_cpu,
        quick: options.quick,
        scenarios: options
            .scenarios
            .iter()
            .map(|s| s.name().to_owned())
            .collect(),
    };
    let results = Results {
        scenarios,
        ..Results::default()
    };
    Record::finished_now(engine, settings, results)
}
