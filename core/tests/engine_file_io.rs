//! File writes and syncs through the engine (the shard's durable log path), for both backends:
//! buffers written at offsets read back intact after a sync, errors come back as results with
//! the buffer, and the engine keeps working after them.

use std::{
    collections::HashMap,
    fs::{File, OpenOptions},
    os::{fd::AsRawFd, unix::fs::FileExt},
    path::PathBuf,
    time::Duration,
};

use switchboard_core::engine::{
    Engine, EngineConfig, EngineError, EngineKind, Errno, Event, FILE_OPS_IN_FLIGHT_MAX,
};

/// Polls allowed while waiting for completions (each waits at most `POLL_WAIT`).
const POLLS_MAX: usize = 500;
const POLL_WAIT: Duration = Duration::from_millis(20);

/// A completed file operation, owned.
#[derive(Debug, PartialEq, Eq)]
enum Done {
    Written(Vec<u8>, Result<(), Errno>),
    Synced(Result<(), Errno>),
}

/// The engines to test: epoll always, io_uring when this system allows it.
fn engines() -> Vec<(EngineKind, Engine)> {
    let config = EngineConfig {
        connections_max: 64,
        ..EngineConfig::default()
    };
    let mut engines = Vec::new();
    for kind in [EngineKind::IoUring, EngineKind::Epoll] {
        match Engine::new(&config, kind) {
            Ok((engine, _)) => engines.push((kind, engine)),
            Err(EngineError::IoUringUnavailable(why)) => {
                eprintln!("io_uring backend not tested here: {why}");
            }
            Err(err) => panic!("cannot build the {kind:?} engine: {err}"),
        }
    }
    engines
}

/// A fresh file in the temp directory, removed on drop.
struct TempFile {
    path: PathBuf,
    file: File,
}

impl TempFile {
    fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "switchboard-engine-file-io-{}-{name}",
            std::process::id()
        ));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .expect("create temp file");
        Self { path, file }
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Polls until `count` file completions arrived; returns them by token.
fn wait_for(engine: &mut Engine, count: usize) -> HashMap<u64, Done> {
    let mut done = HashMap::new();
    for _ in 0..POLLS_MAX {
        if done.len() == count {
            break;
        }
        engine.poll(Some(POLL_WAIT)).expect("poll");
        while let Some(event) = engine.next_event() {
            let (token, finished) = match event {
                Event::FileWritten { token, buf, result } => (token, Done::Written(buf, result)),
                Event::FileSynced { token, result } => (token, Done::Synced(result)),
                Event::Timeout => continue,
                other => panic!("unexpected event {other:?}"),
            };
            assert!(
                done.insert(token, finished).is_none(),
                "token {token} twice"
            );
        }
    }
    assert_eq!(
        done.len(),
        count,
        "completions missing after {POLLS_MAX} polls"
    );
    done
}

fn pattern(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| seed.wrapping_add((i % 251) as u8))
        .collect()
}

#[test]
fn writes_at_offsets_then_sync_read_back_intact() {
    for (kind, mut engine) in engines() {
        let temp = TempFile::new(&format!("offsets-{kind:?}"));
        let fd = temp.file.as_raw_fd();
        // Out of order, different sizes, one larger than a page and one empty.
        let pieces: Vec<(u64, Vec<u8>)> = vec![
            (10_000, pattern(3, 5_000)),
            (0, pattern(1, 4_096)),
            (4_096, pattern(2, 5_904)),
            (15_000, pattern(4, 300_000)),
            (315_000, Vec::new()),
        ];
        for (token, (offset, bytes)) in pieces.iter().enumerate() {
            engine.write_file(fd, *offset, bytes.clone(), token as u64);
        }
        let done = wait_for(&mut engine, pieces.len());
        for (token, (_, bytes)) in pieces.iter().enumerate() {
            assert_eq!(
                done[&(token as u64)],
                Done::Written(bytes.clone(), Ok(())),
                "{kind:?}: write {token} hands its buffer back with Ok"
            );
        }
        engine.sync_file(fd, 100, true);
        engine.sync_file(fd, 101, false);
        let done = wait_for(&mut engine, 2);
        assert_eq!(done[&100], Done::Synced(Ok(())), "{kind:?}: fdatasync");
        assert_eq!(done[&101], Done::Synced(Ok(())), "{kind:?}: fsync");

        let mut expected = vec![0u8; 315_000];
        for (offset, bytes) in &pieces {
            expected[*offset as usize..*offset as usize + bytes.len()].copy_from_slice(bytes);
        }
        let mut actual = vec![0u8; expected.len()];
        temp.file.read_exact_at(&mut actual, 0).unwrap();
        assert!(actual == expected, "{kind:?}: file content differs");
        assert_eq!(temp.file.metadata().unwrap().len(), 315_000);
    }
}

#[test]
fn a_bad_descriptor_fails_the_operation_and_not_the_engine() {
    for (kind, mut engine) in engines() {
        let temp = TempFile::new(&format!("badfd-{kind:?}"));
        let bad_fd = -1;
        engine.write_file(bad_fd, 0, b"lost".to_vec(), 1);
        engine.sync_file(bad_fd, 2, true);
        let done = wait_for(&mut engine, 2);
        let ebadf = Err(Errno(libc::EBADF));
        assert_eq!(done[&1], Done::Written(b"lost".to_vec(), ebadf), "{kind:?}");
        assert_eq!(done[&2], Done::Synced(ebadf), "{kind:?}");

        // A read-only descriptor refuses writes with EBADF too, through the real file path.
        let read_only = File::open(&temp.path).unwrap();
        engine.write_file(read_only.as_raw_fd(), 0, b"nope".to_vec(), 3);
        let done = wait_for(&mut engine, 1);
        assert_eq!(done[&3], Done::Written(b"nope".to_vec(), ebadf), "{kind:?}");

        // The engine still works.
        let fd = temp.file.as_raw_fd();
        engine.write_file(fd, 0, b"still fine".to_vec(), 4);
        let done = wait_for(&mut engine, 1);
        assert_eq!(done[&4], Done::Written(b"still fine".to_vec(), Ok(())));
        engine.sync_file(fd, 5, true);
        assert_eq!(wait_for(&mut engine, 1)[&5], Done::Synced(Ok(())));
        let mut back = [0u8; 10];
        temp.file.read_exact_at(&mut back, 0).unwrap();
        assert_eq!(&back, b"still fine");
    }
}

#[test]
fn operations_beyond_the_in_flight_limit_come_back_busy_with_their_buffers() {
    for (kind, mut engine) in engines() {
        let temp = TempFile::new(&format!("busy-{kind:?}"));
        let fd = temp.file.as_raw_fd();
        let count = FILE_OPS_IN_FLIGHT_MAX + 3;
        for token in 0..count as u64 {
            engine.write_file(fd, token * 8, token.to_le_bytes().to_vec(), token);
        }
        let done = wait_for(&mut engine, count);
        let mut busy = 0;
        for token in 0..count as u64 {
            match &done[&token] {
                Done::Written(buf, Ok(())) => assert_eq!(buf, &token.to_le_bytes()),
                Done::Written(buf, Err(Errno(libc::EBUSY))) => {
                    assert_eq!(buf, &token.to_le_bytes());
                    busy += 1;
                }
                other => panic!("{kind:?}: token {token}: {other:?}"),
            }
        }
        assert_eq!(busy, 3, "{kind:?}: exactly the operations above the limit");
    }
}
