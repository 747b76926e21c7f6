//! [`ChatConfig`]: the `[chat]` table — bounds of the conversation layer, each with its unit last.

use serde::Deserialize;

/// A chat setting out of range (or a section that is wrong): the operator's fault. The server's
/// configuration error takes it over with `From`, with the same message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A numeric field is outside its allowed range.
    #[error("config field `{field}` = {value} is out of range: allowed {min}..={max}")]
    OutOfRange {
        /// The field's name as written in the TOML, e.g. `"chat.text_bytes_max"`.
        field: &'static str,
        /// The rejected value.
        value: u64,
        /// Smallest allowed value.
        min: u64,
        /// Largest allowed value.
        max: u64,
    },
    /// A table validated as a whole (`[[chat.origins]]`) is invalid.
    #[error("config section [{section}]: {message}")]
    Section {
        /// The TOML table.
        section: &'static str,
        /// What is wrong.
        message: String,
    },
}

impl ConfigError {
    /// A [`ConfigError::Section`] error.
    pub fn section(section: &'static str, message: impl Into<String>) -> Self {
        Self::Section {
            section,
            message: message.into(),
        }
    }

    /// Checks `min <= value <= max` for `field`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::OutOfRange`] naming the field.
    pub fn check_range(field: &'static str, value: u64, min: u64, max: u64) -> Result<(), Self> {
        if (min..=max).contains(&value) {
            Ok(())
        } else {
            Err(Self::OutOfRange {
                field,
                value,
                min,
                max,
            })
        }
    }
}

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
    /// Bytes of message text in one `history_result` page; older messages of a fuller page are left for
    /// the next page (`has_more`).
    pub history_page_bytes_max: u64,
    /// Bytes of message text replayed for one resume position; older missing messages are reported as
    /// a `gap` (`unavailable`) that the client pages in with `history_query`.
    pub replay_bytes_max: u64,
    /// Reads (`history_query` pages, resume positions) of one connection being served by owners at
    /// once. Further reads wait on the connection's shard and go out as answers are queued and the
    /// client reads them, so what a client asks can never queue more than its send queue holds.
    pub reads_in_flight_per_connection_max: u64,
    /// Reads one connection may have waiting; more get `rate_limited` with `retry_after_ms`.
    pub reads_pending_per_connection_max: u64,
    /// Requests (send, resume position, history, typing, read receipt, state change) one connection may
    /// make per second on average (token bucket; bursts up to one second's worth). More get
    /// `rate_limited` with `retry_after_ms`, and the rest of that WebSocket message is dropped.
    pub connection_requests_per_second_max: u64,
    /// As `connection_requests_per_second_max`, for all connections of one user on one shard.
    pub user_requests_per_second_max: u64,
    /// As `connection_requests_per_second_max`, for all connections of one tenant on one shard.
    pub tenant_requests_per_second_max: u64,
    /// Conversations of one customer that are not resolved, per owner shard (a node holds at most this
    /// many times its shard count); opening or re-opening more gets `rate_limited`.
    pub customer_open_conversations_max: u64,
    /// As `customer_open_conversations_max`, for all customers of one tenant, per owner shard.
    pub tenant_open_conversations_max: u64,
    /// A resolved conversation, or one with the bot, with no message or state change for this long
    /// leaves the owner's memory (its state stays in the log; the next request brings it back).
    pub conversation_idle_evict_ms: u64,
    /// Web origins allowed per tenant for browser connections (`[[chat.origins]]`); a tenant without
    /// a list accepts any origin.
    pub origins: Vec<super::origins::TenantOrigins>,
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
            history_page_bytes_max: 262_144,
            replay_bytes_max: 524_288,
            reads_in_flight_per_connection_max: 2,
            reads_pending_per_connection_max: 512,
            connection_requests_per_second_max: 200,
            user_requests_per_second_max: 400,
            tenant_requests_per_second_max: 50_000,
            customer_open_conversations_max: 32,
            tenant_open_conversations_max: 500_000,
            conversation_idle_evict_ms: 600_000,
            origins: Vec::new(),
        }
    }
}

impl ChatConfig {
    /// Lifts the per-client request and open-conversation quotas to their maximum, for load generators
    /// and tests that drive a few connections far harder than a person would.
    pub fn lift_client_quotas(&mut self) {
        const RATE_MAX: u64 = 10_000_000;
        self.connection_requests_per_second_max = RATE_MAX;
        self.user_requests_per_second_max = RATE_MAX;
        self.tenant_requests_per_second_max = RATE_MAX;
        self.customer_open_conversations_max = self.conversations_per_shard_max.min(1_000_000);
        self.tenant_open_conversations_max = self.conversations_per_shard_max;
    }

    /// Checks every field's range.
    ///
    /// # Errors
    ///
    /// The first out-of-range field as a [`ConfigError`].
    pub fn validate(&self) -> Result<(), ConfigError> {
        ConfigError::check_range(
            "chat.conversation_idle_evict_ms",
            self.conversation_idle_evict_ms,
            1_000,
            30 * 24 * 3_600_000,
        )?;
        super::origins::validate(&self.origins)?;
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
        )?;
        self.validate_reads()?;
        self.validate_quotas()
    }

    /// The bounds of what one connection may read at once.
    fn validate_reads(&self) -> Result<(), ConfigError> {
        let text = self.text_bytes_max;
        ConfigError::check_range(
            "chat.history_page_bytes_max",
            self.history_page_bytes_max,
            text,
            16 * 1_048_576,
        )?;
        ConfigError::check_range(
            "chat.replay_bytes_max",
            self.replay_bytes_max,
            text,
            64 * 1_048_576,
        )?;
        ConfigError::check_range(
            "chat.reads_in_flight_per_connection_max",
            self.reads_in_flight_per_connection_max,
            1,
            64,
        )?;
        // A whole resume must fit in the queue, or a client resuming every conversation it may follow
        // would be refused positions.
        ConfigError::check_range(
            "chat.reads_pending_per_connection_max",
            self.reads_pending_per_connection_max,
            self.resume_positions_max,
            65_536,
        )
    }

    /// The request rates and open-conversation quotas.
    fn validate_quotas(&self) -> Result<(), ConfigError> {
        for (field, value) in [
            (
                "chat.connection_requests_per_second_max",
                self.connection_requests_per_second_max,
            ),
            (
                "chat.user_requests_per_second_max",
                self.user_requests_per_second_max,
            ),
            (
                "chat.tenant_requests_per_second_max",
                self.tenant_requests_per_second_max,
            ),
        ] {
            ConfigError::check_range(field, value, 1, 10_000_000)?;
        }
        ConfigError::check_range(
            "chat.customer_open_conversations_max",
            self.customer_open_conversations_max,
            1,
            1_000_000,
        )?;
        ConfigError::check_range(
            "chat.tenant_open_conversations_max",
            self.tenant_open_conversations_max,
            self.customer_open_conversations_max,
            self.conversations_per_shard_max
                .max(self.customer_open_conversations_max),
        )
    }
}
