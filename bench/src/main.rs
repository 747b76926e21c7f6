//! `switchboard-bench`: side-by-side comparison of Switchboard and its peers, and the dashboard.
//!
//! ```text
//! switchboard-bench compare [--quick] [--runs N] [--servers a,b] [--sizes 64,1024] [--connections 100,1000]
//!                           [--load-test-cells 100x64,1000x1024,500x16384]
//! switchboard-bench compare --scenario chat|chat-routed|fanout|burst|churn|all [--runs N] [--duration S]
//!                           [--connections N]
//! switchboard-bench report  [--history FILE] [--out FILE]
//! ```

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use switchboard_bench::compare::{self, CompareOptions};
use switchboard_bench::record::{self, load_history, Record, Verdict};
use switchboard_bench::scenario::{self, ScenarioOptions};
use switchboard_bench::servers::{Binaries, ServerKind};
use switchboard_bench::{report, table};

#[derive(Parser)]
#[command(
    name = "switchboard-bench",
    about = "Switchboard against its peers, and the benchmark dashboard"
)]
struct Cli {
    #[command(subcommand)]
    command: Action,
}

#[derive(Subcommand)]
enum Action {
    /// Run the side-by-side comparison and append the result to the history.
    Compare(Box<CompareArgs>),
    /// Write the static dashboard from the history.
    Report(ReportArgs),
}

#[derive(clap::Args)]
struct CompareArgs {
    /// Short smoke run: 2 rounds of 2 s, 100 connections, 64 B, 10K idle connections.
    #[arg(long)]
    quick: bool,
    /// Rounds over all servers (default 5, quick 2).
    #[arg(long)]
    runs: Option<usize>,
    /// Seconds per load run (default 10, quick 2).
    #[arg(long)]
    duration: Option<u64>,
    /// Servers, comma-separated: switchboard, tokio-tungstenite, fastwebsockets, uwebsockets, tokio-tcp,
    /// engine-tcp (uwebsockets is skipped, and said so, when its binary is not built: see README).
    #[arg(long, value_delimiter = ',')]
    servers: Option<Vec<String>>,
    /// Message sizes in bytes (default 64,1024,16384; quick 64).
    #[arg(long, value_delimiter = ',')]
    sizes: Option<Vec<usize>>,
    /// Connection counts for echo (default 100,1000; quick 100); with `--scenario`, one count
    /// overriding every scenario file's.
    #[arg(long, value_delimiter = ',')]
    connections: Option<Vec<u32>>,
    /// Idle connection counts for memory (default 10000,100000; quick 10000); the flag with no value
    /// skips the memory phase.
    #[arg(long, value_delimiter = ',', num_args = 0..)]
    idle_connections: Option<Vec<u32>>,
    /// Open-loop load levels as fractions of each server's peak; the flag with no value skips the
    /// latency phase.
    #[arg(long, value_delimiter = ',', num_args = 0.., default_value = "0.25,0.5,0.75")]
    load_fractions: Vec<f64>,
    /// `echo` (the side-by-side echo comparison), or switchboard.v1 scenarios, comma-separated:
    /// chat, chat-routed, fanout, burst, churn, or `all` (every one whose loadgen file exists).
    /// Scenarios run against Switchboard only; any lost, duplicated or unacked message fails them.
    #[arg(long, value_delimiter = ',', default_value = "echo")]
    scenario: Vec<String>,
    /// Directory of the loadgen scenario files.
    #[arg(long, default_value = "loadgen/scenarios")]
    scenarios_dir: PathBuf,
    /// CPU the servers are pinned to.
    #[arg(long, default_value_t = 0)]
    server_cpu: usize,
    /// CPU the load generator is pinned to.
    #[arg(long, default_value_t = 1)]
    loadgen_cpu: usize,
    /// `switchboard-loadgen --threads`.
    #[arg(long, default_value_t = 1)]
    loadgen_threads: u32,
    /// Closed-loop cells CONNECTIONSxBYTES also driven by uWebSockets' `load_test` (a second, neutral
    /// client), in the same rounds, when it is built (`target/uws/load_test` or `$UWS_BIN_DIR`)
    /// (default 100x64,1000x1024,500x16384; quick 100x64); the flag with no value skips them.
    #[arg(long, value_delimiter = ',', num_args = 0.., value_parser = parse_cell)]
    load_test_cells: Option<Vec<(u32, usize)>>,
    /// `switchboard-loadgen --source-addrs` (several addresses get past 64K ephemeral ports).
    #[arg(long, default_value = "127.0.0.2-127.0.0.9")]
    source_addrs: String,
    /// Do not build the servers and load generators first.
    #[arg(long)]
    no_build: bool,
    /// Directory of results (history.jsonl, latest.json).
    #[arg(long, default_value = "bench/results")]
    results_dir: PathBuf,
}

