//! Tests of the asynchronous group commit ([`ShardLog::begin_commit`] / [`ShardLog::io_complete`])
//! over [`MemoryStorage`], and over a real directory through the engine's file I/O.

use std::time::Duration;

use switchboard_core::engine::{Engine, EngineConfig, EngineError, EngineKind, Event};

use super::record::frame_bytes;
use super::tests::{all_sequences, append_many, config, header, open, payload};
use super::*;

/// Drives one asynchronous commit to its end, performing every I/O in memory; returns the commit
/// point, or `None` when there was nothing to commit.
fn commit_async(
    log: &mut ShardLog<MemoryStorage>,
    storage: &MemoryStorage,
) -> Result<Option<Lsn>, LogError> {
    let Some(mut step) = log.begin_commit()? else {
        return Ok(None);
    };
    loop {
        match step {
            CommitStep::Committed(lsn) => return Ok(Some(lsn)),
            CommitStep::Io(io) => step = log.io_complete(storage.perform(io))?,
        }
    }
}

/// The I/O of a step that must be one.
fn expect_io<H: std::fmt::Debug>(step: Option<CommitStep<H>>) -> CommitIo<H> {
    match step {
        Some(CommitStep::Io(io)) => io,
        other => panic!("expected an I/O, got {other:?}"),
    }
}

#[test]
fn async_commit_writes_the_same_bytes_as_the_blocking_commit() {
    for durability in [Durability::Fsync, Durability::Buffered] {
        let sync_storage = MemoryStorage::new();
        let async_storage = MemoryStorage::new();
        let cfg = || LogConfig {
            durability,
            write_buffer_bytes_max: 700,
            ..config()
        };
        let (mut sync_log, _) = open(cfg(), &sync_storage);
        let (mut async_log, _) = open(cfg(), &async_storage);
        // Groups of varied sizes: rolls (1 KiB segments) and full buffers happen between commits.
        for group in [1, 7, 30, 2, 55, 13] {
            append_many(&mut sync_log, group, 4);
            append_many(&mut async_log, group, 4);
            let expected = sync_log.commit().unwrap();
            assert_eq!(
                commit_async(&mut async_log, &async_storage),
                Ok(Some(expected))
            );
            assert_eq!(async_log.committed_lsn(), expected);
            assert!(!async_log.needs_commit() && !async_log.commit_in_flight());
        }
        assert_eq!(async_storage.segments(), sync_storage.segments());
        assert_eq!(async_storage.write_count(), sync_storage.write_count());
        assert_eq!(async_storage.sync_count(), sync_storage.sync_count());
        assert_eq!(commit_async(&mut async_log, &async_storage), Ok(None));
    }
}

#[test]
fn one_async_commit_is_one_write_and_one_sync_and_buffered_has_no_sync() {
    for (durability, syncs) in [(Durability::Fsync, 1), (Durability::Buffered, 0)] {
        let storage = MemoryStorage::new();
        let cfg = LogConfig {
            durability,
            segment_bytes_max: 1 << 20,
            ..config()
        };
        let (mut log, _) = open(cfg, &storage);
        let (writes_before, syncs_before) = (storage.write_count(), storage.sync_count());
        append_many(&mut log, 40, 5);
        let write = expect_io(log.begin_commit().unwrap());
        assert!(matches!(write, CommitIo::Write { offset: 0, .. }));
        let step = log.io_complete(storage.perform(write)).unwrap();
        let step = match step {
            CommitStep::Io(sync @ CommitIo::Sync { .. }) => {
                assert_eq!(durability, Durability::Fsync, "only fsync syncs");
                log.io_complete(storage.perform(sync)).unwrap()
            }
            step => step,
        };
        assert_eq!(step, CommitStep::Committed(40));
        assert_eq!(storage.write_count(), writes_before + 1);
        assert_eq!(storage.sync_count(), syncs_before + syncs);
    }
}

