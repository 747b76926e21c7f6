//! [`LogError`]: why a log operation failed, and who is at fault.

use std::io;

use super::config::ConfigError;
use super::record::{FrameError, Lsn};

/// A failed log operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    /// The configuration is invalid. The operator's fault.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A file operation failed. The local system's fault (disk full, permissions, I/O error); after a
    /// failed write or sync the log is degraded, see [`LogError::Failed`].
    #[error("log {operation} failed: {kind}: {message}")]
    Io {
        /// What the log was doing, e.g. `"fdatasync"`.
        operation: &'static str,
        /// The operating system's error kind.
        kind: io::ErrorKind,
        /// The operating system's message.
        message: String,
    },
    /// The log directory is locked by another open log: usually a second server process given the
    /// same `data_dir`. The operator's fault; two writers would corrupt each other's segments.
    #[error("log directory {} is in use by another switchboard process (its LOCK file is held); stop that process or give this one another data_dir", dir.display())]
    Locked {
        /// The locked directory.
        dir: std::path::PathBuf,
    },
    /// An earlier write or sync failed and the log is degraded: it refuses appends and commits until
    /// [`ShardLog::retry`](super::ShardLog::retry) succeeds. The local system's fault. (After a failed
    /// `fdatasync` the kernel may have dropped the dirty pages, so the retry does not merely sync again:
    /// it cuts the file back to its durable length and rewrites the records from memory.)
    #[error("the log is degraded after a write or sync failure; appends are refused until a retry succeeds")]
    Failed,
    /// A commit is in flight and the write buffer cannot take this record until it completes.
    /// Backpressure, nobody's fault (the disk is slower than the appends): the caller keeps the record
    /// and appends it again after [`ShardLog::io_complete`](super::ShardLog::io_complete) reports
    /// the commit done. The log is not failed.
    #[error("log write buffer full ({buffered_bytes} bytes, log.write_buffer_bytes_max = {max}) while a commit is in flight")]
    WriteBufferFull {
        /// Bytes in the write buffer, including the commit in flight.
        buffered_bytes: usize,
        /// The configured limit.
        max: u32,
    },
    /// A payload is larger than `payload_bytes_max`. The caller's fault: the protocol layer must refuse
    /// such messages before they reach the log.
    #[error("payload of {payload_bytes} bytes exceeds log.payload_bytes_max = {max}")]
    PayloadTooLarge {
        /// The payload's length.
        payload_bytes: usize,
        /// The configured limit.
        max: u32,
    },
    /// A record's sequence is not above its conversation's last one. A bug in the caller, which owns
    /// sequence assignment.
    #[error(
        "conversation {conversation_id}: sequence {sequence} is not above the last one, {last}"
    )]
    SequenceNotIncreasing {
        /// The conversation.
        conversation_id: u64,
        /// The conversation's last sequence in the log.
        last: u64,
        /// The rejected sequence.
        sequence: u64,
    },
    /// A record that recovery had validated no longer reads back correctly. The disk's fault.
    #[error("segment {segment} offset {offset}: {error}")]
    Corrupt {
        /// Base LSN of the segment.
        segment: Lsn,
        /// Byte offset of the frame.
        offset: u64,
        /// What is wrong with it.
        error: FrameError,
    },
}

impl LogError {
    /// Wraps an operating-system error met while doing `operation`.
    pub fn io(operation: &'static str, error: &io::Error) -> Self {
        Self::Io {
            operation,
            kind: error.kind(),
            message: error.to_string(),
        }
    }
}
