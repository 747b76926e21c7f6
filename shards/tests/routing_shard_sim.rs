//! Simulated time through the whole routing shard: customers of two tenants talking to the bot, agents
//! connecting and disconnecting on several connection shards, going away, replying, transferring and
//! resolving, all from a seed. A shadow model rebuilt from the outputs alone checks that no conversation is
//! lost, none is assigned to an offline, away or full agent or to another tenant's agent, a conversation
//! with humans never gets a bot message, and `agent_shards` names exactly the shards with connections.

use std::collections::{BTreeMap, BTreeSet};
use switchboard_core::engine::ConnId;
use switchboard_shards::routing::shard::ConsoleRef;

use switchboard_shards::routing::agents::Presence;
use switchboard_shards::routing::events::TransferTarget;
use switchboard_shards::routing::hybrid::AnyBrain;
use switchboard_shards::routing::kb::KnowledgeBase;
use switchboard_shards::routing::ngram::{NgramBrain, TrainConfig};
use switchboard_shards::routing::rng::Pcg32;
use switchboard_shards::routing::router::Router;
use switchboard_shards::routing::shard::{
    RoutingInput, RoutingOutput, RoutingShard, RoutingShardConfig,
};

const TENANTS: u64 = 2;
const AGENTS_PER_TENANT: u32 = 12;
const SHARDS: u32 = 4;
const CONVERSATIONS: u64 = 400;
const STEP_MS: u64 = 500;
const ARRIVAL_STEPS: u64 = 800;
const STEPS_MAX: u64 = 5_000;
const CAPACITY: u32 = 3;

const TEXTS: &[&str] = &[
    "三连是什么意思",
    "how do i reset my password",
    "视频一直卡,缓冲好慢",
    "我要退款,昨天买错了课程",
    "202403150001234567",
    "转人工",
    "I want to talk to a human",
    "qwzx plorf",
    "你们这帮骗子,马上退钱!!!",
    "番剧提示地区限制",
    "thanks",
];

type AgentKey = (u64, u32);

#[derive(Default)]
struct Shadow {
    connections: BTreeMap<AgentKey, BTreeMap<usize, u32>>,
    chosen: BTreeMap<AgentKey, Presence>,
    load: BTreeMap<AgentKey, u32>,
    tenant_of: BTreeMap<u64, u64>,
    human: BTreeSet<u64>,
    waiting: BTreeSet<u64>,
    assigned: BTreeMap<u64, AgentKey>,
    resolved_human: u64,
    assignments: u64,
}

impl Shadow {
    fn release(&mut self, conversation: u64) {
        self.waiting.remove(&conversation);
        if let Some(key) = self.assigned.remove(&conversation) {
            *self.load.get_mut(&key).expect("loaded agent") -= 1;
        }
    }

    fn apply(&mut self, output: RoutingOutput) {
        match output {
            RoutingOutput::BotMessage { conversation, .. } => {
                assert!(
                    !self.human.contains(&conversation),
                    "bot spoke in human conversation {conversation}"
                );
            }
            RoutingOutput::Ticket { .. } => {}
            RoutingOutput::Queued {
                tenant,
                conversation,
                ..
            } => {
                assert_eq!(self.tenant_of[&conversation], tenant);
                assert!(
                    !self.assigned.contains_key(&conversation),
                    "queued while assigned"
                );
                self.human.insert(conversation);
                self.waiting.insert(conversation);
            }
            RoutingOutput::Assigned {
                tenant,
                conversation,
                agent,
                agent_shards,
                summary,
                ..
            } => {
                assert_eq!(self.tenant_of[&conversation], tenant, "tenants mixed");
                let key = (tenant, agent);
                let shards: Vec<usize> = self
                    .connections
                    .get(&key)
                    .map(|c| c.keys().copied().collect())
                    .unwrap_or_default();
                assert!(!shards.is_empty(), "assigned to offline agent {key:?}");
                assert_eq!(agent_shards, shards);
                assert_eq!(
                    self.chosen.get(&key),
                    Some(&Presence::Online),
                    "assigned to away agent {key:?}"
                );
                let load = self.load.entry(key).or_default();
                assert!(*load < CAPACITY, "assigned to full agent {key:?}");
                *load += 1;
                assert!(summary.is_some(), "handoffs carry a summary");
                assert!(self.waiting.remove(&conversation) || self.human.contains(&conversation));
                self.assigned.insert(conversation, key);
                self.assignments += 1;
            }
            RoutingOutput::Requeued {
                tenant,
                conversation,
                agent,
                ..
            } => {
                assert_eq!(self.assigned.get(&conversation), Some(&(tenant, agent)));
                self.release(conversation);
            }
            RoutingOutput::Transferred { conversation, .. } => self.release(conversation),
            // A refused transfer changed nothing (a transfer may race a re-queue).
            RoutingOutput::TransferRefused { .. } => {}
            // The router set an agent away after a reply timeout: its consoles are told so.
            RoutingOutput::ToAgents {
                tenant,
                agents,
                frame,
                ..
            } => {
                if let switchboard_protocol::app::Message::Presence(presence) = &frame.message {
                    if presence.presence == switchboard_protocol::app::PresenceState::AWAY {
                        for agent in agents {
                            self.chosen.insert((tenant, agent), Presence::Away);
                        }
                    }
                }
            }
        }
    }
}

