//! The routing shard's sans-IO core: bot answers, slot filling, handoffs, assignment with the summary,
//! re-queues, connection counts per shard, tenant isolation and refusals.

use switchboard_core::engine::ConnId;
use switchboard_shards::routing::agents::Presence;
use switchboard_shards::routing::dialogue::HandoffReason;
use switchboard_shards::routing::events::{RequeueReason, TransferTarget};
use switchboard_shards::routing::hybrid::AnyBrain;
use switchboard_shards::routing::kb::KnowledgeBase;
use switchboard_shards::routing::ngram::{NgramBrain, TrainConfig};
use switchboard_shards::routing::sentiment::STRONGLY_NEGATIVE_MAX;
use switchboard_shards::routing::shard::ConsoleRef;
use switchboard_shards::routing::shard::{
    QueueReason, RoutingInput, RoutingOutput, RoutingShard, RoutingShardConfig, RoutingShardError,
};
use switchboard_shards::routing::ticket::Priority;

/// Trains once per test binary; each shard gets a clone.
fn shard(config: RoutingShardConfig) -> RoutingShard {
    static TRAINED: std::sync::OnceLock<(KnowledgeBase, NgramBrain)> = std::sync::OnceLock::new();
    let (kb, brain) = TRAINED
        .get_or_init(|| {
            let kb = KnowledgeBase::builtin().expect("KB");
            let brain = NgramBrain::train(&kb, &TrainConfig::default()).expect("train");
            (kb, brain)
        })
        .clone();
    RoutingShard::with_brain(config, kb, AnyBrain::Ngram(brain)).expect("valid config")
}

fn group_of(shard: &RoutingShard, skill: &str) -> u32 {
    let group = shard.groups().iter().find(|g| g.skills[0] == skill);
    group.expect("a group per KB skill").id
}

/// The decisions about conversations, without the notices for agents' consoles (presence, inbox).
fn drain(shard: &mut RoutingShard) -> Vec<RoutingOutput> {
    drain_all(shard)
        .into_iter()
        .filter(|output| !matches!(output, RoutingOutput::ToAgents { .. }))
        .collect()
}

/// Every output, the notices for agents' consoles included.
fn drain_all(shard: &mut RoutingShard) -> Vec<RoutingOutput> {
    std::iter::from_fn(|| shard.poll_output()).collect()
}

fn say(
    shard: &mut RoutingShard,
    now_ms: u64,
    tenant: u64,
    conversation: u64,
    sequence: u64,
    text: &str,
) -> Vec<RoutingOutput> {
    let input = RoutingInput::CustomerMessage {
        tenant,
        conversation,
        customer: conversation + 1000,
        sequence,
        text: text.to_string(),
        customer_value: 0.5,
        raw: None,
    };
    shard.handle(now_ms, input).expect("message accepted");
    shard.invariants();
    drain(shard)
}

fn online(
    shard: &mut RoutingShard,
    now_ms: u64,
    tenant: u64,
    agent: u32,
    groups: &[u32],
    on: usize,
) -> Vec<RoutingOutput> {
    let input = RoutingInput::AgentOnline {
        tenant,
        agent,
        groups: groups.to_vec(),
        shard: on,
        console: ConsoleRef {
            shard: on,
            conn: ConnId::new(0, 0),
        },
    };
    shard.handle(now_ms, input).expect("agent accepted");
    shard.invariants();
    drain(shard)
}

fn offline(
    shard: &mut RoutingShard,
    now_ms: u64,
    tenant: u64,
    agent: u32,
    on: usize,
) -> Vec<RoutingOutput> {
    let input = RoutingInput::AgentOffline {
        tenant,
        agent,
        shard: on,
    };
    shard.handle(now_ms, input).expect("offline accepted");
    shard.invariants();
    drain(shard)
}

#[test]
fn a_knowledge_base_question_gets_a_bot_answer() {
    let mut s = shard(RoutingShardConfig::default());
    let out = say(&mut s, 0, 1, 10, 1, "三连是什么意思");
    match out.as_slice() {
        [RoutingOutput::BotMessage {
            tenant: 1,
            conversation: 10,
            text,
            intent,
            confidence,
        }] => {
            assert_eq!(intent, "culture_triple");
            assert!(*confidence >= 0.70);
            assert!(text.contains("三连"), "{text}");
        }
        other => panic!("expected one answer, got {other:?}"),
    }
    assert_eq!(s.counters().answers, 1);
    assert!(!s.is_with_humans(10));
}

