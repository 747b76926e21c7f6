//! [`ConnectionConfig`]: what one [`Connection`](super::Connection) needs from the serve configuration.

use switchboard_protocol::ws::handshake::HandshakeLimits;
use switchboard_protocol::ws::AssemblerLimits;

use super::heartbeat::HeartbeatConfig;
use crate::config::{Limits, Mode};

/// Largest request line or single header line of the upgrade request (or the whole head, if smaller).
const HANDSHAKE_LINE_BYTES_MAX: usize = 8_192;

/// Per-connection settings, derived once per shard from validated [`Limits`] and shared by its connections.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionConfig {
    /// Echo (messages are sent back) or chat (messages become events for the shard).
    pub mode: Mode,
    /// Bounds of the HTTP upgrade request.
    pub handshake: HandshakeLimits,
    /// Receive bounds of frames and messages.
    pub assembler: AssemblerLimits,
    /// Heartbeat bounds.
    pub heartbeat: HeartbeatConfig,
    /// Time from accept to a complete upgrade request.
    pub handshake_timeout_ms: u64,
    /// Token-bucket rate (and burst) of received frames.
    pub frames_per_second_max: u64,
    /// Time without a received text/binary message before a graceful 1000 close.
    pub idle_timeout_ms: u64,
    /// Time our Close (or a rejection) may take to be answered and flushed before the transport is dropped.
    pub close_timeout_ms: u64,
    /// Payload bytes of one outbound fragment.
    pub fragment_bytes: usize,
    /// Bound of the send queue.
    pub send_queue_bytes_max: usize,
}

impl ConnectionConfig {
    /// The settings for `mode` from validated `limits`.
    pub fn new(mode: Mode, limits: &Limits) -> Self {
        let handshake_bytes_max = limits.handshake_bytes_max as usize;
        let line_bytes_max = HANDSHAKE_LINE_BYTES_MAX.min(handshake_bytes_max);
        Self {
            mode,
            handshake: HandshakeLimits {
                handshake_bytes_max,
                start_line_bytes_max: line_bytes_max,
                header_line_bytes_max: line_bytes_max,
                ..HandshakeLimits::default()
            },
            assembler: AssemblerLimits {
                frame_payload_bytes_max: limits.frame_payload_bytes_max as usize,
                message_bytes_max: limits.message_bytes_max as usize,
                ..AssemblerLimits::default()
            },
            heartbeat: HeartbeatConfig::from_limits(limits),
            handshake_timeout_ms: limits.handshake_timeout_ms,
            frames_per_second_max: limits.frames_per_second_max,
            idle_timeout_ms: limits.idle_timeout_ms,
            close_timeout_ms: limits.close_timeout_ms,
            fragment_bytes: limits.fragment_bytes as usize,
            send_queue_bytes_max: limits.send_queue_bytes_max as usize,
        }
    }
}
