//! [`ChatParams`]: the `[chat]` and `[auth]` tables of a scenario file, validated.
//!
//! ```toml
//! [chat]
//! tenant = 1                 # tenant of every minted token
//! customers_per_agent = 4    # chat/churn/burst: one agent connection per this many customers
//! agent_think_ms = 200       # agent reply delay after a customer message arrives
//! agent_reply_every = 1      # the agent answers every n-th customer message (0: never)
//! churn_rate = 5.0           # churn: reconnections per second over all connections
//! burst_start = 2.0          # burst: seconds from the start to the spike
//! burst_duration = 2.0       # burst: length of the spike, seconds
//! burst_factor = 6.0         # burst: rate multiplier during the spike
//! routing = false            # chat: agents are routed by the server's routing shard (see below)
//! bot_question_share = 0.8   # routing: customers asking knowledge-base questions (the bot answers)
//! out_of_scope_share = 0.15  # routing: customers asking what the bot cannot answer (handed off)
//! angry_share = 0.05         # routing: angry customers (straight to a human)
//! agent_groups = [1, 2]      # routing: groups in the agents' tokens (default: every built-in group)
//!
//! [auth]                     # the server's keyring table, verbatim
//! active_key_id = "load"
//! keys = [{ id = "load", secret_hex = "0001…1f" }]
//! ```

use std::sync::Arc;

use serde::Deserialize;
use switchboard_shards::auth::KeyringConfig;
use switchboard_shards::routing::kb::KnowledgeBase;
use switchboard_shards::routing::shard::default_groups;

use super::questions::QuestionPool;

use crate::config::ConfigError;

/// Default tenant of the minted tokens.
pub const TENANT_DEFAULT: u64 = 1;
/// Token lifetime: longer than any run.
pub const TOKEN_TTL_S: u64 = 25 * 3600;

/// The `[chat]` table as written: every field optional.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)] // Each field is documented on `ChatParams`.
pub struct ChatSection {
    pub tenant: Option<u64>,
    pub customers_per_agent: Option<u32>,
    pub agent_think_ms: Option<u64>,
    pub agent_reply_every: Option<u32>,
    pub churn_rate: Option<f64>,
    pub burst_start: Option<f64>,
    pub burst_duration: Option<f64>,
    pub burst_factor: Option<f64>,
    pub routing: Option<bool>,
    pub bot_question_share: Option<f64>,
    pub out_of_scope_share: Option<f64>,
    pub angry_share: Option<f64>,
    pub agent_groups: Option<Vec<u32>>,
}

/// Routed chat (`routing = true`): who the customers are and which groups the agents serve.
#[derive(Debug, Clone, PartialEq)]
pub struct RoutingParams {
    /// Share of customers asking knowledge-base questions, in `[0, 1]`.
    pub bot_question_share: f64,
    /// Share of customers asking what the bot cannot answer, in `[0, 1]`.
    pub out_of_scope_share: f64,
    /// Share of angry customers, in `[0, 1]`; the three shares sum to 1.
    pub angry_share: f64,
    /// Groups named in every agent token.
    pub agent_groups: Vec<u32>,
    /// What the customers say (built once per run; shared by the threads).
    pub questions: Arc<QuestionPool>,
}

/// Parameters of the switchboard.v1 scenarios (`chat`, `churn`, `burst`, `fanout`).
#[derive(Debug, Clone, PartialEq)]
pub struct ChatParams {
    /// Tenant of every token.
    pub tenant: u64,
    /// Customers per agent connection (chat, churn, burst).
    pub customers_per_agent: u32,
    /// How long an agent "thinks" before replying to a customer message, milliseconds.
    pub agent_think_ms: u64,
    /// The agent replies to every n-th customer message it receives; 0 disables replies.
    pub agent_reply_every: u32,
    /// Reconnections per second over all connections (churn only; 0 elsewhere).
    pub churn_rate_per_sec: f64,
    /// Seconds from the start of the run to the burst (burst only).
    pub burst_start_secs: f64,
    /// Length of the burst, seconds (burst only; 0 elsewhere).
    pub burst_secs: f64,
    /// Rate multiplier during the burst.
    pub burst_factor: f64,
    /// The keyring that signs the tokens (the server's `[auth]` table).
    pub auth: KeyringConfig,
    /// `Some` when the server's routing shard assigns the agents (chat only).
    pub routing: Option<RoutingParams>,
}