#[test]
fn out_of_scope_is_queued_then_assigned_with_the_summary() {
    let mut s = shard(RoutingShardConfig::default());
    let general = s.default_group();
    let billing = group_of(&s, "billing");
    online(&mut s, 0, 1, 7, &[billing], 0);
    let out = say(&mut s, 100, 1, 20, 1, "qwzx plorf");
    match out.as_slice() {
        [RoutingOutput::Queued {
            group,
            priority,
            reason,
            summary,
            ..
        }] => {
            assert_eq!(*group, general);
            assert_eq!(*priority, Priority::Normal);
            assert_eq!(*reason, QueueReason::Handoff(HandoffReason::LowConfidence));
            assert_eq!(
                summary.as_ref().expect("summary").last_messages,
                ["qwzx plorf"]
            );
        }
        other => panic!("expected Queued only (no general agent yet), got {other:?}"),
    }
    // The customer writes again while waiting: no bot answer, but the summary grows.
    assert!(say(&mut s, 200, 1, 20, 2, "hello? anyone there").is_empty());
    let out = online(&mut s, 300, 1, 8, &[general], 2);
    match out.as_slice() {
        [RoutingOutput::Assigned {
            tenant: 1,
            conversation: 20,
            agent: 8,
            group,
            agent_shards,
            summary,
        }] => {
            assert_eq!(*group, general);
            assert_eq!(agent_shards, &[2]);
            let summary = summary.as_ref().expect("summary");
            assert_eq!(summary.last_messages, ["qwzx plorf", "hello? anyone there"]);
        }
        other => panic!("expected Assigned to agent 8, got {other:?}"),
    }
    let c = s.counters();
    assert_eq!(
        (c.handoffs_low_confidence, c.assignments, c.human_messages),
        (1, 1, 1)
    );
}

#[test]
fn an_angry_customer_goes_straight_to_a_human_and_keeps_the_agent() {
    let mut s = shard(RoutingShardConfig::default());
    let general = s.default_group();
    let all: Vec<u32> = s.groups().iter().map(|g| g.id).collect();
    online(&mut s, 0, 1, 1, &all, 0);
    let out = say(&mut s, 10, 1, 30, 1, "你们这帮骗子,马上退钱!!!");
    assert!(
        matches!(
            out.as_slice(),
            [
                RoutingOutput::Queued {
                    priority: Priority::Urgent,
                    reason: QueueReason::Handoff(HandoffReason::NegativeSentiment),
                    ..
                },
                RoutingOutput::Assigned { agent: 1, .. },
            ]
        ),
        "{out:?}"
    );
    let _ = general;
    // Angrier still, and a KB question: no bot answer, no re-routing, same agent.
    assert!(say(&mut s, 20, 1, 30, 2, "垃圾平台,我要投诉!!!").is_empty());
    assert!(say(&mut s, 30, 1, 30, 3, "三连是什么意思").is_empty());
    assert_eq!(s.router(1).and_then(|r| r.assigned_agent(30)), Some(1));
    assert_eq!(s.counters().answers, 0);
}

