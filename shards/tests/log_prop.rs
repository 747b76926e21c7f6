//! Property test of the durable log's crash safety: after any sequence of appends, commits and crashes
//! (each file cut at a random point after its last sync), recovery yields exactly a prefix of what was
//! appended, and that prefix contains every committed record.

use proptest::prelude::*;
use switchboard_shards::log::{Durability, LogConfig, MemoryStorage, RecordHeader, ShardLog};

#[derive(Debug, Clone)]
enum Op {
    /// Append a record of `payload_bytes` to conversation `conversation`.
    Append {
        conversation: u64,
        payload_bytes: usize,
    },
    /// Commit (write + fdatasync).
    Commit,
    /// Crash: drop the log without committing, cut every file after its synced length, reopen.
    Crash { seed: u64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0..4u64, 0..150usize).prop_map(|(conversation, payload_bytes)| Op::Append {
            conversation,
            payload_bytes,
        }),
        2 => Just(Op::Commit),
        1 => any::<u64>().prop_map(|seed| Op::Crash { seed }),
    ]
}

fn config() -> LogConfig {
    LogConfig {
        durability: Durability::Fsync,
        segment_bytes_max: 1_024,
        payload_bytes_max: 150,
        write_buffer_bytes_max: 512,
        dedup_window_max: 64,
        retention_ms: None,
        retention_bytes_max: None,
        ..LogConfig::default()
    }
}

/// One appended record as the model remembers it.
type Expected = (u64, u64, Vec<u8>);

fn payload(conversation: u64, sequence: u64, bytes: usize) -> Vec<u8> {
    (0..bytes)
        .map(|i| (i as u64 ^ sequence ^ (conversation << 4)) as u8)
        .collect()
}

/// Every record in the log, in LSN order, checking that LSNs count up from 0.
fn recovered(log: &ShardLog<MemoryStorage>) -> Vec<Expected> {
    let mut records: Vec<_> = log
        .conversations()
        .flat_map(|conversation| log.read(conversation, 0, u64::MAX, usize::MAX).unwrap())
        .collect();
    records.sort_by_key(|record| record.lsn);
    for (index, record) in records.iter().enumerate() {
        assert_eq!(record.lsn, index as u64);
    }
    records
        .into_iter()
        .map(|r| (r.header.conversation_id, r.header.sequence, r.payload))
        .collect()
}

fn append(
    log: &mut ShardLog<MemoryStorage>,
    model: &mut Vec<Expected>,
    conversation: u64,
    bytes: usize,
) {
    let sequence = log.last_sequence(conversation).map_or(1, |s| s + 1);
    let mut message_id = [0u8; 16];
    message_id[..8].copy_from_slice(&conversation.to_le_bytes());
    message_id[8..].copy_from_slice(&sequence.to_le_bytes());
    let header = RecordHeader {
        conversation_id: conversation,
        sequence,
        message_id,
        timestamp_ms: 1,
        lane: 0,
        kind: 0,
    };
    let body = payload(conversation, sequence, bytes);
    let lsn = log.append(&header, &body).unwrap();
    assert_eq!(lsn, model.len() as u64);
    model.push((conversation, sequence, body));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn recovery_yields_a_prefix_holding_every_committed_record(ops in prop::collection::vec(op(), 1..250)) {
        let storage = MemoryStorage::new();
        let (mut log, _) = ShardLog::open(config(), storage.clone()).unwrap();
        let mut model: Vec<Expected> = Vec::new();
        let mut committed = 0usize;
        for op in ops {
            match op {
                Op::Append { conversation, payload_bytes } => {
                    append(&mut log, &mut model, conversation, payload_bytes);
                }
                Op::Commit => {
                    committed = log.commit().unwrap() as usize;
                    prop_assert_eq!(committed, model.len());
                }
                Op::Crash { seed } => {
                    drop(log);
                    let mut state = seed;
                    storage.crash(|_, synced, len| {
                        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                        synced + (state >> 33) % (len - synced + 1)
                    });
                    let (reopened, report) = ShardLog::open(config(), storage.clone()).unwrap();
                    log = reopened;
                    prop_assert!(report.corrupt.is_empty(), "{:?}", report);
                    let survivors = recovered(&log);
                    prop_assert!(survivors.len() >= committed, "lost a committed record: {:?}", report);
                    prop_assert!(survivors.len() <= model.len());
                    prop_assert_eq!(&survivors[..], &model[..survivors.len()]);
                    model.truncate(survivors.len());
                    committed = survivors.len();
                    for (conversation, sequence, _) in model.iter().rev().take(8) {
                        prop_assert_eq!(log.lookup_message(*conversation, &{
                            let mut id = [0u8; 16];
                            id[..8].copy_from_slice(&conversation.to_le_bytes());
                            id[8..].copy_from_slice(&sequence.to_le_bytes());
                            id
                        }), Some(*sequence));
                    }
                }
            }
        }
        log.commit().unwrap();
        prop_assert_eq!(recovered(&log), model);
    }
}
