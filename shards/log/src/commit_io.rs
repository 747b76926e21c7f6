//! The sans-IO side of an asynchronous group commit: the I/O [`ShardLog::begin_commit`] asks for
//! ([`CommitIo`]), what the caller reports back ([`CommitCompletion`]), and what comes next
//! ([`CommitStep`]).
//!
//! The shard loop performs each [`CommitIo`] however it likes — through the engine's
//! `write_file` / `sync_file` (io_uring or epoll), or in memory with
//! [`MemoryStorage::perform`](super::memory::MemoryStorage::perform) in tests — and hands the
//! outcome to [`ShardLog::io_complete`]. The log never blocks on this path.
//!
//! [`ShardLog::begin_commit`]: super::ShardLog::begin_commit
//! [`ShardLog::io_complete`]: super::ShardLog::io_complete

use std::io;

use super::record::Lsn;

/// One I/O operation of a commit, on the segment file identified by `file` (a
/// [`LogFile::Handle`](super::file::LogFile::Handle): the raw descriptor of a
/// [`DirFile`](super::file::DirFile)).
#[derive(Debug, PartialEq, Eq)]
pub enum CommitIo<H> {
    /// Write all of `bytes` at `offset` (`pwrite` semantics), then report
    /// [`CommitCompletion::Written`] handing `bytes` back.
    Write {
        /// The segment file.
        file: H,
        /// Where in the file.
        offset: u64,
        /// The frames to write; a copy of the log's write buffer, owned by the performer until the
        /// completion gives it back for reuse.
        bytes: Vec<u8>,
    },
    /// Make every completed write of `file` durable with `fdatasync`, then report
    /// [`CommitCompletion::Synced`].
    Sync {
        /// The segment file.
        file: H,
    },
}

/// The outcome of the [`CommitIo`] in flight, reported to
/// [`ShardLog::io_complete`](super::ShardLog::io_complete).
#[derive(Debug)]
pub enum CommitCompletion {
    /// A [`CommitIo::Write`] finished: `Ok` only if every byte was written.
    Written {
        /// The buffer of the write, handed back (the log reuses it for the next commit).
        bytes: Vec<u8>,
        /// Whether every byte was written.
        result: io::Result<()>,
    },
    /// A [`CommitIo::Sync`] finished.
    Synced {
        /// Whether the sync succeeded.
        result: io::Result<()>,
    },
}

/// What a commit needs next.
#[derive(Debug, PartialEq, Eq)]
pub enum CommitStep<H> {
    /// Perform this I/O and report its outcome to
    /// [`ShardLog::io_complete`](super::ShardLog::io_complete).
    Io(CommitIo<H>),
    /// The commit is done: every record with an LSN below this one may be acknowledged.
    Committed(Lsn),
}
