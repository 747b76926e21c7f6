//! Simulated time: 2,000 conversations, 50 agents, random presence changes, replies, transfers,
//! escalations and closes, all from a seed. Checks that no conversation is lost, none goes to an offline, away or full
//! agent, queue order is respected at every assignment, and replaying the event log reproduces every
//! decision.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

use switchboard_shards::routing::agents::{AgentSpec, GroupSpec, Presence};
use switchboard_shards::routing::events::{
    HandoffRequest, RouterEvent, RouterInput, TransferTarget,
};
use switchboard_shards::routing::rng::Pcg32;
use switchboard_shards::routing::router::{Router, RouterConfig};
use switchboard_shards::routing::ticket::Priority;

const CONVERSATIONS: u64 = 2_000;
const AGENTS: u32 = 50;
const GROUPS: u32 = 4;
const STEP_MS: u64 = 250;
const ARRIVAL_WINDOW_MS: u64 = 600_000;
const STEPS_MAX: u64 = 20_000;

/// Priorities drawn for arrivals and escalations (normal twice as likely).
const PRIORITIES: [Priority; 5] = [
    Priority::Low,
    Priority::Normal,
    Priority::Normal,
    Priority::High,
    Priority::Urgent,
];

type Key = (Reverse<Priority>, u64, u64);

/// The test's own model of the router, rebuilt from the events alone.
#[derive(Default)]
struct Shadow {
    queues: BTreeMap<u32, BTreeMap<Key, u64>>,
    presence: BTreeMap<u32, Presence>,
    capacity: BTreeMap<u32, u32>,
    load: BTreeMap<u32, u32>,
    assigned: BTreeMap<u64, (u32, bool)>,
    closed: BTreeSet<u64>,
    assignments: usize,
    escalations: usize,
}

impl Shadow {
    fn unqueue(&mut self, conversation: u64) {
        for queue in self.queues.values_mut() {
            queue.retain(|_, c| *c != conversation);
        }
    }

    fn take_from_agent(&mut self, conversation: u64, agent: u32) {
        let removed = self.assigned.remove(&conversation);
        assert_eq!(
            removed.map(|(a, _)| a),
            Some(agent),
            "conversation {conversation} was with agent {agent}"
        );
        *self.load.get_mut(&agent).expect("known agent") -= 1;
    }

    fn give_to_agent(&mut self, conversation: u64, agent: u32) {
        assert_eq!(
            self.presence[&agent],
            Presence::Online,
            "assigned to agent {agent} who is not online"
        );
        let load = self.load.entry(agent).or_default();
        assert!(
            *load < self.capacity[&agent],
            "assigned to full agent {agent}"
        );
        *load += 1;
        self.assigned.insert(conversation, (agent, false));
    }

    /// Re-keys a waiting conversation with the same arrival time and sequence number; an assigned one
    /// stays with its agent (a later `Queued` carries its new priority).
    fn escalate(
        &mut self,
        conversation: u64,
        from: Priority,
        to: Priority,
        waiting_in: Option<u32>,
    ) {
        assert!(to > from, "escalations only raise the priority");
        let Some(group) = waiting_in else {
            assert!(
                self.assigned.contains_key(&conversation),
                "escalated conversation {conversation} is neither waiting nor assigned"
            );
            return;
        };
        let queue = self
            .queues
            .get_mut(&group)
            .expect("queued before escalated");
        let key = queue
            .iter()
            .find(|(_, &c)| c == conversation)
            .map(|(&k, _)| k);
        let key = key.expect("escalated conversation waits in the named group");
        assert_eq!(key.0, Reverse(from), "escalated from its queued priority");
        queue.remove(&key);
        queue.insert((Reverse(to), key.1, key.2), conversation);
        self.escalations += 1;
    }

