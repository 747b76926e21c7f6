//! Router escalation: a waiting conversation's priority raised in place (ahead of calmer customers, behind
//! earlier arrivals of the same priority), an assigned one keeping its agent, no-ops, errors and replay.

use switchboard_shards::routing::agents::{AgentSpec, GroupSpec, Presence};
use switchboard_shards::routing::events::{
    HandoffRequest, RouterEvent, RouterInput, TransferTarget,
};
use switchboard_shards::routing::router::{Router, RouterConfig, RouterError};
use switchboard_shards::routing::ticket::Priority;

const BILLING: u32 = 1;
const TECH: u32 = 2;
const AGENT: u32 = 10;

fn router() -> Router {
    let mut r = Router::new(RouterConfig::default()).expect("valid config");
    for (id, skill) in [(BILLING, "billing"), (TECH, "tech")] {
        let spec = GroupSpec {
            id,
            skill: skill.into(),
        };
        r.handle(0, RouterInput::AddGroup(spec)).expect("group");
    }
    let spec = AgentSpec {
        id: AGENT,
        groups: vec![BILLING, TECH],
        skills: vec![("billing".into(), 1.0), ("tech".into(), 1.0)],
        seniority: 0.5,
        capacity: 1,
    };
    r.handle(0, RouterInput::AddAgent(spec)).expect("agent");
    r
}

fn enqueue(r: &mut Router, now: u64, conversation: u64, priority: Priority) {
    let request = HandoffRequest {
        conversation,
        group: BILLING,
        skill: "billing".into(),
        customer_value: 0.5,
        priority,
        summary: None,
    };
    r.handle(now, RouterInput::Enqueue(request))
        .expect("enqueue");
}

fn escalate(
    r: &mut Router,
    now: u64,
    conversation: u64,
    priority: Priority,
) -> Result<(), RouterError> {
    let input = RouterInput::Escalate {
        conversation,
        priority,
    };
    let result = r.handle(now, input);
    r.invariants();
    result
}

fn set_presence(r: &mut Router, now: u64, presence: Presence) {
    let input = RouterInput::SetPresence {
        agent: AGENT,
        presence,
    };
    r.handle(now, input).expect("presence");
}

fn drain(r: &mut Router) -> Vec<RouterEvent> {
    std::iter::from_fn(|| r.poll_event()).collect()
}

fn assigned(events: &[RouterEvent]) -> Vec<u64> {
    let assigned = events.iter().filter_map(|e| match e {
        RouterEvent::Assigned { conversation, .. } => Some(*conversation),
        _ => None,
    });
    assigned.collect()
}

/// Urgent 1 (t=1), normal 2 (t=2), normal 3 (t=3), urgent 4 (t=4), normal 5 (t=5), nobody online.
fn backlog() -> Router {
    let mut r = router();
    enqueue(&mut r, 1, 1, Priority::Urgent);
    enqueue(&mut r, 2, 2, Priority::Normal);
    enqueue(&mut r, 3, 3, Priority::Normal);
    enqueue(&mut r, 4, 4, Priority::Urgent);
    enqueue(&mut r, 5, 5, Priority::Normal);
    assert_eq!(r.waiting(BILLING), [1, 4, 2, 3, 5]);
    drain(&mut r);
    r
}

#[test]
fn a_waiting_conversation_moves_ahead_of_calmer_earlier_arrivals_only() {
    let mut r = backlog();
    escalate(&mut r, 10, 5, Priority::Urgent).expect("waiting");
    assert_eq!(
        drain(&mut r),
        [RouterEvent::Escalated {
            conversation: 5,
            from: Priority::Normal,
            to: Priority::Urgent,
            waiting_in: Some(BILLING),
        }]
    );
    // Ahead of normal 2 and 3 who came earlier, behind urgent 1 and 4 who came earlier too.
    assert_eq!(r.waiting(BILLING), [1, 4, 5, 2, 3]);
    assert_eq!(r.request(5).map(|q| q.priority), Some(Priority::Urgent));
    // Served in that order, and the wait is measured from the original arrival.
    set_presence(&mut r, 20, Presence::Online);
    let mut order: Vec<u64> = Vec::new();
    let mut waited_of_5 = None;
    for now in 21..26 {
        let events = drain(&mut r);
        for e in &events {
            if let RouterEvent::Assigned {
                conversation: 5,
                waited_ms,
                ..
            } = e
            {
                waited_of_5 = Some(*waited_ms);
            }
        }
        let served = assigned(&events);
        assert_eq!(served.len(), 1, "capacity 1: one at a time");
        order.extend(&served);
        r.handle(
            now,
            RouterInput::Close {
                conversation: served[0],
            },
        )
        .expect("close");
    }
    assert_eq!(order, [1, 4, 5, 2, 3]);
    assert_eq!(waited_of_5, Some(22 - 5), "served at t=22, arrived at t=5");
}

