//! The durable log under faults, deterministically, over the fault-injecting [`MemoryStorage`]:
//! - a full disk (`ENOSPC`, the write cut at every offset of a commit) and failing syncs that drop the
//!   unsynced pages (`EIO`), on the blocking and the asynchronous commit, with `fsync` and `buffered`
//!   durability: the log degrades, refuses appends, and once a retry succeeds the files hold exactly the
//!   bytes a log that never failed would hold (nothing acknowledged lost, nothing written twice, no hole);
//! - flipped bytes at every record's length, CRC, header and payload, missing and empty segments: only
//!   the damaged records are lost, every loss is reported as a damaged range, and no sequence number a
//!   lost record may have had is given again.

use switchboard_shards::log::record::frame_bytes;
use switchboard_shards::log::{
    CommitStep, Durability, LogConfig, LogError, Lsn, MemoryStorage, RecordHeader, ShardLog,
};

fn config(durability: Durability) -> LogConfig {
    LogConfig {
        durability,
        segment_bytes_max: 1024,
        write_buffer_bytes_max: 600,
        payload_bytes_max: 256,
        ..LogConfig::default()
    }
}

fn header(conversation_id: u64, sequence: u64) -> RecordHeader {
    let mut message_id = [0u8; 16];
    message_id[..8].copy_from_slice(&conversation_id.to_le_bytes());
    message_id[8..].copy_from_slice(&sequence.to_le_bytes());
    RecordHeader {
        conversation_id,
        sequence,
        message_id,
        timestamp_ms: 1_700_000_000_000 + sequence,
        lane: 2,
        kind: 1,
    }
}

fn payload(conversation_id: u64, sequence: u64) -> Vec<u8> {
    format!("conversation {conversation_id} message {sequence:04}").into_bytes()
}

fn open(config: LogConfig, storage: &MemoryStorage) -> ShardLog<MemoryStorage> {
    ShardLog::open(config, storage.clone()).unwrap().0
}

/// Every retained sequence of `conversation`.
fn sequences(log: &ShardLog<MemoryStorage>, conversation: u64) -> Vec<u64> {
    log.read(conversation, 1, u64::MAX, usize::MAX)
        .unwrap()
        .iter()
        .map(|record| record.header.sequence)
        .collect()
}

/// Commits asynchronously, performing each I/O in memory.
fn commit_async(
    log: &mut ShardLog<MemoryStorage>,
    storage: &MemoryStorage,
) -> Result<Lsn, LogError> {
    let Some(mut step) = log.begin_commit()? else {
        return Ok(log.committed_lsn());
    };
    loop {
        match step {
            CommitStep::Committed(lsn) => return Ok(lsn),
            CommitStep::Io(io) => step = log.io_complete(storage.perform(io))?,
        }
    }
}

fn commit(
    log: &mut ShardLog<MemoryStorage>,
    storage: &MemoryStorage,
    asynchronous: bool,
) -> Result<Lsn, LogError> {
    if asynchronous {
        commit_async(log, storage)
    } else {
        log.commit()
    }
}

/// The appends of the script: `count` records round-robin over three conversations, continuing `next`.
fn append_group(log: &mut ShardLog<MemoryStorage>, next: &mut [u64; 3], count: usize) {
    assert_eq!(append_until_failure(log, next, count), count);
}

/// Like [`append_group`], but stops at the first append the log refuses (a full buffer or segment it
/// could not write); returns how many were appended.
fn append_until_failure(
    log: &mut ShardLog<MemoryStorage>,
    next: &mut [u64; 3],
    count: usize,
) -> usize {
    let total: u64 = next.iter().sum();
    for i in 0..count {
        let conversation = (total as usize + i) % 3;
        let sequence = next[conversation] + 1;
        let appended = log.append(
            &header(conversation as u64, sequence),
            &payload(conversation as u64, sequence),
        );
        match appended {
            Ok(_) => next[conversation] = sequence,
            Err(LogError::Io { .. }) => return i,
            Err(other) => panic!("{other:?}"),
        }
    }
    count
}

/// The files of a log that ran the script without a fault.
fn reference(durability: Durability, groups: &[usize]) -> Vec<(Lsn, Vec<u8>)> {
    let storage = MemoryStorage::new();
    let mut log = open(config(durability), &storage);
    let mut next = [0u64; 3];
    for &count in groups {
        append_group(&mut log, &mut next, count);
        log.commit().unwrap();
    }
    storage.segments()
}