    fn apply(&mut self, event: &RouterEvent) {
        match *event {
            RouterEvent::Queued {
                conversation,
                group,
                priority,
                enqueued_at_ms,
                seq,
            } => {
                self.unqueue(conversation);
                self.queues
                    .entry(group)
                    .or_default()
                    .insert((Reverse(priority), enqueued_at_ms, seq), conversation);
            }
            RouterEvent::Assigned {
                conversation,
                agent,
                group,
                ..
            } => {
                let queue = self.queues.get_mut(&group).expect("queued before assigned");
                let head = queue.first_key_value().map(|(_, &c)| c);
                assert_eq!(
                    head,
                    Some(conversation),
                    "assignment out of queue order in group {group}"
                );
                queue.pop_first();
                self.give_to_agent(conversation, agent);
                self.assignments += 1;
            }
            RouterEvent::Requeued {
                conversation,
                agent,
                ..
            } => self.take_from_agent(conversation, agent),
            RouterEvent::AgentSetAway { agent } => {
                self.presence.insert(agent, Presence::Away);
            }
            RouterEvent::Transferred {
                conversation,
                from_agent,
                target,
            } => {
                match from_agent {
                    Some(agent) => self.take_from_agent(conversation, agent),
                    None => self.unqueue(conversation),
                }
                if let TransferTarget::Agent(agent) = target {
                    self.give_to_agent(conversation, agent);
                }
            }
            RouterEvent::Escalated {
                conversation,
                from,
                to,
                waiting_in,
            } => self.escalate(conversation, from, to, waiting_in),
            RouterEvent::Closed {
                conversation,
                agent,
            } => {
                match agent {
                    Some(agent) => self.take_from_agent(conversation, agent),
                    None => self.unqueue(conversation),
                }
                assert!(
                    self.closed.insert(conversation),
                    "conversation {conversation} closed twice"
                );
            }
        }
    }
}

fn drive(router: &mut Router, shadow: &mut Shadow, now: u64, input: RouterInput) {
    if let RouterInput::SetPresence { agent, presence } = input {
        shadow.presence.insert(agent, presence);
    }
    let _ = router.handle(now, input);
    while let Some(event) = router.poll_event() {
        shadow.apply(&event);
    }
}

fn setup(router: &mut Router, shadow: &mut Shadow, rng: &mut Pcg32) {
    for group in 0..GROUPS {
        drive(
            router,
            shadow,
            0,
            RouterInput::AddGroup(GroupSpec {
                id: group,
                skill: format!("skill{group}"),
            }),
        );
    }
    for id in 0..AGENTS {
        let first = rng.below(GROUPS);
        let mut groups = vec![first];
        if rng.below(3) == 0 {
            groups.push((first + 1) % GROUPS);
        }
        let skills = (0..GROUPS)
            .map(|g| (format!("skill{g}"), rng.next_f64() as f32))
            .collect();
        let capacity = 1 + rng.below(4);
        shadow.capacity.insert(id, capacity);
        let spec = AgentSpec {
            id,
            groups,
            skills,
            seniority: rng.next_f64() as f32,
            capacity,
        };
        drive(router, shadow, 0, RouterInput::AddAgent(spec));
        drive(
            router,
            shadow,
            0,
            RouterInput::SetPresence {
                agent: id,
                presence: Presence::Online,
            },
        );
    }
}

fn random_presence(rng: &mut Pcg32) -> Presence {
    match rng.below(10) {
        0..=5 => Presence::Online,
        6 | 7 => Presence::Away,
        _ => Presence::Offline,
    }
}

/// One step of agent behaviour: replies, closes and the odd transfer, in conversation order.
fn agents_work(router: &mut Router, shadow: &mut Shadow, rng: &mut Pcg32, now: u64, closing: bool) {
    let snapshot: Vec<(u64, u32, bool)> = shadow
        .assigned
        .iter()
        .map(|(&c, &(a, r))| (c, a, r))
        .collect();
    for (conversation, agent, replied) in snapshot {
        if !replied && rng.below(4) == 0 {
            shadow.assigned.insert(conversation, (agent, true));
            drive(
                router,
                shadow,
                now,
                RouterInput::AgentReplied {
                    agent,
                    conversation,
                },
            );
        } else if rng.below(if closing { 3 } else { 40 }) == 0 {
            drive(router, shadow, now, RouterInput::Close { conversation });
        } else if rng.below(400) == 0 {
            let target = TransferTarget::Group(rng.below(GROUPS));
            drive(
                router,
                shadow,
                now,
                RouterInput::Transfer {
                    conversation,
                    target,
                },
            );
        }
    }
}

/// One step of customers turning angry: sometimes a waiting, an assigned or an unknown conversation is
/// escalated to a random priority (which may be no higher, a no-op, or refer to nothing, an error).
fn customers_escalate(router: &mut Router, shadow: &mut Shadow, rng: &mut Pcg32, now: u64) {
    if rng.below(3) != 0 {
        return;
    }
    let waiting: Vec<u64> = shadow
        .queues
        .values()
        .flat_map(|q| q.values().copied())
        .collect();
    let conversation = match rng.below(10) {
        0..=6 if !waiting.is_empty() => waiting[rng.below(waiting.len() as u32) as usize],
        7 | 8 if !shadow.assigned.is_empty() => {
            let index = rng.below(shadow.assigned.len() as u32) as usize;
            *shadow.assigned.keys().nth(index).expect("index in range")
        }
        _ => CONVERSATIONS + u64::from(rng.below(10)),
    };
    let priority = PRIORITIES[rng.below(PRIORITIES.len() as u32) as usize];
    let input = RouterInput::Escalate {
        conversation,
        priority,
    };
    drive(router, shadow, now, input);
}

