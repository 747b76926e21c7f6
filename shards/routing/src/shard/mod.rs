//! The routing shard's sans-IO core: everything the dedicated routing thread decides, driven by inputs
//! from the conversation owner shards and polled for outputs.
//!
//! The thread loop (owned by the server) drains its rings, calls [`RoutingShard::handle`] for each
//! [`RoutingInput`] and [`RoutingShard::tick`] on a timer, and after each call polls
//! [`RoutingShard::poll_output`] until it returns `None`, pushing every [`RoutingOutput`] to the owner shard
//! of its conversation. Time is always an argument; nothing here reads a clock, sleeps or does I/O after
//! construction, and all state is owned plain data, so the shard is `Send` and can be built on one thread
//! and moved to its own.
//!
//! # Layout
//!
//! - [`config`]: [`RoutingShardConfig`] (TOML, with defaults that run with no file).
//! - [`messages`]: [`RoutingInput`], [`RoutingOutput`], [`QueueReason`].
//! - [`error`]: the error type, [`RoutingShardError`].
//! - [`counters`]: [`RoutingCounters`] for metrics.
//! - `customer`: customer messages, bot decisions, handoffs, conversation bookkeeping (private).
//! - `presence`: agent connections per shard, console presence, replies (private).
//! - `console`: what agents' consoles are told: presence notices and inbox snapshots (private).
//! - `tenant`: one router per tenant and the translation of its decisions into outputs (private).
//!
//! # Decisions
//!
//! - One [`Router`](super::router::Router) per tenant, created on first use and bounded by
//!   `limits.tenants_max`: tenants cannot mix because they share no routing state.
//! - One [`Dialogue`] for all tenants: conversation ids are unique on the node and the knowledge base is
//!   shared, so per-tenant copies of the trained brain would only cost memory.
//! - A conversation handed to humans never gets a bot answer again; its later messages refresh the summary
//!   the assigned agent receives, and a strongly negative one escalates it (a waiting customer who turns
//!   angry moves up the queue; see [`Priority`](super::ticket::Priority) for the ladder).
//! - Refusals are typed errors and change nothing; inputs that refer to nothing (an agent going offline
//!   twice, an unknown conversation resolved) are counted and ignored, so no input can panic the shard.

pub mod config;
mod console;
pub mod counters;
mod customer;
pub mod error;
pub mod messages;
mod presence;
mod tenant;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

pub use config::{default_groups, GroupConfig, RoutingShardConfig};
pub use counters::RoutingCounters;
pub use error::RoutingShardError;
pub use messages::{ConsoleRef, QueueReason, RoutingInput, RoutingOutput, TenantId};

use super::agents::{GroupFairness, GroupId};
use super::brain::Brain;
use super::dialogue::Dialogue;
use super::embed::Encoder;
use super::events::RouterInput;
use super::hybrid::AnyBrain;
use super::kb::KnowledgeBase;
use super::model::Resolved;
use super::ticket::ConversationId;
use customer::{Conversation, CustomerMessage, Phase};
use tenant::TenantState;

/// The routing shard's state machine. See the [module documentation](self).
#[derive(Debug)]
pub struct RoutingShard<B: Brain = AnyBrain> {
    config: RoutingShardConfig,
    /// The agent groups in effect (configured, or one per knowledge-base skill).
    groups: Vec<GroupConfig>,
    /// Where uncertain conversations go.
    default_group: GroupId,
    dialogue: Dialogue<B>,
    tenants: BTreeMap<TenantId, TenantState>,
    conversations: BTreeMap<ConversationId, Conversation>,
    /// `(last_active_ms, conversation)` of conversations still with the bot, for expiry and eviction.
    bot_activity: BTreeSet<(u64, ConversationId)>,
    outbox: VecDeque<RoutingOutput>,
    counters: RoutingCounters,
    now_ms: u64,
}

impl RoutingShard<AnyBrain> {
    /// Validates `config`, loads the knowledge base (the file, or the built-in one) and trains the
    /// classifier on it: the model `[routing] model` resolves to ([`crate::model::ModelChoice::resolve`]: by default
    /// the hybrid when the encoder's weights are found, else the n-gram model), with that model's
    /// cross-validated settings, and its threshold unless `dialogue.confidence_threshold` is set. This
    /// is the only step that reads files, and it happens at start-up.
    pub fn new(config: RoutingShardConfig) -> Result<Self, RoutingShardError> {
        Self::new_reporting(config).map(|(shard, _)| shard)
    }

    /// Like [`RoutingShard::new`], also saying which model was resolved (for the start-up log: a
    /// fallback to the n-gram model lists the directories searched).
    pub fn new_reporting(
        mut config: RoutingShardConfig,
    ) -> Result<(Self, Resolved), RoutingShardError> {
        config.validate()?;
        let kb = match &config.kb {
            Some(path) => KnowledgeBase::from_file(path)?,
            None => KnowledgeBase::builtin()?,
        };
        let resolved = config.model.resolve(config.embedding_model.as_deref())?;
        let encoder = match &resolved {
            Resolved::Hybrid(dir) => Some(Encoder::load(dir)?),
            Resolved::Ngram { .. } => None,
        };
        let brain = AnyBrain::train_tuned(&kb, encoder)?;
        config
            .dialogue
            .confidence_threshold
            .get_or_insert(brain.tuned_threshold());
        Ok((Self::with_brain(config, kb, brain)?, resolved))
    }

