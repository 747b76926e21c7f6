//! Router: every queue transition, scoring, fairness and errors, one scenario at a time.

use switchboard_shards::routing::agents::{AgentSpec, GroupSpec, Presence};
use switchboard_shards::routing::events::{
    HandoffRequest, RequeueReason, RouterEvent, RouterInput, TransferTarget,
};
use switchboard_shards::routing::router::{Router, RouterConfig, RouterError};
use switchboard_shards::routing::ticket::Priority;

const BILLING: u32 = 1;
const TECH: u32 = 2;

fn agent(id: u32, groups: &[u32], skill: f32, seniority: f32, capacity: u32) -> AgentSpec {
    AgentSpec {
        id,
        groups: groups.to_vec(),
        skills: vec![("billing".into(), skill), ("tech".into(), skill)],
        seniority,
        capacity,
    }
}

fn request(conversation: u64, group: u32, value: f32, priority: Priority) -> HandoffRequest {
    HandoffRequest {
        conversation,
        group,
        skill: if group == BILLING {
            "billing".into()
        } else {
            "tech".into()
        },
        customer_value: value,
        priority,
        summary: None,
    }
}

fn router(config: RouterConfig) -> Router {
    let mut r = Router::new(config).expect("valid config");
    r.handle(
        0,
        RouterInput::AddGroup(GroupSpec {
            id: BILLING,
            skill: "billing".into(),
        }),
    )
    .expect("group");
    r.handle(
        0,
        RouterInput::AddGroup(GroupSpec {
            id: TECH,
            skill: "tech".into(),
        }),
    )
    .expect("group");
    r
}

fn online(r: &mut Router, now: u64, spec: AgentSpec) {
    let id = spec.id;
    r.handle(now, RouterInput::AddAgent(spec)).expect("agent");
    r.handle(
        now,
        RouterInput::SetPresence {
            agent: id,
            presence: Presence::Online,
        },
    )
    .expect("presence");
}

fn drain(r: &mut Router) -> Vec<RouterEvent> {
    std::iter::from_fn(|| r.poll_event()).collect()
}

fn assigned(events: &[RouterEvent]) -> Vec<(u64, u32)> {
    events
        .iter()
        .filter_map(|e| match e {
            RouterEvent::Assigned {
                conversation,
                agent,
                ..
            } => Some((*conversation, *agent)),
            _ => None,
        })
        .collect()
}

#[test]
fn waits_when_nobody_is_online_then_assigns_on_login() {
    let mut r = router(RouterConfig::default());
    r.handle(0, RouterInput::AddAgent(agent(10, &[BILLING], 1.0, 0.5, 2)))
        .expect("agent");
    r.handle(
        5,
        RouterInput::Enqueue(request(1, BILLING, 0.5, Priority::Normal)),
    )
    .expect("enqueue");
    assert_eq!(r.waiting(BILLING), vec![1]);
    let events = drain(&mut r);
    assert!(matches!(
        events.as_slice(),
        [
            ..,
            RouterEvent::Queued {
                conversation: 1,
                group: BILLING,
                ..
            }
        ]
    ));
    r.handle(
        50,
        RouterInput::SetPresence {
            agent: 10,
            presence: Presence::Online,
        },
    )
    .expect("online");
    let events = drain(&mut r);
    match events.as_slice() {
        [RouterEvent::Assigned {
            conversation: 1,
            agent: 10,
            waited_ms,
            score,
            ..
        }] => {
            assert_eq!(*waited_ms, 45);
            assert_eq!(score.candidates, 1);
            assert_eq!(score.skill_match, 1.0);
            assert!((score.value_match - 1.0).abs() < 1e-9);
        }
        other => panic!("{other:?}"),
    }
    assert!(r.waiting(BILLING).is_empty());
    r.invariants();
}

