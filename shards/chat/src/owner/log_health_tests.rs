//! The owner over a failing or damaged log: a full disk degrades it (sends refused with `overloaded`,
//! retried with backoff, the waiting messages committed by the retry with their original sequences), and
//! damage found by recovery comes back from `resume` as a `damaged` gap whose sequences are never reused.

use switchboard_protocol::app::{ErrorCode, GapReason, Message};

use super::tests::{customer, replies, send, FROM};
use super::{Outbound, Owner, LOG_RETRY_DELAY_MS_MIN};
use crate::messages::Request;
use crate::ChatConfig;
use switchboard_log::record::decode;
use switchboard_log::{LogConfig, MemoryStorage, ShardLog};
use switchboard_pii::PiiPolicy;

fn owner_over(storage: &MemoryStorage) -> Owner<MemoryStorage> {
    let (log, _) = ShardLog::open(LogConfig::default(), storage.clone()).unwrap();
    let chat = ChatConfig {
        routing_enabled: false,
        ..ChatConfig::default()
    };
    Owner::new(0, 1, chat, PiiPolicy::default(), log).unwrap()
}

/// The sequences acked, and the error codes, among `messages`.
fn acks_and_errors(messages: &[Message]) -> (Vec<u64>, Vec<ErrorCode>) {
    let acks = messages
        .iter()
        .filter_map(|m| match m {
            Message::Ack(ack) => Some(ack.sequence),
            _ => None,
        })
        .collect();
    let errors = messages
        .iter()
        .filter_map(|m| match m {
            Message::Error(error) => {
                assert!(
                    error.retry_after_ms.is_some(),
                    "a retryable refusal: {error:?}"
                );
                Some(error.code)
            }
            _ => None,
        })
        .collect();
    (acks, errors)
}

#[test]
fn a_full_disk_degrades_the_owner_until_a_retry_commits_what_was_waiting() {
    let storage = MemoryStorage::new();
    let mut owner = owner_over(&storage);
    send(&mut owner, 5, 1, true);
    owner.commit().unwrap();
    assert_eq!(acks_and_errors(&replies(&mut owner)).0, [1]);

    storage.set_capacity_bytes(Some(storage.used_bytes()));
    send(&mut owner, 5, 2, false);
    send(&mut owner, 5, 3, false);
    assert!(owner.commit().is_err());
    assert!(owner.log_degraded());
    // The waiting senders are told to retry; nothing is acked.
    let overloaded = vec![ErrorCode::OVERLOADED; 2];
    assert_eq!(
        acks_and_errors(&replies(&mut owner)),
        (vec![], overloaded.clone())
    );
    // While degraded: a new send and a retry of a waiting one are refused, no commit is due.
    send(&mut owner, 5, 4, false);
    send(&mut owner, 5, 2, false);
    assert_eq!(acks_and_errors(&replies(&mut owner)), (vec![], overloaded));
    assert!(!owner.commit_due());
    assert_eq!(owner.commit(), Err(switchboard_log::LogError::Failed));

    // Retries follow the backoff; while the disk is full they fail.
    owner.retry_log(1_000);
    assert_eq!(
        owner.log_retry_due_ms(),
        Some(1_000 + LOG_RETRY_DELAY_MS_MIN)
    );
    owner.retry_log(1_000 + LOG_RETRY_DELAY_MS_MIN);
    assert_eq!(owner.counters().log_retries, 1);
    let next = owner.log_retry_due_ms().unwrap();
    assert_eq!(
        next,
        1_000 + 3 * LOG_RETRY_DELAY_MS_MIN,
        "the delay doubles"
    );

    // Space returns: the next due retry commits the waiting messages with their sequences.
    storage.set_capacity_bytes(None);
    owner.retry_log(next - 1);
    assert!(owner.log_degraded(), "not before the backoff");
    owner.retry_log(next);
    assert!(!owner.log_degraded());
    let mut delivered = Vec::new();
    while let Some(output) = owner.poll_output() {
        if let Outbound::Deliver { delivery, .. } = output {
            if let Message::Deliver(deliver) = &delivery.frame.message {
                delivered.push(deliver.sequence);
            }
        }
    }
    assert_eq!(delivered, [2, 3]);
    // The client's retries: the original ack for the waiting message, a new sequence for the refused one.
    send(&mut owner, 5, 2, false);
    send(&mut owner, 5, 4, false);
    owner.commit().unwrap();
    assert_eq!(acks_and_errors(&replies(&mut owner)), (vec![2, 4], vec![]));
    let counters = owner.counters();
    assert_eq!((counters.log_errors, counters.log_refused), (1, 4));
    assert_eq!(counters.messages_stored, 4);
    drop(owner);
    let (log, report) = ShardLog::open(LogConfig::default(), storage).unwrap();
    assert!(report.corrupt.is_empty());
    let sequences: Vec<u64> = log
        .read(5, 1, u64::MAX, usize::MAX)
        .unwrap()
        .iter()
        .map(|r| r.header.sequence)
        .collect();
    assert_eq!(sequences, [1, 2, 3, 4], "each once, no hole");
}

