//! Load drivers: `switchboard-loadgen` for WebSocket servers and the engine's `tcp_echo load` for the
//! raw TCP references.
//!
//! The two TCP references (the tokio TCP peer and the engine's `tcp_echo serve`) echo bytes, so
//! `switchboard-loadgen --raw-echo` drives them closed-loop with the same masked frames and the same
//! client work as the WebSocket servers, minus the upgrade. On loopback the client's kernel work lands
//! partly on the server's CPU and the client shares the machine, so a ceiling driven by a different,
//! lighter client (`tcp_echo load`, the fallback when the loadgen is not built) overstates what a
//! WebSocket server could reach. Their open-loop latency and idle memory are reported as skipped.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};

use crate::load::{LoadDriver, LoadResult, LoadSpec, Pattern, Protocol};
use crate::loadgen_report::parse_loadgen_report;

/// Extra seconds a load process may take beyond its run before it is treated as hung.
pub const LOAD_GRACE_S: u64 = 60;

/// Runs `command` under `taskset -c cpu` with a time limit, returning stdout.
fn run_pinned(command: Command, cpu: usize, seconds_max: u64) -> anyhow::Result<String> {
    let (output, program) = run_pinned_raw(command, cpu, seconds_max)?;
    if !output.status.success() {
        bail!(
            "{} exited with {}: {}",
            program,
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Runs `command` under `taskset -c cpu` with a time limit, whatever its exit status.
pub(crate) fn run_pinned_raw(
    command: Command,
    cpu: usize,
    seconds_max: u64,
) -> anyhow::Result<(std::process::Output, String)> {
    let program = command.get_program().to_owned();
    let args: Vec<_> = command.get_args().map(ToOwned::to_owned).collect();
    let mut pinned = Command::new("timeout");
    pinned
        .arg(seconds_max.to_string())
        .arg("taskset")
        .arg("-c")
        .arg(cpu.to_string())
        .arg(&program)
        .args(&args);
    let output = pinned
        .output()
        .with_context(|| format!("starting {}", program.to_string_lossy()))?;
    Ok((output, program.to_string_lossy().into_owned()))
}

/// `switchboard-loadgen`: WebSocket echo (closed and open loop) and idle connections.
#[derive(Debug, Clone)]
pub struct Loadgen {
    /// Path of the `switchboard-loadgen` binary.
    pub binary: PathBuf,
    /// Generator threads (`--threads`).
    pub threads: u32,
    /// Local source addresses (`--source-addrs`), to get past one address's ephemeral ports.
    pub source_addrs: String,
}

impl Loadgen {
    /// The command line for `spec`, writing its report to `out`.
    pub fn command(&self, spec: &LoadSpec, out: &Path) -> Command {
        let mut command = Command::new(&self.binary);
        let url = format!("ws://{}{}", spec.target, spec.path);
        let scenario = if spec.pattern == Pattern::Idle {
            "idle"
        } else {
            "echo"
        };
        command
            .args(["--url", &url, "--scenario", scenario])
            .args(["--connections", &spec.connections.to_string()])
            .args(["--duration", &spec.duration_s.to_string()]);
        match spec.pattern {
            Pattern::ClosedLoop => {
                command.arg("--closed-loop");
            }
            Pattern::OpenLoop { rate_per_s } => {
                command.args(["--rate", &rate_per_s.to_string()]);
            }
            Pattern::Idle => {}
        }
        if spec.protocol == Protocol::RawTcp {
            command.arg("--raw-echo");
        }
        command
            .args(["--size", &spec.message_bytes.to_string()])
            .args(["--threads", &self.threads.to_string()])
            .args(["--source-addrs", &self.source_addrs])
            .arg("--quiet")
            .arg("--out")
            .arg(out);
        command
    }
}

impl LoadDriver for Loadgen {
    fn name(&self) -> &'static str {
        "switchboard-loadgen"
    }

    fn describe(&self, protocol: Protocol) -> String {
        match protocol {
            Protocol::WebSocket => self.name().to_owned(),
            Protocol::RawTcp => {
                "switchboard-loadgen --raw-echo (same frames, no upgrade)".to_owned()
            }
        }
    }

    /// WebSocket servers in every pattern; the raw TCP references closed-loop (`--raw-echo`: the same
    /// frames and client work without the upgrade, so the ceiling is driven exactly like the servers
    /// it bounds).
    fn supports(&self, protocol: Protocol, pattern: Pattern) -> bool {
        protocol == Protocol::WebSocket || pattern == Pattern::ClosedLoop
    }

    fn run(&self, spec: &LoadSpec, cpu: usize, work_dir: &Path) -> anyhow::Result<LoadResult> {
        let out = work_dir.join("loadgen-report.json");
        let _ = std::fs::remove_file(&out);
        // Exit status 1 means "ran, but saw correctness errors": the report still counts them.
        let (output, _) = run_pinned_raw(
            self.command(spec, &out),
            cpu,
            spec.duration_s + LOAD_GRACE_S,
        )?;
        let Ok(text) = std::fs::read_to_string(&out) else {
            bail!(
                "switchboard-loadgen wrote no report ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        };
        parse_loadgen_report(&text)
    }
}

/// The engine's raw TCP ping-pong client (`core/examples/tcp_echo.rs load`): closed loop only.
#[derive(Debug, Clone)]
pub struct TcpEchoLoad {
    /// Path of the `tcp_echo` example binary.
    pub binary: PathBuf,
}

impl LoadDriver for TcpEchoLoad {
    fn name(&self) -> &'static str {
        "tcp_echo load (raw TCP, closed loop, no latency)"
    }

    fn supports(&self, protocol: Protocol, pattern: Pattern) -> bool {
        protocol == Protocol::RawTcp && pattern == Pattern::ClosedLoop
    }

    fn run(&self, spec: &LoadSpec, cpu: usize, _work_dir: &Path) -> anyhow::Result<LoadResult> {
        let mut command = Command::new(&self.binary);
        command
            .arg("load")
            .arg(spec.target.to_string())
            .arg("auto")
            .arg(spec.connections.to_string())
            .arg(spec.duration_s.to_string())
            .arg(spec.message_bytes.to_string());
        let stdout = run_pinned(command, cpu, spec.duration_s + LOAD_GRACE_S)?;
        parse_tcp_echo_load(&stdout)
    }
}

/// Reads `… = 123456 msg/s (0 failures)` from `tcp_echo load` output.
///
/// # Errors
///
/// The summary line is missing or malformed.
pub fn parse_tcp_echo_load(stdout: &str) -> anyhow::Result<LoadResult> {
    let line = stdout
        .lines()
        .find(|line| line.contains(" msg/s ("))
        .context("tcp_echo load printed no summary line")?;
    let after_equals = line.rsplit_once(" = ").context("no ` = ` in summary")?.1;
    let (rate, rest) = after_equals.split_once(" msg/s (").context("no msg/s")?;
    let failures = rest.split_whitespace().next().context("no failure count")?;
    Ok(LoadResult {
        messages_per_s: rate.trim().parse().context("bad rate")?,
        errors: failures.parse().context("bad failure count")?,
        ..LoadResult::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tcp_echo_summary() {
        let out = "load: io_uring\nload: 100 connections, 64 B messages: 500 round trips in 2.0 s \
                   = 250 msg/s (3 failures)\n";
        let result = parse_tcp_echo_load(out).unwrap();
        assert_eq!(result.messages_per_s, 250.0);
        assert_eq!(result.errors, 3);
        assert!(parse_tcp_echo_load("nothing").is_err());
    }

    fn args_of(command: &Command) -> Vec<String> {
        command
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn loadgen_command_line() {
        let loadgen = Loadgen {
            binary: PathBuf::from("switchboard-loadgen"),
            threads: 1,
            source_addrs: "127.0.0.1".to_owned(),
        };
        let spec = LoadSpec {
            target: "127.0.0.1:9000".parse().unwrap(),
            path: "/".to_owned(),
            protocol: Protocol::WebSocket,
            pattern: Pattern::OpenLoop { rate_per_s: 5000 },
            connections: 100,
            message_bytes: 64,
            duration_s: 3,
            server_pid: None,
        };
        let args = args_of(&loadgen.command(&spec, Path::new("/tmp/out.json")));
        let expected = "--url ws://127.0.0.1:9000/ --scenario echo --connections 100 --duration 3 \
                        --rate 5000 --size 64 --threads 1 --source-addrs 127.0.0.1 --quiet --out /tmp/out.json";
        assert_eq!(args.join(" "), expected);
    }

    #[test]
    fn the_raw_tcp_ceiling_is_driven_closed_loop_by_the_same_loadgen_with_raw_echo() {
        let loadgen = Loadgen {
            binary: PathBuf::from("switchboard-loadgen"),
            threads: 1,
            source_addrs: "127.0.0.1".to_owned(),
        };
        assert!(loadgen.supports(Protocol::RawTcp, Pattern::ClosedLoop));
        assert!(!loadgen.supports(Protocol::RawTcp, Pattern::OpenLoop { rate_per_s: 1 }));
        assert!(!loadgen.supports(Protocol::RawTcp, Pattern::Idle));
        assert!(loadgen.supports(Protocol::WebSocket, Pattern::Idle));
        let spec = LoadSpec {
            target: "127.0.0.1:9000".parse().unwrap(),
            path: "/".to_owned(),
            protocol: Protocol::RawTcp,
            pattern: Pattern::ClosedLoop,
            connections: 1000,
            message_bytes: 1024,
            duration_s: 3,
            server_pid: None,
        };
        let args = args_of(&loadgen.command(&spec, Path::new("/tmp/out.json")));
        assert!(args.iter().any(|a| a == "--raw-echo"));
        assert!(args.iter().any(|a| a == "--closed-loop"));
        assert!(loadgen.describe(Protocol::RawTcp).contains("--raw-echo"));
    }
}