#[test]
fn away_and_full_agents_get_nothing_new() {
    let mut r = router(RouterConfig::default());
    online(&mut r, 0, agent(10, &[BILLING], 1.0, 0.5, 1));
    online(&mut r, 0, agent(11, &[BILLING], 1.0, 0.5, 1));
    r.handle(
        0,
        RouterInput::SetPresence {
            agent: 11,
            presence: Presence::Away,
        },
    )
    .expect("away");
    r.handle(
        1,
        RouterInput::Enqueue(request(1, BILLING, 0.5, Priority::Normal)),
    )
    .expect("enqueue");
    r.handle(
        2,
        RouterInput::Enqueue(request(2, BILLING, 0.5, Priority::Normal)),
    )
    .expect("enqueue");
    assert_eq!(assigned(&drain(&mut r)), vec![(1, 10)]);
    assert_eq!(
        r.waiting(BILLING),
        vec![2],
        "agent 10 is full and 11 is away"
    );
    r.handle(3, RouterInput::Close { conversation: 1 })
        .expect("close");
    assert_eq!(assigned(&drain(&mut r)), vec![(2, 10)]);
    r.invariants();
}

#[test]
fn higher_priority_then_longest_waiting_first() {
    let mut r = router(RouterConfig::default());
    r.handle(
        0,
        RouterInput::AddAgent(agent(10, &[BILLING], 1.0, 0.5, 10)),
    )
    .expect("agent");
    r.handle(
        1,
        RouterInput::Enqueue(request(1, BILLING, 0.5, Priority::Low)),
    )
    .expect("e");
    r.handle(
        2,
        RouterInput::Enqueue(request(2, BILLING, 0.5, Priority::Normal)),
    )
    .expect("e");
    r.handle(
        3,
        RouterInput::Enqueue(request(3, BILLING, 0.5, Priority::Urgent)),
    )
    .expect("e");
    r.handle(
        4,
        RouterInput::Enqueue(request(4, BILLING, 0.5, Priority::Normal)),
    )
    .expect("e");
    assert_eq!(r.waiting(BILLING), vec![3, 2, 4, 1]);
    drain(&mut r);
    r.handle(
        5,
        RouterInput::SetPresence {
            agent: 10,
            presence: Presence::Online,
        },
    )
    .expect("online");
    let order: Vec<u64> = assigned(&drain(&mut r))
        .into_iter()
        .map(|(c, _)| c)
        .collect();
    assert_eq!(order, vec![3, 2, 4, 1]);
}

#[test]
fn oldest_head_across_groups_goes_first_to_a_shared_agent() {
    let mut r = router(RouterConfig::default());
    r.handle(
        0,
        RouterInput::AddAgent(agent(10, &[BILLING, TECH], 1.0, 0.5, 1)),
    )
    .expect("agent");
    r.handle(
        1,
        RouterInput::Enqueue(request(1, TECH, 0.5, Priority::Normal)),
    )
    .expect("e");
    r.handle(
        2,
        RouterInput::Enqueue(request(2, BILLING, 0.5, Priority::Normal)),
    )
    .expect("e");
    r.handle(
        3,
        RouterInput::SetPresence {
            agent: 10,
            presence: Presence::Online,
        },
    )
    .expect("online");
    assert_eq!(assigned(&drain(&mut r)), vec![(1, 10)]);
}

#[test]
fn score_prefers_skill_and_value_match_and_penalises_load() {
    let mut r = router(RouterConfig {
        seed: 1,
        ..RouterConfig::default()
    });
    online(&mut r, 0, agent(10, &[BILLING], 0.2, 0.9, 5)); // Senior but weak in the skill.
    online(&mut r, 0, agent(11, &[BILLING], 1.0, 0.9, 5)); // Senior and skilled.
    online(&mut r, 0, agent(12, &[BILLING], 1.0, 0.1, 5)); // Junior and skilled.
    r.handle(
        1,
        RouterInput::Enqueue(request(1, BILLING, 0.9, Priority::Normal)),
    )
    .expect("e");
    r.handle(
        2,
        RouterInput::Enqueue(request(2, BILLING, 0.1, Priority::Normal)),
    )
    .expect("e");
    let events = drain(&mut r);
    assert_eq!(assigned(&events), vec![(1, 11), (2, 12)]);
    for e in &events {
        if let RouterEvent::Assigned { score, .. } = e {
            let recomputed = 0.6 * score.value_match + 0.3 * score.skill_match + 0.1 * score.random;
            assert!((score.base - recomputed).abs() < 1e-12);
            assert!((score.total - (score.base - 0.5 * score.load_ratio)).abs() < 1e-12);
            assert_eq!(score.candidates, 3);
        }
    }
    // Load: with an identical pair of agents, the idle one wins.
    let mut r = router(RouterConfig::default());
    online(&mut r, 0, agent(20, &[TECH], 1.0, 0.5, 4));
    online(&mut r, 0, agent(21, &[TECH], 1.0, 0.5, 4));
    for c in 0..8 {
        r.handle(
            1,
            RouterInput::Enqueue(request(c, TECH, 0.5, Priority::Normal)),
        )
        .expect("e");
    }
    let fairness = r.fairness();
    let tech = fairness
        .iter()
        .find(|f| f.group == TECH)
        .expect("tech fairness");
    assert_eq!((tech.load_max, tech.load_min, tech.agents), (4, 4, 2));
    assert_eq!(tech.ratio(), 1.0);
}