const GROUPS: [usize; 4] = [5, 9, 14, 6];

#[test]
fn a_full_disk_cut_at_every_offset_of_a_commit_loses_nothing_and_writes_nothing_twice() {
    let frame = frame_bytes(payload(0, 1).len()) as u64;
    for durability in [Durability::Fsync, Durability::Buffered] {
        let expected = reference(durability, &GROUPS);
        for asynchronous in [false, true] {
            // The third group (14 records) fails: the disk fills at every offset of its first frames.
            for room in 0..=2 * frame + 3 {
                let storage = MemoryStorage::new();
                let mut log = open(config(durability), &storage);
                let mut next = [0u64; 3];
                for count in &GROUPS[..2] {
                    append_group(&mut log, &mut next, *count);
                    commit(&mut log, &storage, asynchronous).unwrap();
                }
                let committed = log.committed_lsn();
                storage.set_capacity_bytes(Some(storage.used_bytes() + room));
                let appended = append_until_failure(&mut log, &mut next, GROUPS[2]);
                let failed = if log.is_degraded() {
                    log.retry()
                } else {
                    commit(&mut log, &storage, asynchronous)
                };
                assert!(
                    matches!(
                        failed,
                        Err(LogError::Io {
                            kind: std::io::ErrorKind::StorageFull,
                            ..
                        })
                    ),
                    "{durability:?} async {asynchronous} room {room}: {failed:?}"
                );
                assert!(log.is_degraded());
                assert_eq!(
                    log.committed_lsn(),
                    committed,
                    "nothing above the last commit is acked"
                );
                // Degraded: appends are refused (nothing is stored), retries fail while the disk is full.
                assert_eq!(log.append(&header(0, 999), b"x"), Err(LogError::Failed));
                assert!(log.retry().is_err());
                assert!(log.retry().is_err());
                assert!(log.is_degraded());
                // Space returns: one retry commits everything kept, at the offsets it had.
                storage.set_capacity_bytes(None);
                assert_eq!(log.retry(), Ok(log.next_lsn()));
                assert!(!log.is_degraded());
                append_group(&mut log, &mut next, GROUPS[2] - appended);
                commit(&mut log, &storage, asynchronous).unwrap();
                append_group(&mut log, &mut next, GROUPS[3]);
                commit(&mut log, &storage, asynchronous).unwrap();
                assert_eq!(
                    storage.segments(),
                    expected,
                    "{durability:?} async {asynchronous} room {room}: the files differ from a log that never failed"
                );
                drop(log);
                let (log, report) = ShardLog::open(config(durability), storage.clone()).unwrap();
                assert!(
                    report.corrupt.is_empty() && report.torn_tail_bytes == 0,
                    "{report:?}"
                );
                assert_eq!(report.records, GROUPS.iter().sum::<usize>() as u64);
                for conversation in 0..3 {
                    let last = next[conversation as usize];
                    assert_eq!(
                        sequences(&log, conversation),
                        (1..=last).collect::<Vec<_>>()
                    );
                }
            }
        }
    }
}

#[test]
fn a_failed_sync_that_drops_the_unsynced_pages_is_repaired_by_rewriting_them() {
    let expected = reference(Durability::Fsync, &GROUPS);
    for asynchronous in [false, true] {
        let storage = MemoryStorage::new();
        let mut log = open(config(Durability::Fsync), &storage);
        let mut next = [0u64; 3];
        for count in &GROUPS[..2] {
            append_group(&mut log, &mut next, *count);
            commit(&mut log, &storage, asynchronous).unwrap();
        }
        storage.set_sync_failure(true);
        storage.set_sync_failure_loses_data(true);
        let appended = append_until_failure(&mut log, &mut next, GROUPS[2]);
        let failed = if log.is_degraded() {
            log.retry()
        } else {
            commit(&mut log, &storage, asynchronous)
        };
        assert!(
            matches!(
                failed,
                Err(LogError::Io {
                    operation: "fdatasync",
                    ..
                })
            ),
            "{failed:?}"
        );
        assert!(log.retry().is_err(), "EIO persists");
        storage.set_sync_failure(false);
        // Retrying only the sync would now "succeed" over zeroed pages; the retry rewrites them.
        assert_eq!(log.retry(), Ok(log.next_lsn()));
        append_group(&mut log, &mut next, GROUPS[2] - appended);
        commit(&mut log, &storage, asynchronous).unwrap();
        append_group(&mut log, &mut next, GROUPS[3]);
        commit(&mut log, &storage, asynchronous).unwrap();
        assert_eq!(storage.segments(), expected, "async {asynchronous}");
    }
}

