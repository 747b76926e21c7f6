//! One scenario run: a fresh chat-mode Switchboard pinned to one CPU, `switchboard-loadgen` with the
//! scenario file pinned to another, the server's RSS and CPU sampled meanwhile, and the loadgen's
//! report read and kept.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::loadgen::{run_pinned_raw, LOAD_GRACE_S};
use crate::scenario::catalog::Scenario;
use crate::scenario::config::{server_config, ScenarioFile, ServerSettings};
use crate::scenario::outcome::{parse_scenario_report, RunOutcome};
use crate::scenario::ScenarioOptions;
use crate::servers::{free_port, RunningServer};

/// Interval between server RSS samples during a run.
const RSS_SAMPLE_MS: u64 = 100;
/// Request path when the scenario file's `url` has none.
const PATH_DEFAULT: &str = "/ws";

/// What one run left behind besides its outcome.
#[derive(Debug, Default)]
pub struct RunArtifacts {
    /// The loadgen report copied into the results directory.
    pub kept_report: Option<PathBuf>,
    /// The engine line the server logged.
    pub engine: Option<String>,
}

/// The request path of the scenario file's `url` (`ws://host:port/ws` → `/ws`).
pub fn url_path(file: &ScenarioFile) -> String {
    file.table
        .get("url")
        .and_then(toml::Value::as_str)
        .and_then(|url| url.split_once("://"))
        .and_then(|(_, rest)| rest.find('/').map(|at| rest[at..].to_owned()))
        .unwrap_or_else(|| PATH_DEFAULT.to_owned())
}

/// The loadgen command line of one run.
pub fn loadgen_command(
    binary: &Path,
    scenario_file: &Path,
    url: &str,
    options: &ScenarioOptions,
    report: &Path,
) -> Command {
    let mut command = Command::new(binary);
    command
        .arg("--scenario-file")
        .arg(scenario_file)
        .args(["--url", url])
        .args(["--duration", &options.duration_s.to_string()])
        .args(["--threads", &options.loadgen_threads.to_string()]);
    if let Some(connections) = options.connections {
        command.args(["--connections", &connections.to_string()]);
    }
    command.arg("--quiet").arg("--out").arg(report);
    command
}

/// Runs `scenario` once (run number `run`, from 1).
pub fn run_once(
    scenario: Scenario,
    file: &ScenarioFile,
    run: usize,
    options: &ScenarioOptions,
) -> (Result<RunOutcome, String>, RunArtifacts) {
    let mut artifacts = RunArtifacts::default();
    let outcome = run_inner(scenario, file, run, options, &mut artifacts);
    (outcome.map_err(|e| format!("{e:#}")), artifacts)
}