    /// The model that runs: `"hybrid"` or `"ngram"`.
    pub fn model_name(&self) -> &'static str {
        self.dialogue.brain().name()
    }

    /// The confidence threshold in effect.
    pub fn confidence_threshold(&self) -> f32 {
        self.dialogue.config().confidence_threshold
    }
}

impl<B: Brain> RoutingShard<B> {
    /// A shard with an already trained `brain` for `kb` (another model, or one trained once and cloned).
    pub fn with_brain(
        config: RoutingShardConfig,
        kb: KnowledgeBase,
        brain: B,
    ) -> Result<Self, RoutingShardError> {
        config.validate()?;
        if !brain.intents().iter().eq(kb.intents.iter().map(|i| &i.id)) {
            return Err(RoutingShardError::Config {
                field: "kb",
                allowed: "the knowledge base the brain was trained on",
            });
        }
        let groups = if config.groups.is_empty() {
            default_groups(&kb)
        } else {
            config.groups.clone()
        };
        let default_group = resolve_default_group(&config, &groups)?;
        let dialogue = Dialogue::new(kb, brain, config.dialogue_config())?;
        Ok(RoutingShard {
            config,
            groups,
            default_group,
            dialogue,
            tenants: BTreeMap::new(),
            conversations: BTreeMap::new(),
            bot_activity: BTreeSet::new(),
            outbox: VecDeque::new(),
            counters: RoutingCounters::default(),
            now_ms: 0,
        })
    }

    /// Handles one input at `now_ms` (a time earlier than one already seen counts as the latest). Outputs
    /// are queued for [`RoutingShard::poll_output`]. On an error nothing is routed and `inputs_refused` is
    /// counted; a refused customer message is still kept in its conversation's history (it was said), and
    /// the owner shard falls back to queueing the conversation for a human itself.
    pub fn handle(&mut self, now_ms: u64, input: RoutingInput) -> Result<(), RoutingShardError> {
        self.now_ms = self.now_ms.max(now_ms);
        let result = self.apply(input);
        if result.is_err() {
            self.counters.inputs_refused += 1;
        }
        result
    }

    /// Time passed: re-queues conversations of agents disconnected beyond the grace period or silent beyond
    /// the reply timeout, and forgets conversations idle with the bot.
    pub fn tick(&mut self, now_ms: u64) {
        self.now_ms = self.now_ms.max(now_ms);
        let tenants: Vec<TenantId> = self.tenants.keys().copied().collect();
        for tenant in tenants {
            // Tick is always accepted by an existing router.
            let _ = self.route(tenant, RouterInput::Tick, QueueReason::Transferred);
        }
        self.expire_idle();
    }

    /// The next output, in decision order. Changed by [`RoutingShard::handle`] and [`RoutingShard::tick`].
    pub fn poll_output(&mut self) -> Option<RoutingOutput> {
        self.outbox.pop_front()
    }

    /// Counts since start.
    pub fn counters(&self) -> RoutingCounters {
        self.counters
    }

    /// The fairness figure (max/min load of online agents) of every tenant's groups with online agents.
    pub fn fairness(&self) -> Vec<(TenantId, GroupFairness)> {
        let per_tenant = self.tenants.iter();
        per_tenant
            .flat_map(|(&t, s)| s.router.fairness().into_iter().map(move |f| (t, f)))
            .collect()
    }

    /// The agent groups in effect.
    pub fn groups(&self) -> &[GroupConfig] {
        &self.groups
    }

    /// The group uncertain conversations go to.
    pub fn default_group(&self) -> GroupId {
        self.default_group
    }

    /// The configuration.
    pub fn config(&self) -> &RoutingShardConfig {
        &self.config
    }

    /// The tenant's router, for inspection (queues, agents, recorded decisions, replay log).
    pub fn router(&self, tenant: TenantId) -> Option<&super::router::Router> {
        self.tenants.get(&tenant).map(|t| &t.router)
    }

    /// Number of tenants with a router.
    pub fn tenants(&self) -> usize {
        self.tenants.len()
    }

    /// Conversations tracked (with the bot or with humans).
    pub fn conversations_tracked(&self) -> usize {
        self.conversations.len()
    }

    /// Conversations waiting in a group queue for a human, over every tenant and group (for metrics:
    /// builds each queue's list, so call it at most a few times a second).
    pub fn waiting_count(&self) -> usize {
        let per_tenant = self.tenants.values();
        per_tenant
            .map(|t| self.groups.iter().map(|g| t.router.waiting(g.id).len()))
            .map(Iterator::sum::<usize>)
            .sum()
    }

