//! How each input changes the router's state. Every function either fails without changing anything or
//! completes its change; [`Router::handle`] then runs the dispatcher.

use std::cmp::Reverse;

use super::super::agents::{Agent, AgentId, AgentSpec, GroupId, GroupSpec, Presence};
use super::super::events::{HandoffRequest, RequeueReason, RouterEvent, TransferTarget};
use super::super::queue::{QueueKey, WaitQueue};
use super::super::ticket::{ConversationId, Priority};
use super::{Place, Router, RouterError, Tracked};

impl Router {
    pub(super) fn add_group(&mut self, spec: GroupSpec) -> Result<(), RouterError> {
        if self.groups.contains_key(&spec.id) {
            return Err(RouterError::Duplicate(spec.id));
        }
        self.groups.insert(spec.id, (spec, WaitQueue::default()));
        Ok(())
    }

    pub(super) fn add_agent(&mut self, spec: AgentSpec) -> Result<(), RouterError> {
        if self.agents.contains_key(&spec.id) {
            return Err(RouterError::Duplicate(spec.id));
        }
        let unit = |x: f32| (0.0..=1.0).contains(&x);
        if spec.capacity == 0 || !unit(spec.seniority) || !spec.skills.iter().all(|(_, l)| unit(*l))
        {
            return Err(RouterError::OutOfRange);
        }
        if let Some(&g) = spec.groups.iter().find(|g| !self.groups.contains_key(g)) {
            return Err(RouterError::UnknownGroup(g));
        }
        self.agents.insert(spec.id, Agent::new(spec));
        Ok(())
    }

    pub(super) fn set_presence(
        &mut self,
        id: AgentId,
        presence: Presence,
    ) -> Result<(), RouterError> {
        let now = self.now_ms;
        let agent = self
            .agents
            .get_mut(&id)
            .ok_or(RouterError::UnknownAgent(id))?;
        if presence == Presence::Offline && agent.presence != Presence::Offline {
            agent.offline_since_ms = Some(now);
        } else if presence != Presence::Offline {
            agent.offline_since_ms = None;
        }
        agent.presence = presence;
        Ok(())
    }

    pub(super) fn enqueue(&mut self, request: HandoffRequest) -> Result<(), RouterError> {
        if self.conversations.contains_key(&request.conversation) {
            return Err(RouterError::AlreadyRouted(request.conversation));
        }
        if !self.groups.contains_key(&request.group) {
            return Err(RouterError::UnknownGroup(request.group));
        }
        if !(0.0..=1.0).contains(&request.customer_value) {
            return Err(RouterError::OutOfRange);
        }
        if self.conversations.len() >= self.config.conversations_max {
            return Err(RouterError::Full);
        }
        let key = QueueKey {
            priority: Reverse(request.priority),
            enqueued_at_ms: self.now_ms,
            seq: self.next_seq,
        };
        self.next_seq += 1;
        let (conversation, group) = (request.conversation, request.group);
        self.conversations.insert(
            conversation,
            Tracked {
                request,
                key,
                place: Place::Waiting { group },
            },
        );
        self.push_waiting(conversation, group);
        Ok(())
    }

    /// Puts a tracked conversation into `group`'s queue under its original key.
    pub(super) fn push_waiting(&mut self, conversation: ConversationId, group: GroupId) {
        let tracked = self
            .conversations
            .get_mut(&conversation)
            .expect("tracked conversation");
        tracked.place = Place::Waiting { group };
        let key = tracked.key;
        self.groups
            .get_mut(&group)
            .expect("group checked by caller")
            .1
            .push(key, conversation);
        let (priority, enqueued_at_ms, seq) = (key.priority.0, key.enqueued_at_ms, key.seq);
        self.emit(RouterEvent::Queued {
            conversation,
            group,
            priority,
            enqueued_at_ms,
            seq,
        });
    }

    /// Takes a conversation out of wherever it is (queue or agent), returning its former agent.
    pub(super) fn detach(&mut self, conversation: ConversationId) -> Option<AgentId> {
        let tracked = &self.conversations[&conversation];
        match tracked.place {
            Place::Waiting { group } => {
                let key = tracked.key;
                self.groups
                    .get_mut(&group)
                    .expect("tracked group exists")
                    .1
                    .remove(&key);
                None
            }
            Place::Assigned { agent, .. } => {
                self.agents
                    .get_mut(&agent)
                    .expect("tracked agent exists")
                    .conversations
                    .remove(&conversation);
                Some(agent)
            }
        }
    }

    pub(super) fn agent_replied(
        &mut self,
        agent: AgentId,
        conversation: ConversationId,
    ) -> Result<(), RouterError> {
        let tracked = self
            .conversations
            .get_mut(&conversation)
            .ok_or(RouterError::UnknownConversation(conversation))?;
        match &mut tracked.place {
            Place::Assigned {
                agent: a, replied, ..
            } if *a == agent => {
                *replied = true;
                Ok(())
            }
            _ => Err(RouterError::NotAssigned {
                agent,
                conversation,
            }),
        }
    }

