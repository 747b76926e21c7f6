//! [`Limits`]: the `[limits]` table of the serve configuration — every bound a connection shard enforces.

use serde::Deserialize;

use crate::app_fragment::APP_FRAGMENT_DATA_BYTES_MAX;
use crate::error::ConfigError;

/// Every per-node and per-connection bound, with its unit last. See `switchboard.example.toml` for the
/// reasons behind each default.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Open connections on the whole node; accepts beyond it are refused.
    pub connections_max: u64,
    /// Open connections on one shard; sizes the shard's connection slab at start.
    pub connections_per_shard_max: u64,
    /// Bytes of the HTTP upgrade request head; more is answered with 400 and dropped.
    pub handshake_bytes_max: u64,
    /// Time from accept to a complete upgrade request; slower clients get 408 and are dropped.
    pub handshake_timeout_ms: u64,
    /// Bytes of one received WebSocket message (all fragments); more closes with 1009.
    pub message_bytes_max: u64,
    /// Payload bytes of one received WebSocket frame; more closes with 1009.
    pub frame_payload_bytes_max: u64,
    /// Frames a client may send per second (token bucket, burst of the same size); more closes with 1008.
    /// Counted per complete message and per control frame (continuations of one message count once).
    pub frames_per_second_max: u64,
    /// Bytes queued for one client that is not reading; more closes it with 1013.
    pub send_queue_bytes_max: u64,
    /// Time without a received text/binary message after which the connection is closed with 1000.
    pub idle_timeout_ms: u64,
    /// Shortest heartbeat interval, used for jittery paths and before the first RTT sample.
    pub heartbeat_interval_ms_min: u64,
    /// Longest heartbeat interval: a quiet connection hears from us at least this often (NAT/LB keepalive).
    pub heartbeat_interval_ms_max: u64,
    /// Smallest time a pong may take before the connection is considered dead.
    pub pong_timeout_ms_min: u64,
    /// Largest time a pong may take (also used before the first RTT sample).
    pub pong_timeout_ms_max: u64,
    /// Payload bytes of one outbound fragment: an urgent message waits behind at most this much.
    pub fragment_bytes: u64,
    /// Time we wait for the client's Close after sending ours before dropping the transport.
    pub close_timeout_ms: u64,
    /// Time a client may take to finish a message it started (the continuation frames of a WebSocket
    /// message, or the pieces of a switchboard.v1 fragmented message); slower ones are closed with 1008,
    /// so nobody parks unfinished messages in server memory until the idle timeout.
    pub partial_message_timeout_ms: u64,
    /// Bytes the whole node may hold for its clients (queued to send, plus unfinished messages being
    /// reassembled), shared equally by the shards. A shard over its share closes the connections holding
    /// the largest unfinished messages (1013) until it is back under; the same bytes drive the overload
    /// modes (`overload.brownout_queue_bytes`).
    pub buffered_bytes_max: u64,
    /// Time a graceful drain (deploy) gives connections to close before they are dropped.
    pub drain_timeout_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            connections_max: 100_000,
            connections_per_shard_max: 50_000,
            handshake_bytes_max: 16_384,
            handshake_timeout_ms: 10_000,
            message_bytes_max: 1_048_576,
            frame_payload_bytes_max: 1_048_576,
            frames_per_second_max: 10_000,
            send_queue_bytes_max: 2_097_152,
            idle_timeout_ms: 3_600_000,
            heartbeat_interval_ms_min: 5_000,
            heartbeat_interval_ms_max: 30_000,
            pong_timeout_ms_min: 2_000,
            pong_timeout_ms_max: 10_000,
            fragment_bytes: 16_384,
            close_timeout_ms: 5_000,
            partial_message_timeout_ms: 30_000,
            buffered_bytes_max: 4 * 1_073_741_824,
            drain_timeout_ms: 30_000,
        }
    }
}

/// One hour in milliseconds, the upper bound of most timers.
const HOUR_MS: u64 = 3_600_000;