#[derive(clap::Args)]
struct ReportArgs {
    /// History file to read (every record; the last is "latest").
    #[arg(long, default_value = "bench/results/history.jsonl")]
    history: PathBuf,
    /// Page to write.
    #[arg(long, default_value = "bench/dashboard/index.html")]
    out: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Action::Compare(args) => run_compare(*args),
        Action::Report(args) => run_report(&args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("switchboard-bench: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_compare(args: CompareArgs) -> anyhow::Result<ExitCode> {
    if args.scenario != ["echo"] {
        return run_scenarios(&args);
    }
    let options = options(&args)?;
    if !args.no_build {
        build(&options.binaries)?;
    }
    let record = compare::run(&options);
    // Scratch configs, logs, load reports and Switchboard's data directory of this run only.
    let _ = std::fs::remove_dir_all(&options.work_dir);
    save_and_print(&record, &args.results_dir, "latest.json")?;
    Ok(ExitCode::SUCCESS)
}

/// Appends `record` to the history in `results_dir`, writes it to `latest` there and prints its
/// tables.
fn save_and_print(record: &Record, results_dir: &Path, latest: &str) -> anyhow::Result<()> {
    std::fs::create_dir_all(results_dir)?;
    let history = results_dir.join("history.jsonl");
    let latest = results_dir.join(latest);
    record::save(record, &history, &latest)?;
    println!("{}", table::markdown(record));
    println!(
        "appended to {} and wrote {}",
        history.display(),
        latest.display()
    );
    Ok(())
}

fn run_scenarios(args: &CompareArgs) -> anyhow::Result<ExitCode> {
    let scenarios = scenario::catalog::select(&args.scenario, &args.scenarios_dir)?;
    let connections = match args.connections.as_deref() {
        None => None,
        Some([one]) => Some(*one),
        Some(_) => bail!("with --scenario, --connections takes one count"),
    };
    let options = options(args)?;
    if !args.no_build {
        build_scenario_binaries(&options.binaries)?;
    }
    let scenario_options = ScenarioOptions {
        scenarios,
        scenarios_dir: args.scenarios_dir.clone(),
        runs: options.runs,
        duration_s: options.duration_s,
        connections,
        server_cpu: args.server_cpu,
        loadgen_cpu: args.loadgen_cpu,
        loadgen_threads: args.loadgen_threads,
        work_dir: options.work_dir.clone(),
        results_dir: args.results_dir.clone(),
        binaries: options.binaries.clone(),
        quick: args.quick,
    };
    let record = scenario::run(&scenario_options);
    let _ = std::fs::remove_dir_all(&options.work_dir);
    let record = record?;
    // `latest.json` stays the latest echo comparison: the README table is made from it.
    save_and_print(&record, &args.results_dir, "scenario-latest.json")?;
    let failed: Vec<&str> = record
        .results
        .scenarios
        .iter()
        .filter(|s| s.verdict == Verdict::Fail)
        .map(|s| s.name.as_str())
        .collect();
    if failed.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("switchboard-bench: FAILED scenarios: {}", failed.join(", "));
        Ok(ExitCode::FAILURE)
    }
}

fn options(args: &CompareArgs) -> anyhow::Result<CompareOptions> {
    let quick = args.quick;
    let servers = match &args.servers {
        None => ServerKind::ALL.to_vec(),
        Some(names) => names
            .iter()
            .map(|n| ServerKind::from_name(n).with_context(|| format!("unknown server `{n}`")))
            .collect::<anyhow::Result<_>>()?,
    };
    let release_dir = std::env::current_exe()?
        .parent()
        .context("binary has no directory")?
        .to_path_buf();
    let work_dir = std::env::temp_dir().join(format!("switchboard-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work_dir)?;
    Ok(CompareOptions {
        servers,
        message_bytes: args.sizes.clone().unwrap_or(if quick {
            vec![64]
        } else {
            vec![64, 1024, 16384]
        }),
        connections: args.connections.clone().unwrap_or(if quick {
            vec![100]
        } else {
            vec![100, 1000]
        }),
        idle_connections: args.idle_connections.clone().unwrap_or(if quick {
            vec![10_000]
        } else {
            vec![10_000, 100_000]
        }),
        load_fractions: args.load_fractions.clone(),
        runs: args.runs.unwrap_or(if quick { 2 } else { 5 }).max(1),
        duration_s: args.duration.unwrap_or(if quick { 2 } else { 10 }).max(1),
        quick,
        server_cpu: args.server_cpu,
        loadgen_cpu: args.loadgen_cpu,
        work_dir,
        binaries: Binaries { release_dir },
        loadgen_threads: args.loadgen_threads,
        source_addrs: args.source_addrs.clone(),
        load_test_cells: args.load_test_cells.clone().unwrap_or_else(|| {
            if quick {
                compare::LOAD_TEST_CELLS[..1].to_vec()
            } else {
                compare::LOAD_TEST_CELLS.to_vec()
            }
        }),
    })
}

/// Parses a `CONNECTIONSxBYTES` cell (`1000x1024`).
fn parse_cell(text: &str) -> Result<(u32, usize), String> {
    let (connections, bytes) = text
        .split_once('x')
        .ok_or_else(|| format!("`{text}`: expected CONNECTIONSxBYTES, for example 1000x1024"))?;
    Ok((
        connections
            .trim()
            .parse()
            .map_err(|e| format!("`{connections}`: {e}"))?,
        bytes
            .trim()
            .parse()
            .map_err(|e| format!("`{bytes}`: {e}"))?,
    ))
}

/// Builds every binary the comparison starts, into the target directory this binary lives in.
fn build(binaries: &Binaries) -> anyhow::Result<()> {
    let target_dir = binaries
        .release_dir
        .parent()
        .context("release dir has no parent")?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let builds: [&[&str]; 4] = [
        &["-p", "switchboard-shards", "--bin", "switchboard"],
        &["-p", "switchboard-core", "--example", "tcp_echo"],
        &["-p", "switchboard-bench", "--bins"],
        &["-p", "switchboard-loadgen", "--bin", "switchboard-loadgen"],
    ];
    for args in builds {
        eprintln!("building {}", args.join(" "));
        let status = Command::new(&cargo)
            .args(["build", "--release", "--quiet"])
            .args(args)
            .env("CARGO_TARGET_DIR", target_dir)
            .status()
            .context("running cargo")?;
        if !status.success() {
            // A missing load generator is reported per figure; a missing server is not fatal either.
            eprintln!(
                "warning: `cargo build {}` failed; its figures will be skipped",
                args.join(" ")
            );
        }
    }
    Ok(())
}

/// Builds the chat server and the load generator (all a scenario run starts).
fn build_scenario_binaries(binaries: &Binaries) -> anyhow::Result<()> {
    let target_dir = binaries
        .release_dir
        .parent()
        .context("release dir has no parent")?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("building switchboard and switchboard-loadgen");
    let status = Command::new(&cargo)
        .args(["build", "--release", "--quiet"])
        .args(["-p", "switchboard-shards", "--bin", "switchboard"])
        .args(["-p", "switchboard-loadgen", "--bin", "switchboard-loadgen"])
        .env("CARGO_TARGET_DIR", target_dir)
        .status()
        .context("running cargo")?;
    if !status.success() {
        bail!("building switchboard and switchboard-loadgen failed");
    }
    Ok(())
}

fn run_report(args: &ReportArgs) -> anyhow::Result<ExitCode> {
    let history = load_history(&args.history)?;
    let Some(latest) = history.last() else {
        bail!(
            "{} has no records: run `switchboard-bench compare` first",
            args.history.display()
        );
    };
    let html = report::render(latest, &history);
    write_page(&args.out, &html)?;
    println!("wrote {} ({} records)", args.out.display(), history.len());
    Ok(ExitCode::SUCCESS)
}

fn write_page(out: &Path, html: &str) -> anyhow::Result<()> {
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(out, html).with_context(|| format!("writing {}", out.display()))
}

#[cfg(test)]
mod tests {
    use super::parse_cell;

    #[test]
    fn parses_cells() {
        assert_eq!(parse_cell("1000x1024"), Ok((1000, 1024)));
        assert_eq!(parse_cell("500x16384"), Ok((500, 16384)));
        assert!(parse_cell("1000").is_err());
        assert!(parse_cell("ax64").is_err());
    }
}