#[test]
fn a_waiting_customer_who_turns_angry_is_served_before_calmer_earlier_ones() {
    const ANGRY: &str = "你们这帮骗子,马上退钱!!!";
    let mut config = RoutingShardConfig::default();
    config.agents.capacity = 1;
    let mut s = shard(config);
    let general = s.default_group();
    // Three calm customers the bot cannot help wait for the general group, nobody online yet.
    for (now_ms, conversation) in [(100, 51), (200, 52), (300, 53)] {
        let out = say(&mut s, now_ms, 1, conversation, 1, "qwzx plorf");
        let queued = matches!(
            out.as_slice(),
            [RoutingOutput::Queued {
                priority: Priority::Normal,
                ..
            }]
        );
        assert!(queued, "{out:?}");
    }
    // A calm follow-up changes nothing; an angry one moves the latest arrival to the front, silently.
    assert!(say(&mut s, 400, 1, 53, 2, "hello? anyone there").is_empty());
    assert_eq!(s.counters().escalations, 0);
    assert!(say(&mut s, 500, 1, 53, 3, ANGRY).is_empty());
    let router = s.router(1).expect("tenant router");
    assert_eq!(router.waiting(general), [53, 51, 52]);
    assert_eq!(
        router.request(53).map(|r| r.priority),
        Some(Priority::Urgent)
    );
    // Already urgent: no second escalation.
    assert!(say(&mut s, 600, 1, 53, 4, ANGRY).is_empty());
    let c = s.counters();
    assert_eq!(
        (c.escalations, c.human_messages, c.classifications),
        (1, 3, 3)
    );
    // An agent with room for one comes online: the angry customer first, the anger in the summary.
    match online(&mut s, 700, 1, 8, &[general], 0).as_slice() {
        [RoutingOutput::Assigned {
            conversation: 53,
            agent: 8,
            summary,
            ..
        }] => {
            let summary = summary.as_ref().expect("summary");
            assert!(summary.sentiment <= STRONGLY_NEGATIVE_MAX, "{summary:?}");
        }
        other => panic!("expected the angry customer assigned first, got {other:?}"),
    }
    // Then the calm ones in arrival order as the agent frees up.
    for (now_ms, done, next) in [(800, 53, 51), (900, 51, 52)] {
        let resolve = RoutingInput::ConversationResolved {
            tenant: 1,
            conversation: done,
        };
        s.handle(now_ms, resolve).expect("resolved");
        s.invariants();
        let out = drain(&mut s);
        let assigned = matches!(
            out.as_slice(),
            [RoutingOutput::Assigned { conversation, .. }] if *conversation == next
        );
        assert!(assigned, "{out:?}");
    }
}

#[test]
fn slot_filling_across_two_messages_opens_a_ticket() {
    let mut s = shard(RoutingShardConfig::default());
    let out = say(&mut s, 0, 1, 40, 1, "我要退款,昨天买错了课程");
    match out.as_slice() {
        [RoutingOutput::BotMessage { intent, text, .. }] => {
            assert_eq!(intent, "refund");
            assert!(text.contains("订单号"), "{text}");
        }
        other => panic!("expected the order-number question, got {other:?}"),
    }
    let out = say(&mut s, 1_000, 1, 40, 2, "202403150001234567");
    match out.as_slice() {
        [RoutingOutput::Ticket {
            conversation: 40,
            ticket,
            ..
        }, RoutingOutput::BotMessage { intent, text, .. }] => {
            assert_eq!(ticket.category, "refund");
            assert_eq!(
                ticket.fields,
                vec![("order_id".to_string(), "202403150001234567".to_string())]
            );
            assert_eq!(intent, "refund");
            assert!(text.contains("202403150001234567"), "{text}");
        }
        other => panic!("expected Ticket then answer, got {other:?}"),
    }
    let c = s.counters();
    assert_eq!((c.slot_questions, c.tickets, c.answers), (1, 1, 1));
    // A redelivered message is ignored.
    assert!(say(&mut s, 1_100, 1, 40, 2, "202403150001234567").is_empty());
    assert_eq!(s.counters().duplicate_messages, 1);
}

