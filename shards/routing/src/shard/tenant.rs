//! One tenant's routing state: its own [`Router`] and its agents' connections, and the translation of the
//! router's decisions into [`RoutingOutput`]s.
//!
//! A tenant's router only ever sees that tenant's agents and conversations, so a tenant-A agent can never be
//! handed a tenant-B conversation: isolation comes from the data layout, not from a check.

use std::collections::BTreeMap;

use super::super::agents::{AgentId, GroupId, GroupSpec, Presence};
use super::super::brain::Brain;
use super::super::events::{RouterEvent, RouterInput};
use super::super::router::Router;
use super::{QueueReason, RoutingOutput, RoutingShard, RoutingShardError, TenantId};

/// An agent's connections and chosen presence, as the connection shards report them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct AgentLive {
    /// Open connections per connection shard; shards with none are removed.
    pub(super) connections: BTreeMap<usize, u32>,
    /// What the agent chose in the console (or the router imposed): online or away, offline if signed off.
    pub(super) chosen: Presence,
}

impl AgentLive {
    /// The presence the router should see: offline without connections, else the chosen one.
    pub(super) fn effective(&self) -> Presence {
        if self.connections.is_empty() {
            Presence::Offline
        } else {
            self.chosen
        }
    }

    /// Shards holding at least one of the agent's connections, ascending.
    pub(super) fn shards(&self) -> Vec<usize> {
        self.connections.keys().copied().collect()
    }
}

/// One tenant's router and agents.
#[derive(Debug)]
pub(super) struct TenantState {
    pub(super) router: Router,
    pub(super) agents: BTreeMap<AgentId, AgentLive>,
    /// Open tickets by id, with the group that works them (for agents' inboxes and notices).
    pub(super) tickets: BTreeMap<u64, (switchboard_protocol::app::Ticket, GroupId)>,
}

impl<B: Brain> RoutingShard<B> {
    /// The tenant's state, created with every configured group on first use (bounded by `tenants_max`).
    pub(super) fn tenant_mut(
        &mut self,
        tenant: TenantId,
    ) -> Result<&mut TenantState, RoutingShardError> {
        if !self.tenants.contains_key(&tenant) {
            let max = self.config.limits.tenants_max;
            if self.tenants.len() >= max {
                return Err(RoutingShardError::TooManyTenants { tenant, max });
            }
            let router_error = |error| RoutingShardError::Router { tenant, error };
            let mut router =
                Router::new(self.config.router_config(tenant)).map_err(router_error)?;
            for group in &self.groups {
                let spec = GroupSpec {
                    id: group.id,
                    skill: group.skills[0].clone(),
                };
                router
                    .handle(self.now_ms, RouterInput::AddGroup(spec))
                    .map_err(router_error)?;
            }
            let agents = BTreeMap::new();
            let tickets = BTreeMap::new();
            self.tenants.insert(
                tenant,
                TenantState {
                    router,
                    agents,
                    tickets,
                },
            );
            self.counters.tenants += 1;
        }
        Ok(self.tenants.get_mut(&tenant).expect("inserted above"))
    }

    /// Feeds one input to an existing tenant's router (never creating one), then turns its decisions into
    /// outputs.
    pub(super) fn route(
        &mut self,
        tenant: TenantId,
        input: RouterInput,
        hint: QueueReason,
    ) -> Result<(), RoutingShardError> {
        let now_ms = self.now_ms;
        let state = self
            .tenants
            .get_mut(&tenant)
            .ok_or(RoutingShardError::UnknownTenant(tenant))?;
        let result = state.router.handle(now_ms, input);
        self.drain_router(tenant, hint);
        result.map_err(|error| RoutingShardError::Router { tenant, error })
    }

    /// Turns the router's pending decisions into outputs. `hint` is why a `Queued` happens unless a
    /// `Requeued` or `Transferred` for the same conversation precedes it.
    pub(super) fn drain_router(&mut self, tenant: TenantId, hint: QueueReason) {
        let Some(state) = self.tenants.get_mut(&tenant) else {
            return;
        };
        let mut events = Vec::new();
        while let Some(event) = state.router.poll_event() {
            events.push(event);
        }
        let mut reasons = BTreeMap::new();
        for event in events {
            if let Some(output) = self.output_of(tenant, event, hint, &mut reasons) {
                self.outbox.push_back(output);
            }
        }
    }

    fn output_of(
        &mut self,
        tenant: TenantId,
        event: RouterEvent,
        hint: QueueReason,
        reasons: &mut BTreeMap<u64, QueueReason>,
    ) -> Option<RoutingOutput> {
        let state = &self.tenants[&tenant];
        let summary_of = |conversation| {
            let mut summary = state.router.request(conversation)?.summary.clone()?;
            self.dialogue.refresh_summary(&mut summary);
            Some(summary)
        };
        match event {
            RouterEvent::Queued {
                conversation,
                group,
                priority,
                ..
            } => Some(RoutingOutput::Queued {
                tenant,
                conversation,
                group,
                priority,
                reason: reasons.remove(&conversation).unwrap_or(hint),
                summary: summary_of(conversation),
                // Where it stands now (0 when already taken off the queue by an assignment that
                // follows in the same batch).
                position: state
                    .router
                    .waiting(group)
                    .iter()
                    .position(|&waiting| waiting == conversation)
                    .map_or(0, |index| u32::try_from(index + 1).unwrap_or(u32::MAX)),
            }),
            RouterEvent::Assigned {
                conversation,
                agent,
                group,
                ..
            } => {
                let agent_shards = state.agents.get(&agent).map(AgentLive::shards);
                let summary = summary_of(conversation);
                self.counters.assignments += 1;
                Some(RoutingOutput::Assigned {
                    tenant,
                    conversation,
                    agent,
                    group,
                    agent_shards: agent_shards.unwrap_or_default(),
                    summary,
                })
            }
            RouterEvent::Requeued {
                conversation,
                agent,
                reason,
            } => {
                self.counters.count_requeue(reason);
                reasons.insert(conversation, QueueReason::Requeued(reason));
                Some(RoutingOutput::Requeued {
                    tenant,
                    conversation,
                    agent,
                    reason,
                })
            }
            RouterEvent::Transferred {
                conversation,
                from_agent,
                target,
            } => {
                self.counters.transfers += 1;
                reasons.insert(conversation, QueueReason::Transferred);
                Some(RoutingOutput::Transferred {
                    tenant,
                    conversation,
                    from_agent,
                    target,
                })
            }
            RouterEvent::AgentSetAway { agent } => {
                self.counters.agents_set_away += 1;
                let live = self.tenants.get_mut(&tenant)?.agents.get_mut(&agent)?;
                live.chosen = Presence::Away;
                self.tell_presence(tenant, agent, super::console::reason::REPLY_TIMEOUT, None);
                None
            }
            // The owner needs no notice: the agent's console learns nothing new (the summary it gets at
            // assignment carries the sentiment), and the customer's place shows only in the order served.
            RouterEvent::Escalated { .. } => {
                self.counters.escalations += 1;
                None
            }
            // The owner asked for the close; there is nothing to tell it.
            RouterEvent::Closed { .. } => None,
        }
    }
}
