//! Crash test of the durable log: a writer process (`examples/log_crash_writer.rs`) appends with
//! `durability = "fsync"` and prints every acknowledged record; it is killed with SIGKILL in the middle
//! of sending, and recovery must then hold every acknowledged record exactly once, in order.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use switchboard_shards::log::{LogConfig, ShardLog};

/// Acknowledged records to wait for before the kill, at least.
const ACKS_BEFORE_KILL_MIN: usize = 500;
/// The writer exits by itself after this long, which bounds the test if it never reaches the kill.
const WRITER_SECONDS_MAX: &str = "60";

/// Must match the writer's configuration (only the payload limit matters to recovery).
fn writer_config() -> LogConfig {
    LogConfig {
        segment_bytes_max: 64 << 10,
        payload_bytes_max: 1 << 10,
        ..LogConfig::default()
    }
}

/// Must match the writer's payload.
fn payload(conversation: u64, sequence: u64) -> Vec<u8> {
    let len = 16 + (sequence * 7 + conversation * 13) % 300;
    (0..len)
        .map(|i| (i ^ sequence ^ conversation) as u8)
        .collect()
}

/// The writer example, built (or found up to date) by `cargo build --example` in this test's target
/// directory: `cargo test` builds examples but `cargo test --test log_crash` does not, and a stale
/// writer would test old code.
fn writer_path() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let cargo = option_env!("CARGO").unwrap_or("cargo");
    let mut build = Command::new(cargo);
    build.args([
        "build",
        "--quiet",
        "-p",
        "switchboard-shards",
        "--example",
        "log_crash_writer",
    ]);
    if profile_dir
        .file_name()
        .is_some_and(|name| name == "release")
    {
        build.arg("--release");
    }
    if let Some(target_dir) = profile_dir.parent() {
        build.env("CARGO_TARGET_DIR", target_dir);
    }
    let status = build.status().expect("run cargo build");
    assert!(status.success(), "building the writer example failed");
    profile_dir.join("examples").join("log_crash_writer")
}

#[test]
fn every_acknowledged_record_survives_sigkill_exactly_once_in_order() {
    let dir = std::env::temp_dir().join(format!("switchboard-log-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut child = Command::new(writer_path())
        .arg(&dir)
        .arg(WRITER_SECONDS_MAX)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the writer");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut acknowledged: Vec<(u64, u64, u64)> = Vec::new();
    // Vary the moment of the kill between runs so that, over many runs, it lands in every phase of the
    // writer's loop (appending, writing, syncing, printing).
    let entropy = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .subsec_nanos() as usize;
    let acks_before_kill = ACKS_BEFORE_KILL_MIN + entropy % 1_500;
    let delay_before_kill = std::time::Duration::from_micros((entropy / 1_500 % 5_000) as u64);
    let mut killed = false;
    for line in BufReader::new(stdout).split(b'\n') {
        let line = String::from_utf8(line.expect("read writer output")).expect("utf-8");
        let fields: Vec<u64> = line
            .strip_prefix("ack ")
            .map(|rest| rest.split(' ').filter_map(|f| f.parse().ok()).collect())
            .unwrap_or_default();
        // A line cut short by the kill has fewer fields; it was not (entirely) printed, so not an ack.
        if let [conversation, sequence, lsn] = fields[..] {
            acknowledged.push((conversation, sequence, lsn));
        }
        if !killed && acknowledged.len() >= acks_before_kill {
            std::thread::sleep(delay_before_kill);
            child.kill().expect("SIGKILL the writer");
            killed = true;
        }
    }
    let status = child.wait().expect("reap the writer");
    assert!(
        killed,
        "the writer exited ({status}) before {acks_before_kill} acks"
    );
    assert!(!status.success(), "the writer was killed, not finished");

    let (log, report) = ShardLog::open_path(writer_config(), &dir).expect("recover");
    eprintln!("{} acknowledged, recovered: {report:?}", acknowledged.len());
    assert!(report.corrupt.is_empty(), "{report:?}");
    assert!(report.records as usize >= acknowledged.len(), "{report:?}");
    let mut last_acked: HashMap<u64, u64> = HashMap::new();
    for &(conversation, sequence, _) in &acknowledged {
        let last = last_acked.entry(conversation).or_default();
        assert_eq!(sequence, *last + 1, "the writer acknowledges in order");
        *last = sequence;
    }
    let mut lsn_by_record = HashMap::new();
    for &(conversation, sequence, lsn) in &acknowledged {
        lsn_by_record.insert((conversation, sequence), lsn);
    }
    for (&conversation, &last) in &last_acked {
        let records = log
            .read(conversation, 0, u64::MAX, usize::MAX)
            .expect("read");
        // Exactly once and in order: the sequences are 1, 2, 3, … with nothing repeated or missing.
        for (index, record) in records.iter().enumerate() {
            assert_eq!(
                record.header.sequence,
                index as u64 + 1,
                "conversation {conversation}"
            );
            assert_eq!(
                record.payload,
                payload(conversation, record.header.sequence)
            );
            if let Some(&lsn) = lsn_by_record.get(&(conversation, record.header.sequence)) {
                assert_eq!(record.lsn, lsn);
            }
        }
        assert!(
            records.len() as u64 >= last,
            "conversation {conversation}: {} records recovered, {last} acknowledged",
            records.len()
        );
    }
    std::fs::remove_dir_all(&dir).expect("clean up");
}