fn run_inner(
    scenario: Scenario,
    file: &ScenarioFile,
    run: usize,
    options: &ScenarioOptions,
    artifacts: &mut RunArtifacts,
) -> anyhow::Result<RunOutcome> {
    let run_dir = options
        .work_dir
        .join(format!("scenario-{}-{run}", scenario.name()));
    let _ = std::fs::remove_dir_all(&run_dir);
    std::fs::create_dir_all(&run_dir)?;
    let addr = free_port()?;
    let settings = ServerSettings {
        listen: addr,
        data_dir: run_dir.join("data"),
        routing: scenario.routing(),
    };
    let config_path = run_dir.join("serve.toml");
    std::fs::write(&config_path, server_config(file, &settings)?)?;
    let scenario_path = run_dir.join("scenario.toml");
    let (table, _) = file.for_duration(options.duration_s as f64);
    std::fs::write(&scenario_path, table.to_string())?;
    let mut server = RunningServer::start_chat(
        &options.binaries,
        options.server_cpu,
        &run_dir,
        &config_path,
        addr,
    )?;
    let report_path = run_dir.join("report.json");
    let url = format!("ws://{addr}{}", url_path(file));
    let command = loadgen_command(
        &options.binaries.bin("switchboard-loadgen"),
        &scenario_path,
        &url,
        options,
        &report_path,
    );
    let cpu_before = server.cpu_seconds().unwrap_or(0.0);
    let started = Instant::now();
    let (output, rss_max) = drive(&mut server, command, options)?;
    let elapsed_s = started.elapsed().as_secs_f64();
    let cpu_used = server.cpu_seconds().map(|after| after - cpu_before).ok();
    artifacts.engine = server.engine_line();
    let alive = server.is_alive();
    let log_tail = server.log_tail();
    drop(server);
    let Ok(text) = std::fs::read_to_string(&report_path) else {
        anyhow::bail!(
            "switchboard-loadgen wrote no report ({}): {}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim(),
            if alive {
                String::new()
            } else {
                format!("; the server had exited: {log_tail}")
            }
        );
    };
    let kept = options
        .results_dir
        .join(format!("scenario-{}-{run}.json", scenario.name()));
    std::fs::create_dir_all(&options.results_dir)?;
    std::fs::write(&kept, &text).with_context(|| format!("writing {}", kept.display()))?;
    artifacts.kept_report = Some(kept);
    let mut outcome = parse_scenario_report(&text)?;
    outcome.server_rss_bytes_max = rss_max;
    outcome.server_cpu_share = cpu_used.filter(|_| elapsed_s > 0.0).map(|c| c / elapsed_s);
    Ok(outcome)
}

/// Runs the loadgen to completion while sampling the server's RSS; returns its output and the
/// largest RSS seen.
fn drive(
    server: &mut RunningServer,
    command: Command,
    options: &ScenarioOptions,
) -> anyhow::Result<(std::process::Output, Option<u64>)> {
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let load = scope.spawn(|| {
            let result = run_pinned_raw(
                command,
                options.loadgen_cpu,
                options.duration_s + LOAD_GRACE_S,
            );
            done.store(true, Ordering::Release);
            result
        });
        let mut rss_max = None;
        while !done.load(Ordering::Acquire) {
            if let Ok(rss) = server.rss_bytes() {
                rss_max = Some(rss_max.map_or(rss, |m: u64| m.max(rss)));
            }
            std::thread::sleep(Duration::from_millis(RSS_SAMPLE_MS));
        }
        let output = load
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("load thread panicked")))?;
        Ok((output.0, rss_max))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::servers::Binaries;

    fn options(connections: Option<u32>) -> ScenarioOptions {
        ScenarioOptions {
            scenarios: vec![Scenario::Chat],
            scenarios_dir: PathBuf::from("loadgen/scenarios"),
            runs: 1,
            duration_s: 2,
            connections,
            server_cpu: 0,
            loadgen_cpu: 1,
            loadgen_threads: 1,
            work_dir: PathBuf::from("/tmp/w"),
            results_dir: PathBuf::from("/tmp/r"),
            binaries: Binaries {
                release_dir: PathBuf::from("/t"),
            },
            quick: false,
        }
    }

    #[test]
    fn paths_and_command_line() {
        let file =
            ScenarioFile::parse(Path::new("c.toml"), "url = \"ws://127.0.0.1:7878/ws\"\n").unwrap();
        assert_eq!(url_path(&file), "/ws");
        let bare = ScenarioFile::parse(Path::new("c.toml"), "url = \"ws://h:1\"\n").unwrap();
        assert_eq!(url_path(&bare), PATH_DEFAULT);
        let command = loadgen_command(
            Path::new("/t/switchboard-loadgen"),
            Path::new("/tmp/w/s.toml"),
            "ws://127.0.0.1:9/ws",
            &options(Some(10)),
            Path::new("/tmp/w/r.json"),
        );
        let args: Vec<_> = command
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args.join(" "),
            "--scenario-file /tmp/w/s.toml --url ws://127.0.0.1:9/ws --duration 2 --threads 1 \
             --connections 10 --quiet --out /tmp/w/r.json"
        );
    }
}
