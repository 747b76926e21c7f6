//! uWebSockets' `load_test` (`benchmarks/load_test.c` of uWebSockets, on uSockets) as a second,
//! neutral client beside `switchboard-loadgen`, so no echo figure rests on our own client alone.
//!
//! `load_test CONNECTIONS HOST PORT SSL DEFLATE SIZE` opens its connections one after the other
//! (upgrade without a subprotocol), then keeps one masked binary message of SIZE bytes in flight per
//! connection (closed loop) and prints `Msg/sec: N` every 4 s (uSockets' timer granularity) until it is
//! killed. It measures no latency and holds no idle connections, so it drives closed-loop WebSocket
//! echo only. Its first report comes one interval after its last connection opened; the harness reads
//! its output as it runs (`stdbuf -oL`: line-buffered), drops that first report (the connects and the
//! warm-up) and stops it once enough whole intervals followed to cover the run's duration; the figure
//! is their mean. The server's CPU is read at the first report and at the last one, so its CPU per message
//! covers exactly the measured intervals. The connect ramp has no fixed length (on a loaded machine 1,000 connections took more
//! than 3 s), so the stop follows the reports, within a bound.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::load::{LoadDriver, LoadResult, LoadSpec, Pattern, Protocol};
use crate::servers::RunningServer;

/// Seconds between `load_test`'s reports (`LIBUS_TIMEOUT_GRANULARITY`).
pub const REPORT_INTERVAL_S: u64 = 4;
/// Seconds past the expected end of a run (warm-up and measured reports) after which `load_test` is
/// stopped whatever it printed: room for a slow connect ramp.
const STOP_MARGIN_S: u64 = 30;

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

    /// Seconds after which `load_test` is stopped even without enough reports: the warm-up interval,
    /// the measured intervals and a margin for the connect ramp.
    pub fn wall_s_max(duration_s: u64) -> u64 {
        REPORT_INTERVAL_S * (1 + Self::intervals(duration_s)) + STOP_MARGIN_S
    }

    /// The command line for `spec`, pinned to `cpu` (`taskset` and `stdbuf -oL` exec it, so the child's
    /// id is `load_test`'s own).
    pub fn command(&self, spec: &LoadSpec, cpu: usize) -> Command {
        let mut command = Command::new("taskset");
        command
            .arg("-c")
            .arg(cpu.to_string())
            .arg("stdbuf")
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
    /// ones), so server CPU over the process's life is not comparable per message: it measures the
    /// server's CPU over its measured reports itself (`LoadSpec::server_pid`).
    fn server_cpu_per_message(&self) -> bool {
        false
    }

    fn run(&self, spec: &LoadSpec, cpu: usize, _work_dir: &Path) -> anyhow::Result<LoadResult> {
        if !self.supports(spec.protocol, spec.pattern) {
            bail!("load_test drives closed-loop WebSocket echo only");
        }
        let mut child = self
            .command(spec, cpu)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting load_test (under taskset and stdbuf)")?;
        let stdout = child.stdout.take().context("no stdout pipe")?;
        let (lines_tx, lines_rx) = mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let wanted = 1 + Self::intervals(spec.duration_s) as usize;
        let deadline = Instant::now() + Duration::from_secs(Self::wall_s_max(spec.duration_s));
        let mut output = String::new();
        let mut reports = 0;
        let mut exited_early = None;
        // The server's CPU at the first report (the end of the warm-up) and at the last wanted one: its CPU
        // over exactly the measured intervals.
        let server_cpu = || {
            spec.server_pid
                .and_then(|pid| RunningServer::cpu_split_of(pid).ok())
        };
        let (mut cpu_at_first, mut cpu_at_last) = (None, None);
        while reports < wanted {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines_rx.recv_timeout(left.min(Duration::from_millis(200))) {
                Ok(line) => {
                    if line.starts_with("Msg/sec:") {
                        reports += 1;
                        if reports == 1 {
                            cpu_at_first = server_cpu();
                        } else if reports == wanted {
                            cpu_at_last = server_cpu();
                        }
                    }
                    let failed = line.starts_with("ERROR");
                    output.push_str(&line);
                    output.push('\n');
                    if failed {
                        break;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) if !left.is_zero() => {
                    if let Some(status) = child.try_wait()? {
                        exited_early = Some(status);
                        break;
                    }
                }
                // The deadline passed, or stdout closed (it exited): parse what it printed.
                Err(_) => break,
            }
        }
        // The normal end of a run: it never stops by itself.
        let _ = child.kill();
        let status = child.wait()?;
        let _ = reader.join();
        output.extend(lines_rx.try_iter().map(|line| line + "\n"));
        let mut result =
            parse_load_test(&output, spec.connections).with_context(|| match exited_early {
                Some(status) => format!("load_test exited by itself ({status})"),
                None => format!("load_test ({status}, {reports} report(s) of {wanted} wanted)"),
            })?;
        // Only when every wanted report came: then the measured reports are exactly the window's.
        if let (Some(first), Some(last)) = (cpu_at_first, cpu_at_last) {
            let window_s = ((wanted - 1) as u64 * REPORT_INTERVAL_S) as f64;
            result.set_server_cpu(first.until(last), Some(window_s));
        }
        Ok(result)
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
            server_pid: None,
        };
        let args: Vec<String> = driver
            .command(&spec, 1)
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args.join(" "),
            "-c 1 stdbuf -oL load_test 500 127.0.0.1 9001 0 0 16384"
        );
        assert_eq!(UwsLoadTest::intervals(5), 2);
        assert_eq!(UwsLoadTest::intervals(4), 1);
        assert_eq!(UwsLoadTest::wall_s_max(5), 42);
        assert!(driver.supports(Protocol::WebSocket, Pattern::ClosedLoop));
        assert!(!driver.supports(Protocol::RawTcp, Pattern::ClosedLoop));
        assert!(!driver.supports(Protocol::WebSocket, Pattern::Idle));
    }
}
