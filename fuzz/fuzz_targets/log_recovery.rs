//! Fuzzes the durable log's start-up recovery over arbitrary segment bytes: record frames, torn tails,
//! damaged ranges, resynchronisation, missing and empty segments.
//!
//! Input: one byte giving the number of segments (1..=4), then per segment a little-endian `u16` gap to
//! the previous segment's base (so segments may overlap, abut or leave LSNs missing) and a `u16` length,
//! then the segments' bytes (what is left, cut in order). Small limits so every limit is hit.
//!
//! Checks beyond "no panic": every recovered record reads back (recovery only indexes valid frames), the
//! next LSN is above every record's, the sequence high-water mark is at or above every conversation's last
//! sequence, the log accepts and commits an append, and a second recovery finds the same records plus that
//! one (recovery is idempotent: what it cut stays cut, what it skipped is skipped again).
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_shards::log::{Durability, LogConfig, MemoryStorage, RecordHeader, ShardLog};

/// The configuration: small segments and payloads so rolls and length limits are reachable.
fn config() -> LogConfig {
    LogConfig {
        durability: Durability::Fsync,
        segment_bytes_max: 1024,
        payload_bytes_max: 200,
        write_buffer_bytes_max: 512,
        dedup_window_max: 64,
        ..LogConfig::default()
    }
}

/// Every recovered record as (conversation, sequence, lsn).
fn records(log: &ShardLog<MemoryStorage>) -> Vec<(u64, u64, u64)> {
    let mut conversations: Vec<u64> = log.conversations().collect();
    conversations.sort_unstable();
    let mut out = Vec::new();
    for conversation in conversations {
        let read = log
            .read(conversation, 0, u64::MAX, usize::MAX)
            .expect("recovered records read back");
        out.extend(
            read.iter()
                .map(|r| (conversation, r.header.sequence, r.lsn)),
        );
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&count, mut rest)) = data.split_first() else {
        return;
    };
    let count = usize::from(count % 4) + 1;
    let storage = MemoryStorage::new();
    let mut base = 0u64;
    let mut lengths = Vec::with_capacity(count);
    for _ in 0..count {
        if rest.len() < 4 {
            return;
        }
        let gap = u64::from(u16::from_le_bytes([rest[0], rest[1]]) % 64);
        let len = usize::from(u16::from_le_bytes([rest[2], rest[3]]));
        rest = &rest[4..];
        base += gap;
        lengths.push((base, len));
    }
    for (base, len) in lengths {
        let len = len.min(rest.len());
        storage.set_segment(base, rest[..len].to_vec());
        rest = &rest[len..];
    }
    let Ok((mut log, report)) = ShardLog::open(config(), storage.clone()) else {
        return; // Only an I/O error can fail recovery; memory storage has none to give.
    };
    let found = records(&log);
    // Two valid frames may carry the same conversation and sequence (copied bytes): the later one wins.
    assert!(found.len() as u64 <= report.records);
    for &(conversation, sequence, lsn) in &found {
        assert!(lsn < log.next_lsn());
        let high_water = log.sequence_high_water(conversation).expect("has records");
        assert!(high_water >= sequence);
    }
    // The log is usable: an append above the high-water mark commits.
    let conversation = 7;
    let Some(sequence) = log
        .sequence_high_water(conversation)
        .unwrap_or(0)
        .checked_add(1)
    else {
        return;
    };
    let header = RecordHeader {
        conversation_id: conversation,
        sequence,
        message_id: [0xAB; 16],
        timestamp_ms: 1,
        lane: 0,
        kind: 1,
    };
    log.append(&header, b"after recovery")
        .expect("append after recovery");
    log.commit().expect("commit after recovery");
    drop(log);
    let (log, again) = ShardLog::open(config(), storage).expect("second recovery");
    assert_eq!(again.records, report.records + 1);
    assert_eq!(
        again.torn_tail_bytes, 0,
        "the first recovery cut the torn tail"
    );
    let mut expected: Vec<(u64, u64)> = found.iter().map(|&(c, s, _)| (c, s)).collect();
    expected.push((conversation, sequence));
    expected.sort_unstable();
    expected.dedup();
    let mut second: Vec<(u64, u64)> = records(&log).iter().map(|&(c, s, _)| (c, s)).collect();
    second.sort_unstable();
    second.dedup();
    assert_eq!(second, expected);
});
