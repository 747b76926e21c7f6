//! [`ChatConfig`]: the `[chat]` table — bounds of the conversation layer, each with its unit last.

use serde::Deserialize;

use crate::config::ConfigError;

/// Most messages one `history_query` page returns (docs/protocol.md section 9: capped silently).
pub const HISTORY_PAGE_MAX: u16 = 100;

/// Bounds and timings of the conversation layer. See `switchboard.example.toml` for the reasons.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChatConfig {
    /// Conversations one owner shard keeps in memory; creating more is refused with `overloaded`.
    pub conversations_per_shard_max: u64,
    /// Bytes of one message's text; longer `send`s get `message_too_large`.
    pub text_bytes_max: u64,
    /// Conversations one connection may follow (send in, resume, query); more get `rate_limited`.
    pub subscriptions_per_connection_max: u64,
    /// Positions in one `resume`; further positions are answered `invalid_state`.
    pub resume_positions_max: u64,
    /// Messages replayed for one position; older missing messages are reported as a `gap`.
    pub replay_messages_max: u64,
    /// Time from the WebSocket opening to the client's `hello`; slower clients are closed (1008).
    pub hello_timeout_ms: u64,
    /// Shortest time between two typing indicators a connection fans out per conversation.
    pub typing_interval_ms_min: u64,
    /// The agent group a conversation waits for when the routing shard cannot decide (ring full), and
    /// where every new conversation waits when routing is off.
    pub fallback_group: u32,
    /// Whether the routing/AI shard runs: bot answers, tickets, handoffs and agent assignment. Off, the
    /// server is plain messaging: new conversations wait in `fallback_group` for its agents.
    pub routing_enabled: bool,
}

impl Default for ChatConfig {
    fn default() -> Self {
        Self {
            conversations_per_shard_max: 1_000_000,
            text_bytes_max: 16_384,
            subscriptions_per_connection_max: 256,
            resume_positions_max: 256,
            replay_messages_max: 1_000,
            hello_timeout_ms: 10_000,
            typing_interval_ms_min: 1_000,
            fallback_group: 1,
            routing_enabled: true,
        }
    }
}

impl ChatConfig {
    /// Checks every field's range.
    ///
    /// # Errors
    ///
    /// The first out-of-range field as a [`ConfigError`].
    pub fn validate(&self) -> Result<(), ConfigError> {
        ConfigError::check_range(
            "chat.conversations_per_shard_max",
            self.conversations_per_shard_max,
            1,
            100_000_000,
        )?;
        ConfigError::check_range("chat.text_bytes_max", self.text_bytes_max, 1, 60_000)?;
        ConfigError::check_range(
            "chat.subscriptions_per_connection_max",
            self.subscriptions_per_connection_max,
            1,
            65_536,
        )?;
        ConfigError::check_range(
            "chat.resume_positions_max",
            self.resume_positions_max,
            1,
            65_536,
        )?;
        ConfigError::check_range(
            "chat.replay_messages_max",
            self.replay_messages_max,
            1,
            1_000_000,
        )?;
        ConfigError::check_range("chat.hello_timeout_ms", self.hello_timeout_ms, 100, 600_000)?;
        ConfigError::check_range(
            "chat.typing_interval_ms_min",
            self.typing_interval_ms_min,
            0,
            600_000,
        )
    }
}