#[test]
fn a_partial_escalation_lands_between_the_priorities() {
    let mut r = router();
    enqueue(&mut r, 1, 1, Priority::High);
    enqueue(&mut r, 2, 2, Priority::Normal);
    enqueue(&mut r, 3, 3, Priority::Low);
    escalate(&mut r, 4, 3, Priority::Normal).expect("waiting");
    assert_eq!(r.waiting(BILLING), [1, 2, 3], "behind the earlier normal");
    escalate(&mut r, 5, 3, Priority::High).expect("waiting");
    assert_eq!(r.waiting(BILLING), [1, 3, 2], "behind the earlier high");
}

#[test]
fn equal_or_lower_priority_is_a_no_op() {
    let mut r = backlog();
    let before = r.decisions().count();
    escalate(&mut r, 10, 2, Priority::Normal).expect("equal");
    escalate(&mut r, 11, 2, Priority::Low).expect("lower");
    escalate(&mut r, 12, 1, Priority::High).expect("lower than urgent");
    assert!(drain(&mut r).is_empty(), "no decision");
    assert_eq!(r.decisions().count(), before);
    assert_eq!(r.waiting(BILLING), [1, 4, 2, 3, 5]);
    assert_eq!(r.request(1).map(|q| q.priority), Some(Priority::Urgent));
}

#[test]
fn an_assigned_conversation_keeps_its_agent_and_is_requeued_at_the_raised_priority() {
    let mut r = router();
    set_presence(&mut r, 0, Presence::Online);
    enqueue(&mut r, 1, 1, Priority::Normal);
    enqueue(&mut r, 2, 2, Priority::High);
    assert_eq!(r.assigned_agent(1), Some(AGENT));
    assert_eq!(r.waiting(BILLING), [2]);
    drain(&mut r);
    escalate(&mut r, 3, 1, Priority::Urgent).expect("assigned");
    assert_eq!(
        drain(&mut r),
        [RouterEvent::Escalated {
            conversation: 1,
            from: Priority::Normal,
            to: Priority::Urgent,
            waiting_in: None,
        }]
    );
    assert_eq!(r.assigned_agent(1), Some(AGENT), "keeps the agent");
    assert_eq!(r.waiting(BILLING), [2]);
    // Sent back to the queue, it comes back urgent with its first arrival time: ahead of the high one.
    let input = RouterInput::Transfer {
        conversation: 1,
        target: TransferTarget::Group(BILLING),
    };
    set_presence(&mut r, 4, Presence::Away);
    r.handle(5, input).expect("transfer");
    r.invariants();
    let queued = drain(&mut r).into_iter().find_map(|e| match e {
        RouterEvent::Queued {
            conversation: 1,
            priority,
            enqueued_at_ms,
            ..
        } => Some((priority, enqueued_at_ms)),
        _ => None,
    });
    assert_eq!(queued, Some((Priority::Urgent, 1)));
    assert_eq!(r.waiting(BILLING), [1, 2]);
}

#[test]
fn an_unknown_conversation_is_a_typed_error_and_changes_nothing() {
    let mut r = backlog();
    assert_eq!(
        escalate(&mut r, 10, 99, Priority::Urgent),
        Err(RouterError::UnknownConversation(99))
    );
    r.handle(11, RouterInput::Close { conversation: 3 })
        .expect("close");
    drain(&mut r);
    assert_eq!(
        escalate(&mut r, 12, 3, Priority::Urgent),
        Err(RouterError::UnknownConversation(3)),
        "closed"
    );
    assert!(drain(&mut r).is_empty());
    assert_eq!(r.waiting(BILLING), [1, 4, 2, 5]);
}

#[test]
fn escalations_are_in_the_log_and_replay_to_the_same_decisions() {
    let mut r = backlog();
    escalate(&mut r, 10, 3, Priority::Urgent).expect("waiting");
    escalate(&mut r, 11, 2, Priority::High).expect("waiting");
    let _ = escalate(&mut r, 12, 99, Priority::Urgent);
    set_presence(&mut r, 13, Presence::Online);
    assert_eq!(assigned(&drain(&mut r)), [1]);
    let escalations = r
        .event_log()
        .filter(|t| matches!(t.input, RouterInput::Escalate { .. }))
        .count();
    assert_eq!(escalations, 3, "refused inputs are logged too");
    let replayed = Router::replay(RouterConfig::default(), r.event_log()).expect("config");
    assert!(r.decisions().eq(replayed.decisions()));
    assert_eq!(
        replayed.waiting(BILLING),
        [3, 4, 2, 5],
        "3 arrived before 4"
    );
}
