//! Unit tests of [`ShardLog`] over [`MemoryStorage`] (and one over a real directory).

use super::record::{frame_bytes, FrameError, FRAME_OVERHEAD_BYTES};
use super::*;

pub(super) fn config() -> LogConfig {
    LogConfig {
        data_dir: std::env::temp_dir(),
        durability: Durability::Fsync,
        segment_bytes_max: 1_024,
        payload_bytes_max: 200,
        write_buffer_bytes_max: 4_096,
        dedup_window_max: 1_000,
        retention_ms: None,
        retention_bytes_max: None,
    }
}

pub(super) fn header(conversation_id: u64, sequence: u64) -> RecordHeader {
    let mut message_id = [0u8; 16];
    message_id[..8].copy_from_slice(&conversation_id.to_le_bytes());
    message_id[8..].copy_from_slice(&sequence.to_le_bytes());
    RecordHeader {
        conversation_id,
        sequence,
        message_id,
        timestamp_ms: 1_000 + sequence,
        lane: (sequence % 4) as u8,
        kind: 1,
    }
}

pub(super) fn payload(conversation_id: u64, sequence: u64) -> Vec<u8> {
    format!("conversation {conversation_id} message {sequence}").into_bytes()
}

pub(super) fn open(
    config: LogConfig,
    storage: &MemoryStorage,
) -> (ShardLog<MemoryStorage>, RecoveryReport) {
    ShardLog::open(config, storage.clone()).expect("open")
}

/// Appends `count` records spread over `conversations` conversations, without committing.
pub(super) fn append_many(log: &mut ShardLog<MemoryStorage>, count: u64, conversations: u64) {
    for n in 0..count {
        let conversation = n % conversations;
        let sequence = log.last_sequence(conversation).map_or(1, |s| s + 1);
        log.append(
            &header(conversation, sequence),
            &payload(conversation, sequence),
        )
        .unwrap();
    }
}

pub(super) fn all_sequences(log: &ShardLog<MemoryStorage>, conversation: u64) -> Vec<u64> {
    let records = log.read(conversation, 0, u64::MAX, usize::MAX).unwrap();
    for record in &records {
        assert_eq!(record.header, header(conversation, record.header.sequence));
        assert_eq!(
            record.payload,
            payload(conversation, record.header.sequence)
        );
    }
    records.iter().map(|r| r.header.sequence).collect()
}

#[test]
fn group_commit_covers_many_appends_with_one_write_and_one_sync() {
    let storage = MemoryStorage::new();
    let config = LogConfig {
        segment_bytes_max: 1 << 20,
        ..config()
    };
    let (mut log, _) = open(config, &storage);
    let (writes, syncs) = (storage.write_count(), storage.sync_count());
    append_many(&mut log, 50, 5);
    assert_eq!(storage.write_count(), writes, "appends alone do no I/O");
    assert!(log.needs_commit());
    assert_eq!(log.commit(), Ok(50));
    assert_eq!(storage.write_count(), writes + 1);
    assert_eq!(storage.sync_count(), syncs + 1);
    assert!(!log.needs_commit());
    // A commit with nothing new does no I/O.
    assert_eq!(log.commit(), Ok(50));
    assert_eq!(
        (storage.write_count(), storage.sync_count()),
        (writes + 1, syncs + 1)
    );
}

#[test]
fn buffered_durability_writes_without_syncing() {
    let storage = MemoryStorage::new();
    let config = LogConfig {
        durability: Durability::Buffered,
        ..config()
    };
    let (mut log, _) = open(config, &storage);
    append_many(&mut log, 30, 3);
    assert_eq!(log.commit(), Ok(30));
    assert_eq!(storage.sync_count(), 0);
    assert!(storage.write_count() > 0);
}

#[test]
fn a_full_write_buffer_is_written_and_synced_so_unsynced_bytes_stay_bounded() {
    let storage = MemoryStorage::new();
    let config = LogConfig {
        segment_bytes_max: 1 << 20,
        write_buffer_bytes_max: 512,
        ..config()
    };
    let (mut log, _) = open(config, &storage);
    append_many(&mut log, 40, 1);
    assert!(storage.write_count() > 1);
    // Each overflow of the buffer is synced: what a retry after a failure must rewrite stays in memory,
    // bounded by the buffer.
    assert_eq!(storage.sync_count(), storage.write_count());
    assert_eq!(log.committed_lsn(), 0);
    let syncs = storage.sync_count();
    log.commit().unwrap();
    assert_eq!(storage.sync_count(), syncs + 1);
}

