//! The validated run configuration: what to load, how hard, for how long.
//!
//! [`RunConfig`] is built by the CLI (flags over an optional scenario TOML file) and checked once by
//! [`RunConfig::validate`]; everything downstream trusts it.

use std::net::SocketAddr;
use std::time::Duration;

use crate::payload::PAYLOAD_HEADER_BYTES;
use crate::source::SourceAddrs;

/// Connections one run may hold at most (all threads together).
pub const CONNECTIONS_LIMIT: u32 = 4_000_000;
/// Longest run: bounded by design.
pub const DURATION_SECS_LIMIT: u64 = 24 * 3600;
/// Largest message payload.
pub const SIZE_BYTES_LIMIT: usize = 16 << 20;
/// Most client threads.
pub const THREADS_LIMIT: usize = 256;

/// What the connections do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scenario {
    /// Binary messages echoed by any RFC 6455 echo server; latency and order checked per message.
    Echo,
    /// Connections that only answer the server's pings and hold.
    Idle,
    /// switchboard.v1: customers open conversations and send on schedule; agents follow and reply.
    Chat,
    /// `chat` plus connections that disconnect and reconnect at a rate, resuming where they stood.
    Churn,
    /// `chat` with the rate multiplied (6× by default) for a configured time.
    Burst,
    /// One sender per thread, every other connection follows its conversation.
    Fanout,
}

impl Scenario {
    /// Parses a scenario name.
    pub fn parse(name: &str) -> Result<Scenario, ConfigError> {
        match name {
            "echo" => Ok(Scenario::Echo),
            "idle" => Ok(Scenario::Idle),
            "chat" => Ok(Scenario::Chat),
            "churn" => Ok(Scenario::Churn),
            "burst" => Ok(Scenario::Burst),
            "fanout" => Ok(Scenario::Fanout),
            other => Err(ConfigError::UnknownScenario(other.to_string())),
        }
    }

    /// Whether it speaks switchboard.v1 (and needs `[auth]`).
    pub fn is_chat(self) -> bool {
        !matches!(self, Scenario::Echo | Scenario::Idle)
    }

    /// The name used on the command line and in the JSON result.
    pub fn as_str(self) -> &'static str {
        match self {
            Scenario::Echo => "echo",
            Scenario::Idle => "idle",
            Scenario::Chat => "chat",
            Scenario::Churn => "churn",
            Scenario::Burst => "burst",
            Scenario::Fanout => "fanout",
        }
    }
}

/// How echo messages are paced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pacing {
    /// Messages follow a schedule at `rate_per_sec` in total (after a linear ramp over `ramp`), and
    /// latency counts from the scheduled time.
    OpenLoop {
        /// Messages per second over all connections once the ramp is done.
        rate_per_sec: f64,
        /// Time for the rate to rise linearly from 0 to `rate_per_sec`.
        ramp: Duration,
    },
    /// Every connection keeps `in_flight` messages outstanding; latency counts from the actual send.
    ClosedLoop {
        /// Messages outstanding per connection.
        in_flight: u32,
    },
}

/// Everything one run needs, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct RunConfig {
    /// The original `--url`, for the report.
    pub url: String,
    /// Where to connect.
    pub dest: SocketAddr,
    /// `Host` header value.
    pub host: String,
    /// Request target of the upgrade request.
    pub path: String,
    /// What the connections do.
    pub scenario: Scenario,
    /// Connections to open (all threads).
    pub connections: u32,
    /// How long the run loads the server, from start (connect ramp included).
    pub duration: Duration,
    /// Message pacing (echo only).
    pub pacing: Pacing,
    /// Payload bytes of one echo message (at least the sequence header).
    pub size_bytes: usize,
    /// Client threads (shards), each with its own engine.
    pub threads: usize,
    /// Source addresses to spread connections over; `None`: one ephemeral port per connection.
    pub source_addrs: Option<SourceAddrs>,
    /// New connections per second over all threads.
    pub connect_rate_per_sec: f64,
    /// After `duration`, how long to wait for outstanding echoes before counting them lost.
    pub drain: Duration,
    /// Unanswered messages one connection may have before further scheduled sends are skipped
    /// (and counted as errors), bounding memory when the server stops answering.
    pub in_flight_max: u32,
    /// Pin client thread `i` to the i-th allowed CPU.
    pub pin_threads: bool,
    /// Plain TCP to a byte-echo server: no upgrade, the masked frames come back masked (`--raw-echo`).
    pub raw_echo: bool,
    /// `--raw-relay` (implies `raw_echo`): frames of other connections are counted as relayed.
    pub raw_relay: bool,
    /// Distinguishes this run's message ids from earlier runs against the same server.
    pub run_id: u32,
    /// Where to write the HdrHistogram interval log, if anywhere.
    pub histogram_log: Option<std::path::PathBuf>,
    /// Parameters of the switchboard.v1 scenarios (`Some` exactly when the scenario is one of them).
    pub chat: Option<crate::chat::ChatParams>,
}

