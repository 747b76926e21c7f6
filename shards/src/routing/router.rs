//! Assignment of waiting conversations to human agents.
//!
//! The router is a pure state machine: inputs come through [`Router::handle`] with the time as an argument,
//! decisions come out of [`Router::poll_event`] and are also kept in [`Router::decisions`]. All maps are
//! ordered and the random factor comes from a seeded [`Pcg32`], so replaying the recorded inputs
//! ([`Router::event_log`]) into a router with the same config reproduces every decision exactly.
//!
//! Dispatch rule: among groups whose queue head can be served, the head with the best key (priority, then
//! original arrival) goes first; it goes to the eligible agent (online, serving the group, below capacity)
//! with the highest `0.6 × value match + 0.3 × skill match + 0.1 × random − load_penalty × load ratio`.

use std::cmp::Reverse;
use std::collections::{BTreeMap, VecDeque};

use thiserror::Error;

use super::agents::{Agent, AgentId, GroupFairness, GroupId, GroupSpec, Presence};
use super::events::{
    HandoffRequest, RequeueReason, RouterEvent, RouterInput, ScoreBreakdown, TimedInput,
    TransferTarget,
};
use super::queue::{QueueKey, WaitQueue};
use super::rng::Pcg32;
use super::ticket::ConversationId;

/// Weight of the customer-value match in the score (from the background article).
pub const WEIGHT_VALUE: f64 = 0.6;
/// Weight of the skill match.
pub const WEIGHT_SKILL: f64 = 0.3;
/// Weight of the random factor.
pub const WEIGHT_RANDOM: f64 = 0.1;
const _: () = assert!(WEIGHT_VALUE + WEIGHT_SKILL + WEIGHT_RANDOM > 0.999); // Base score stays in [0, 1].

/// Router settings; validated by [`Router::new`].
#[derive(Debug, Clone, PartialEq)]
pub struct RouterConfig {
    /// Seed of the random factor.
    pub seed: u64,
    /// How long an offline agent keeps their conversations before they are re-queued.
    pub disconnect_grace_ms: u64,
    /// How long an agent may take to send the first reply in an assigned conversation.
    pub reply_timeout_ms: u64,
    /// How much a full agent's score is lowered (score − penalty × load/capacity).
    pub load_penalty: f64,
    /// Most decisions kept in [`Router::decisions`] and inputs in [`Router::event_log`]; beyond it, the
    /// oldest are dropped and replay from the log is no longer possible ([`Router::log_complete`]).
    pub records_max: usize,
    /// Most conversations tracked (waiting or assigned); more is an error for the caller.
    pub conversations_max: usize,
}

impl Default for RouterConfig {
    fn default() -> Self {
        RouterConfig {
            seed: 0x5EED,
            disconnect_grace_ms: 30_000,
            reply_timeout_ms: 120_000,
            load_penalty: 0.5,
            records_max: 1_000_000,
            conversations_max: 1_000_000,
        }
    }
}

/// Errors from [`Router::handle`]: the caller (the server) sent an input inconsistent with the router's state.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RouterError {
    /// A config field is out of range (local configuration).
    #[error("router config: `{0}` is out of range")]
    Config(&'static str),
    /// The agent id is not known.
    #[error("unknown agent {0}")]
    UnknownAgent(AgentId),
    /// The group id is not known.
    #[error("unknown group {0}")]
    UnknownGroup(GroupId),
    /// The conversation is not waiting or assigned.
    #[error("unknown conversation {0}")]
    UnknownConversation(ConversationId),
    /// An agent or group id is defined twice.
    #[error("agent or group {0} already exists")]
    Duplicate(u32),
    /// The conversation is already waiting or assigned.
    #[error("conversation {0} is already routed")]
    AlreadyRouted(ConversationId),
    /// A transfer target agent is not online or is full.
    #[error("agent {0} is offline, away or full")]
    AgentUnavailable(AgentId),
    /// A reply came from an agent the conversation is not assigned to.
    #[error("agent {agent} is not assigned conversation {conversation}")]
    NotAssigned {
        /// The agent.
        agent: AgentId,
        /// The conversation.
        conversation: ConversationId,
    },
    /// Customer value, seniority or skill level outside `[0, 1]`, or zero capacity.
    #[error("value out of range in the request or agent spec")]
    OutOfRange,
    /// The router already tracks `conversations_max` conversations (backpressure).
    #[error("router is full")]
    Full,
}

/// Where a tracked conversation is.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Place {
    Waiting {
        group: GroupId,
    },
    Assigned {
        group: GroupId,
        agent: AgentId,
        assigned_at_ms: u64,
        replied: bool,
    },
}

#[derive(Debug, Clone, PartialEq)]
struct Tracked {
    request: HandoffRequest,
    key: QueueKey,
    place: Place,
}

/// The routing state machine.
#[derive(Debug, Clone)]
pub struct Router {
    config: RouterConfig,
    rng: Pcg32,
    now_ms: u64,
    next_seq: u64,
    groups: BTreeMap<GroupId, (GroupSpec, WaitQueue)>,
    agents: BTreeMap<AgentId, Agent>,
    conversations: BTreeMap<ConversationId, Tracked>,
    outbox: VecDeque<RouterEvent>,
    decisions: VecDeque<RouterEvent>,
    log: VecDeque<TimedInput>,
    log_complete: bool,
}