#[test]
fn a_full_disk_while_an_append_rolls_or_flushes_refuses_only_that_record() {
    for durability in [Durability::Fsync, Durability::Buffered] {
        let storage = MemoryStorage::new();
        let mut log = open(config(durability), &storage);
        let mut accepted = Vec::new();
        storage.set_capacity_bytes(Some(1500));
        let mut refused = 0;
        for sequence in 1..=60u64 {
            match log.append(&header(0, sequence), &payload(0, sequence)) {
                Ok(_) => accepted.push(sequence),
                Err(LogError::Io { .. } | LogError::Failed) => {
                    refused += 1;
                    if sequence % 7 == 0 {
                        storage.set_capacity_bytes(None);
                        log.retry().unwrap();
                        storage.set_capacity_bytes(Some(storage.used_bytes() + 700));
                    }
                }
                Err(other) => panic!("{other:?}"),
            }
        }
        storage.set_capacity_bytes(None);
        log.retry().unwrap();
        assert!(refused > 0);
        drop(log);
        let (log, report) = ShardLog::open(config(durability), storage.clone()).unwrap();
        assert!(
            report.corrupt.is_empty() && report.torn_tail_bytes == 0,
            "{report:?}"
        );
        // Every accepted record, once each, in order; a refused one was never stored.
        assert_eq!(sequences(&log, 0), accepted);
    }
}

/// A log of three conversations over several segments, every record committed.
fn committed_log() -> (MemoryStorage, [u64; 3]) {
    let storage = MemoryStorage::new();
    let mut log = open(config(Durability::Fsync), &storage);
    let mut next = [0u64; 3];
    append_group(&mut log, &mut next, 40);
    log.commit().unwrap();
    (storage, next)
}

/// The (segment index, offset, conversation, sequence) of every frame of `storage`.
fn frames(storage: &MemoryStorage) -> Vec<(usize, usize, u64, u64)> {
    let frame = frame_bytes(payload(0, 1).len());
    let mut out = Vec::new();
    for (index, (_, bytes)) in storage.segments().iter().enumerate() {
        for offset in (0..bytes.len()).step_by(frame) {
            let at = offset + 8;
            let conversation = u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
            let sequence = u64::from_le_bytes(bytes[at + 8..at + 16].try_into().unwrap());
            out.push((index, offset, conversation, sequence));
        }
    }
    out
}

#[test]
fn a_flipped_byte_anywhere_loses_only_its_record_and_is_reported() {
    let (pristine, next) = committed_log();
    let segments = pristine.segments();
    assert!(
        segments.len() >= 3,
        "the test needs closed segments and a last one"
    );
    let all = frames(&pristine);
    let payload_at = 8 + 42 + 3;
    // The length field (low and high byte), the CRC, the header (conversation id), the payload.
    for field in [0, 3, 5, 9, payload_at] {
        for &(segment, offset, conversation, sequence) in &all {
            let storage = MemoryStorage::new();
            for (base, bytes) in &segments {
                storage.set_segment(*base, bytes.clone());
            }
            let (base, mut bytes) = segments[segment].clone();
            bytes[offset + field] ^= 0x5A;
            storage.set_segment(base, bytes);
            let context = format!("segment {segment} offset {offset} field {field}");
            let (log, report) = ShardLog::open(config(Durability::Fsync), storage.clone()).unwrap();
            assert_eq!(
                report.torn_tail_bytes, 0,
                "{context}: damage is not a torn tail"
            );
            assert_eq!(report.corrupt.len(), 1, "{context}: {report:?}");
            assert!(report.damaged_records_max() >= 1, "{context}");
            assert_eq!(
                report.records,
                all.len() as u64 - 1,
                "{context}: only the damaged record is lost"
            );
            for c in 0..3u64 {
                let expected: Vec<u64> = (1..=next[c as usize])
                    .filter(|&s| (c, s) != (conversation, sequence))
                    .collect();
                assert_eq!(sequences(&log, c), expected, "{context}: conversation {c}");
                // No sequence is given twice: the next one is above everything that was assigned.
                assert!(
                    log.sequence_high_water(c).unwrap() >= next[c as usize],
                    "{context}"
                );
            }
            // The hole is reported as damage, between the records around it.
            let around = log
                .read(conversation, sequence.saturating_sub(1), sequence + 1, 3)
                .unwrap();
            let before = around
                .iter()
                .find(|r| r.header.sequence < sequence)
                .map(|r| r.lsn);
            let after = around
                .iter()
                .find(|r| r.header.sequence > sequence)
                .map(|r| r.lsn);
            assert!(log.damaged_between(before, after), "{context}");
        }
    }
}

