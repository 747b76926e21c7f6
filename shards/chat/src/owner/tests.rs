//! The owner without sockets: acks only after the commit, de-duplication, retention gaps on resume, the
//! customer value handed to the routing shard.

use switchboard_core::engine::ConnId;
use switchboard_protocol::app::{GapReason, Message, MessageId};

use super::{Outbound, Owner};
use crate::messages::{ConnRef, Request};
use crate::ChatConfig;
use switchboard_auth::{Claims, Role};
use switchboard_log::{Durability, LogConfig, MemoryStorage, ShardLog};
use switchboard_pii::PiiPolicy;

fn owner(config: LogConfig) -> Owner<MemoryStorage> {
    let (log, _) = ShardLog::open(config, MemoryStorage::new()).unwrap();
    let chat = ChatConfig {
        routing_enabled: false,
        ..ChatConfig::default()
    };
    Owner::new(0, 1, chat, PiiPolicy::default(), log).unwrap()
}

pub(super) fn customer() -> Claims {
    Claims {
        key_id: "k".into(),
        tenant: 1,
        user: 7,
        role: Role::Customer,
        groups: Vec::new(),
        value_percent: None,
        issued_at_s: 0,
        expires_at_s: u64::MAX,
    }
}

pub(super) const FROM: ConnRef = ConnRef {
    shard: 0,
    conn: ConnId::new(3, 1),
};

pub(super) fn send(owner: &mut Owner<MemoryStorage>, conversation: u64, n: u8, create: bool) {
    let request = Request::Send {
        message_id: MessageId([n; 16]),
        conversation,
        create,
        text: std::sync::Arc::new(format!("message {n}")),
        received_us: 0,
    };
    owner.handle(FROM, &customer(), request, 1_000 + u64::from(n));
}

/// Drains the outputs and returns the frames replied to `FROM`.
pub(super) fn replies(owner: &mut Owner<MemoryStorage>) -> Vec<Message> {
    let mut frames = Vec::new();
    while let Some(output) = owner.poll_output() {
        match output {
            Outbound::Reply(reply) => {
                frames.extend(reply.frames.into_iter().map(|frame| frame.message));
            }
            Outbound::Ack(ack) => frames.push(ack.frame().message),
            _ => {}
        }
    }
    frames
}

