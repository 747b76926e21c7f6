//! uWebSockets' `load_test` (`benchmarks/load_test.c` of uWebSockets, on uSockets) as a second,
//! neutral client beside `switchboard-loadgen`, so no echo figure rests on our own client alone.
//!
//! `load_test CONNECTIONS HOST PORT SSL DEFLATE SIZE` opens its connections one after the other
//! (upgrade without a subprotocol), then keeps one masked binary message of SIZE bytes in flight per
//! connection (closed loop) and prints `Msg/sec: N` every 4 s (uSockets' timer granularity) until it is
//! killed. It measures no latency and holds no idle connections, so it drives closed-loop WebSocket
//! echo only. The harness runs it for one 4 s warm-up interval (connects and ramp, discarded) plus
//! enough whole intervals to cover the run's duration, then stops it; the figure is the mean of the
//! whole intervals after the warm-up. `stdbuf -oL` keeps its `printf` output when it is stopped.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};

use crate::load::{LoadDriver, LoadResult, LoadSpec, Pattern, Protocol};
use crate::loadgen::run_pinned_raw;

/// Seconds between `load_test`'s reports (`LIBUS_TIMEOUT_GRANULARITY`).
pub const REPORT_INTERVAL_S: u64 = 4;
/// Seconds `load_test` runs beyond its last expected report before it is stopped.
const STOP_MARGIN_S: u64 = 3;

/// uWebSockets' `load_test` client.
#[derive(Debug, Clone)]
pub struct UwsLoadTest {
    /// Path of the `load_test` binary.
    pub binary: PathBuf,
}

impl UwsLoadTest {
    /// Whole report intervals measured for a run of `duration_s` (at least one).
    pub fn intervals(duration_s: u64) -> u64 {
        duration_s.div_ceil(REPORT_INTERVAL_S).max(1)
    }

    /// Seconds after which `load_test` is stopped: the warm-up interval, the measured intervals and a
    /// margin for the last report.
    pub fn wall_s(duration_s: u64) -> u64 {
        REPORT_INTERVAL_S * (1 + Self::intervals(duration_s)) + STOP_MARGIN_S
    }

    /// The command line for `spec` (under `stdbuf -oL`, so its reports survive the stop).
    pub fn command(&self, spec: &LoadSpec) -> Command {
        let mut command = Command::new("stdbuf");
        command
            .arg("-oL")
            .arg(&self.binary)
            .arg(spec.connections.to_string())
            .arg(spec.target.ip().to_string())
            .arg(spec.target.port().to_string())
            .args(["0", "0"])
            .arg(spec.message_bytes.to_string());
        command
    }
}

impl LoadDriver for UwsLoadTest {
    fn name(&self) -> &'static str {
        "uWebSockets load_test"
    }

    fn supports(&self, protocol: Protocol, pattern: Pattern) -> bool {
        protocol == Protocol::WebSocket && pattern == Pattern::ClosedLoop
    }

    /// Its run is longer than `duration_s` (connects and a warm-up interval before the measured
    /// ones), so server CPU over the process's life is not comparable per message.
    fn server_cpu_per_message(&self) -> bool {
        false
    }

    fn run(&self, spec: &LoadSpec, cpu: usize, _work_dir: &Path) -> anyhow::Result<LoadResult> {
        if !self.supports(spec.protocol, spec.pattern) {
            bail!("load_test drives closed-loop WebSocket echo only");
        }
        // `timeout` stopping it (exit status 124) is the normal end of a run.
        let (output, _) = run_pinned_raw(self.command(spec), cpu, Self::wall_s(spec.duration_s))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        parse_load_test(&stdout, spec.connections).with_context(|| {
            format!(
                "load_test ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            )
        })
    }
}

/// Reads `load_test`'s output: the mean of its `Msg/sec:` reports after the first (the connect and
/// warm-up interval); errors are connections that closed (`Closed!`) or never upgraded.
///
/// # Errors
///
/// It reported an error (`ERROR: …`, for example more echo bytes than sent: the server is not a
/// whole-message WebSocket echo), or fewer than two reports (nothing measured after the warm-up).
pub fn parse_load_test(stdout: &str, connections: u32) -> anyhow::Result<LoadResult> {
    if let Some(line) = stdout.lines().find(|l| l.starts_with("ERROR")) {
        bail!("load_test failed: {line}");
    }
    let reports: Vec<f64> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("Msg/sec:"))
        .map(|v| v.trim().parse::<f64>().context("bad Msg/sec value"))
        .collect::<anyhow::Result<_>>()?;
    let Some((_, measured)) = reports.split_first().filter(|(_, rest)| !rest.is_empty()) else {
        bail!(
            "load_test printed {} report(s); at least two are needed (warm-up, then measured)",
            reports.len()
        );
    };
    let upgraded = stdout
        .lines()
        .filter(|l| l.starts_with("Response: HTTP/1.1 101"))
        .count() as u64;
    let closed = stdout.lines().filter(|l| l.trim() == "Closed!").count() as u64;
    Ok(LoadResult {
        messages_per_s: measured.iter().sum::<f64>() / measured.len() as f64,
        connections_established: Some(upgraded),
        errors: closed + u64::from(connections).saturating_sub(upgraded),
        ..LoadResult::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUT: &str = "Using message size of 64 bytes\n\
        Response: HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\n\n\n\
        Response: HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\n\n\n\
        Running benchmark now...\nMsg/sec: 50000.000000\nMsg/sec: 80000.000000\nMsg/sec: 90000.500000\n";

    #[test]
    fn drops_the_warm_up_report_and_averages_the_rest() {
        let result = parse_load_test(OUTPUT, 2).unwrap();
        assert_eq!(result.messages_per_s, 85000.25);
        assert_eq!(result.connections_established, Some(2));
        assert_eq!(result.errors, 0);
    }

    #[test]
    fn counts_closed_and_missing_upgrades_as_errors() {
        let result = parse_load_test(&format!("{OUTPUT}Closed!\n"), 3).unwrap();
        assert_eq!(result.errors, 2);
    }

    #[test]
    fn needs_a_measured_report_and_no_error() {
        assert!(parse_load_test("Msg/sec: 1.0\n", 1).is_err());
        assert!(parse_load_test("", 1).is_err());
        let failed = format!("{OUTPUT}ERROR: outstanding bytes negative!\n");
        assert!(parse_load_test(&failed, 2).is_err());
    }

    #[test]
    fn command_line_and_run_length() {
        let driver = UwsLoadTest {
            binary: PathBuf::from("load_test"),
        };
        let spec = LoadSpec {
            target: "127.0.0.1:9001".parse().unwrap(),
            path: "/".to_owned(),
            protocol: Protocol::WebSocket,
            pattern: Pattern::ClosedLoop,
            connections: 500,
            message_bytes: 16384,
            duration_s: 5,
        };
        let args: Vec<String> = driver
            .command(&spec)
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(args.join(" "), "-oL load_test 500 127.0.0.1 9001 0 0 16384");
        assert_eq!(UwsLoadTest::intervals(5), 2);
        assert_eq!(UwsLoadTest::wall_s(5), 15);
        assert_eq!(UwsLoadTest::wall_s(1), 11);
        assert!(driver.supports(Protocol::WebSocket, Pattern::ClosedLoop));
        assert!(!driver.supports(Protocol::RawTcp, Pattern::ClosedLoop));
        assert!(!driver.supports(Protocol::WebSocket, Pattern::Idle));
    }
}