#[test]
fn appends_during_an_in_flight_commit_land_in_the_next_group() {
    let storage = MemoryStorage::new();
    let (mut log, _) = open(config(), &storage);
    append_many(&mut log, 3, 1);
    let first = expect_io(log.begin_commit().unwrap());
    let CommitIo::Write { bytes, offset, .. } = &first else {
        panic!("a write first")
    };
    let first_len = bytes.len();
    assert_eq!(*offset, 0);
    // A second begin_commit while one is in flight does nothing.
    assert_eq!(log.begin_commit(), Ok(None));
    append_many(&mut log, 2, 1);
    // Records of both groups are readable while the write is in flight.
    assert_eq!(all_sequences(&log, 0), vec![1, 2, 3, 4, 5]);
    let sync = log.io_complete(storage.perform(first)).unwrap();
    append_many(&mut log, 1, 1);
    assert_eq!(
        log.io_complete(storage.perform(expect_io(Some(sync)))),
        Ok(CommitStep::Committed(3))
    );
    assert_eq!(log.committed_lsn(), 3);
    assert!(log.needs_commit());
    let second = expect_io(log.begin_commit().unwrap());
    let CommitIo::Write { bytes, offset, .. } = &second else {
        panic!("a write first")
    };
    assert_eq!(
        *offset, first_len as u64,
        "the next group follows the first"
    );
    let group: usize = (4..=6).map(|s| frame_bytes(payload(0, s).len())).sum();
    assert_eq!(
        bytes.len(),
        group,
        "records 4 to 6, appended during the first commit"
    );
    let sync = log.io_complete(storage.perform(second)).unwrap();
    assert_eq!(
        log.io_complete(storage.perform(expect_io(Some(sync)))),
        Ok(CommitStep::Committed(6))
    );
    drop(log);
    let (log, report) = open(config(), &storage);
    assert_eq!(report.records, 6);
    assert_eq!(all_sequences(&log, 0), vec![1, 2, 3, 4, 5, 6]);
}

#[test]
fn a_full_buffer_during_a_commit_is_backpressure_not_failure() {
    let storage = MemoryStorage::new();
    let cfg = LogConfig {
        segment_bytes_max: 1 << 20,
        write_buffer_bytes_max: 512,
        ..config()
    };
    let (mut log, _) = open(cfg.clone(), &storage);
    append_many(&mut log, 2, 1);
    let write = expect_io(log.begin_commit().unwrap());
    let mut refused = None;
    for sequence in 3..100 {
        match log.append(&header(0, sequence), &payload(0, sequence)) {
            Ok(_) => {}
            Err(err) => {
                refused = Some((sequence, err));
                break;
            }
        }
    }
    let (sequence, err) = refused.expect("the buffer fills up");
    assert!(matches!(err, LogError::WriteBufferFull { max: 512, .. }));
    let sync = log.io_complete(storage.perform(write)).unwrap();
    log.io_complete(storage.perform(expect_io(Some(sync))))
        .unwrap();
    // After the commit the refused record goes in (the buffer is written synchronously if needed).
    log.append(&header(0, sequence), &payload(0, sequence))
        .unwrap();
    let end = commit_async(&mut log, &storage).unwrap();
    assert_eq!(end, Some(sequence));
    assert_eq!(all_sequences(&log, 0), (1..=sequence).collect::<Vec<_>>());
}

#[test]
fn a_full_segment_during_a_commit_is_rolled_by_the_next_begin_commit() {
    let storage = MemoryStorage::new();
    let cfg = LogConfig {
        write_buffer_bytes_max: 2_048,
        ..config()
    };
    let (mut log, _) = open(cfg.clone(), &storage);
    append_many(&mut log, 10, 1);
    let write = expect_io(log.begin_commit().unwrap());
    append_many(&mut log, 10, 1); // past the 1 KiB segment: no roll while in flight
    assert_eq!(log.segment_count(), 1);
    let sync = log.io_complete(storage.perform(write)).unwrap();
    assert_eq!(
        log.io_complete(storage.perform(expect_io(Some(sync)))),
        Ok(CommitStep::Committed(10))
    );
    let syncs = storage.sync_count();
    // The over-full segment is written, synced and closed synchronously; nothing is left to do.
    assert_eq!(log.begin_commit(), Ok(Some(CommitStep::Committed(20))));
    assert_eq!(log.segment_count(), 2);
    assert_eq!(storage.sync_count(), syncs + 1);
    assert!(!log.commit_in_flight());
    append_many(&mut log, 5, 1);
    assert_eq!(commit_async(&mut log, &storage), Ok(Some(25)));
    drop(log);
    let (log, report) = open(cfg, &storage);
    assert_eq!(report.records, 25);
    assert_eq!(all_sequences(&log, 0), (1..=25).collect::<Vec<_>>());
}

#[test]
fn a_failed_async_write_or_sync_fails_the_log_and_reports_nothing_above_the_last_commit() {
    for failing_sync in [false, true] {
        let storage = MemoryStorage::new();
        let (mut log, _) = open(config(), &storage);
        append_many(&mut log, 4, 2);
        assert_eq!(commit_async(&mut log, &storage), Ok(Some(4)));
        append_many(&mut log, 3, 2);
        if failing_sync {
            storage.set_sync_failure(true);
        } else {
            storage.set_write_failure(true);
        }
        let operation = if failing_sync { "fdatasync" } else { "write" };
        let result = commit_async(&mut log, &storage);
        assert!(
            matches!(result, Err(LogError::Io { operation: op, .. }) if op == operation),
            "{result:?}"
        );
        assert_eq!(log.committed_lsn(), 4);
        assert!(!log.commit_in_flight());
        assert_eq!(log.append(&header(0, 99), b"x"), Err(LogError::Failed));
        assert_eq!(log.begin_commit(), Err(LogError::Failed));
        assert_eq!(log.commit(), Err(LogError::Failed));
        storage.set_sync_failure(false);
        storage.set_write_failure(false);
        drop(log);
        let (_, report) = open(config(), &storage);
        assert!(report.records >= 4);
    }
}