struct Sim {
    shard: RoutingShard,
    shadow: Shadow,
    rng: Pcg32,
    now_ms: u64,
    next_conversation: u64,
    sequence: BTreeMap<u64, u64>,
}

impl Sim {
    fn send(&mut self, input: RoutingInput) {
        // Refusals are allowed (e.g. a transfer racing a re-queue); they must change nothing.
        let _ = self.shard.handle(self.now_ms, input);
        self.drain();
    }

    fn drain(&mut self) {
        while let Some(output) = self.shard.poll_output() {
            self.shadow.apply(output);
        }
        self.shard.invariants();
    }

    fn groups(&self) -> Vec<u32> {
        self.shard.groups().iter().map(|g| g.id).collect()
    }

    fn connect(&mut self, tenant: u64, agent: u32) {
        let shard = self.rng.below(SHARDS) as usize;
        let all = self.groups();
        let groups = if agent % 3 == 0 {
            all.clone()
        } else {
            vec![all[agent as usize % all.len()], self.shard.default_group()]
        };
        let key = (tenant, agent);
        let connections = self.shadow.connections.entry(key).or_default();
        if connections.is_empty() {
            self.shadow.chosen.insert(key, Presence::Online);
        }
        *connections.entry(shard).or_default() += 1;
        self.send(RoutingInput::AgentOnline {
            tenant,
            agent,
            groups,
            shard,
            console: ConsoleRef {
                shard,
                conn: ConnId::new(0, 0),
            },
        });
    }

    fn disconnect(&mut self, tenant: u64, agent: u32) {
        let key = (tenant, agent);
        let Some(connections) = self.shadow.connections.get_mut(&key) else {
            return;
        };
        let Some((&shard, _)) = connections.iter().next() else {
            return;
        };
        let count = connections.get_mut(&shard).expect("present");
        *count -= 1;
        if *count == 0 {
            connections.remove(&shard);
        }
        self.send(RoutingInput::AgentOffline {
            tenant,
            agent,
            shard,
        });
    }

    fn message(&mut self, conversation: u64) {
        let sequence = self.sequence.entry(conversation).or_default();
        *sequence += 1;
        let sequence = *sequence;
        let text = TEXTS[self.rng.below(TEXTS.len() as u32) as usize].to_string();
        let tenant = self.shadow.tenant_of[&conversation];
        let customer_value = self.rng.next_f64() as f32;
        self.send(RoutingInput::CustomerMessage {
            tenant,
            conversation,
            customer: conversation,
            sequence,
            text,
            customer_value,
            raw: None,
        });
    }

    fn resolve(&mut self, conversation: u64) {
        let tenant = self.shadow.tenant_of[&conversation];
        if self.shadow.human.remove(&conversation) {
            self.shadow.resolved_human += 1;
        }
        self.shadow.release(conversation);
        self.sequence.remove(&conversation);
        self.send(RoutingInput::ConversationResolved {
            tenant,
            conversation,
        });
    }

    fn step(&mut self, arrivals: bool) {
        if arrivals && self.next_conversation < CONVERSATIONS && self.rng.below(2) == 0 {
            let conversation = self.next_conversation;
            self.next_conversation += 1;
            self.shadow
                .tenant_of
                .insert(conversation, conversation % TENANTS + 1);
            self.message(conversation);
        }
        let open: Vec<u64> = self.sequence.keys().copied().collect();
        if !open.is_empty() && arrivals {
            let conversation = open[self.rng.below(open.len() as u32) as usize];
            match self.rng.below(10) {
                0 if !self.shadow.human.contains(&conversation) => self.resolve(conversation),
                _ => self.message(conversation),
            }
        }
        self.agent_activity(arrivals);
        self.shard.tick(self.now_ms);
        self.drain();
        self.now_ms += STEP_MS;
    }