#[test]
fn segments_roll_at_the_size_limit_and_are_named_by_their_first_lsn() {
    let storage = MemoryStorage::new();
    let (mut log, _) = open(config(), &storage);
    append_many(&mut log, 100, 3);
    log.commit().unwrap();
    let segments = storage.segments();
    assert!(segments.len() > 3, "{} segments", segments.len());
    let mut expected_base = 0;
    for (base, bytes) in &segments {
        assert_eq!(*base, expected_base);
        assert!(bytes.len() as u64 <= config().segment_bytes_max);
        let mut offset = 0;
        while offset < bytes.len() {
            let (_, _, used) = record::decode(&bytes[offset..], 200).unwrap().unwrap();
            offset += used;
            expected_base += 1;
        }
    }
    assert_eq!(expected_base, 100);
    // Every closed segment was synced before the next one received a byte, plus the final commit.
    assert_eq!(storage.sync_count(), segments.len() as u64);
    assert_eq!(log.segment_count(), segments.len());
}

#[test]
fn recovery_rebuilds_every_index() {
    let storage = MemoryStorage::new();
    let (mut log, _) = open(config(), &storage);
    append_many(&mut log, 100, 4);
    log.commit().unwrap();
    drop(log);
    let (log, report) = open(config(), &storage);
    assert_eq!(report.records, 100);
    assert_eq!((report.torn_tail_bytes, report.corrupt.len()), (0, 0));
    assert_eq!(report.segments, storage.segments().len());
    assert_eq!(report.next_lsn, 100);
    assert_eq!(log.next_lsn(), 100);
    for conversation in 0..4 {
        assert_eq!(
            all_sequences(&log, conversation),
            (1..=25).collect::<Vec<_>>()
        );
        assert_eq!(log.last_sequence(conversation), Some(25));
    }
    assert_eq!(log.lookup_message(2, &header(2, 7).message_id), Some(7));
}

#[test]
fn recovery_cuts_a_torn_tail_at_every_byte_and_keeps_every_complete_record() {
    let storage = MemoryStorage::new();
    let (mut log, _) = open(config(), &storage);
    append_many(&mut log, 30, 2);
    log.commit().unwrap();
    drop(log);
    let (last_base, last_bytes) = storage.segments().pop().unwrap();
    let last_record_bytes = frame_bytes(payload(1, 15).len());
    let last_start = last_bytes.len() - last_record_bytes;
    for cut in last_start..=last_bytes.len() {
        storage.set_segment(last_base, last_bytes[..cut].to_vec());
        let (mut log, report) = open(config(), &storage);
        let complete = cut == last_bytes.len();
        assert_eq!(report.records, if complete { 30 } else { 29 }, "cut {cut}");
        assert_eq!(
            report.torn_tail_bytes,
            (cut - last_start) as u64 * u64::from(!complete)
        );
        assert!(report.corrupt.is_empty());
        assert_eq!(all_sequences(&log, 0), (1..=15).collect::<Vec<_>>());
        let last_of_1 = if complete { 15 } else { 14 };
        assert_eq!(all_sequences(&log, 1), (1..=last_of_1).collect::<Vec<_>>());
        // Appending continues right after the last complete record.
        log.append(&header(1, last_of_1 + 1), &payload(1, last_of_1 + 1))
            .unwrap();
        log.commit().unwrap();
        drop(log);
        let (log, report) = open(config(), &storage);
        assert_eq!((report.torn_tail_bytes, report.corrupt.len()), (0, 0));
        assert_eq!(
            all_sequences(&log, 1),
            (1..=last_of_1 + 1).collect::<Vec<_>>()
        );
        storage.set_segment(last_base, last_bytes.clone());
    }
}