/// A configuration problem; always the user's to fix.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// A numeric field is out of range.
    #[error("{field} = {value} is out of range; allowed: {allowed}")]
    OutOfRange {
        /// The flag or TOML key.
        field: &'static str,
        /// The given value.
        value: String,
        /// The allowed range.
        allowed: String,
    },
    /// The scenario name is not known.
    #[error("unknown scenario {0:?}; known: echo, idle, chat, churn, burst, fanout")]
    UnknownScenario(String),
    /// A switchboard.v1 scenario without an `[auth]` table in the scenario file.
    #[error(
        "switchboard.v1 scenarios need the server's [auth] keyring table in --scenario-file \
         (to mint tokens)"
    )]
    MissingAuth,
    /// The `[auth]` table cannot mint tokens.
    #[error("[auth]: {0}")]
    BadAuth(String),
    /// The connections cannot be laid out into the scenario's roles.
    #[error("{0}")]
    BadLayout(String),
    /// `--url` is not `ws://HOST:PORT/PATH` with a numeric or resolvable host.
    #[error("bad --url {url:?}: {why}")]
    BadUrl {
        /// The given URL.
        url: String,
        /// What is wrong with it.
        why: String,
    },
    /// `--raw-echo` with a scenario other than `echo`.
    #[error(
        "--raw-echo drives a byte-echo server with the echo scenario only; scenario {0} needs a \
         WebSocket server"
    )]
    RawEchoScenario(String),
    /// `--source-addrs` is not `A.B.C.D` or `A.B.C.D-A.B.C.E`.
    #[error("bad --source-addrs {0:?}: expected IPv4 A.B.C.D or a range A.B.C.D-A.B.C.E")]
    BadSourceAddrs(String),
    /// The scenario file could not be read or parsed.
    #[error("scenario file {path}: {why}")]
    ScenarioFile {
        /// The file.
        path: String,
        /// The read or parse error.
        why: String,
    },
}

fn check<T: PartialOrd + ToString>(
    field: &'static str,
    value: T,
    min: T,
    max: T,
) -> Result<(), ConfigError> {
    if value >= min && value <= max {
        return Ok(());
    }
    Err(ConfigError::OutOfRange {
        field,
        value: value.to_string(),
        allowed: format!("{}..={}", min.to_string(), max.to_string()),
    })
}