    fn agent_activity(&mut self, churn: bool) {
        let tenant = u64::from(self.rng.below(TENANTS as u32)) + 1;
        let agent = self.rng.below(AGENTS_PER_TENANT) + 1;
        match self.rng.below(12) {
            0 | 1 if churn => self.connect(tenant, agent),
            2 if churn => self.disconnect(tenant, agent),
            3 if churn => {
                self.shadow.chosen.insert((tenant, agent), Presence::Away);
                if self.shadow.connections.contains_key(&(tenant, agent)) {
                    self.send(RoutingInput::AgentSetPresence {
                        tenant,
                        agent,
                        presence: Presence::Away,
                    });
                }
            }
            4 | 5 if self.shadow.connections.contains_key(&(tenant, agent)) => {
                self.shadow.chosen.insert((tenant, agent), Presence::Online);
                self.send(RoutingInput::AgentSetPresence {
                    tenant,
                    agent,
                    presence: Presence::Online,
                });
            }
            _ => {}
        }
        let assigned: Vec<(u64, AgentKey)> =
            self.shadow.assigned.iter().map(|(&c, &k)| (c, k)).collect();
        if let Some(&(conversation, (tenant, agent))) =
            assigned.get(self.rng.below(assigned.len().max(1) as u32) as usize)
        {
            match self.rng.below(6) {
                0 | 1 => self.resolve(conversation),
                2 if churn => {
                    let groups = self.groups();
                    let target =
                        TransferTarget::Group(groups[self.rng.below(groups.len() as u32) as usize]);
                    self.send(RoutingInput::Transfer {
                        tenant,
                        conversation,
                        target,
                    });
                }
                _ => self.send(RoutingInput::AgentReplied {
                    tenant,
                    agent,
                    conversation,
                }),
            }
        }
    }
}

#[test]
fn many_customers_and_agents_in_simulated_time() {
    let kb = KnowledgeBase::builtin().expect("KB");
    let brain = NgramBrain::train(&kb, &TrainConfig::default()).expect("train");
    let mut config = RoutingShardConfig::default();
    config.agents.capacity = CAPACITY;
    config.router.disconnect_grace_ms = 5_000;
    config.router.reply_timeout_ms = 20_000;
    config.router.seed = 42;
    let shard = RoutingShard::with_brain(config, kb, AnyBrain::Ngram(brain)).expect("valid");
    let mut sim = Sim {
        shard,
        shadow: Shadow::default(),
        rng: Pcg32::new(0xC0FFEE),
        now_ms: 0,
        next_conversation: 0,
        sequence: BTreeMap::new(),
    };
    for _ in 0..ARRIVAL_STEPS {
        sim.step(true);
    }
    // Everyone comes back online; agents keep working until every human conversation is resolved.
    for tenant in 1..=TENANTS {
        for agent in 1..=AGENTS_PER_TENANT {
            sim.connect(tenant, agent);
            sim.shadow.chosen.insert((tenant, agent), Presence::Online);
            sim.send(RoutingInput::AgentSetPresence {
                tenant,
                agent,
                presence: Presence::Online,
            });
        }
    }
    let mut steps = ARRIVAL_STEPS;
    while !sim.shadow.human.is_empty() && steps < STEPS_MAX {
        sim.step(false);
        steps += 1;
    }
    let shadow = &sim.shadow;
    assert!(
        shadow.human.is_empty(),
        "{} conversations never served: {:?}",
        shadow.human.len(),
        shadow.human
    );
    let counters = sim.shard.counters();
    assert!(counters.handoffs() > 20, "the mix hands off: {counters:?}");
    assert!(counters.answers > 20, "the mix gets answers: {counters:?}");
    assert_eq!(
        counters.handoffs(),
        shadow.resolved_human,
        "every handoff ended resolved"
    );
    assert_eq!(counters.assignments, shadow.assignments);
    assert!(counters.requeues() > 0, "agents churned: {counters:?}");
    for tenant in 1..=TENANTS {
        let router = sim.shard.router(tenant).expect("tenant has a router");
        assert_eq!(router.conversations_tracked(), 0);
        // The tenant's recorded inputs replay to the same decisions.
        assert!(router.log_complete());
        let config = sim.shard.config().router_config(tenant);
        let replayed = Router::replay(config, router.event_log()).expect("valid config");
        assert!(
            replayed.decisions().eq(router.decisions()),
            "replay of tenant {tenant} diverged"
        );
    }
    assert!(shadow.load.values().all(|&l| l == 0));
}
