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
//!
//! Escalation ([`RouterInput::Escalate`]) only ever raises a conversation's priority and never changes its
//! arrival time: a waiting conversation is re-keyed in its queue, an assigned one keeps its agent. Being an
//! input, it is in the event log like every other, so replay still reproduces every decision. The priority
//! ladder is documented on [`Priority`](super::ticket::Priority).
//!
//! # Layout
//!
//! - `config`: [`RouterConfig`] and [`RouterError`].
//! - `transitions`: how each input changes the state (private).
//! - `dispatch`: assignment of queue heads to agents, with the score (private).
//! - `inspect`: read-only queries, the fairness figure and invariants (private).

mod config;
mod dispatch;
mod inspect;
mod transitions;

use std::collections::{BTreeMap, VecDeque};

pub use config::{RouterConfig, RouterError};
pub use dispatch::{WEIGHT_RANDOM, WEIGHT_SKILL, WEIGHT_VALUE};
pub use inspect::Placement;

use super::agents::{Agent, AgentId, GroupId, GroupSpec};
use super::events::{HandoffRequest, RouterEvent, RouterInput, TimedInput};
use super::queue::{QueueKey, WaitQueue};
use super::rng::Pcg32;
use super::ticket::ConversationId;

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
            RouterInput::Escalate {
                conversation,
                priority,
            } => self.escalate(conversation, priority),
            RouterInput::Tick => {
                self.tick();
                Ok(())
            }
        }
    }
}