#[test]
fn offline_agent_keeps_conversations_within_grace_then_they_are_requeued() {
    let mut r = router(RouterConfig {
        disconnect_grace_ms: 1_000,
        ..RouterConfig::default()
    });
    online(&mut r, 0, agent(10, &[BILLING], 1.0, 0.5, 2));
    r.handle(
        1,
        RouterInput::Enqueue(request(1, BILLING, 0.5, Priority::Normal)),
    )
    .expect("e");
    r.handle(
        2,
        RouterInput::AgentReplied {
            agent: 10,
            conversation: 1,
        },
    )
    .expect("reply");
    r.handle(
        10,
        RouterInput::SetPresence {
            agent: 10,
            presence: Presence::Offline,
        },
    )
    .expect("off");
    r.handle(500, RouterInput::Tick).expect("tick");
    assert_eq!(r.assigned_agent(1), Some(10), "within grace");
    // Reconnecting within grace cancels the timer.
    r.handle(
        600,
        RouterInput::SetPresence {
            agent: 10,
            presence: Presence::Online,
        },
    )
    .expect("on");
    r.handle(5_000, RouterInput::Tick).expect("tick");
    assert_eq!(r.assigned_agent(1), Some(10));
    drain(&mut r);
    r.handle(
        6_000,
        RouterInput::SetPresence {
            agent: 10,
            presence: Presence::Offline,
        },
    )
    .expect("off");
    r.handle(7_000, RouterInput::Tick).expect("tick");
    let events = drain(&mut r);
    assert!(events.contains(&RouterEvent::Requeued {
        conversation: 1,
        agent: 10,
        reason: RequeueReason::AgentDisconnected
    }));
    assert_eq!(r.waiting(BILLING), vec![1]);
    // A second agent picks it up; it kept its original arrival time.
    online(&mut r, 7_100, agent(11, &[BILLING], 1.0, 0.5, 2));
    match drain(&mut r).as_slice() {
        [RouterEvent::Assigned {
            conversation: 1,
            agent: 11,
            waited_ms: 7_099,
            ..
        }] => {}
        other => panic!("{other:?}"),
    }
    r.invariants();
}

#[test]
fn no_reply_within_timeout_requeues_and_sets_the_agent_away() {
    let mut r = router(RouterConfig {
        reply_timeout_ms: 100,
        ..RouterConfig::default()
    });
    online(&mut r, 0, agent(10, &[TECH], 1.0, 0.5, 2));
    online(&mut r, 0, agent(11, &[TECH], 0.1, 0.5, 2));
    r.handle(
        1,
        RouterInput::Enqueue(request(1, TECH, 0.5, Priority::Normal)),
    )
    .expect("e");
    let first = assigned(&drain(&mut r))[0].1;
    r.handle(50, RouterInput::Tick).expect("tick");
    assert_eq!(r.assigned_agent(1), Some(first));
    r.handle(101, RouterInput::Tick).expect("tick");
    let events = drain(&mut r);
    assert!(events.contains(&RouterEvent::AgentSetAway { agent: first }));
    assert!(events.contains(&RouterEvent::Requeued {
        conversation: 1,
        agent: first,
        reason: RequeueReason::ReplyTimeout
    }));
    let other = if first == 10 { 11 } else { 10 };
    assert_eq!(assigned(&events), vec![(1, other)]);
    assert_eq!(r.agent(first).map(|a| a.presence), Some(Presence::Away));
    // Replying in time stops the timer.
    r.handle(
        120,
        RouterInput::AgentReplied {
            agent: other,
            conversation: 1,
        },
    )
    .expect("reply");
    r.handle(10_000, RouterInput::Tick).expect("tick");
    assert_eq!(r.assigned_agent(1), Some(other));
}

