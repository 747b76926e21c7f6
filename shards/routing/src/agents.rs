//! Agents and agent groups: skills, seniority, presence and capacity.

use std::collections::BTreeSet;

use super::ticket::ConversationId;

/// Agent identifier.
pub type AgentId = u32;
/// Agent group identifier.
pub type GroupId = u32;

/// Whether an agent can take conversations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Presence {
    /// Connected and taking new conversations.
    Online,
    /// Connected, keeps current conversations, takes no new ones.
    Away,
    /// Disconnected; after the grace period their conversations are re-queued.
    Offline,
}

/// An agent as configured: who they are and what they can do.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentSpec {
    /// Unique id.
    pub id: AgentId,
    /// Groups the agent serves.
    pub groups: Vec<GroupId>,
    /// Skill levels in `[0, 1]`, as `(skill, level)`; an absent skill counts as 0.
    pub skills: Vec<(String, f32)>,
    /// Seniority in `[0, 1]`, matched against customer value (senior agents get high-value customers).
    pub seniority: f32,
    /// Most concurrent conversations.
    pub capacity: u32,
}

impl AgentSpec {
    /// The agent's level in `skill`, 0 when absent.
    pub fn skill_level(&self, skill: &str) -> f32 {
        self.skills
            .iter()
            .find(|(s, _)| s == skill)
            .map_or(0.0, |&(_, level)| level)
    }
}

/// An agent's live state in the router.
#[derive(Debug, Clone, PartialEq)]
pub struct Agent {
    /// The configuration.
    pub spec: AgentSpec,
    /// Current presence.
    pub presence: Presence,
    /// When the agent went offline, if they are offline.
    pub offline_since_ms: Option<u64>,
    /// Conversations currently assigned.
    pub conversations: BTreeSet<ConversationId>,
}

impl Agent {
    /// A new agent, offline until told otherwise.
    pub fn new(spec: AgentSpec) -> Self {
        Agent {
            spec,
            presence: Presence::Offline,
            offline_since_ms: None,
            conversations: BTreeSet::new(),
        }
    }

    /// Conversations currently assigned.
    pub fn load(&self) -> u32 {
        u32::try_from(self.conversations.len()).unwrap_or(u32::MAX)
    }

    /// Whether the agent can take one more conversation now: online and below capacity.
    pub fn is_available(&self) -> bool {
        self.presence == Presence::Online && self.load() < self.spec.capacity
    }

    /// Whether the agent serves `group`.
    pub fn serves(&self, group: GroupId) -> bool {
        self.spec.groups.contains(&group)
    }
}

/// An agent group: a queue of customers and the skill it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSpec {
    /// Unique id.
    pub id: GroupId,
    /// The skill the group handles (the knowledge base's intent skill).
    pub skill: String,
}

/// The load spread of one group's online agents: the fairness figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupFairness {
    /// The group.
    pub group: GroupId,
    /// Online agents counted.
    pub agents: u32,
    /// Highest load among them.
    pub load_max: u32,
    /// Lowest load among them.
    pub load_min: u32,
}

impl GroupFairness {
    /// `load_max / load_min`: 1.0 when perfectly even (or all idle), infinite when someone idles while
    /// someone else works.
    pub fn ratio(&self) -> f64 {
        match (self.load_max, self.load_min) {
            (0, _) => 1.0,
            (_, 0) => f64::INFINITY,
            (max, min) => f64::from(max) / f64::from(min),
        }
    }
}