#[test]
fn a_zero_filled_tail_is_torn_not_corrupt() {
    let storage = MemoryStorage::new();
    let (mut log, _) = open(config(), &storage);
    append_many(&mut log, 3, 1);
    log.commit().unwrap();
    drop(log);
    let (base, mut bytes) = storage.segments().pop().unwrap();
    bytes.extend_from_slice(&[0u8; 100]);
    storage.set_segment(base, bytes);
    let (_, report) = open(config(), &storage);
    assert_eq!((report.records, report.torn_tail_bytes), (3, 100));
    assert!(report.corrupt.is_empty());
}

#[test]
fn corruption_in_a_closed_segment_is_reported_and_skipped() {
    let storage = MemoryStorage::new();
    let (mut log, _) = open(config(), &storage);
    append_many(&mut log, 100, 1);
    log.commit().unwrap();
    drop(log);
    let segments = storage.segments();
    let (first_base, mut first) = segments[0].clone();
    let second_base = segments[1].0;
    let frame = frame_bytes(payload(0, 1).len());
    // Flip a payload byte of the third record of the first segment.
    first[2 * frame + 30] ^= 0x01;
    storage.set_segment(first_base, first.clone());
    let (log, report) = open(config(), &storage);
    assert_eq!(report.corrupt.len(), 1);
    let corrupt = report.corrupt[0];
    assert_eq!(
        (corrupt.segment, corrupt.offset),
        (first_base, 2 * frame as u64)
    );
    assert!(matches!(
        corrupt.error,
        Some(FrameError::CrcMismatch { .. })
    ));
    // Only the damaged record is skipped: the scan resynchronises on the next one.
    assert_eq!(corrupt.skipped_bytes, frame as u64);
    assert_eq!((corrupt.lsn, corrupt.records_max), (first_base + 2, 1));
    assert_eq!(report.records, 99);
    let expected: Vec<u64> = (1..=2).chain(4..=100).collect();
    assert_eq!(all_sequences(&log, 0), expected);
    assert_eq!(log.sequence_high_water(0), Some(100));
    assert_eq!(second_base, first_base + first.len() as u64 / frame as u64);
}

#[test]
fn corruption_inside_the_last_segment_starts_a_new_segment() {
    let storage = MemoryStorage::new();
    let (mut log, _) = open(config(), &storage);
    append_many(&mut log, 5, 1);
    log.commit().unwrap();
    drop(log);
    let (base, mut bytes) = storage.segments().pop().unwrap();
    let frame = frame_bytes(payload(0, 1).len());
    bytes[frame + 20] ^= 0x80;
    storage.set_segment(base, bytes.clone());
    let (mut log, report) = open(config(), &storage);
    assert_eq!(report.corrupt.len(), 1);
    let damaged = report.corrupt[0];
    assert_eq!(
        (damaged.offset, damaged.skipped_bytes),
        (frame as u64, frame as u64)
    );
    assert_eq!(report.torn_tail_bytes, 0);
    // The records after the damaged one are kept; the damaged record's LSN (and whatever more its bytes
    // could have held) is not reused; its bytes stay on disk for inspection.
    let records_max = (frame as u64).div_ceil(FRAME_OVERHEAD_BYTES as u64);
    assert_eq!(damaged.records_max, records_max);
    assert_eq!(report.next_lsn, 4 + records_max);
    assert_eq!(all_sequences(&log, 0), [1, 3, 4, 5]);
    // The damaged record may have been the conversation's newest: its sequence is never given again.
    assert_eq!(log.sequence_high_water(0), Some(5));
    assert!(log.damaged_between(Some(0), Some(1)));
    assert!(!log.damaged_between(Some(1), None));
    assert_eq!(storage.segments()[0].1, bytes);
    log.append(&header(0, 6), &payload(0, 6)).unwrap();
    log.commit().unwrap();
    drop(log);
    let (log, report) = open(config(), &storage);
    assert_eq!(report.corrupt.len(), 1);
    assert_eq!(report.corrupt[0].records_max, records_max);
    assert_eq!(all_sequences(&log, 0), [1, 3, 4, 5, 6]);
}

#[test]
fn garbage_segments_never_panic() {
    let storage = MemoryStorage::new();
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    for round in 0..200u64 {
        let len = (seed % 300) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed >> 24) as u8
            })
            .collect();
        storage.set_segment(round, bytes);
        let (log, report) = open(config(), &storage);
        assert_eq!(
            report.records as usize,
            log.conversations().map(|c| all_len(&log, c)).sum::<usize>()
        );
    }
}