#[test]
fn an_agent_offline_beyond_the_grace_period_loses_the_conversation() {
    let mut config = RoutingShardConfig::default();
    config.router.disconnect_grace_ms = 5_000;
    let mut s = shard(config);
    let general = s.default_group();
    online(&mut s, 0, 1, 1, &[general], 0);
    online(&mut s, 0, 1, 1, &[general], 1);
    let out = say(&mut s, 0, 1, 50, 1, "转人工");
    assert!(
        matches!(out.last(), Some(RoutingOutput::Assigned { agent: 1, .. })),
        "{out:?}"
    );
    // One of two connections closes: still online, nothing moves.
    assert!(offline(&mut s, 1_000, 1, 1, 0).is_empty());
    // The second closes: offline, but within the grace period the agent keeps the conversation.
    assert!(offline(&mut s, 2_000, 1, 1, 1).is_empty());
    s.tick(6_999);
    assert!(drain(&mut s).is_empty());
    s.tick(7_000);
    let out = drain(&mut s);
    assert!(
        matches!(
            out.as_slice(),
            [
                RoutingOutput::Requeued {
                    conversation: 50,
                    agent: 1,
                    reason: RequeueReason::AgentDisconnected,
                    ..
                },
                RoutingOutput::Queued {
                    conversation: 50,
                    reason: QueueReason::Requeued(RequeueReason::AgentDisconnected),
                    summary: Some(_),
                    ..
                },
            ]
        ),
        "{out:?}"
    );
    let out = online(&mut s, 8_000, 1, 2, &[general], 3);
    assert!(
        matches!(
            out.as_slice(),
            [RoutingOutput::Assigned {
                agent: 2,
                conversation: 50,
                ..
            }]
        ),
        "{out:?}"
    );
    // Agent 1 going offline once more is unmatched: ignored and counted, not a panic.
    assert!(offline(&mut s, 9_000, 1, 1, 0).is_empty());
    assert_eq!(s.counters().inputs_ignored, 1);
    assert_eq!(s.counters().requeues_disconnected, 1);
}

#[test]
fn agent_shards_lists_every_shard_with_a_connection() {
    let mut s = shard(RoutingShardConfig::default());
    let general = s.default_group();
    online(&mut s, 0, 1, 5, &[general], 3);
    online(&mut s, 0, 1, 5, &[general], 0);
    online(&mut s, 0, 1, 5, &[general], 3);
    let out = say(&mut s, 0, 1, 60, 1, "转人工");
    match out.last() {
        Some(RoutingOutput::Assigned { agent_shards, .. }) => assert_eq!(agent_shards, &[0, 3]),
        other => panic!("expected Assigned, got {other:?}"),
    }
    offline(&mut s, 1, 1, 5, 0);
    let out = say(&mut s, 2, 1, 61, 1, "转人工");
    match out.last() {
        Some(RoutingOutput::Assigned { agent_shards, .. }) => assert_eq!(agent_shards, &[3]),
        other => panic!("expected Assigned, got {other:?}"),
    }
}

#[test]
fn tenants_never_mix() {
    let mut s = shard(RoutingShardConfig::default());
    let general = s.default_group();
    online(&mut s, 0, 1, 1, &[general], 0);
    let out = say(&mut s, 0, 2, 70, 1, "转人工");
    assert!(
        matches!(out.as_slice(), [RoutingOutput::Queued { tenant: 2, .. }]),
        "tenant 1's agent must not take it: {out:?}"
    );
    let out = online(&mut s, 10, 2, 1, &[general], 1);
    assert!(
        matches!(out.as_slice(), [RoutingOutput::Assigned { tenant: 2, agent: 1, agent_shards, .. }] if agent_shards == &[1]),
        "{out:?}"
    );
    // The same conversation id under another tenant is refused.
    let input = RoutingInput::CustomerMessage {
        tenant: 1,
        conversation: 70,
        customer: 1,
        sequence: 9,
        text: "hi".into(),
        customer_value: 0.5,
        raw: None,
    };
    assert_eq!(
        s.handle(20, input),
        Err(RoutingShardError::TenantMismatch {
            conversation: 70,
            owner: 2,
            tenant: 1
        })
    );
    let resolve = RoutingInput::ConversationResolved {
        tenant: 1,
        conversation: 70,
    };
    assert!(matches!(
        s.handle(20, resolve),
        Err(RoutingShardError::TenantMismatch { .. })
    ));
    assert_eq!(s.tenants(), 2);
}

