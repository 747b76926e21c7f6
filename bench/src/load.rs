//! What a load run asks for ([`LoadSpec`]) and what it measured ([`LoadResult`]).
//!
//! The harness talks to load generators through [`LoadDriver`], so the comparison logic does not
//! depend on one tool's command line or report format. [`crate::loadgen`] has the drivers.

use std::net::SocketAddr;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The workload of one load run.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadSpec {
    /// Server address.
    pub target: SocketAddr,
    /// Request path for WebSocket servers.
    pub path: String,
    /// What the server speaks (a raw TCP echo gets the same frames without the upgrade).
    pub protocol: Protocol,
    /// What the connections do.
    pub pattern: Pattern,
    /// Concurrent connections.
    pub connections: u32,
    /// Message payload size in bytes.
    pub message_bytes: usize,
    /// Length of the measured run in seconds.
    pub duration_s: u64,
    /// The server's process, for a driver that measures the server's CPU over its own measured interval
    /// (`uWebSockets load_test`, whose run is longer than that interval); set by the harness.
    pub server_pid: Option<u32>,
}

/// What the connections of a load run do.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pattern {
    /// Each connection sends the next message as soon as the echo of the previous one arrives.
    ClosedLoop,
    /// Messages are sent on a fixed schedule, at this total rate in messages per second.
    OpenLoop {
        /// Total messages per second over all connections.
        rate_per_s: u64,
    },
    /// Connections are opened and held without traffic (for memory per connection).
    Idle,
}

/// Latency percentiles of one run, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p99_9: f64,
    /// 99.99th percentile.
    pub p99_99: f64,
    /// Largest observed.
    pub max: f64,
}

impl Percentiles {
    /// The percentile levels in order, with their labels, as plotted on the dashboard.
    pub const LEVELS: [(&'static str, f64); 6] = [
        ("p50", 50.0),
        ("p90", 90.0),
        ("p99", 99.0),
        ("p99.9", 99.9),
        ("p99.99", 99.99),
        ("max", 100.0),
    ];

    /// The values in the order of [`Percentiles::LEVELS`].
    pub fn values(&self) -> [f64; 6] {
        [
            self.p50,
            self.p90,
            self.p99,
            self.p99_9,
            self.p99_99,
            self.max,
        ]
    }

    /// Builds from values in the order of [`Percentiles::LEVELS`].
    pub fn from_values(values: [f64; 6]) -> Self {
        let [p50, p90, p99, p99_9, p99_99, max] = values;
        Self {
            p50,
            p90,
            p99,
            p99_9,
            p99_99,
            max,
        }
    }
}

/// What one load run measured.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LoadResult {
    /// Echoed messages per second over the measured interval.
    pub messages_per_s: f64,
    /// Round-trip latency percentiles, when the driver measures latency.
    pub latency_us: Option<Percentiles>,
    /// Connections that were established and held.
    pub connections_established: Option<u64>,
    /// Errors the driver counted (failed connects, closes, bad echoes).
    pub errors: u64,
    /// CPU seconds the load generator itself used (to show it was not the bottleneck).
    pub loadgen_cpu_s: Option<f64>,
    /// CPU seconds the server process used during the run (user + system, from `/proc`), set by
    /// the harness over the whole run, or by a driver over its measured interval (`server_cpu_window_s`).
    pub server_cpu_s: Option<f64>,
    /// The system (kernel) part of `server_cpu_s`.
    pub server_system_cpu_s: Option<f64>,
    /// Seconds over which the driver measured `server_cpu_s` and `messages_per_s` itself, when that is not
    /// the spec's `duration_s`.
    pub server_cpu_window_s: Option<f64>,
}

impl LoadResult {
    /// Server CPU microseconds per echoed message over a run of `duration_s`: how much of its core
    /// the server spends on one message, whatever the load generator's own limit.
    pub fn server_cpu_us_per_message(&self, duration_s: u64) -> Option<f64> {
        self.per_message_us(self.server_cpu_s, duration_s)
    }

    /// The system (kernel) part of [`LoadResult::server_cpu_us_per_message`].
    pub fn server_system_cpu_us_per_message(&self, duration_s: u64) -> Option<f64> {
        self.per_message_us(self.server_system_cpu_s, duration_s)
    }

    /// Records the server's CPU over the run (`window_s`: when not the spec's duration).
    pub fn set_server_cpu(&mut self, cpu: crate::servers::CpuTimes, window_s: Option<f64>) {
        self.server_cpu_s = Some(cpu.total_s());
        self.server_system_cpu_s = Some(cpu.system_s);
        self.server_cpu_window_s = window_s;
    }

    fn per_message_us(&self, cpu_s: Option<f64>, duration_s: u64) -> Option<f64> {
        let seconds = self.server_cpu_window_s.unwrap_or(duration_s as f64);
        let messages = self.messages_per_s * seconds;
        cpu_s
            .filter(|_| messages > 0.0)
            .map(|cpu| cpu * 1e6 / messages)
    }
}

/// A tool that can apply a [`LoadSpec`] to a server.
pub trait LoadDriver: Sync {
    /// Short name recorded with the results (`switchboard-loadgen`, `tcp_echo load`).
    fn name(&self) -> &'static str;

    /// How it drives a server speaking `protocol`, for the results' "load driver" column.
    fn describe(&self, _protocol: Protocol) -> String {
        self.name().to_owned()
    }

    /// Whether the server's CPU over the driver's whole run, divided by the messages of `duration_s`,
    /// is its CPU per message (false when the driver runs longer than the measured interval).
    fn server_cpu_per_message(&self) -> bool {
        true
    }

    /// Whether this driver can run `pattern` against a server speaking `protocol`.
    fn supports(&self, protocol: Protocol, pattern: Pattern) -> bool;

    /// Runs the load to completion, pinned to `cpu`, keeping any report under `work_dir`.
    ///
    /// # Errors
    ///
    /// The tool could not be started, failed, or its report could not be read.
    fn run(&self, spec: &LoadSpec, cpu: usize, work_dir: &Path) -> anyhow::Result<LoadResult>;
}

/// The wire protocol a server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// WebSocket (RFC 6455) echo of whole messages.
    WebSocket,
    /// Raw TCP byte echo: no framing at all.
    RawTcp,
}

#[cfg(test)]
mod tests {
    use super::LoadResult;

    #[test]
    fn server_cpu_per_message_needs_cpu_and_messages() {
        let run = LoadResult {
            messages_per_s: 100_000.0,
            server_cpu_s: Some(2.0),
            ..LoadResult::default()
        };
        assert_eq!(run.server_cpu_us_per_message(4), Some(5.0));
        // A driver's own window replaces the spec's duration.
        let windowed = LoadResult {
            server_cpu_window_s: Some(8.0),
            ..run.clone()
        };
        assert_eq!(windowed.server_cpu_us_per_message(4), Some(2.5));
        let idle = LoadResult {
            server_cpu_s: Some(2.0),
            ..LoadResult::default()
        };
        assert_eq!(idle.server_cpu_us_per_message(4), None);
        assert_eq!(LoadResult::default().server_cpu_us_per_message(4), None);
    }
}