    pub(super) fn close(&mut self, conversation: ConversationId) -> Result<(), RouterError> {
        if !self.conversations.contains_key(&conversation) {
            return Err(RouterError::UnknownConversation(conversation));
        }
        let agent = self.detach(conversation);
        self.conversations.remove(&conversation);
        self.emit(RouterEvent::Closed {
            conversation,
            agent,
        });
        Ok(())
    }

    pub(super) fn transfer(
        &mut self,
        conversation: ConversationId,
        target: TransferTarget,
    ) -> Result<(), RouterError> {
        let tracked = self
            .conversations
            .get(&conversation)
            .ok_or(RouterError::UnknownConversation(conversation))?;
        let from_group = match tracked.place {
            Place::Waiting { group } | Place::Assigned { group, .. } => group,
        };
        match target {
            TransferTarget::Agent(agent) => {
                let target_agent = self
                    .agents
                    .get(&agent)
                    .ok_or(RouterError::UnknownAgent(agent))?;
                if !target_agent.is_available() {
                    return Err(RouterError::AgentUnavailable(agent));
                }
                let from_agent = self.detach(conversation);
                self.emit(RouterEvent::Transferred {
                    conversation,
                    from_agent,
                    target,
                });
                self.attach(conversation, agent, from_group);
            }
            TransferTarget::Group(group) => {
                if !self.groups.contains_key(&group) {
                    return Err(RouterError::UnknownGroup(group));
                }
                let from_agent = self.detach(conversation);
                self.emit(RouterEvent::Transferred {
                    conversation,
                    from_agent,
                    target,
                });
                self.push_waiting(conversation, group);
            }
        }
        Ok(())
    }

    /// Raises a tracked conversation's priority; equal or lower is a no-op. A waiting conversation is
    /// re-keyed in its queue under the same arrival time and sequence number; an assigned one keeps its
    /// agent, and the new key is used if it is ever re-queued or transferred to a group.
    pub(super) fn escalate(
        &mut self,
        conversation: ConversationId,
        priority: Priority,
    ) -> Result<(), RouterError> {
        let tracked = self
            .conversations
            .get_mut(&conversation)
            .ok_or(RouterError::UnknownConversation(conversation))?;
        let old_key = tracked.key;
        let from = old_key.priority.0;
        if priority <= from {
            return Ok(());
        }
        tracked.key = old_key.with_priority(priority);
        tracked.request.priority = priority;
        let waiting_in = match tracked.place {
            Place::Waiting { group } => Some(group),
            Place::Assigned { .. } => None,
        };
        if let Some(group) = waiting_in {
            let queue = &mut self.groups.get_mut(&group).expect("tracked group exists").1;
            let moved = queue.rekey(&old_key, priority);
            assert_eq!(
                moved,
                Some(old_key.with_priority(priority)),
                "waiting under its key"
            );
        }
        self.emit(RouterEvent::Escalated {
            conversation,
            from,
            to: priority,
            waiting_in,
        });
        Ok(())
    }

    /// Assigns a detached conversation to `agent`.
    pub(super) fn attach(&mut self, conversation: ConversationId, agent: AgentId, group: GroupId) {
        let now = self.now_ms;
        let tracked = self
            .conversations
            .get_mut(&conversation)
            .expect("tracked conversation");
        tracked.place = Place::Assigned {
            group,
            agent,
            assigned_at_ms: now,
            replied: false,
        };
        let target = self
            .agents
            .get_mut(&agent)
            .expect("agent checked by caller");
        assert!(target.is_available(), "attach to an unavailable agent");
        target.conversations.insert(conversation);
    }

    /// Re-queues conversations of agents offline beyond the grace period and of agents who did not reply.
    pub(super) fn tick(&mut self) {
        let now = self.now_ms;
        let grace = self.config.disconnect_grace_ms;
        let mut requeue: Vec<(ConversationId, AgentId, RequeueReason)> = Vec::new();
        for agent in self.agents.values() {
            if agent
                .offline_since_ms
                .is_some_and(|since| since.saturating_add(grace) <= now)
            {
                requeue.extend(
                    agent
                        .conversations
                        .iter()
                        .map(|&c| (c, agent.spec.id, RequeueReason::AgentDisconnected)),
                );
            }
        }
        for (&conversation, tracked) in &self.conversations {
            if let Place::Assigned {
                agent,
                assigned_at_ms,
                replied: false,
                ..
            } = tracked.place
            {
                let timed_out = assigned_at_ms.saturating_add(self.config.reply_timeout_ms) <= now;
                if timed_out && !requeue.iter().any(|&(c, _, _)| c == conversation) {
                    requeue.push((conversation, agent, RequeueReason::ReplyTimeout));
                }
            }
        }
        for (conversation, agent, reason) in requeue {
            if reason == RequeueReason::ReplyTimeout
                && self.agents[&agent].presence == Presence::Online
            {
                self.agents.get_mut(&agent).expect("agent exists").presence = Presence::Away;
                self.emit(RouterEvent::AgentSetAway { agent });
            }
            let group = match self.conversations[&conversation].place {
                Place::Waiting { group } | Place::Assigned { group, .. } => group,
            };
            self.detach(conversation);
            self.emit(RouterEvent::Requeued {
                conversation,
                agent,
                reason,
            });
            self.push_waiting(conversation, group);
        }
    }
}
