//! Per-shard connection statistics: plain counters owned by the shard thread, published with relaxed atomic
//! stores, read by anyone (the admin listener, the binary at exit, tests) without locks.

use switchboard_core::metrics::{Counter, CounterReader, Gauge, GaugeReader};

use crate::conn::CloseReason;

/// Why connections ended, as counted; the label of each is [`CloseCause::label`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseCause {
    /// The upgrade request was invalid (400/405/414/426/431).
    HandshakeRejected,
    /// The upgrade request did not arrive within `handshake_timeout_ms`.
    HandshakeTimeout,
    /// A WebSocket protocol violation (1002/1007/1009).
    Protocol,
    /// More frames per second than `frames_per_second_max` (1008).
    FrameRate,
    /// The client stopped reading and its send queue hit `send_queue_bytes_max` (1013).
    SendQueueFull,
    /// No message within `idle_timeout_ms` (1000).
    Idle,
    /// A ping went unanswered past its deadline.
    Heartbeat,
    /// The client closed (close frame, EOF or reset).
    Peer,
    /// The server closed (drain or operator).
    Local,
    /// The close handshake did not finish within `close_timeout_ms`.
    CloseTimeout,
    /// Refused at accept: the shard already held `connections_per_shard_max`, or it is draining.
    Refused,
}

impl CloseCause {
    /// Every cause, in a fixed order (the index of the counter array).
    pub const ALL: [CloseCause; 11] = [
        CloseCause::HandshakeRejected,
        CloseCause::HandshakeTimeout,
        CloseCause::Protocol,
        CloseCause::FrameRate,
        CloseCause::SendQueueFull,
        CloseCause::Idle,
        CloseCause::Heartbeat,
        CloseCause::Peer,
        CloseCause::Local,
        CloseCause::CloseTimeout,
        CloseCause::Refused,
    ];

    /// A stable snake_case label for logs and metrics.
    pub fn label(self) -> &'static str {
        match self {
            CloseCause::HandshakeRejected => "handshake_rejected",
            CloseCause::HandshakeTimeout => "handshake_timeout",
            CloseCause::Protocol => "protocol_error",
            CloseCause::FrameRate => "frame_rate",
            CloseCause::SendQueueFull => "send_queue_full",
            CloseCause::Idle => "idle_timeout",
            CloseCause::Heartbeat => "heartbeat_timeout",
            CloseCause::Peer => "peer",
            CloseCause::Local => "local",
            CloseCause::CloseTimeout => "close_timeout",
            CloseCause::Refused => "refused",
        }
    }

    /// The cause a connection's close reason falls under (`None`: the transport went away first).
    pub fn of(reason: Option<&CloseReason>) -> CloseCause {
        match reason {
            None => CloseCause::Peer,
            Some(CloseReason::HandshakeRejected { .. }) => CloseCause::HandshakeRejected,
            Some(CloseReason::HandshakeTimeout) => CloseCause::HandshakeTimeout,
            Some(CloseReason::Protocol(_)) => CloseCause::Protocol,
            Some(CloseReason::FrameRateExceeded) => CloseCause::FrameRate,
            Some(CloseReason::SendQueueFull) => CloseCause::SendQueueFull,
            Some(CloseReason::IdleTimeout) => CloseCause::Idle,
            Some(CloseReason::HeartbeatTimeout) => CloseCause::Heartbeat,
            Some(CloseReason::PeerClosed { .. }) => CloseCause::Peer,
            Some(CloseReason::Local { .. }) => CloseCause::Local,
            Some(CloseReason::CloseTimeout { .. }) => CloseCause::CloseTimeout,
        }
    }

    fn index(self) -> usize {
        Self::ALL.iter().position(|&cause| cause == self).expect("every cause is in ALL")
    }
}

/// The shard's side: plain counters, updated without atomic read-modify-write.
#[derive(Debug)]
pub(crate) struct ShardStats {
    pub(crate) accepted: Counter,
    pub(crate) open: Gauge,
    pub(crate) bytes_received: Counter,
    pub(crate) bytes_sent: Counter,
    pub(crate) closed: [Counter; CloseCause::ALL.len()],
}

impl ShardStats {
    /// A fresh set of counters and the reader that sees them.
    pub(crate) fn new() -> (ShardStats, StatsReader) {
        let stats = ShardStats {
            accepted: Counter::new(),
            open: Gauge::new(),
            bytes_received: Counter::new(),
            bytes_sent: Counter::new(),
            closed: std::array::from_fn(|_| Counter::new()),
        };
        let reader = StatsReader {
            accepted: stats.accepted.reader(),
            open: stats.open.reader(),
            bytes_received: stats.bytes_received.reader(),
            bytes_sent: stats.bytes_sent.reader(),
            closed: std::array::from_fn(|i| stats.closed[i].reader()),
        };
        (stats, reader)
    }

    /// Counts one connection ended for `cause`.
    pub(crate) fn count_close(&mut self, cause: CloseCause) {
        self.closed[cause.index()].increment();
    }
}

/// A lock-free view of one shard's counters, readable from any thread.
#[derive(Debug, Clone)]
pub struct StatsReader {
    accepted: CounterReader,
    open: GaugeReader,
    bytes_received: CounterReader,
    bytes_sent: CounterReader,
    closed: [CounterReader; CloseCause::ALL.len()],
}

impl StatsReader {
    /// Connections accepted since start (including those refused at capacity).
    pub fn accepted(&self) -> u64 {
        self.accepted.get()
    }

    /// Connections open now.
    pub fn open(&self) -> i64 {
        self.open.get()
    }

    /// Bytes received from clients.
    pub fn bytes_received(&self) -> u64 {
        self.bytes_received.get()
    }

    /// Bytes written to clients.
    pub fn bytes_sent(&self) -> u64 {
        self.bytes_sent.get()
    }

    /// Connections that ended for `cause`.
    pub fn closed(&self, cause: CloseCause) -> u64 {
        self.closed[cause.index()].get()
    }
}