#[test]
fn acks_wait_for_the_commit_and_retries_get_the_original_ack() {
    let mut owner = owner(LogConfig::default());
    send(&mut owner, 5, 1, true);
    assert!(replies(&mut owner).is_empty(), "no ack before the commit");
    owner.commit().unwrap();
    let acks = replies(&mut owner);
    assert!(
        matches!(&acks[..], [Message::Ack(ack)] if ack.sequence == 1 && ack.conversation_id == 5)
    );
    // A retry before and after the commit: the same sequence, no second record.
    send(&mut owner, 5, 2, false);
    send(&mut owner, 5, 2, false);
    owner.commit().unwrap();
    send(&mut owner, 5, 2, false);
    let acks: Vec<u64> = replies(&mut owner)
        .into_iter()
        .map(|m| match m {
            Message::Ack(ack) => ack.sequence,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(acks, [2, 2, 2]);
    assert_eq!(owner.counters().messages_stored, 2);
    assert_eq!(owner.counters().duplicates, 2);
}

#[test]
fn resume_reports_messages_removed_by_retention_as_a_gap() {
    let mut config = LogConfig {
        durability: Durability::Buffered,
        segment_bytes_max: 1_024,
        payload_bytes_max: 512,
        retention_bytes_max: Some(2_048),
        retention_ms: None,
        ..LogConfig::default()
    };
    config.data_dir = "unused".into();
    let mut owner = owner(config);
    send(&mut owner, 9, 1, true);
    for n in 2..=60 {
        send(&mut owner, 9, n, false);
        owner.commit().unwrap();
    }
    replies(&mut owner);
    let report = owner.retain(10_000).unwrap();
    assert!(report.segments > 0, "old segments deleted");
    owner.handle(
        FROM,
        &customer(),
        Request::Resume {
            conversation: 9,
            last_sequence: 0,
        },
        20_000,
    );
    let frames = replies(&mut owner);
    let Message::Gap(gap) = &frames[0] else {
        panic!("expected a gap first, got {:?}", frames[0]);
    };
    assert_eq!((gap.from_sequence, gap.reason), (1, GapReason::EXPIRED));
    let delivered: Vec<u64> = frames
        .iter()
        .filter_map(|m| match m {
            Message::Deliver(d) => Some(d.sequence),
            _ => None,
        })
        .collect();
    assert_eq!(delivered.first(), Some(&(gap.to_sequence + 1)));
    assert_eq!(delivered.last(), Some(&60));
    assert!(delivered.windows(2).all(|w| w[1] == w[0] + 1));
}

#[test]
fn the_routing_shard_gets_the_customer_value_from_the_token() {
    let (log, _) = ShardLog::open(LogConfig::default(), MemoryStorage::new()).unwrap();
    let mut owner = Owner::new(0, 1, ChatConfig::default(), PiiPolicy::default(), log).unwrap();
    let values = |owner: &mut Owner<MemoryStorage>| {
        let mut values = Vec::new();
        while let Some(output) = owner.poll_output() {
            if let Outbound::CustomerMessage { customer_value, .. } = output {
                values.push(customer_value);
            }
        }
        values
    };
    for (n, (rating, expected)) in [(Some(80), 0.8), (None, super::UNRATED_CUSTOMER_VALUE)]
        .into_iter()
        .enumerate()
    {
        let principal = Claims {
            user: 100 + n as u64,
            value_percent: rating,
            ..customer()
        };
        let request = Request::Send {
            message_id: MessageId([n as u8 + 1; 16]),
            conversation: 40 + n as u64,
            create: true,
            text: std::sync::Arc::new("where is my refund".into()),
            received_us: 0,
        };
        owner.handle(FROM, &principal, request, 1_000);
        owner.commit().unwrap();
        assert_eq!(values(&mut owner), [expected]);
    }
}

/// A shard's `Unfollow` that crossed a newer join of that shard on the rings (it was sent before the
/// shard was added again, e.g. for an agent just assigned there) must not drop the shard: its
/// connections would miss the conversation's messages and typing.
#[test]
fn a_stale_unfollow_does_not_drop_a_shard_that_joined_again() {
    let (log, _) = ShardLog::open(LogConfig::default(), MemoryStorage::new()).unwrap();
    let chat = ChatConfig {
        routing_enabled: false,
        ..ChatConfig::default()
    };
    let mut owner = Owner::new(0, 2, chat, PiiPolicy::default(), log).unwrap();
    send(&mut owner, 0, 1, true);
    owner.commit().unwrap();
    let conversation = *owner.conversations.keys().next().unwrap();
    let epoch = owner.conversations[&conversation].interest_epoch;
    owner.unfollow(conversation, 1, epoch);
    assert!(!owner.conversations[&conversation].interest.contains(1));
    // Shard 1 asks again (it joins), while its next unfollow, sent before, is still on the ring.
    let from_shard_1 = ConnRef {
        shard: 1,
        conn: ConnId::new(9, 0),
    };
    let typing = Request::Typing {
        conversation,
        active: true,
    };
    owner.handle(from_shard_1, &customer(), typing, 3_000);
    assert!(owner.conversations[&conversation].interest.contains(1));
    owner.unfollow(conversation, 1, epoch);
    assert!(
        owner.conversations[&conversation].interest.contains(1),
        "the stale unfollow is ignored"
    );
    let current = owner.conversations[&conversation].interest_epoch;
    owner.unfollow(conversation, 1, current);
    assert!(!owner.conversations[&conversation].interest.contains(1));
}
