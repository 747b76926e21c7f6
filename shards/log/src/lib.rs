//! The durable log: one append-only, segmented, checksummed log per owner shard, on local disk.
//!
//! Layout:
//! - [`config`]: the settings, [`LogConfig`] (`[log]` in TOML), and [`Durability`] (`"fsync"` or
//!   `"buffered"`).
//! - [`record`]: the sans-IO record frame (length + CRC-32C + header + payload), [`Lsn`], [`Record`].
//! - [`crc`]: CRC-32C, table driven, no dependency.
//! - [`file`](mod@file): the I/O seam, [`LogFile`] and [`LogStorage`], and [`DirStorage`] on std::fs.
//! - [`memory`]: the test storage, [`MemoryStorage`], in memory, counting syncs and simulating crashes.
//! - [`segment`]: one segment's bookkeeping.
//! - [`index`]: conversation → sequence → location, and the bounded de-duplication window.
//! - [`recovery`]: the start-up scan, its [`RecoveryReport`] and the [`DamagedRange`]s it found.
//! - [`shard_log`]: the log itself, [`ShardLog`]: appends with group commit (blocking, or asynchronous through
//!   [`ShardLog::begin_commit`] / [`ShardLog::io_complete`]), reads, retention, the degraded state after a
//!   failed write or sync and its [`ShardLog::retry`], and the damage recovery found
//!   ([`ShardLog::sequence_high_water`], [`ShardLog::damaged_between`]).
//! - [`commit_io`]: the sans-IO steps of the asynchronous commit, [`CommitIo`], [`CommitCompletion`] and
//!   [`CommitStep`].
//! - [`error`]: the error type, [`LogError`].
//!
//! Decisions:
//! - One log per owner shard (`data_dir/shard-N/`), written only by that shard's thread: no locks, and a
//!   conversation's records are in one file sequence because one shard owns the conversation.
//! - Segments are named by the LSN of their first record (20 zero-padded digits, `.log`), so listing the
//!   directory gives the log order, and retention deletes whole files, oldest first, never the active one.
//! - Group commit: appends only encode into a buffer; a commit does one write and, with `fsync`
//!   durability, one `fdatasync` for every record appended since the last commit. With `fsync` a record
//!   is acknowledged only below the commit point a commit returns. A full segment is synced before the next one is
//!   written, so after a crash the surviving records are always a prefix of the appended ones.
//! - Recovery never panics on disk contents: every frame's length is bounded by `payload_bytes_max` and
//!   its CRC checked; a torn tail is cut; damage inside the log (a bad frame with valid ones after it, a
//!   missing or truncated segment) loses only the damaged records: the scan resynchronises on the next
//!   valid frame, and every damaged range is reported with its position in log order and the most records
//!   it may have held, so that the conversation layer never reuses a lost record's sequence and reports
//!   the hole as `damaged`.
//! - A failed write or sync (a full disk, an I/O error) degrades the log instead of stopping it: appends
//!   fail with [`LogError::Failed`], every record since the last commit stays in memory, and
//!   [`ShardLog::retry`] cuts the active segment back to its durable length and writes them again at
//!   the same offsets, so the retry after space returns writes no record twice and leaves no hole.
//! - I/O goes through [`LogFile`] / [`LogStorage`]. The blocking path ([`ShardLog::commit`], segment rolls,
//!   recovery, reads) calls them directly; for [`DirStorage`] that is `pwrite` (`std::os::unix::fs::FileExt`)
//!   and `fdatasync` (`File::sync_data`) on the shard thread. The shard loop commits asynchronously instead:
//!   [`ShardLog::begin_commit`] returns a [`CommitIo`] (write these bytes at this offset of this file, or
//!   sync it) naming the segment by its raw descriptor, the shard submits it through its engine
//!   (`Engine::write_file` / `Engine::sync_file`: io_uring `WRITE` / `FSYNC` with `DATASYNC`, submitted with
//!   the tick's other entries; blocking `pwrite` / `fdatasync` on the epoll fallback), and feeds the
//!   completion to [`ShardLog::io_complete`], which returns the next I/O or the commit point. Appends go on
//!   meanwhile and form the next group; a full write buffer during a commit is
//!   [`LogError::WriteBufferFull`] (backpressure). Segment rolls and a write buffer filling up with no
//!   commit in flight remain blocking (once per segment, and rare).
//! - The in-memory indexes cover every retained record (about 60 bytes each) and the last
//!   `dedup_window_max` message ids; the last sequence of a conversation whose records were all deleted by
//!   retention is remembered until restart only, so the conversation layer must keep conversation state
//!   (including its next sequence) elsewhere.

#![forbid(unsafe_code)]

pub mod commit_io;
pub mod config;
pub mod crc;
pub mod error;
pub mod file;
pub mod index;
pub mod memory;
pub mod record;
pub mod recovery;
pub mod segment;
pub mod shard_log;

pub use commit_io::{CommitCompletion, CommitIo, CommitStep};
pub use config::{ConfigError as LogConfigError, Durability, LogConfig};
pub use error::LogError;
pub use file::{DirStorage, LogFile, LogStorage};
pub use memory::{MemoryHandle, MemoryStorage};
pub use record::{Lsn, Record, RecordHeader};
pub use recovery::{CorruptRecord, DamagedRange, RecoveryReport};
pub use shard_log::{RetentionReport, ShardLog};

#[cfg(test)]
mod async_commit_tests;
#[cfg(test)]
mod tests;