impl ChatParams {
    /// Builds the parameters of `scenario` from the file's tables; `auth` is required.
    pub fn from_sections(
        scenario: &str,
        chat: ChatSection,
        auth: Option<KeyringConfig>,
    ) -> Result<ChatParams, ConfigError> {
        let auth = auth.ok_or(ConfigError::MissingAuth)?;
        let params = ChatParams {
            tenant: chat.tenant.unwrap_or(TENANT_DEFAULT),
            customers_per_agent: chat.customers_per_agent.unwrap_or(4),
            agent_think_ms: chat.agent_think_ms.unwrap_or(200),
            agent_reply_every: chat.agent_reply_every.unwrap_or(1),
            churn_rate_per_sec: match scenario {
                "churn" => chat.churn_rate.unwrap_or(5.0),
                _ => 0.0,
            },
            burst_start_secs: chat.burst_start.unwrap_or(2.0),
            burst_secs: match scenario {
                "burst" => chat.burst_duration.unwrap_or(2.0),
                _ => 0.0,
            },
            burst_factor: chat.burst_factor.unwrap_or(6.0),
            routing: routing_params(scenario, &chat)?,
            auth,
        };
        params.validate()?;
        Ok(params)
    }

    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let range = |field: &'static str, value: f64, min: f64, max: f64| {
            if value >= min && value <= max {
                Ok(())
            } else {
                Err(ConfigError::OutOfRange {
                    field,
                    value: value.to_string(),
                    allowed: format!("{min}..={max}"),
                })
            }
        };
        range(
            "chat.customers_per_agent",
            f64::from(self.customers_per_agent),
            1.0,
            100_000.0,
        )?;
        range(
            "chat.agent_think_ms",
            self.agent_think_ms as f64,
            0.0,
            600_000.0,
        )?;
        range("chat.churn_rate", self.churn_rate_per_sec, 0.0, 1_000_000.0)?;
        range("chat.burst_start", self.burst_start_secs, 0.0, 86_400.0)?;
        range("chat.burst_duration", self.burst_secs, 0.0, 86_400.0)?;
        range("chat.burst_factor", self.burst_factor, 1.0, 1_000.0)?;
        if let Some(routing) = &self.routing {
            range(
                "chat.bot_question_share",
                routing.bot_question_share,
                0.0,
                1.0,
            )?;
            range(
                "chat.out_of_scope_share",
                routing.out_of_scope_share,
                0.0,
                1.0,
            )?;
            range("chat.angry_share", routing.angry_share, 0.0, 1.0)?;
            let sum = routing.bot_question_share + routing.out_of_scope_share + routing.angry_share;
            range(
                "chat.*_share (sum)",
                sum,
                1.0 - SHARE_SUM_SLACK,
                1.0 + SHARE_SUM_SLACK,
            )?;
            let groups = routing.agent_groups.len() as f64;
            range("chat.agent_groups (count)", groups, 1.0, 1_000.0)?;
        }
        switchboard_shards::auth::Keyring::from_config(&self.auth)
            .map(|_| ())
            .map_err(|e| ConfigError::BadAuth(e.to_string()))
    }
}

/// How far the three customer shares may sum from 1 (rounding in hand-written files).
pub const SHARE_SUM_SLACK: f64 = 1e-6;

/// The routed-chat parameters: `None` unless `routing = true`, which only `chat` accepts.
fn routing_params(
    scenario: &str,
    chat: &ChatSection,
) -> Result<Option<RoutingParams>, ConfigError> {
    if !chat.routing.unwrap_or(false) {
        return Ok(None);
    }
    if scenario != "chat" {
        return Err(ConfigError::BadLayout(format!(
            "chat.routing = true is only for the chat scenario, not {scenario}"
        )));
    }
    let agent_groups = match &chat.agent_groups {
        Some(groups) => groups.clone(),
        None => {
            let kb = KnowledgeBase::builtin().map_err(|e| ConfigError::BadLayout(e.to_string()))?;
            default_groups(&kb).iter().map(|g| g.id).collect()
        }
    };
    let questions = QuestionPool::shipped().map_err(|e| ConfigError::BadLayout(e.to_string()))?;
    Ok(Some(RoutingParams {
        bot_question_share: chat.bot_question_share.unwrap_or(0.8),
        out_of_scope_share: chat.out_of_scope_share.unwrap_or(0.15),
        angry_share: chat.angry_share.unwrap_or(0.05),
        agent_groups,
        questions: Arc::new(questions),
    }))
}
