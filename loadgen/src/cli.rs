//! Command-line flags and the `--scenario-file` TOML, merged into a [`RunConfig`].
//!
//! Precedence: a flag given on the command line beats the scenario file, which beats the default.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use serde::Deserialize;

use crate::config::{parse_url, ConfigError, Pacing, RunConfig, Scenario};
use crate::source::SourceAddrs;

/// Default `--url`: `switchboard serve`'s default listener.
pub const URL_DEFAULT: &str = "ws://127.0.0.1:7878/";

/// switchboard-loadgen: open-loop WebSocket load with honest latency, many connections, and checks.
///
/// Every run is bounded by --duration and --connections and stops by itself. Exit status: 0 when every
/// message came back exactly once and in order with no error, 1 on any correctness error, 2 on a usage
/// or setup error.
#[derive(Debug, Clone, Default, Parser)]
#[command(name = "switchboard-loadgen", version)]
pub struct Args {
    /// Target, ws://HOST:PORT/PATH [default: ws://127.0.0.1:7878/].
    #[arg(long)]
    pub url: Option<String>,
    /// echo | idle | chat | churn | burst | fanout [default: echo]. The switchboard.v1 scenarios (chat,
    /// churn, burst, fanout) need the server's `[auth]` table in --scenario-file, and take their own
    /// parameters from its `[chat]` table (see loadgen/README.md).
    #[arg(long)]
    pub scenario: Option<String>,
    /// Connections to open over all threads [default: 10].
    #[arg(long)]
    pub connections: Option<u32>,
    /// Seconds of load, connect ramp included; the run then drains and closes [default: 10].
    #[arg(long)]
    pub duration: Option<f64>,
    /// Open loop: messages per second over all connections [default: 1000].
    #[arg(long)]
    pub rate: Option<f64>,
    /// Open loop: seconds for the rate to rise linearly from 0 [default: 0].
    #[arg(long)]
    pub ramp: Option<f64>,
    /// Closed loop instead: every connection keeps --in-flight messages outstanding (latency then hides
    /// server stalls; use it for peak throughput only).
    #[arg(long)]
    pub closed_loop: bool,
    /// Closed loop: messages outstanding per connection [default: 1].
    #[arg(long)]
    pub in_flight: Option<u32>,
    /// Unanswered messages per connection before scheduled sends are skipped and counted as errors
    /// [default: 100000].
    #[arg(long)]
    pub in_flight_max: Option<u32>,
    /// Payload bytes per message, at least 24 (the sequence header) [default: 64].
    #[arg(long)]
    pub size: Option<usize>,
    /// Client threads (shards), one per core [default: available cores].
    #[arg(long)]
    pub threads: Option<usize>,
    /// Pin each client thread to its own CPU.
    #[arg(long)]
    pub pin: bool,
    /// Plain TCP to a byte-echo server instead of WebSocket (the raw TCP ceiling of
    /// `switchboard-bench`, e.g. `tcp_echo serve`): no upgrade; the same masked frames are sent and
    /// come back unchanged, still masked. The client does the same work as in a WebSocket run, so the
    /// two are comparable. `echo` scenario only.
    #[arg(long)]
    pub raw_echo: bool,
    /// `--raw-echo` against a relay (`tcp_echo relay`): besides its own frames echoed, a connection
    /// receives its partner's, forwarded by the server (the chat path's socket work: every message acked
    /// to its sender and delivered to another connection). Those are counted as relayed, not as errors.
    #[arg(long)]
    pub raw_relay: bool,
    /// Source addresses with explicit ports, e.g. 127.0.0.2-127.0.0.60 [default: kernel-chosen].
    #[arg(long)]
    pub source_addrs: Option<String>,
    /// New connections per second over all threads [default: 10000].
    #[arg(long)]
    pub connect_rate: Option<f64>,
    /// Seconds to wait for outstanding echoes after --duration before counting them lost [default: 2].
    #[arg(long)]
    pub drain: Option<f64>,
    /// Write the JSON result here (schema in the crate docs, `report` module).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write an HdrHistogram interval log here (one interval per second per message kind, nanoseconds).
    #[arg(long)]
    pub histogram_log: Option<PathBuf>,
    /// TOML file of scenario parameters (same names as the flags, with `_` for `-`).
    #[arg(long)]
    pub scenario_file: Option<PathBuf>,
    /// No live progress line.
    #[arg(long)]
    pub quiet: bool,
}

/// The `--scenario-file` contents: every field optional, unknown fields rejected.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct ScenarioFile {
    pub url: Option<String>,
    pub scenario: Option<String>,
    pub connections: Option<u32>,
    pub duration: Option<f64>,
    pub rate: Option<f64>,
    pub ramp: Option<f64>,
    pub closed_loop: Option<bool>,
    pub in_flight: Option<u32>,
    pub in_flight_max: Option<u32>,
    pub size: Option<usize>,
    pub threads: Option<usize>,
    pub pin: Option<bool>,
    pub raw_echo: Option<bool>,
    pub raw_relay: Option<bool>,
    pub source_addrs: Option<String>,
    pub connect_rate: Option<f64>,
    pub drain: Option<f64>,
    pub histogram_log: Option<PathBuf>,
    /// switchboard.v1 scenario parameters.
    pub chat: Option<crate::chat::ChatSection>,
    /// The server's keyring, to mint tokens.
    pub auth: Option<switchboard_shards::auth::KeyringConfig>,
}

