//! The durable log on a real directory: torn tails are cut on disk, corrupt segments are reported and
//! left in place, retention deletes segment files, and other files in the directory are left alone.

use std::path::{Path, PathBuf};

use switchboard_shards::log::{Durability, LogConfig, RecordHeader, ShardLog};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("switchboard-log-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn config(dir: &Path) -> LogConfig {
    LogConfig {
        data_dir: dir.to_path_buf(),
        durability: Durability::Fsync,
        segment_bytes_max: 4_096,
        payload_bytes_max: 512,
        write_buffer_bytes_max: 8_192,
        dedup_window_max: 1_000,
        retention_ms: None,
        retention_bytes_max: None,
    }
}

fn header(sequence: u64) -> RecordHeader {
    let mut message_id = [0u8; 16];
    message_id[8..].copy_from_slice(&sequence.to_le_bytes());
    RecordHeader {
        conversation_id: 77,
        sequence,
        message_id,
        timestamp_ms: sequence,
        lane: 1,
        kind: 1,
    }
}

fn write(config: &LogConfig, count: u64) {
    let (mut log, _) = ShardLog::open_dir(config.clone(), 0).unwrap();
    let first = log.last_sequence(77).map_or(1, |s| s + 1);
    for sequence in first..first + count {
        log.append(&header(sequence), &[sequence as u8; 100])
            .unwrap();
    }
    log.commit().unwrap();
}

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("shard-0"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "log"))
        .collect();
    files.sort();
    files
}

fn sequences(config: &LogConfig) -> Vec<u64> {
    let (log, _) = ShardLog::open_dir(config.clone(), 0).unwrap();
    let records = log.read(77, 0, u64::MAX, usize::MAX).unwrap();
    records
        .iter()
        .map(|record| record.header.sequence)
        .collect()
}

#[test]
fn a_torn_tail_is_cut_on_disk() {
    let dir = temp_dir("torn");
    let config = config(&dir);
    write(&config, 10);
    let last = segment_files(&dir).pop().unwrap();
    let len = std::fs::metadata(&last).unwrap().len();
    let file = std::fs::OpenOptions::new().write(true).open(&last).unwrap();
    file.set_len(len - 37).unwrap();
    drop(file);
    let (log, report) = ShardLog::open_dir(config.clone(), 0).unwrap();
    assert_eq!((report.records, report.torn_tail_bytes), (9, 150 - 37));
    assert_eq!(std::fs::metadata(&last).unwrap().len(), len - 150);
    drop(log);
    write(&config, 1);
    assert_eq!(sequences(&config), (1..=10).collect::<Vec<_>>());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_corrupt_closed_segment_is_reported_and_kept() {
    let dir = temp_dir("corrupt");
    let config = config(&dir);
    write(&config, 100);
    let files = segment_files(&dir);
    assert!(files.len() >= 3);
    let mut bytes = std::fs::read(&files[1]).unwrap();
    bytes[200] ^= 0xFF;
    std::fs::write(&files[1], &bytes).unwrap();
    let (_, report) = ShardLog::open_dir(config.clone(), 0).unwrap();
    assert_eq!(report.corrupt.len(), 1);
    assert_eq!(report.corrupt[0].offset, 150);
    assert_eq!(
        std::fs::read(&files[1]).unwrap(),
        bytes,
        "left on disk for inspection"
    );
    let recovered = sequences(&config);
    assert_eq!(recovered.len() as u64, report.records);
    assert!(recovered.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(*recovered.last().unwrap(), 100);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn retention_deletes_segment_files_and_nothing_else() {
    let dir = temp_dir("retention");
    let config = LogConfig {
        retention_bytes_max: Some(8_192),
        ..config(&dir)
    };
    write(&config, 200);
    std::fs::write(dir.join("shard-0").join("notes.txt"), "keep me").unwrap();
    let before = segment_files(&dir).len();
    let (mut log, _) = ShardLog::open_dir(config.clone(), 0).unwrap();
    let report = log.retain(0).unwrap();
    assert!(report.segments > 0);
    assert_eq!(segment_files(&dir).len(), before - report.segments);
    assert!(log.written_bytes() <= 8_192);
    assert!(dir.join("shard-0").join("notes.txt").exists());
    drop(log);
    let recovered = sequences(&config);
    assert_eq!(*recovered.last().unwrap(), 200);
    assert_eq!(recovered.len() as u64, 200 - report.records);
    std::fs::remove_dir_all(&dir).unwrap();
}