fn all_len(log: &ShardLog<MemoryStorage>, conversation: u64) -> usize {
    log.read(conversation, 0, u64::MAX, usize::MAX)
        .unwrap()
        .len()
}

#[test]
fn retention_by_size_deletes_the_oldest_closed_segments() {
    let storage = MemoryStorage::new();
    let config = LogConfig {
        retention_bytes_max: Some(2_048),
        ..config()
    };
    let (mut log, _) = open(config.clone(), &storage);
    append_many(&mut log, 200, 2);
    log.commit().unwrap();
    let before = log.segment_count();
    let report = log.retain(0).unwrap();
    assert!(report.segments > 0);
    assert_eq!(log.segment_count(), before - report.segments);
    assert!(log.written_bytes() <= 2_048);
    assert_eq!(storage.segments().len(), log.segment_count());
    let retained: usize = (0..2).map(|c| all_len(&log, c)).sum();
    assert_eq!(retained as u64, 200 - report.records);
    // What is left is the newest records of each conversation, still in order.
    let sequences = all_sequences(&log, 1);
    assert_eq!(*sequences.last().unwrap(), 100);
    assert!(sequences.windows(2).all(|w| w[1] == w[0] + 1));
    assert_eq!(log.last_sequence(0), Some(100));
}

#[test]
fn retention_by_age_never_deletes_the_active_segment() {
    let storage = MemoryStorage::new();
    let config = LogConfig {
        retention_ms: Some(10),
        ..config()
    };
    let (mut log, _) = open(config.clone(), &storage);
    append_many(&mut log, 100, 1);
    log.commit().unwrap();
    // Timestamps are 1_000 + sequence: nothing is 10 ms old yet at 1_000.
    assert_eq!(log.retain(1_000).unwrap().segments, 0);
    let before = log.segment_count();
    assert!(before > 2);
    let report = log.retain(u64::MAX).unwrap();
    assert_eq!((report.segments, log.segment_count()), (before - 1, 1));
    assert_eq!(storage.segments().len(), 1);
    let left = all_sequences(&log, 0);
    assert_eq!(left.len() as u64, 100 - report.records);
    assert_eq!(*left.last().unwrap(), 100);
    // Appends continue, and a reopened log sees the same retained records.
    log.append(&header(0, 101), &payload(0, 101)).unwrap();
    log.commit().unwrap();
    drop(log);
    let (log, _) = open(config, &storage);
    assert_eq!(
        all_sequences(&log, 0),
        left.iter().copied().chain([101]).collect::<Vec<_>>()
    );
}

#[test]
fn dedup_window_is_bounded_across_restarts() {
    let storage = MemoryStorage::new();
    let config = LogConfig {
        dedup_window_max: 10,
        segment_bytes_max: 1 << 20,
        ..config()
    };
    let (mut log, _) = open(config.clone(), &storage);
    append_many(&mut log, 30, 1);
    assert_eq!(log.lookup_message(0, &header(0, 21).message_id), Some(21));
    assert_eq!(log.lookup_message(0, &header(0, 20).message_id), None);
    log.commit().unwrap();
    drop(log);
    let (log, _) = open(config, &storage);
    assert_eq!(log.lookup_message(0, &header(0, 30).message_id), Some(30));
    assert_eq!(log.lookup_message(0, &header(0, 21).message_id), Some(21));
    assert_eq!(log.lookup_message(0, &header(0, 20).message_id), None);
}

#[test]
fn reads_are_ordered_ranged_limited_and_see_uncommitted_records() {
    let storage = MemoryStorage::new();
    let (mut log, _) = open(config(), &storage);
    append_many(&mut log, 60, 3);
    log.commit().unwrap();
    append_many(&mut log, 3, 3);
    let page = log.read(1, 5, 15, 4).unwrap();
    let sequences: Vec<u64> = page.iter().map(|r| r.header.sequence).collect();
    assert_eq!(sequences, [5, 6, 7, 8]);
    assert!(page.windows(2).all(|w| w[0].lsn < w[1].lsn));
    assert_eq!(all_sequences(&log, 2), (1..=21).collect::<Vec<_>>());
    let newest = log.read(2, 21, 21, 10).unwrap();
    assert!(
        newest[0].lsn >= log.committed_lsn(),
        "read from the write buffer"
    );
    assert!(log.read(1, 9, 3, 10).unwrap().is_empty());
    assert!(log.read(99, 0, u64::MAX, 10).unwrap().is_empty());
}