impl Limits {
    /// Checks every field's range and the relations between fields.
    ///
    /// # Errors
    ///
    /// The first offending field as a [`ConfigError`] naming it and what is allowed.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_ranges()?;
        self.validate_relations()
    }

    fn validate_ranges(&self) -> Result<(), ConfigError> {
        let checks: [(&'static str, u64, u64, u64); 18] = [
            (
                "limits.connections_max",
                self.connections_max,
                1,
                100_000_000,
            ),
            (
                "limits.connections_per_shard_max",
                self.connections_per_shard_max,
                1,
                16_777_216,
            ),
            (
                "limits.handshake_bytes_max",
                self.handshake_bytes_max,
                512,
                1_048_576,
            ),
            (
                "limits.handshake_timeout_ms",
                self.handshake_timeout_ms,
                100,
                600_000,
            ),
            (
                "limits.message_bytes_max",
                self.message_bytes_max,
                1_024,
                268_435_456,
            ),
            (
                "limits.frame_payload_bytes_max",
                self.frame_payload_bytes_max,
                125,
                268_435_456,
            ),
            (
                "limits.frames_per_second_max",
                self.frames_per_second_max,
                1,
                10_000_000,
            ),
            (
                "limits.send_queue_bytes_max",
                self.send_queue_bytes_max,
                4_096,
                1_073_741_824,
            ),
            (
                "limits.idle_timeout_ms",
                self.idle_timeout_ms,
                1_000,
                7 * 24 * HOUR_MS,
            ),
            (
                "limits.heartbeat_interval_ms_min",
                self.heartbeat_interval_ms_min,
                100,
                HOUR_MS,
            ),
            (
                "limits.heartbeat_interval_ms_max",
                self.heartbeat_interval_ms_max,
                100,
                HOUR_MS,
            ),
            (
                "limits.pong_timeout_ms_min",
                self.pong_timeout_ms_min,
                10,
                HOUR_MS,
            ),
            (
                "limits.pong_timeout_ms_max",
                self.pong_timeout_ms_max,
                10,
                HOUR_MS,
            ),
            // A switchboard.v1 fragment must fit the client's frame body limit.
            (
                "limits.fragment_bytes",
                self.fragment_bytes,
                512,
                APP_FRAGMENT_DATA_BYTES_MAX as u64,
            ),
            (
                "limits.partial_message_timeout_ms",
                self.partial_message_timeout_ms,
                100,
                HOUR_MS,
            ),
            (
                "limits.buffered_bytes_max",
                self.buffered_bytes_max,
                1_048_576,
                1 << 40,
            ),
            (
                "limits.close_timeout_ms",
                self.close_timeout_ms,
                10,
                600_000,
            ),
            ("limits.drain_timeout_ms", self.drain_timeout_ms, 0, HOUR_MS),
        ];
        for (field, value, min, max) in checks {
            ConfigError::check_range(field, value, min, max)?;
        }
        Ok(())
    }

    fn validate_relations(&self) -> Result<(), ConfigError> {
        ConfigError::check_at_least(
            "limits.connections_max",
            self.connections_max,
            "limits.connections_per_shard_max",
            self.connections_per_shard_max,
        )?;
        ConfigError::check_at_least(
            "limits.message_bytes_max",
            self.message_bytes_max,
            "limits.frame_payload_bytes_max",
            self.frame_payload_bytes_max,
        )?;
        // One message of the largest size must fit in the queue while the previous one is still being
        // written, or an echo of a legal message would close the connection.
        ConfigError::check_at_least(
            "limits.send_queue_bytes_max",
            self.send_queue_bytes_max,
            "2 × limits.message_bytes_max",
            self.message_bytes_max.saturating_mul(2),
        )?;
        ConfigError::check_at_least(
            "limits.heartbeat_interval_ms_max",
            self.heartbeat_interval_ms_max,
            "limits.heartbeat_interval_ms_min",
            self.heartbeat_interval_ms_min,
        )?;
        ConfigError::check_at_least(
            "limits.pong_timeout_ms_max",
            self.pong_timeout_ms_max,
            "limits.pong_timeout_ms_min",
            self.pong_timeout_ms_min,
        )?;
        // A data-idle connection must get at least one full heartbeat round first, so idle closes never
        // race with a dead-peer detection.
        ConfigError::check_at_least(
            "limits.idle_timeout_ms",
            self.idle_timeout_ms,
            "limits.heartbeat_interval_ms_max + limits.pong_timeout_ms_max",
            self.heartbeat_interval_ms_max + self.pong_timeout_ms_max,
        )
    }
}
