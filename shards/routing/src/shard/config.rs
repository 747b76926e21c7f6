//! [`RoutingShardConfig`]: the routing shard's TOML configuration, with defaults that run with no file.
//!
//! Every section has defaults, so an empty file (or no file) gives the built-in knowledge base, one agent
//! group per knowledge-base skill, and the dialogue and router defaults. See `shards/routing.example.toml`.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde::Deserialize;

use super::super::agents::GroupId;
use super::super::dialogue::DialogueConfig;
use super::super::kb::KnowledgeBase;
use super::super::model::ModelChoice;
use super::super::router::RouterConfig;
use super::super::sentiment::STRONGLY_NEGATIVE_MAX;
use super::RoutingShardError;

/// The routing shard's configuration; [`RoutingShardConfig::validate`] is called by the constructors.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct RoutingShardConfig {
    /// Knowledge-base file; `None` uses the built-in video-platform knowledge base.
    pub kb: Option<PathBuf>,
    /// Which classifier runs: `auto` (the default: the hybrid when the encoder's weights are found,
    /// else the n-gram model), `hybrid` (start-up fails without weights) or `ngram`.
    pub model: ModelChoice,
    /// Directory of the sentence encoder's weights (`scripts/fetch-embedding-model.sh`); `None` uses
    /// `$SWITCHBOARD_EMBEDDING_MODEL` if set, else the first of [`crate::model::DEFAULT_MODEL_DIRS`] that holds them.
    pub embedding_model: Option<PathBuf>,
    /// Bot dialogue settings.
    pub dialogue: DialogueSection,
    /// Agent defaults (the connection messages carry no capacity or seniority).
    pub agents: AgentsSection,
    /// Agent assignment settings.
    pub router: RouterSection,
    /// Bounds on tracked state.
    pub limits: LimitsSection,
    /// Agent groups; empty means one group per knowledge-base skill ([`default_groups`]).
    #[serde(rename = "group")]
    pub groups: Vec<GroupConfig>,
    /// Group for conversations whose intent is unknown or uncertain; `None` picks the group with the
    /// `general` skill, or else the lowest group id.
    pub default_group: Option<GroupId>,
}

/// `[dialogue]`: when the bot answers and when it hands over.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DialogueSection {
    /// Below this classifier confidence the conversation goes to a human; in `(0, 1]`. `None` (the
    /// default) uses the threshold cross-validation chose for the model that runs ([`crate::model`]).
    pub confidence_threshold: Option<f32>,
    /// At or below this sentiment score the conversation goes to a human urgently; in `[-1, 0]`.
    pub sentiment_handoff_max: f32,
    /// A conversation still with the bot and idle this long is forgotten.
    pub idle_expiry_ms: u64,
    /// Customer messages kept per conversation for summaries; in `1..=100`.
    pub history_messages_max: usize,
    /// Times the bot asks for a missing slot before handing over; in `0..=10`.
    pub slot_asks_max: u32,
}

impl Default for DialogueSection {
    fn default() -> Self {
        let d = DialogueConfig::default();
        DialogueSection {
            confidence_threshold: None,
            sentiment_handoff_max: STRONGLY_NEGATIVE_MAX,
            idle_expiry_ms: d.idle_expiry_ms,
            history_messages_max: d.history_messages_max,
            slot_asks_max: d.slot_asks_max,
        }
    }
}

/// `[agents]`: what every agent gets, since an agent's connection only says who they are and their groups.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentsSection {
    /// Most concurrent conversations per agent; in `1..=1000`.
    pub capacity: u32,
    /// Seniority in `[0, 1]`, matched against customer value.
    pub seniority: f32,
    /// Level in `[0, 1]` of every skill of the agent's groups.
    pub skill_level: f32,
}

impl Default for AgentsSection {
    fn default() -> Self {
        AgentsSection {
            capacity: 5,
            seniority: 0.5,
            skill_level: 1.0,
        }
    }
}

/// `[router]`: agent assignment.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouterSection {
    /// Seed of the random factor in the score (each tenant's router uses `seed ^ tenant`).
    pub seed: u64,
    /// How long an agent with no connection keeps their conversations before they are re-queued.
    pub disconnect_grace_ms: u64,
    /// How long an agent may take to reply first in an assigned conversation; in `1000..`.
    pub reply_timeout_ms: u64,
    /// Score lowered by `load_penalty × load/capacity`; in `[0, 10]`.
    pub load_penalty: f64,
    /// Decisions and inputs kept per tenant for replay; at least 1.
    pub records_max: usize,
}

impl Default for RouterSection {
    fn default() -> Self {
        let r = RouterConfig::default();
        RouterSection {
            seed: r.seed,
            disconnect_grace_ms: r.disconnect_grace_ms,
            reply_timeout_ms: r.reply_timeout_ms,
            load_penalty: r.load_penalty,
            records_max: 100_000,
        }
    }
}

