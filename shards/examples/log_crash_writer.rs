//! The writer half of the durable log's crash test (`tests/log_crash.rs`).
//!
//! Usage: `log_crash_writer <segment-dir> [seconds-max] [batch-max] [fsync|buffered]`. Appends records to
//! 16 conversations in batches of 1 to `batch-max` (default 64) records, commits each batch (with the
//! default `fsync` durability: one `fdatasync`), and only then prints one line per record,
//! `ack <conversation> <sequence> <lsn>`, in a single write. The test kills it with SIGKILL at an
//! arbitrary moment and checks that every printed record survived. It stops by itself after
//! `seconds-max` (default 60) so a forgotten process cannot run forever. Run by hand with output to
//! `wc -l`, it also gives a rough acknowledged-records-per-second figure.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use switchboard_shards::log::{Durability, LogConfig, RecordHeader, ShardLog};

/// Conversations the writer spreads its records over.
const CONVERSATIONS: u64 = 16;

/// The payload of `conversation`'s record `sequence`; the test recomputes it.
fn payload(conversation: u64, sequence: u64) -> Vec<u8> {
    let len = 16 + (sequence * 7 + conversation * 13) % 300;
    (0..len)
        .map(|i| (i ^ sequence ^ conversation) as u8)
        .collect()
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(
        args.next()
            .ok_or_else(|| anyhow::anyhow!("usage: log_crash_writer <dir> [seconds]"))?,
    );
    let seconds_max: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(60);
    let batch_max: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(64);
    anyhow::ensure!(batch_max > 0, "batch-max must be at least 1");
    let durability = match args.next().as_deref() {
        None | Some("fsync") => Durability::Fsync,
        Some("buffered") => Durability::Buffered,
        Some(other) => anyhow::bail!("durability must be fsync or buffered, not {other}"),
    };
    let config = LogConfig {
        durability,
        segment_bytes_max: 64 << 10,
        payload_bytes_max: 1 << 10,
        ..LogConfig::default()
    };
    let (mut log, report) = ShardLog::open_path(config, &dir)?;
    anyhow::ensure!(
        report.records == 0,
        "the writer starts from an empty directory"
    );
    let deadline = Instant::now() + Duration::from_secs(seconds_max);
    let mut stdout = std::io::stdout().lock();
    let mut next_sequence = [1u64; CONVERSATIONS as usize];
    let mut batch = Vec::new();
    let mut lines = String::new();
    let mut round = 0u64;
    while Instant::now() < deadline {
        round += 1;
        let batch_len = 1 + (round * 2_654_435_761) % batch_max;
        batch.clear();
        for n in 0..batch_len {
            let conversation = (round + n) % CONVERSATIONS;
            let sequence = next_sequence[conversation as usize];
            next_sequence[conversation as usize] += 1;
            let mut message_id = [0u8; 16];
            message_id[..8].copy_from_slice(&conversation.to_le_bytes());
            message_id[8..].copy_from_slice(&sequence.to_le_bytes());
            let header = RecordHeader {
                conversation_id: conversation,
                sequence,
                message_id,
                timestamp_ms: SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as u64,
                lane: 2,
                kind: 1,
            };
            let lsn = log.append(&header, &payload(conversation, sequence))?;
            batch.push((conversation, sequence, lsn));
        }
        let committed = log.commit()?;
        lines.clear();
        for &(conversation, sequence, lsn) in &batch {
            assert!(lsn < committed, "commit covers every appended record");
            lines.push_str(&format!("ack {conversation} {sequence} {lsn}\n"));
        }
        stdout.write_all(lines.as_bytes())?;
        stdout.flush()?;
    }
    Ok(())
}
