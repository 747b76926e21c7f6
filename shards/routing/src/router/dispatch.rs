//! Assignment of queue heads to agents, and the score that picks the agent.

use super::super::agents::{AgentId, GroupId};
use super::super::events::{RouterEvent, ScoreBreakdown};
use super::super::queue::QueueKey;
use super::super::ticket::ConversationId;
use super::Router;

/// Weight of the customer-value match in the score (from the background article).
pub const WEIGHT_VALUE: f64 = 0.6;
/// Weight of the skill match.
pub const WEIGHT_SKILL: f64 = 0.3;
/// Weight of the random factor.
pub const WEIGHT_RANDOM: f64 = 0.1;
const _: () = assert!(WEIGHT_VALUE + WEIGHT_SKILL + WEIGHT_RANDOM > 0.999); // Base score stays in [0, 1].

impl Router {
    /// Assigns queue heads to agents until no head can be served.
    pub(super) fn dispatch(&mut self) {
        loop {
            let mut heads: Vec<(QueueKey, ConversationId, GroupId)> = self
                .groups
                .iter()
                .filter_map(|(&g, (_, q))| q.head().map(|(k, c)| (k, c, g)))
                .collect();
            heads.sort_unstable_by_key(|&(k, _, _)| k);
            let served = heads.into_iter().find_map(|(key, conversation, group)| {
                self.has_available_agent(group)
                    .then_some((key, conversation, group))
            });
            let Some((key, conversation, group)) = served else {
                return;
            };
            let (agent, score) = self.choose_agent(conversation, group);
            self.groups
                .get_mut(&group)
                .expect("group exists")
                .1
                .remove(&key);
            self.attach(conversation, agent, group);
            let waited_ms = self.now_ms.saturating_sub(key.enqueued_at_ms);
            self.emit(RouterEvent::Assigned {
                conversation,
                agent,
                group,
                waited_ms,
                score,
            });
        }
    }

    pub(super) fn has_available_agent(&self, group: GroupId) -> bool {
        self.agents
            .values()
            .any(|a| a.serves(group) && a.is_available())
    }

    /// The best eligible agent for a conversation (there must be one), with the score breakdown.
    pub(super) fn choose_agent(
        &mut self,
        conversation: ConversationId,
        group: GroupId,
    ) -> (AgentId, ScoreBreakdown) {
        let request = &self.conversations[&conversation].request;
        let customer_value = request.customer_value;
        let mut best: Option<(AgentId, ScoreBreakdown)> = None;
        let mut candidates = 0;
        for agent in self
            .agents
            .values()
            .filter(|a| a.serves(group) && a.is_available())
        {
            candidates += 1;
            let value_match = 1.0 - f64::from((customer_value - agent.spec.seniority).abs());
            let skill_match = f64::from(agent.spec.skill_level(&request.skill));
            let random = self.rng.next_f64();
            let load_ratio = f64::from(agent.load()) / f64::from(agent.spec.capacity);
            let base =
                WEIGHT_VALUE * value_match + WEIGHT_SKILL * skill_match + WEIGHT_RANDOM * random;
            let total = base - self.config.load_penalty * load_ratio;
            let score = ScoreBreakdown {
                customer_value,
                value_match,
                skill_match,
                random,
                load_ratio,
                base,
                total,
                candidates: 0,
            };
            if best.as_ref().is_none_or(|(_, b)| total > b.total) {
                best = Some((agent.spec.id, score));
            }
        }
        let (agent, mut score) = best.expect("dispatch checked that an agent is available");
        score.candidates = candidates;
        (agent, score)
    }
}