#[test]
#[should_panic(expected = "does not match")]
fn a_completion_of_the_wrong_kind_is_a_caller_bug() {
    let storage = MemoryStorage::new();
    let (mut log, _) = open(config(), &storage);
    append_many(&mut log, 1, 1);
    let _write = expect_io(log.begin_commit().unwrap());
    let _ = log.io_complete(CommitCompletion::Synced { result: Ok(()) });
}

/// Polls allowed while waiting for one engine completion.
const POLLS_MAX: usize = 500;
/// The token of the log's file operations in this test.
const LOG_TOKEN: u64 = 7;

/// Performs `io` through `engine` and waits for its completion.
fn perform_with_engine(engine: &mut Engine, io: CommitIo<std::os::fd::RawFd>) -> CommitCompletion {
    match io {
        CommitIo::Write {
            file,
            offset,
            bytes,
        } => engine.write_file(file, offset, bytes, LOG_TOKEN),
        CommitIo::Sync { file } => engine.sync_file(file, LOG_TOKEN, true),
    }
    for _ in 0..POLLS_MAX {
        engine.poll(Some(Duration::from_millis(20))).unwrap();
        while let Some(event) = engine.next_event() {
            match event {
                Event::FileWritten { token, buf, result } => {
                    assert_eq!(token, LOG_TOKEN);
                    let result = result.map_err(|errno| errno.to_io_error());
                    return CommitCompletion::Written { bytes: buf, result };
                }
                Event::FileSynced { token, result } => {
                    assert_eq!(token, LOG_TOKEN);
                    let result = result.map_err(|errno| errno.to_io_error());
                    return CommitCompletion::Synced { result };
                }
                Event::Timeout => {}
                other => panic!("unexpected event {other:?}"),
            }
        }
    }
    panic!("no completion after {POLLS_MAX} polls");
}

#[test]
fn a_directory_log_commits_through_the_engine_on_every_backend() {
    for kind in [EngineKind::IoUring, EngineKind::Epoll] {
        let mut engine = match Engine::new(&EngineConfig::default(), kind) {
            Ok((engine, _)) => engine,
            Err(EngineError::IoUringUnavailable(why)) => {
                eprintln!("io_uring not tested here: {why}");
                continue;
            }
            Err(err) => panic!("{kind:?}: {err}"),
        };
        let dir = std::env::temp_dir().join(format!(
            "switchboard-log-engine-{}-{kind:?}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let cfg = LogConfig {
            segment_bytes_max: 4_096,
            ..config()
        };
        let (mut log, _) = ShardLog::open_path(cfg.clone(), &dir).unwrap();
        let mut committed = 0;
        for round in 0..20u64 {
            for n in 0..(round % 7 + 1) {
                let conversation = n % 3;
                let sequence = log.last_sequence(conversation).map_or(1, |s| s + 1);
                log.append(
                    &header(conversation, sequence),
                    &payload(conversation, sequence),
                )
                .unwrap();
            }
            let mut step = log.begin_commit().unwrap().expect("records to commit");
            while let CommitStep::Io(io) = step {
                step = log
                    .io_complete(perform_with_engine(&mut engine, io))
                    .unwrap();
            }
            let CommitStep::Committed(lsn) = step else {
                unreachable!()
            };
            assert_eq!(lsn, log.next_lsn());
            committed = lsn;
        }
        assert!(log.segment_count() > 1, "the test crosses segment rolls");
        drop(log);
        let (log, report) = ShardLog::open_path(cfg, &dir).unwrap();
        assert_eq!(report.records, committed, "{kind:?}");
        assert!(
            report.corrupt.is_empty() && report.torn_tail_bytes == 0,
            "{report:?}"
        );
        for conversation in 0..3 {
            let records = log.read(conversation, 0, u64::MAX, usize::MAX).unwrap();
            let sequences: Vec<u64> = records.iter().map(|r| r.header.sequence).collect();
            assert_eq!(sequences, (1..=sequences.len() as u64).collect::<Vec<_>>());
            for record in records {
                assert_eq!(
                    record.payload,
                    payload(conversation, record.header.sequence)
                );
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
