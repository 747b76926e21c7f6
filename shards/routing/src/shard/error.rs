//! [`RoutingShardError`]: why the routing shard refused its configuration or an input.

use thiserror::Error;

use super::super::dialogue::DialogueConfigError;
use super::super::embed::EmbedError;
use super::super::kb::KbError;
use super::super::model::WeightsNotFound;
use super::super::ngram::TrainError;
use super::super::router::RouterError;
use super::super::ticket::ConversationId;
use super::TenantId;

/// Errors of the routing shard. Construction errors are local configuration errors; input errors mean
/// the caller (a conversation owner shard) sent something inconsistent with the routing state, and the
/// input changed nothing.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum RoutingShardError {
    /// The configuration file is not valid TOML for this schema (local configuration).
    #[error("routing config: {0}")]
    ConfigSyntax(String),
    /// A configuration field is out of range (local configuration).
    #[error("routing config: `{field}` must be {allowed}")]
    Config {
        /// The field.
        field: &'static str,
        /// The allowed range, in words.
        allowed: &'static str,
    },
    /// A dialogue setting is out of range (local configuration).
    #[error(transparent)]
    Dialogue(#[from] DialogueConfigError),
    /// The knowledge base could not be read or is invalid (local configuration).
    #[error("knowledge base: {0}")]
    Kb(#[from] KbError),
    /// The classifier could not be trained (local configuration).
    #[error("training: {0}")]
    Train(#[from] TrainError),
    /// The configured sentence encoder could not be loaded (local configuration: a missing or corrupt
    /// model directory).
    #[error("embedding model: {0}")]
    Embedding(#[from] EmbedError),
    /// `model = "hybrid"` is configured and no weights were found (local configuration).
    #[error("routing config: {0}")]
    WeightsNotFound(#[from] WeightsNotFound),
    /// A new tenant would exceed `limits.tenants_max` (capacity; the caller should refuse the tenant).
    #[error("tenant {tenant} refused: already {max} tenants")]
    TooManyTenants {
        /// The refused tenant.
        tenant: TenantId,
        /// The limit.
        max: usize,
    },
    /// A new agent would exceed `limits.agents_per_tenant_max` (capacity).
    #[error("tenant {tenant} already has {max} agents")]
    TooManyAgents {
        /// The tenant.
        tenant: TenantId,
        /// The limit.
        max: usize,
    },
    /// A new conversation would exceed `limits.conversations_max` and none could be evicted
    /// (backpressure; the owner degrades to "queue for a human").
    #[error("routing shard full: {max} conversations")]
    TooManyConversations {
        /// The limit.
        max: usize,
    },
    /// The conversation is known under another tenant (caller bug or forged input).
    #[error("conversation {conversation} belongs to tenant {owner}, not {tenant}")]
    TenantMismatch {
        /// The conversation.
        conversation: ConversationId,
        /// Its tenant.
        owner: TenantId,
        /// The tenant named in the input.
        tenant: TenantId,
    },
    /// No agent or handoff of this tenant was ever seen, so it has no router (caller bug or stale input).
    #[error("unknown tenant {0}")]
    UnknownTenant(TenantId),
    /// The agent is not known to the tenant (never connected).
    #[error("tenant {tenant} has no agent {agent}")]
    UnknownAgent {
        /// The tenant.
        tenant: TenantId,
        /// The agent.
        agent: u32,
    },
    /// None of the groups an agent named exists (caller or configuration mismatch).
    #[error("agent {agent} names no configured group")]
    NoKnownGroup {
        /// The agent.
        agent: u32,
    },
    /// The tenant's router rejected the input (see [`RouterError`] for who is at fault).
    #[error("tenant {tenant}: {error}")]
    Router {
        /// The tenant.
        tenant: TenantId,
        /// The router's error.
        error: RouterError,
    },
}