/// Flips a payload byte of the records of `conversation` with these `sequences`.
fn damage(storage: &MemoryStorage, conversation: u64, sequences: &[u64]) {
    let mut damaged = 0;
    for (base, mut bytes) in storage.segments() {
        let mut offset = 0;
        let mut flips = Vec::new();
        while let Ok(Some((header, _, used))) = decode(&bytes[offset..], 1 << 16) {
            if header.conversation_id == conversation && sequences.contains(&header.sequence) {
                flips.push(offset + used - 1);
            }
            offset += used;
        }
        for &at in &flips {
            bytes[at] ^= 0x20;
        }
        damaged += flips.len();
        storage.set_segment(base, bytes);
    }
    assert_eq!(damaged, sequences.len());
}

fn resume(owner: &mut Owner<MemoryStorage>, conversation: u64) -> Vec<Message> {
    let request = Request::Resume {
        conversation,
        last_sequence: 0,
    };
    owner.handle(FROM, &customer(), request, 50_000);
    replies(owner)
}

#[test]
fn damaged_records_come_back_as_damaged_gaps_and_their_sequences_are_never_reused() {
    let storage = MemoryStorage::new();
    let mut owner = owner_over(&storage);
    send(&mut owner, 9, 1, true);
    for n in 2..=10 {
        send(&mut owner, 9, n, false);
    }
    // Another conversation's records follow, so the damage is inside the log, not its torn end.
    send(&mut owner, 8, 100, true);
    send(&mut owner, 8, 101, false);
    owner.commit().unwrap();
    drop(owner);
    damage(&storage, 9, &[5, 10]);
    let mut owner = owner_over(&storage);
    assert!(owner.counters().log_damaged >= 2);
    let frames = resume(&mut owner, 9);
    let gaps: Vec<(u64, u64, GapReason)> = frames
        .iter()
        .filter_map(|m| match m {
            Message::Gap(gap) => Some((gap.from_sequence, gap.to_sequence, gap.reason)),
            _ => None,
        })
        .collect();
    let delivered: Vec<u64> = frames
        .iter()
        .filter_map(|m| match m {
            Message::Deliver(d) => Some(d.sequence),
            _ => None,
        })
        .collect();
    assert_eq!(delivered, [1, 2, 3, 4, 6, 7, 8, 9]);
    assert_eq!(gaps[0], (5, 5, GapReason::DAMAGED));
    // The lost newest record may have been 10 (or more): the tail is a damaged gap, never reused.
    let (from, to, reason) = gaps[1];
    assert_eq!((from, reason), (10, GapReason::DAMAGED));
    assert!(to >= 10);
    send(&mut owner, 9, 11, false);
    owner.commit().unwrap();
    let (acks, _) = acks_and_errors(&replies(&mut owner));
    assert_eq!(acks, [to + 1]);
    // Conversation 8 lost nothing and keeps its numbering.
    let frames = resume(&mut owner, 8);
    assert!(
        frames.iter().all(|m| !matches!(m, Message::Gap(_))),
        "{frames:?}"
    );
}
