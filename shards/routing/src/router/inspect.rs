//! Read-only queries on the router: agents, queues, the fairness figure, and invariants.

use super::super::agents::{Agent, AgentId, GroupFairness, GroupId, Presence};
use super::super::events::HandoffRequest;
use super::super::ticket::ConversationId;
use super::{Place, Router};

/// Where a conversation is, for an agent's inbox ([`Router::placement`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// Its group.
    pub group: GroupId,
    /// Its agent, when assigned.
    pub agent: Option<AgentId>,
    /// When it joined the queue, or was assigned.
    pub since_ms: u64,
}

impl Router {
    /// The handoff request of a tracked conversation, including the bot's summary for the agent.
    pub fn request(&self, conversation: ConversationId) -> Option<&HandoffRequest> {
        self.conversations.get(&conversation).map(|t| &t.request)
    }

    /// An agent's state.
    pub fn agent(&self, id: AgentId) -> Option<&Agent> {
        self.agents.get(&id)
    }

    /// All agents in id order.
    pub fn agents(&self) -> impl Iterator<Item = &Agent> {
        self.agents.values()
    }

    /// Conversations waiting in `group`, in serving order.
    pub fn waiting(&self, group: GroupId) -> Vec<ConversationId> {
        self.groups
            .get(&group)
            .map(|(_, q)| q.iter().map(|(_, &c)| c).collect())
            .unwrap_or_default()
    }

    /// Total conversations tracked (waiting or assigned).
    pub fn conversations_tracked(&self) -> usize {
        self.conversations.len()
    }

    /// Where a tracked conversation is: its group, its agent when assigned, and since when (queued or
    /// assigned), on the router's clock.
    pub fn placement(&self, conversation: ConversationId) -> Option<Placement> {
        let tracked = self.conversations.get(&conversation)?;
        Some(match tracked.place {
            Place::Waiting { group } => Placement {
                group,
                agent: None,
                since_ms: tracked.key.enqueued_at_ms,
            },
            Place::Assigned {
                group,
                agent,
                assigned_at_ms,
                ..
            } => Placement {
                group,
                agent: Some(agent),
                since_ms: assigned_at_ms,
            },
        })
    }

    /// The router's clock, milliseconds.
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// The agent a conversation is assigned to, if it is assigned.
    pub fn assigned_agent(&self, conversation: ConversationId) -> Option<AgentId> {
        match self.conversations.get(&conversation)?.place {
            Place::Assigned { agent, .. } => Some(agent),
            Place::Waiting { .. } => None,
        }
    }

    /// The fairness figure of every group with at least one online agent.
    pub fn fairness(&self) -> Vec<GroupFairness> {
        let mut out = Vec::new();
        for &group in self.groups.keys() {
            let loads: Vec<u32> = self
                .agents
                .values()
                .filter(|a| a.serves(group) && a.presence == Presence::Online)
                .map(Agent::load)
                .collect();
            if let (Some(&max), Some(&min)) = (loads.iter().max(), loads.iter().min()) {
                let agents = u32::try_from(loads.len()).unwrap_or(u32::MAX);
                out.push(GroupFairness {
                    group,
                    agents,
                    load_max: max,
                    load_min: min,
                });
            }
        }
        out
    }

    /// Checks internal consistency; for tests and debug builds.
    pub fn invariants(&self) {
        let mut waiting = 0;
        for (id, tracked) in &self.conversations {
            match tracked.place {
                Place::Waiting { group } => {
                    waiting += 1;
                    assert_eq!(
                        self.groups[&group]
                            .1
                            .iter()
                            .find(|(_, c)| *c == id)
                            .map(|(k, _)| *k),
                        Some(tracked.key)
                    );
                }
                Place::Assigned { agent, .. } => {
                    assert!(self.agents[&agent].conversations.contains(id))
                }
            }
        }
        assert_eq!(
            waiting,
            self.groups.values().map(|(_, q)| q.len()).sum::<usize>()
        );
        let assigned: usize = self.agents.values().map(|a| a.conversations.len()).sum();
        assert_eq!(assigned + waiting, self.conversations.len());
        for agent in self.agents.values() {
            assert!(
                agent.load() <= agent.spec.capacity,
                "agent {} over capacity",
                agent.spec.id
            );
        }
    }
}