#[test]
fn reply_timeout_sets_the_agent_away_and_transfers_work() {
    let mut config = RoutingShardConfig::default();
    config.router.reply_timeout_ms = 10_000;
    let mut s = shard(config);
    let general = s.default_group();
    let billing = group_of(&s, "billing");
    online(&mut s, 0, 1, 1, &[general, billing], 0);
    say(&mut s, 0, 1, 80, 1, "转人工");
    s.tick(10_000);
    let out = drain_all(&mut s);
    assert!(
        matches!(
            out.as_slice(),
            [
                RoutingOutput::ToAgents { frame, .. },
                RoutingOutput::Requeued {
                    reason: RequeueReason::ReplyTimeout,
                    ..
                },
                RoutingOutput::Queued { .. },
            ] if matches!(
                &frame.message,
                switchboard_protocol::app::Message::Presence(p)
                    if p.presence == switchboard_protocol::app::PresenceState::AWAY
            )
        ),
        "{out:?}"
    );
    // Back online from the console: takes it again, replies, then transfers it to billing.
    let presence = RoutingInput::AgentSetPresence {
        tenant: 1,
        agent: 1,
        presence: Presence::Online,
    };
    s.handle(11_000, presence).expect("known agent");
    assert!(matches!(
        drain_all(&mut s).as_slice(),
        [
            RoutingOutput::Assigned { agent: 1, .. },
            RoutingOutput::ToAgents { .. }
        ]
    ));
    s.handle(
        12_000,
        RoutingInput::AgentReplied {
            tenant: 1,
            agent: 1,
            conversation: 80,
        },
    )
    .expect("assigned");
    let transfer = RoutingInput::Transfer {
        tenant: 1,
        conversation: 80,
        target: TransferTarget::Group(billing),
    };
    s.handle(13_000, transfer).expect("transfer");
    let out = drain(&mut s);
    assert!(
        matches!(
            out.as_slice(),
            [
                RoutingOutput::Transferred {
                    from_agent: Some(1),
                    ..
                },
                RoutingOutput::Queued {
                    reason: QueueReason::Transferred,
                    ..
                },
                RoutingOutput::Assigned { agent: 1, .. },
            ]
        ),
        "{out:?}"
    );
    // A new assignment restarts the reply timer; replying stops it.
    s.handle(
        14_000,
        RoutingInput::AgentReplied {
            tenant: 1,
            agent: 1,
            conversation: 80,
        },
    )
    .expect("assigned");
    s.tick(100_000);
    assert!(drain(&mut s).is_empty(), "the reply timer stopped");
    s.handle(
        101_000,
        RoutingInput::ConversationResolved {
            tenant: 1,
            conversation: 80,
        },
    )
    .expect("resolve");
    assert_eq!(s.conversations_tracked(), 0);
    assert_eq!(s.router(1).map(|r| r.conversations_tracked()), Some(0));
}

/// Found by the chat simulator (seed 1005, one shard): after a restart the routing shard (memory only)
/// no longer knew the conversations waiting for or held by humans, so nobody was ever assigned them.
/// Their owners now restore them; a restored conversation is queued to its group and assigned to the
/// next agent that comes online; restoring one already with humans changes nothing.
#[test]
fn a_restored_conversation_is_queued_and_assigned_again() {
    let mut shard = shard(RoutingShardConfig::default());
    let group = group_of(&shard, "billing");
    let restore = RoutingInput::Restore {
        tenant: 1,
        conversation: 77,
        customer: 1077,
        group,
    };
    shard.handle(10, restore.clone()).unwrap();
    let out = drain(&mut shard);
    assert!(
        matches!(out.as_slice(), [RoutingOutput::Queued { conversation: 77, group: g, .. }] if *g == group),
        "{out:?}"
    );
    assert!(shard.is_with_humans(77));
    let out = online(&mut shard, 20, 1, 5, &[group], 0);
    assert!(
        out.iter().any(|o| matches!(
            o,
            RoutingOutput::Assigned {
                conversation: 77,
                agent: 5,
                ..
            }
        )),
        "{out:?}"
    );
    shard.handle(30, restore).unwrap();
    assert!(
        drain(&mut shard).is_empty(),
        "already with humans: nothing changes"
    );
    assert_eq!(shard.counters().restored, 1);
    // An unknown group falls back to the default group.
    let unknown = RoutingInput::Restore {
        tenant: 1,
        conversation: 78,
        customer: 1078,
        group: 9_999,
    };
    shard.handle(40, unknown).unwrap();
    let default = shard.default_group();
    assert!(drain(&mut shard).iter().any(
        |o| matches!(o, RoutingOutput::Queued { conversation: 78, group, .. } | RoutingOutput::Assigned { conversation: 78, group, .. } if *group == default)
    ));
}