#[test]
fn caller_errors_are_typed() {
    let storage = MemoryStorage::new();
    let (mut log, _) = open(config(), &storage);
    assert_eq!(
        log.append(&header(1, 1), &[0u8; 201]),
        Err(LogError::PayloadTooLarge {
            payload_bytes: 201,
            max: 200
        })
    );
    log.append(&header(1, 5), b"x").unwrap();
    assert_eq!(
        log.append(&header(1, 5), b"x"),
        Err(LogError::SequenceNotIncreasing {
            conversation_id: 1,
            last: 5,
            sequence: 5
        })
    );
    assert!(matches!(
        ShardLog::open(
            LogConfig {
                segment_bytes_max: 1,
                ..config()
            },
            MemoryStorage::new()
        ),
        Err(LogError::Config(_))
    ));
}

#[test]
fn a_directory_log_is_locked_while_open() {
    let dir = std::env::temp_dir().join(format!("switchboard-log-lock-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = LogConfig {
        data_dir: dir.clone(),
        ..config()
    };
    let (mut log, _) = ShardLog::open_dir(config.clone(), 0).unwrap();
    log.append(&header(1, 1), &payload(1, 1)).unwrap();
    assert_eq!(log.commit(), Ok(1));
    // A second writer of the same directory (another server given the same data_dir) is refused,
    // and says which directory and why; another shard's directory is free.
    let Err(err) = ShardLog::open_dir(config.clone(), 0) else {
        panic!("a second open of a locked log directory succeeded");
    };
    assert_eq!(
        err,
        LogError::Locked {
            dir: dir.join("shard-0")
        }
    );
    assert!(err
        .to_string()
        .contains("in use by another switchboard process"));
    let (other, _) = ShardLog::open_dir(config.clone(), 1).unwrap();
    drop(other);
    // Closing the log releases the lock; what it acknowledged is still there.
    drop(log);
    let (log, report) = ShardLog::open_dir(config, 0).unwrap();
    assert_eq!(report.records, 1);
    drop(log);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_directory_log_survives_reopening() {
    let dir = std::env::temp_dir().join(format!("switchboard-log-unit-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = LogConfig {
        data_dir: dir.clone(),
        ..config()
    };
    let (mut log, report) = ShardLog::open_dir(config.clone(), 3).unwrap();
    assert_eq!(report, RecoveryReport::default());
    for sequence in 1..=40 {
        log.append(&header(9, sequence), &payload(9, sequence))
            .unwrap();
    }
    assert_eq!(log.commit(), Ok(40));
    drop(log);
    std::fs::write(dir.join("shard-3").join("README"), "not a segment").unwrap();
    let (log, report) = ShardLog::open_dir(config, 3).unwrap();
    assert_eq!(report.records, 40);
    assert!(dir
        .join("shard-3")
        .join("00000000000000000000.log")
        .exists());
    let records = log.read(9, 1, 40, 100).unwrap();
    assert_eq!(records.len(), 40);
    assert_eq!(records[39].payload, payload(9, 40));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_failed_sync_stops_the_log_until_it_is_reopened() {
    let storage = MemoryStorage::new();
    let (mut log, _) = open(config(), &storage);
    append_many(&mut log, 5, 1);
    log.commit().unwrap();
    append_many(&mut log, 5, 1);
    storage.set_sync_failure(true);
    assert!(matches!(
        log.commit(),
        Err(LogError::Io {
            operation: "fdatasync",
            ..
        })
    ));
    assert_eq!(log.committed_lsn(), 5);
    assert_eq!(log.append(&header(0, 11), b"x"), Err(LogError::Failed));
    assert_eq!(log.commit(), Err(LogError::Failed));
    drop(log);
    storage.set_sync_failure(false);
    let (log, report) = open(config(), &storage);
    assert!(report.records >= 5);
    assert_eq!(log.last_sequence(0), Some(report.records));
}