impl RunConfig {
    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check("connections", self.connections, 1, CONNECTIONS_LIMIT)?;
        check(
            "duration",
            self.duration.as_secs_f64(),
            0.1,
            DURATION_SECS_LIMIT as f64,
        )?;
        check(
            "size",
            self.size_bytes,
            PAYLOAD_HEADER_BYTES,
            SIZE_BYTES_LIMIT,
        )?;
        check("threads", self.threads, 1, THREADS_LIMIT)?;
        check("connect_rate", self.connect_rate_per_sec, 1.0, 10_000_000.0)?;
        check("drain", self.drain.as_secs_f64(), 0.0, 600.0)?;
        check("in_flight_max", self.in_flight_max, 1, 10_000_000)?;
        match self.pacing {
            Pacing::OpenLoop { rate_per_sec, ramp } => {
                check("rate", rate_per_sec, 0.001, 100_000_000.0)?;
                check("ramp", ramp.as_secs_f64(), 0.0, DURATION_SECS_LIMIT as f64)?;
            }
            Pacing::ClosedLoop { in_flight } => {
                check("in_flight", in_flight, 1, self.in_flight_max)?;
            }
        }
        if self.scenario.is_chat() != self.chat.is_some() {
            return Err(ConfigError::MissingAuth);
        }
        if self.raw_echo && self.scenario != Scenario::Echo {
            return Err(ConfigError::RawEchoScenario(format!("{:?}", self.scenario)));
        }
        if let Some(params) = &self.chat {
            params.validate()?;
            self.check_layout(params)?;
        }
        if let Some(sources) = &self.source_addrs {
            let capacity = sources.capacity(self.dest.port());
            check("connections", u64::from(self.connections), 1, capacity)?;
        }
        Ok(())
    }

    /// Every thread needs a customer and someone following it.
    fn check_layout(&self, params: &crate::chat::ChatParams) -> Result<(), ConfigError> {
        if let Pacing::ClosedLoop { .. } = self.pacing {
            return Err(ConfigError::BadLayout(
                "switchboard.v1 scenarios are open loop only (no --closed-loop)".into(),
            ));
        }
        let smallest = self.connections_of_thread(self.threads - 1);
        let customers =
            crate::chat::actor::customers_of(self.scenario, smallest, params.customers_per_agent);
        if smallest < 2 || customers == 0 {
            return Err(ConfigError::BadLayout(format!(
                "{} connections over {} threads leave a thread without a customer and a follower; \
                 use at least 2 per thread",
                self.connections, self.threads
            )));
        }
        Ok(())
    }

    /// Customers over all threads (the open-loop rate is shared among them).
    pub fn customers(&self) -> u32 {
        let per_agent = self.chat.as_ref().map_or(1, |c| c.customers_per_agent);
        (0..self.threads)
            .map(|t| {
                crate::chat::actor::customers_of(
                    self.scenario,
                    self.connections_of_thread(t),
                    per_agent,
                )
            })
            .sum()
    }

    /// Connections handled by thread `thread` (connection `n` belongs to thread `n % threads`).
    pub fn connections_of_thread(&self, thread: usize) -> u32 {
        let threads = self.threads as u32;
        let thread = thread as u32;
        self.connections / threads + u32::from(thread < self.connections % threads)
    }
}

/// Splits `ws://HOST:PORT/PATH` into the destination, the `Host` header and the path.
pub fn parse_url(url: &str) -> Result<(SocketAddr, String, String), ConfigError> {
    let bad = |why: &str| ConfigError::BadUrl {
        url: url.to_string(),
        why: why.to_string(),
    };
    let rest = url
        .strip_prefix("ws://")
        .ok_or_else(|| bad("only ws:// is supported (no TLS)"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        return Err(bad("missing host"));
    }
    let with_port = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| !p.contains(']'))
    {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    use std::net::ToSocketAddrs;
    let dest = with_port
        .to_socket_addrs()
        .map_err(|e| bad(&e.to_string()))?
        .next()
        .ok_or_else(|| bad("host resolves to no address"))?;
    Ok((dest, authority.to_string(), path.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_parts() {
        let (dest, host, path) = parse_url("ws://127.0.0.1:7878/ws?x=1").unwrap();
        assert_eq!(dest, "127.0.0.1:7878".parse().unwrap());
        assert_eq!(host, "127.0.0.1:7878");
        assert_eq!(path, "/ws?x=1");
        let (_, _, path) = parse_url("ws://127.0.0.1:9").unwrap();
        assert_eq!(path, "/");
        assert!(parse_url("wss://127.0.0.1:9/").is_err());
    }

    #[test]
    fn scenario_names() {
        assert_eq!(Scenario::parse("churn"), Ok(Scenario::Churn));
        assert!(Scenario::Fanout.is_chat() && !Scenario::Echo.is_chat());
        assert!(matches!(
            Scenario::parse("nope"),
            Err(ConfigError::UnknownScenario(_))
        ));
    }
}