    /// Whether the conversation is in human hands (waiting or assigned).
    pub fn is_with_humans(&self, conversation: ConversationId) -> bool {
        self.conversations
            .get(&conversation)
            .is_some_and(|c| c.phase == Phase::Human)
    }

    /// Checks internal consistency; for tests and debug builds.
    pub fn invariants(&self) {
        let bot = self
            .conversations
            .values()
            .filter(|c| c.phase == Phase::Bot);
        assert_eq!(bot.count(), self.bot_activity.len());
        assert!(self.conversations.len() <= self.config.limits.conversations_max);
        assert!(self.tenants.len() <= self.config.limits.tenants_max);
        for (id, c) in &self.conversations {
            if c.phase == Phase::Bot {
                assert!(self.bot_activity.contains(&(c.last_active_ms, *id)));
            }
        }
        for state in self.tenants.values() {
            state.router.invariants();
            for (&agent, live) in &state.agents {
                assert!(live.connections.values().all(|&n| n > 0));
                let presence = state.router.agent(agent).map(|a| a.presence);
                assert_eq!(presence, Some(live.effective()), "agent {agent} presence");
            }
        }
    }

    fn apply(&mut self, input: RoutingInput) -> Result<(), RoutingShardError> {
        match input {
            RoutingInput::CustomerMessage {
                tenant,
                conversation,
                customer,
                sequence,
                text,
                customer_value,
                raw,
            } => self.customer_message(CustomerMessage {
                tenant,
                customer,
                raw: raw.as_deref(),
                conversation,
                sequence,
                text: &text,
                customer_value,
            }),
            RoutingInput::AgentOnline {
                tenant,
                agent,
                groups,
                shard,
                console,
            } => self.agent_online(tenant, agent, &groups, shard, console),
            RoutingInput::TicketChanged {
                tenant,
                ticket,
                group,
            } => self.ticket_changed(tenant, *ticket, group),
            RoutingInput::InboxQuery {
                tenant,
                agent,
                console,
            } => {
                self.send_inbox(tenant, agent, console);
                Ok(())
            }
            RoutingInput::AgentOffline {
                tenant,
                agent,
                shard,
            } => self.agent_offline(tenant, agent, shard),
            RoutingInput::AgentSetPresence {
                tenant,
                agent,
                presence,
            } => self.agent_set_presence(tenant, agent, presence),
            RoutingInput::AgentReplied {
                tenant,
                agent,
                conversation,
            } => self.agent_replied(tenant, agent, conversation),
            RoutingInput::ConversationResolved {
                tenant,
                conversation,
            } => self.resolve(tenant, conversation),
            RoutingInput::Transfer {
                tenant,
                conversation,
                target,
            } => {
                let input = RouterInput::Transfer {
                    conversation,
                    target,
                };
                let result = self
                    .check_tenant(tenant, conversation)
                    .and_then(|()| self.route(tenant, input, QueueReason::Transferred));
                if let Err(error) = &result {
                    // The owner tells the agent who asked; nothing else changed.
                    self.outbox.push_back(RoutingOutput::TransferRefused {
                        tenant,
                        conversation,
                        target,
                        reason: error.to_string(),
                    });
                }
                result
            }
            RoutingInput::Restore {
                tenant,
                conversation,
                customer,
                group,
            } => self.restore(tenant, conversation, customer, group),
            RoutingInput::Tick => {
                self.tick(self.now_ms);
                Ok(())
            }
        }
    }

    /// The conversation ended: it leaves its agent or queue and every table.
    fn resolve(
        &mut self,
        tenant: TenantId,
        conversation: ConversationId,
    ) -> Result<(), RoutingShardError> {
        self.check_tenant(tenant, conversation)?;
        let Some(state) = self.conversations.get(&conversation) else {
            self.counters.inputs_ignored += 1;
            return Ok(());
        };
        if state.phase == Phase::Human {
            let input = RouterInput::Close { conversation };
            self.route(tenant, input, QueueReason::Transferred)?;
        }
        self.forget(conversation);
        self.counters.resolved += 1;
        Ok(())
    }
}

/// The configured default group, or the group with the `general` skill, or the lowest id.
fn resolve_default_group(
    config: &RoutingShardConfig,
    groups: &[GroupConfig],
) -> Result<GroupId, RoutingShardError> {
    let missing = RoutingShardError::Config {
        field: "default_group",
        allowed: "the id of a configured group",
    };
    if let Some(id) = config.default_group {
        return groups
            .iter()
            .any(|g| g.id == id)
            .then_some(id)
            .ok_or(missing);
    }
    let general = groups
        .iter()
        .find(|g| g.skills.iter().any(|s| s == "general"));
    general
        .or_else(|| groups.iter().min_by_key(|g| g.id))
        .map(|g| g.id)
        .ok_or(missing)
}

/// The shard moves to its own thread after construction.
const _: () = {
    const fn assert_send<T: Send>() {}
    assert_send::<RoutingShard>();
    assert_send::<RoutingInput>();
    assert_send::<RoutingOutput>();
};