#[test]
fn a_missing_middle_segment_is_reported_with_its_exact_record_count() {
    let (storage, next) = committed_log();
    let segments = storage.segments();
    let (missing_base, missing_bytes) = segments[1].clone();
    let frame = frame_bytes(payload(0, 1).len());
    let missing_records = (missing_bytes.len() / frame) as u64;
    let damaged = MemoryStorage::new();
    for (base, bytes) in segments.iter().filter(|(base, _)| *base != missing_base) {
        damaged.set_segment(*base, bytes.clone());
    }
    let (log, report) = ShardLog::open(config(Durability::Fsync), damaged.clone()).unwrap();
    assert_eq!(report.corrupt.len(), 1, "{report:?}");
    let range = report.corrupt[0];
    assert_eq!(
        (range.segment, range.lsn, range.records_max),
        (segments[0].0, missing_base, missing_records)
    );
    assert_eq!(report.records, 40 - missing_records);
    for c in 0..3 {
        assert!(log.sequence_high_water(c).unwrap() >= next[c as usize]);
    }
}

#[test]
fn an_empty_or_truncated_segment_is_reported_and_the_rest_is_served() {
    let (storage, next) = committed_log();
    let segments = storage.segments();
    let frame = frame_bytes(payload(0, 1).len());
    for keep in [0, frame / 2, frame, frame + 7] {
        let damaged = MemoryStorage::new();
        for (base, bytes) in &segments {
            damaged.set_segment(*base, bytes.clone());
        }
        let (base, bytes) = segments[1].clone();
        damaged.set_segment(base, bytes[..keep].to_vec());
        let lost = (bytes.len() / frame - keep / frame) as u64;
        let (log, report) = ShardLog::open(config(Durability::Fsync), damaged.clone()).unwrap();
        assert_eq!(
            report.damaged_records_max(),
            lost,
            "keep {keep}: {report:?}"
        );
        assert_eq!(report.records, 40 - lost, "keep {keep}");
        for c in 0..3 {
            assert!(
                log.sequence_high_water(c).unwrap() >= next[c as usize],
                "keep {keep}"
            );
        }
    }
    // An empty last segment (a roll that crashed before its first write) is no damage.
    let (base, _) = segments.last().unwrap().clone();
    let fresh = MemoryStorage::new();
    for (b, bytes) in &segments {
        fresh.set_segment(*b, bytes.clone());
    }
    let frames_in_last = (segments.last().unwrap().1.len() / frame) as u64;
    fresh.set_segment(base + frames_in_last, Vec::new());
    let (_, report) = ShardLog::open(config(Durability::Fsync), fresh).unwrap();
    assert!(report.corrupt.is_empty(), "{report:?}");
}

#[test]
fn a_segment_holding_more_records_than_its_name_allows_does_not_break_the_log() {
    // Found by the log_recovery fuzz target: segment 0 holds 40 records but segment 3 follows it, and the
    // last segment (6) is empty: appending must not continue at LSN 6, which records already use.
    let (pristine, next) = committed_log();
    let all: Vec<u8> = pristine
        .segments()
        .into_iter()
        .flat_map(|(_, bytes)| bytes)
        .collect();
    let storage = MemoryStorage::new();
    storage.set_segment(0, all);
    storage.set_segment(6, Vec::new());
    let (mut log, report) = ShardLog::open(config(Durability::Fsync), storage.clone()).unwrap();
    assert_eq!(report.records, 40);
    assert!(log.next_lsn() >= 40);
    log.append(&header(0, next[0] + 1), &payload(0, next[0] + 1))
        .unwrap();
    log.commit().unwrap();
    drop(log);
    let (log, report) = ShardLog::open(config(Durability::Fsync), storage).unwrap();
    assert_eq!(report.records, 41);
    assert_eq!(sequences(&log, 0), (1..=next[0] + 1).collect::<Vec<_>>());
}