fn simulate(seed: u64) -> (Router, Shadow, RouterConfig) {
    let config = RouterConfig {
        seed,
        disconnect_grace_ms: 5_000,
        reply_timeout_ms: 20_000,
        ..RouterConfig::default()
    };
    let mut router = Router::new(config.clone()).expect("config");
    let mut shadow = Shadow::default();
    let mut rng = Pcg32::new(seed ^ 0xABCD);
    setup(&mut router, &mut shadow, &mut rng);
    let mut arrivals: Vec<u64> = (0..CONVERSATIONS)
        .map(|_| rng.below(ARRIVAL_WINDOW_MS as u32) as u64)
        .collect();
    arrivals.sort_unstable();
    let mut next = 0usize;
    let mut now = 0;
    for _ in 0..STEPS_MAX {
        now += STEP_MS;
        while next < arrivals.len() && arrivals[next] <= now {
            let priority = PRIORITIES[rng.below(PRIORITIES.len() as u32) as usize];
            let group = rng.below(GROUPS);
            let request = HandoffRequest {
                conversation: next as u64,
                group,
                skill: format!("skill{group}"),
                customer_value: rng.next_f64() as f32,
                priority,
                summary: None,
            };
            drive(&mut router, &mut shadow, now, RouterInput::Enqueue(request));
            next += 1;
        }
        let closing = now > ARRIVAL_WINDOW_MS;
        if !closing && rng.below(2) == 0 {
            let agent = rng.below(AGENTS);
            drive(
                &mut router,
                &mut shadow,
                now,
                RouterInput::SetPresence {
                    agent,
                    presence: random_presence(&mut rng),
                },
            );
        }
        if closing {
            // Everyone comes back so the backlog can drain.
            let absent: Vec<u32> = shadow
                .presence
                .iter()
                .filter(|(_, &p)| p != Presence::Online)
                .map(|(&a, _)| a)
                .collect();
            for agent in absent {
                drive(
                    &mut router,
                    &mut shadow,
                    now,
                    RouterInput::SetPresence {
                        agent,
                        presence: Presence::Online,
                    },
                );
            }
        }
        if !closing {
            customers_escalate(&mut router, &mut shadow, &mut rng, now);
        }
        agents_work(&mut router, &mut shadow, &mut rng, now, closing);
        drive(&mut router, &mut shadow, now, RouterInput::Tick);
        if now % 10_000 == 0 {
            router.invariants();
        }
        if closing && shadow.closed.len() as u64 == CONVERSATIONS {
            break;
        }
    }
    (router, shadow, config)
}

#[test]
fn thousands_of_conversations_none_lost_none_misrouted_order_respected() {
    let (router, shadow, _) = simulate(2024);
    router.invariants();
    assert_eq!(
        shadow.closed.len() as u64,
        CONVERSATIONS,
        "every conversation was served and closed"
    );
    assert_eq!(router.conversations_tracked(), 0);
    assert!(shadow.queues.values().all(BTreeMap::is_empty));
    assert!(shadow.assignments as u64 >= CONVERSATIONS);
    let requeues = router
        .decisions()
        .filter(|e| matches!(e, RouterEvent::Requeued { .. }))
        .count();
    println!(
        "assignments {} requeues {requeues} escalations {} inputs {}",
        shadow.assignments,
        shadow.escalations,
        router.event_log().count()
    );
    assert!(requeues > 0, "the scenario exercised re-queueing");
    assert!(shadow.escalations > 0, "the scenario exercised escalation");
}

#[test]
fn replaying_the_event_log_reproduces_every_decision() {
    let (router, _, config) = simulate(77);
    assert!(router.log_complete());
    let escalations = router
        .event_log()
        .filter(|t| matches!(t.input, RouterInput::Escalate { .. }));
    assert!(escalations.count() > 0, "the log holds escalations");
    let replayed = Router::replay(config.clone(), router.event_log()).expect("config");
    assert!(
        router.decisions().eq(replayed.decisions()),
        "same seed, same inputs, same decisions"
    );
    // A different seed changes at least one choice (the random factor matters).
    let other =
        Router::replay(RouterConfig { seed: 78, ..config }, router.event_log()).expect("config");
    assert!(!router.decisions().eq(other.decisions()));
}