#[test]
fn explicit_transfers_to_agent_and_group() {
    let mut r = router(RouterConfig::default());
    online(&mut r, 0, agent(10, &[BILLING], 1.0, 0.5, 2));
    online(&mut r, 0, agent(20, &[TECH], 1.0, 0.5, 1));
    r.handle(0, RouterInput::AddAgent(agent(21, &[TECH], 1.0, 0.5, 1)))
        .expect("offline agent");
    r.handle(
        1,
        RouterInput::Enqueue(request(1, BILLING, 0.5, Priority::Normal)),
    )
    .expect("e");
    r.handle(
        1,
        RouterInput::Enqueue(request(2, TECH, 0.5, Priority::Normal)),
    )
    .expect("e");
    drain(&mut r);
    // To an offline or full agent: refused, nothing changes.
    let to_offline = RouterInput::Transfer {
        conversation: 1,
        target: TransferTarget::Agent(21),
    };
    assert_eq!(
        r.handle(2, to_offline),
        Err(RouterError::AgentUnavailable(21))
    );
    let to_full = RouterInput::Transfer {
        conversation: 1,
        target: TransferTarget::Agent(20),
    };
    assert_eq!(r.handle(2, to_full), Err(RouterError::AgentUnavailable(20)));
    assert_eq!(r.assigned_agent(1), Some(10));
    // To a group: back in a queue, then served there when capacity frees up.
    r.handle(
        3,
        RouterInput::Transfer {
            conversation: 1,
            target: TransferTarget::Group(TECH),
        },
    )
    .expect("transfer");
    assert_eq!(r.waiting(TECH), vec![1]);
    r.handle(4, RouterInput::Close { conversation: 2 })
        .expect("close");
    assert_eq!(r.assigned_agent(1), Some(20));
    // To an agent directly.
    r.handle(
        5,
        RouterInput::Transfer {
            conversation: 1,
            target: TransferTarget::Agent(10),
        },
    )
    .expect("transfer");
    assert_eq!(r.assigned_agent(1), Some(10));
    r.invariants();
}

#[test]
fn inconsistent_inputs_are_typed_errors() {
    let mut r = router(RouterConfig {
        conversations_max: 1,
        ..RouterConfig::default()
    });
    assert_eq!(
        r.handle(
            0,
            RouterInput::AddGroup(GroupSpec {
                id: BILLING,
                skill: "x".into()
            })
        ),
        Err(RouterError::Duplicate(BILLING))
    );
    assert_eq!(
        r.handle(0, RouterInput::AddAgent(agent(1, &[99], 1.0, 0.5, 1))),
        Err(RouterError::UnknownGroup(99))
    );
    assert_eq!(
        r.handle(0, RouterInput::AddAgent(agent(1, &[BILLING], 1.0, 0.5, 0))),
        Err(RouterError::OutOfRange)
    );
    assert_eq!(
        r.handle(
            0,
            RouterInput::SetPresence {
                agent: 5,
                presence: Presence::Online
            }
        ),
        Err(RouterError::UnknownAgent(5))
    );
    assert_eq!(
        r.handle(
            0,
            RouterInput::Enqueue(request(1, BILLING, 1.5, Priority::Low))
        ),
        Err(RouterError::OutOfRange)
    );
    r.handle(
        0,
        RouterInput::Enqueue(request(1, BILLING, 0.5, Priority::Low)),
    )
    .expect("e");
    assert_eq!(
        r.handle(
            0,
            RouterInput::Enqueue(request(1, BILLING, 0.5, Priority::Low))
        ),
        Err(RouterError::AlreadyRouted(1))
    );
    assert_eq!(
        r.handle(
            0,
            RouterInput::Enqueue(request(2, BILLING, 0.5, Priority::Low))
        ),
        Err(RouterError::Full)
    );
    assert_eq!(
        r.handle(0, RouterInput::Close { conversation: 9 }),
        Err(RouterError::UnknownConversation(9))
    );
    assert_eq!(
        r.handle(
            0,
            RouterInput::AgentReplied {
                agent: 1,
                conversation: 1
            }
        ),
        Err(RouterError::NotAssigned {
            agent: 1,
            conversation: 1
        })
    );
    assert!(Router::new(RouterConfig {
        load_penalty: -1.0,
        ..RouterConfig::default()
    })
    .is_err());
    r.invariants();
}
