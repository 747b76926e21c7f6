//! Agent inputs: connections opening and closing on connection shards, console presence, replies.
//!
//! An agent is online while it has at least one connection on any shard. Connection counts are kept per
//! shard so an assignment can name every shard where the agent's consoles live. The router only hears
//! about changes of the effective presence, so a second tab opening or closing is not an event.

use std::collections::BTreeMap;

use super::super::agents::{AgentId, AgentSpec, GroupId, Presence};
use super::super::brain::Brain;
use super::super::events::RouterInput;
use super::super::ticket::ConversationId;
use super::console::reason;
use super::tenant::AgentLive;
use super::{ConsoleRef, QueueReason, RoutingShard, RoutingShardError, TenantId};

/// The queue reason used when presence changes cause queue movements; only re-queues queue anything
/// then, and they carry their own reason.
const PRESENCE_HINT: QueueReason = QueueReason::Transferred;

impl<B: Brain> RoutingShard<B> {
    /// One more connection of `agent` on `shard`; the first one defines the agent in the tenant's router.
    /// Every console of the agent is told its presence, and the new one (`console`) gets its inbox; an
    /// agent none of whose groups is known is told why it will get nothing.
    pub(super) fn agent_online(
        &mut self,
        tenant: TenantId,
        agent: AgentId,
        groups: &[GroupId],
        shard: usize,
        console: ConsoleRef,
    ) -> Result<(), RoutingShardError> {
        let known = self
            .tenants
            .get(&tenant)
            .is_some_and(|t| t.agents.contains_key(&agent));
        if !known {
            if let Err(error) = self.add_agent(tenant, agent, groups) {
                if matches!(error, RoutingShardError::NoKnownGroup { .. }) {
                    self.tell_unroutable(tenant, agent, groups, console);
                }
                return Err(error);
            }
        }
        let state = self.tenant_mut(tenant)?;
        let live = state.agents.get_mut(&agent).expect("agent added above");
        if live.connections.is_empty() {
            // A fresh session starts online, whatever the last one ended with.
            live.chosen = Presence::Online;
        }
        *live.connections.entry(shard).or_insert(0) += 1;
        self.sync_presence(tenant, agent)?;
        self.tell_presence(tenant, agent, reason::CONNECTED, None);
        self.send_inbox(tenant, agent, console);
        Ok(())
    }

    fn add_agent(
        &mut self,
        tenant: TenantId,
        agent: AgentId,
        groups: &[GroupId],
    ) -> Result<(), RoutingShardError> {
        let known: Vec<GroupId> = groups
            .iter()
            .copied()
            .filter(|g| self.groups.iter().any(|c| c.id == *g))
            .collect();
        self.counters.agent_groups_unknown += (groups.len() - known.len()) as u64;
        if known.is_empty() {
            return Err(RoutingShardError::NoKnownGroup { agent });
        }
        let level = self.config.agents.skill_level;
        let mut skills: Vec<(String, f32)> = Vec::new();
        for group in self.groups.iter().filter(|g| known.contains(&g.id)) {
            for skill in &group.skills {
                if !skills.iter().any(|(s, _)| s == skill) {
                    skills.push((skill.clone(), level));
                }
            }
        }
        let spec = AgentSpec {
            id: agent,
            groups: known,
            skills,
            seniority: self.config.agents.seniority,
            capacity: self.config.agents.capacity,
        };
        let max = self.config.limits.agents_per_tenant_max;
        if self.tenant_mut(tenant)?.agents.len() >= max {
            return Err(RoutingShardError::TooManyAgents { tenant, max });
        }
        self.route(tenant, RouterInput::AddAgent(spec), PRESENCE_HINT)?;
        let live = AgentLive {
            connections: BTreeMap::new(),
            chosen: Presence::Online,
        };
        self.tenant_mut(tenant)?.agents.insert(agent, live);
        Ok(())
    }

    /// One connection of `agent` on `shard` closed; an unmatched close is counted and ignored.
    pub(super) fn agent_offline(
        &mut self,
        tenant: TenantId,
        agent: AgentId,
        shard: usize,
    ) -> Result<(), RoutingShardError> {
        let live = self
            .tenants
            .get_mut(&tenant)
            .and_then(|t| t.agents.get_mut(&agent));
        let Some(count) = live.and_then(|l| l.connections.get_mut(&shard)) else {
            self.counters.inputs_ignored += 1;
            return Ok(());
        };
        *count -= 1;
        if *count == 0 {
            let state = self.tenants.get_mut(&tenant).expect("found above");
            let live = state.agents.get_mut(&agent).expect("found above");
            live.connections.remove(&shard);
        }
        self.sync_presence(tenant, agent)
    }

    /// The agent chose a presence in the console.
    pub(super) fn agent_set_presence(
        &mut self,
        tenant: TenantId,
        agent: AgentId,
        presence: Presence,
    ) -> Result<(), RoutingShardError> {
        let live = self
            .tenants
            .get_mut(&tenant)
            .and_then(|t| t.agents.get_mut(&agent))
            .ok_or(RoutingShardError::UnknownAgent { tenant, agent })?;
        live.chosen = presence;
        self.sync_presence(tenant, agent)?;
        self.tell_presence(tenant, agent, reason::CHOSEN, None);
        Ok(())
    }

    /// The agent replied in a conversation assigned to them.
    pub(super) fn agent_replied(
        &mut self,
        tenant: TenantId,
        agent: AgentId,
        conversation: ConversationId,
    ) -> Result<(), RoutingShardError> {
        self.check_tenant(tenant, conversation)?;
        if let Some(known) = self.conversations.get_mut(&conversation) {
            known.unread = 0;
        }
        let input = RouterInput::AgentReplied {
            agent,
            conversation,
        };
        self.route(tenant, input, PRESENCE_HINT)
    }

    /// Tells the router the agent's effective presence if it changed.
    fn sync_presence(&mut self, tenant: TenantId, agent: AgentId) -> Result<(), RoutingShardError> {
        let Some(state) = self.tenants.get(&tenant) else {
            return Ok(());
        };
        let Some(presence) = state.agents.get(&agent).map(AgentLive::effective) else {
            return Ok(());
        };
        if state.router.agent(agent).map(|a| a.presence) == Some(presence) {
            return Ok(());
        }
        let input = RouterInput::SetPresence { agent, presence };
        self.route(tenant, input, PRESENCE_HINT)
    }
}