impl ScenarioFile {
    /// Reads and parses a scenario file.
    pub fn load(path: &std::path::Path) -> Result<ScenarioFile, ConfigError> {
        let err = |why: String| ConfigError::ScenarioFile {
            path: path.display().to_string(),
            why,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        toml::from_str(&text).map_err(|e| err(e.to_string()))
    }
}

fn secs(field: &'static str, value: f64) -> Result<Duration, ConfigError> {
    Duration::try_from_secs_f64(value).map_err(|_| ConfigError::OutOfRange {
        field,
        value: value.to_string(),
        allowed: "a non-negative number of seconds".into(),
    })
}

/// A run id that differs between runs: clock nanoseconds mixed with the process id.
fn run_id() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mixed = (nanos ^ (u64::from(std::process::id()) << 32)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (mixed >> 32) as u32
}

impl Args {
    /// Merges the flags over the scenario file (if any) over the defaults, and validates.
    pub fn to_config(&self) -> Result<RunConfig, ConfigError> {
        let file = match &self.scenario_file {
            Some(path) => ScenarioFile::load(path)?,
            None => ScenarioFile::default(),
        };
        let url = self.url.clone().or(file.url).unwrap_or(URL_DEFAULT.into());
        let (dest, host, path) = parse_url(&url)?;
        let scenario_name = self.scenario.clone().or(file.scenario);
        let scenario_name = scenario_name.unwrap_or("echo".into());
        let scenario = Scenario::parse(&scenario_name)?;
        let chat = match scenario.is_chat() {
            true => Some(crate::chat::ChatParams::from_sections(
                &scenario_name,
                file.chat.clone().unwrap_or_default(),
                file.auth.clone(),
            )?),
            false => None,
        };
        let closed_loop = self.closed_loop || file.closed_loop.unwrap_or(false);
        let pacing = if closed_loop {
            Pacing::ClosedLoop {
                in_flight: self.in_flight.or(file.in_flight).unwrap_or(1),
            }
        } else {
            Pacing::OpenLoop {
                rate_per_sec: self.rate.or(file.rate).unwrap_or(1000.0),
                ramp: secs("ramp", self.ramp.or(file.ramp).unwrap_or(0.0))?,
            }
        };
        let source_addrs = match self.source_addrs.clone().or(file.source_addrs) {
            Some(text) => Some(SourceAddrs::parse(&text)?),
            None => None,
        };
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let config = RunConfig {
            url,
            dest,
            host,
            path,
            scenario,
            connections: self.connections.or(file.connections).unwrap_or(10),
            duration: secs("duration", self.duration.or(file.duration).unwrap_or(10.0))?,
            pacing,
            size_bytes: self.size.or(file.size).unwrap_or(64),
            threads: self.threads.or(file.threads).unwrap_or(cores),
            source_addrs,
            connect_rate_per_sec: self.connect_rate.or(file.connect_rate).unwrap_or(10_000.0),
            drain: secs("drain", self.drain.or(file.drain).unwrap_or(2.0))?,
            in_flight_max: self.in_flight_max.or(file.in_flight_max).unwrap_or(100_000),
            pin_threads: self.pin || file.pin.unwrap_or(false),
            raw_echo: self.raw_echo
                || self.raw_relay
                || file.raw_echo.unwrap_or(false)
                || file.raw_relay.unwrap_or(false),
            raw_relay: self.raw_relay || file.raw_relay.unwrap_or(false),
            run_id: run_id(),
            histogram_log: self.histogram_log.clone().or(file.histogram_log),
            chat,
        };
        config.validate()?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_file_beat_defaults() {
        let dir = std::env::temp_dir().join(format!("loadgen-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("scenario.toml");
        std::fs::write(&path, "connections = 50\nrate = 20.0\nsize = 128\n").unwrap();
        let args = Args::parse_from([
            "switchboard-loadgen",
            "--scenario-file",
            path.to_str().unwrap(),
            "--rate",
            "30",
        ]);
        let config = args.to_config().unwrap();
        assert_eq!(config.connections, 50);
        assert_eq!(config.size_bytes, 128);
        assert_eq!(
            config.pacing,
            Pacing::OpenLoop {
                rate_per_sec: 30.0,
                ramp: Duration::ZERO
            }
        );
        std::fs::write(&path, "conections = 5\n").unwrap();
        assert!(matches!(
            args.to_config(),
            Err(ConfigError::ScenarioFile { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn example_scenario_files_are_valid() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        for name in [
            "echo-open-loop",
            "chat",
            "chat-routed",
            "churn",
            "burst",
            "fanout",
        ] {
            let path = dir.join(format!("{name}.toml"));
            let args = Args {
                scenario_file: Some(path),
                ..Args::default()
            };
            let config = args.to_config().unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(config.scenario.is_chat(), name != "echo-open-loop");
            let routed = config.chat.as_ref().is_some_and(|c| c.routing.is_some());
            assert_eq!(routed, name == "chat-routed");
        }
    }

    #[test]
    fn chat_scenario_needs_auth() {
        let args = Args::parse_from(["switchboard-loadgen", "--scenario", "fanout"]);
        assert_eq!(args.to_config().unwrap_err(), ConfigError::MissingAuth);
    }
}
