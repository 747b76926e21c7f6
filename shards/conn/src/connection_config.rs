//! [`ConnectionConfig`]: what one [`Connection`](super::Connection) needs from the serve configuration.
//!
//! The settings ([`ConnectionSettings`], about 150 bytes) are the same for every connection of a shard, so a
//! connection holds only a [`ConnectionConfig`]: a `Copy` reference to one shared, interned copy. With
//! 100,000 idle connections per process that is 8 bytes each instead of a private copy each.
//!
//! Interning: [`ConnectionConfig::new`] looks the settings up in a process-wide list and leaks a new copy
//! only when no equal one exists, so the memory kept for the life of the process is bounded by the number
//! of *distinct* configurations (one per mode and limits in a server; a handful in a test run).

use std::sync::Mutex;

use switchboard_protocol::ws::handshake::HandshakeLimits;
use switchboard_protocol::ws::AssemblerLimits;

use super::heartbeat::HeartbeatConfig;
use crate::limits::Limits;
use crate::mode::Mode;

/// Largest request line or single header line of the upgrade request (or the whole head, if smaller).
const HANDSHAKE_LINE_BYTES_MAX: usize = 8_192;

/// Distinct settings interned so far; beyond this many a new configuration is still leaked (the list is
/// only a cache), which is our bug in a server (it builds one per shard, all equal) and harmless in tests.
const INTERNED_SETTINGS_MAX: usize = 64;

/// Per-connection settings, derived once from validated [`Limits`] and shared by a shard's connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionSettings {
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
    /// See `Limits::partial_message_timeout_ms`.
    pub partial_message_timeout_ms: u64,
    /// Time our Close (or a rejection) may take to be answered and flushed before the transport is dropped.
    pub close_timeout_ms: u64,
    /// Payload bytes of one outbound fragment.
    pub fragment_bytes: usize,
    /// Bound of the send queue.
    pub send_queue_bytes_max: usize,
}

/// A shared, immutable reference to [`ConnectionSettings`]: 8 bytes per connection. Dereferences to the
/// settings, so `config.idle_timeout_ms` reads a field.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionConfig(&'static ConnectionSettings);

/// Every distinct [`ConnectionSettings`] handed out so far.
static INTERNED: Mutex<Vec<&'static ConnectionSettings>> = Mutex::new(Vec::new());

impl ConnectionConfig {
    /// The settings for `mode` from validated `limits`.
    pub fn new(mode: Mode, limits: &Limits) -> Self {
        Self::from_settings(ConnectionSettings::new(mode, limits))
    }

    /// The shared copy of `settings` (interned: equal settings share one copy).
    pub fn from_settings(settings: ConnectionSettings) -> Self {
        settings
            .assembler
            .validate()
            .expect("Limits::validate keeps the assembler limits in range");
        let mut interned = INTERNED.lock().unwrap_or_else(|poison| poison.into_inner());
        if let Some(&shared) = interned.iter().find(|shared| ***shared == settings) {
            return Self(shared);
        }
        let shared: &'static ConnectionSettings = Box::leak(Box::new(settings));
        if interned.len() < INTERNED_SETTINGS_MAX {
            interned.push(shared);
        }
        Self(shared)
    }

    /// The settings, for the life of the process.
    pub fn settings(self) -> &'static ConnectionSettings {
        self.0
    }
}

impl std::ops::Deref for ConnectionConfig {
    type Target = ConnectionSettings;

    fn deref(&self) -> &ConnectionSettings {
        self.0
    }
}

impl ConnectionSettings {
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
            partial_message_timeout_ms: limits.partial_message_timeout_ms,
            fragment_bytes: limits.fragment_bytes as usize,
            send_queue_bytes_max: limits.send_queue_bytes_max as usize,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_settings_share_one_copy() {
        let limits = Limits::default();
        let a = ConnectionConfig::new(Mode::Echo, &limits);
        let b = ConnectionConfig::new(Mode::Echo, &limits);
        let c = ConnectionConfig::new(Mode::Chat, &limits);
        assert!(std::ptr::eq(a.settings(), b.settings()));
        assert!(!std::ptr::eq(a.settings(), c.settings()));
        assert_eq!(c.mode, Mode::Chat);
        assert_eq!(std::mem::size_of::<ConnectionConfig>(), 8);
    }
}