impl Router {
    /// A router with no groups or agents.
    pub fn new(config: RouterConfig) -> Result<Self, RouterError> {
        if !(config.load_penalty >= 0.0 && config.load_penalty <= 10.0) {
            return Err(RouterError::Config("load_penalty"));
        }
        if config.records_max == 0 {
            return Err(RouterError::Config("records_max"));
        }
        if config.conversations_max == 0 {
            return Err(RouterError::Config("conversations_max"));
        }
        Ok(Router {
            rng: Pcg32::new(config.seed),
            config,
            now_ms: 0,
            next_seq: 0,
            groups: BTreeMap::new(),
            agents: BTreeMap::new(),
            conversations: BTreeMap::new(),
            outbox: VecDeque::new(),
            decisions: VecDeque::new(),
            log: VecDeque::new(),
            log_complete: true,
        })
    }

    /// Builds a router and feeds it `log`; with the same config it makes the same decisions as the original.
    pub fn replay<'a>(
        config: RouterConfig,
        log: impl IntoIterator<Item = &'a TimedInput>,
    ) -> Result<Self, RouterError> {
        let mut router = Router::new(config)?;
        for timed in log {
            // Inputs the original rejected are replayed too; they are rejected again the same way.
            let _ = router.handle(timed.now_ms, timed.input.clone());
        }
        Ok(router)
    }

    /// Handles one input at `now_ms` (earlier times than already seen are treated as the latest time),
    /// then assigns whatever can be assigned. Rejected inputs change nothing but are still logged.
    pub fn handle(&mut self, now_ms: u64, input: RouterInput) -> Result<(), RouterError> {
        self.now_ms = self.now_ms.max(now_ms);
        self.record_input(TimedInput {
            now_ms: self.now_ms,
            input: input.clone(),
        });
        let result = self.apply(input);
        if result.is_ok() {
            self.dispatch();
        }
        result
    }

    /// The next decision for the caller to act on, in order. Changed by [`Router::handle`].
    pub fn poll_event(&mut self) -> Option<RouterEvent> {
        self.outbox.pop_front()
    }

    /// Every decision so far (bounded by `records_max`), in order.
    pub fn decisions(&self) -> impl Iterator<Item = &RouterEvent> {
        self.decisions.iter()
    }

    /// Every input so far (bounded by `records_max`), in order.
    pub fn event_log(&self) -> impl Iterator<Item = &TimedInput> {
        self.log.iter()
    }

    /// Whether [`Router::event_log`] still holds every input since creation, so replay is exact.
    pub fn log_complete(&self) -> bool {
        self.log_complete
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

    fn record_input(&mut self, timed: TimedInput) {
        if self.log.len() == self.config.records_max {
            self.log.pop_front();
            self.log_complete = false;
        }
        self.log.push_back(timed);
    }

    fn emit(&mut self, event: RouterEvent) {
        if self.decisions.len() == self.config.records_max {
            self.decisions.pop_front();
        }
        self.decisions.push_back(event.clone());
        self.outbox.push_back(event);
    }

    fn apply(&mut self, input: RouterInput) -> Result<(), RouterError> {
        match input {
            RouterInput::AddGroup(spec) => self.add_group(spec),
            RouterInput::AddAgent(spec) => self.add_agent(spec),
            RouterInput::SetPresence { agent, presence } => self.set_presence(agent, presence),
            RouterInput::Enqueue(request) => self.enqueue(request),
            RouterInput::AgentReplied {
                agent,
                conversation,
            } => self.agent_replied(agent, conversation),
            RouterInput::Close { conversation } => self.close(conversation),
            RouterInput::Transfer {
                conversation,
                target,
            } => self.transfer(conversation, target),
            RouterInput::Tick => {
                self.tick();
                Ok(())
            }
        }
    }

    fn add_group(&mut self, spec: GroupSpec) -> Result<(), RouterError> {
        if self.groups.contains_key(&spec.id) {
            return Err(RouterError::Duplicate(spec.id));
        }
        self.groups.insert(spec.id, (spec, WaitQueue::default()));
        Ok(())
    }

    fn add_agent(&mut self, spec: super::agents::AgentSpec) -> Result<(), RouterError> {
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

    fn set_presence(&mut self, id: AgentId, presence: Presence) -> Result<(), RouterError> {
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

    fn enqueue(&mut self, request: HandoffRequest) -> Result<(), RouterError> {
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
    fn push_waiting(&mut self, conversation: ConversationId, group: GroupId) {
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
    fn detach(&mut self, conversation: ConversationId) -> Option<AgentId> {
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

    fn agent_replied(
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

    fn close(&mut self, conversation: ConversationId) -> Result<(), RouterError> {
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

    fn transfer(
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

    /// Assigns a detached conversation to `agent`.
    fn attach(&mut self, conversation: ConversationId, agent: AgentId, group: GroupId) {
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
    fn tick(&mut self) {
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

    /// Assigns queue heads to agents until no head can be served.
    fn dispatch(&mut self) {
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

    fn has_available_agent(&self, group: GroupId) -> bool {
        self.agents
            .values()
            .any(|a| a.serves(group) && a.is_available())
    }

    /// The best eligible agent for a conversation (there must be one), with the score breakdown.
    fn choose_agent(
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