/// `[limits]`: bounds on tracked state; beyond them inputs are refused with a typed error.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsSection {
    /// Most conversations tracked at once (with the bot or with humans); in `1..=10000000`.
    pub conversations_max: usize,
    /// Most tenants (one router each); in `1..=1000000`.
    pub tenants_max: usize,
    /// Most agents tracked per tenant; in `1..=1000000`.
    pub agents_per_tenant_max: usize,
    /// Longest customer message classified, in bytes; longer text is cut at a character boundary.
    pub message_bytes_max: usize,
}

impl Default for LimitsSection {
    fn default() -> Self {
        LimitsSection {
            conversations_max: 200_000,
            tenants_max: 1_024,
            agents_per_tenant_max: 10_000,
            message_bytes_max: 4_096,
        }
    }
}

/// `[[group]]`: an agent group and the skills it covers.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupConfig {
    /// Unique id, as agents name it when they connect.
    pub id: GroupId,
    /// Name for dashboards.
    pub name: String,
    /// Knowledge-base skills this group handles; the first is the group's main skill.
    pub skills: Vec<String>,
}

/// One group per distinct knowledge-base skill, in first-use order, with ids from 1.
pub fn default_groups(kb: &KnowledgeBase) -> Vec<GroupConfig> {
    let mut seen = BTreeSet::new();
    let skills = kb
        .intents
        .iter()
        .map(|i| &i.skill)
        .filter(|s| seen.insert(*s));
    skills
        .zip(1..)
        .map(|(skill, id)| GroupConfig {
            id,
            name: skill.clone(),
            skills: vec![skill.clone()],
        })
        .collect()
}

impl RoutingShardConfig {
    /// Parses a TOML file's text; the result still needs [`RoutingShardConfig::validate`].
    pub fn from_toml(text: &str) -> Result<Self, RoutingShardError> {
        toml::from_str(text).map_err(|e| RoutingShardError::ConfigSyntax(e.message().to_string()))
    }

    /// Checks every field's range (groups are checked against the knowledge base by the constructor).
    pub fn validate(&self) -> Result<(), RoutingShardError> {
        let err = |field, allowed| Err(RoutingShardError::Config { field, allowed });
        self.dialogue_config().validate()?;
        let a = &self.agents;
        if !(1..=1000).contains(&a.capacity) {
            return err("agents.capacity", "in 1..=1000");
        }
        if !(0.0..=1.0).contains(&a.seniority) {
            return err("agents.seniority", "in [0, 1]");
        }
        if !(0.0..=1.0).contains(&a.skill_level) {
            return err("agents.skill_level", "in [0, 1]");
        }
        let r = &self.router;
        if !(0.0..=10.0).contains(&r.load_penalty) {
            return err("router.load_penalty", "in [0, 10]");
        }
        if r.reply_timeout_ms < 1000 {
            return err("router.reply_timeout_ms", "at least 1000");
        }
        if r.records_max == 0 {
            return err("router.records_max", "at least 1");
        }
        let l = &self.limits;
        if !(1..=10_000_000).contains(&l.conversations_max) {
            return err("limits.conversations_max", "in 1..=10000000");
        }
        if !(1..=1_000_000).contains(&l.tenants_max) {
            return err("limits.tenants_max", "in 1..=1000000");
        }
        if !(1..=1_000_000).contains(&l.agents_per_tenant_max) {
            return err("limits.agents_per_tenant_max", "in 1..=1000000");
        }
        if !(16..=1 << 20).contains(&l.message_bytes_max) {
            return err("limits.message_bytes_max", "in 16..=1048576");
        }
        validate_groups(&self.groups)
    }

    /// The dialogue engine's settings.
    pub fn dialogue_config(&self) -> DialogueConfig {
        let d = &self.dialogue;
        DialogueConfig {
            confidence_threshold: d
                .confidence_threshold
                .unwrap_or(DialogueConfig::default().confidence_threshold),
            sentiment_handoff_max: d.sentiment_handoff_max,
            conversations_max: self.limits.conversations_max,
            idle_expiry_ms: d.idle_expiry_ms,
            history_messages_max: d.history_messages_max,
            slot_asks_max: d.slot_asks_max,
        }
    }

    /// The settings of `tenant`'s router.
    pub fn router_config(&self, tenant: u64) -> RouterConfig {
        let r = &self.router;
        RouterConfig {
            seed: r.seed ^ tenant,
            disconnect_grace_ms: r.disconnect_grace_ms,
            reply_timeout_ms: r.reply_timeout_ms,
            load_penalty: r.load_penalty,
            records_max: r.records_max,
            conversations_max: self.limits.conversations_max,
        }
    }
}

/// Group ids unique, names and skills non-empty (an empty list is fine: groups come from the KB).
fn validate_groups(groups: &[GroupConfig]) -> Result<(), RoutingShardError> {
    let mut ids = BTreeSet::new();
    for group in groups {
        if !ids.insert(group.id) {
            return Err(RoutingShardError::Config {
                field: "group.id",
                allowed: "unique",
            });
        }
        if group.name.trim().is_empty() || group.skills.is_empty() {
            return Err(RoutingShardError::Config {
                field: "group",
                allowed: "a non-empty name and at least one skill",
            });
        }
    }
    Ok(())
}
