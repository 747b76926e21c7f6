//! The asynchronous group commit of [`ShardLog`]: a sans-IO sub-state machine that hands the shard
//! loop one [`CommitIo`] at a time and never blocks.
//!
//! A commit covers every record appended before [`ShardLog::begin_commit`] (one group): one write of
//! the buffered frames at the end of the active segment, then, with [`Durability::Fsync`], one sync.
//! The write is a copy of the write buffer, so records stay readable from the buffer until the write
//! completes. Records appended while the commit is in flight stay in the buffer for the next group.
//!
//! While a commit is in flight an append never starts I/O: a full write buffer is
//! [`LogError::WriteBufferFull`] (backpressure), and a full segment takes the record anyway, up to the
//! buffer's size beyond its limit. The rare blocking steps stay blocking: `begin_commit` rolls an
//! over-full segment synchronously (write, sync, create the next segment: the full segment must be
//! synced before the next one is written), and an append with no commit in flight rolls or writes a
//! full buffer as before.

use super::ShardLog;
use crate::commit_io::{CommitCompletion, CommitIo, CommitStep};
use crate::config::Durability;
use crate::file::{LogFile, LogStorage};
use crate::record::Lsn;
use crate::LogError;

/// The handle naming a segment file of storage `S`.
type Handle<S> = <<S as LogStorage>::File as LogFile>::Handle;

/// Which I/O of the commit in flight the log waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The write of the buffer's first `bytes` bytes to the active segment.
    Writing { bytes: usize },
    /// The sync of the active segment.
    Syncing,
}

/// The commit in flight.
#[derive(Debug)]
pub(super) struct InFlight {
    phase: Phase,
    /// The commit point once done: the LSN after the group's last record.
    end_lsn: Lsn,
    /// The active segment's base when the commit began (no roll happens while in flight).
    segment: Lsn,
}

impl InFlight {
    /// Checks the commit's bookkeeping against the log's (debug builds and tests).
    pub(super) fn invariants(&self, buffered_bytes: usize, next_lsn: Lsn) {
        debug_assert!(self.end_lsn <= next_lsn);
        if let Phase::Writing { bytes } = self.phase {
            debug_assert!(
                bytes <= buffered_bytes,
                "the in-flight frames stay buffered"
            );
        }
    }
}

impl<S: LogStorage> ShardLog<S> {
    /// Starts an asynchronous commit of every record appended so far and returns its first step:
    /// an I/O to perform and report to [`ShardLog::io_complete`], or, when no I/O is needed (or a
    /// full segment was rolled synchronously), the new commit point at once. `None` when nothing
    /// awaits a commit or a commit is already in flight. A shard loop calls this once per tick.
    ///
    /// # Errors
    ///
    /// [`LogError::Failed`] while the log is degraded, or an I/O error of the synchronous roll, after
    /// which the log is degraded.
    pub fn begin_commit(&mut self) -> Result<Option<CommitStep<Handle<S>>>, LogError> {
        self.check_not_failed()?;
        if self.in_flight.is_some() || !self.needs_commit() {
            return Ok(None);
        }
        if self.active_end() >= self.config.segment_bytes_max {
            // Rare: blocking, like `commit`. The roll writes and syncs the full segment.
            self.roll()?;
            self.committed_lsn = self.next_lsn;
            self.invariants();
            return Ok(Some(CommitStep::Committed(self.committed_lsn)));
        }
        let end_lsn = self.next_lsn;
        let segment = self.active().base;
        if self.buffer.is_empty() {
            // Written earlier (the buffer filled up); only the sync, if any, remains.
            return Ok(Some(self.after_write(end_lsn, segment)));
        }
        let mut bytes = std::mem::take(&mut self.spare);
        bytes.clear();
        bytes.extend_from_slice(&self.buffer);
        let phase = Phase::Writing { bytes: bytes.len() };
        self.in_flight = Some(InFlight {
            phase,
            end_lsn,
            segment,
        });
        let active = self.active();
        let io = CommitIo::Write {
            file: active.file.handle(),
            offset: active.written_bytes,
            bytes,
        };
        self.invariants();
        Ok(Some(CommitStep::Io(io)))
    }

    /// Reports the outcome of the [`CommitIo`] in flight and returns the next step: another I/O, or
    /// the commit point (every record below it may be acknowledged). Reporting an outcome with no
    /// commit in flight, or of the wrong kind, is the caller's bug and panics.
    ///
    /// # Errors
    ///
    /// The I/O error that was reported, after which the log is degraded ([`LogError::Failed`] until
    /// [`ShardLog::retry`] succeeds), the commit point stays where the last good commit left it and
    /// the group's records stay buffered for the retry.
    pub fn io_complete(
        &mut self,
        completion: CommitCompletion,
    ) -> Result<CommitStep<Handle<S>>, LogError> {
        let in_flight = self
            .in_flight
            .take()
            .expect("ShardLog::io_complete without a commit in flight");
        assert_eq!(
            in_flight.segment,
            self.active().base,
            "no roll while a commit is in flight"
        );
        let step = match (in_flight.phase, completion) {
            (Phase::Writing { bytes: len }, CommitCompletion::Written { bytes, result }) => {
                assert_eq!(bytes.len(), len, "the write's buffer comes back whole");
                self.spare = bytes;
                self.guard("write", result)?;
                self.wrote(len);
                self.after_write(in_flight.end_lsn, in_flight.segment)
            }
            (Phase::Syncing, CommitCompletion::Synced { result }) => {
                self.guard("fdatasync", result)?;
                self.synced();
                self.committed(in_flight.end_lsn)
            }
            (phase, completion) => {
                panic!("commit completion {completion:?} does not match the {phase:?} in flight")
            }
        };
        self.invariants();
        Ok(step)
    }

    /// Whether an asynchronous commit is in flight (between [`ShardLog::begin_commit`] returning an
    /// I/O and [`ShardLog::io_complete`] returning [`CommitStep::Committed`] or an error).
    pub fn commit_in_flight(&self) -> bool {
        self.in_flight.is_some()
    }

    /// After the group's bytes are written: sync them (`fsync`) or finish (`buffered`).
    fn after_write(&mut self, end_lsn: Lsn, segment: Lsn) -> CommitStep<Handle<S>> {
        let active = self.active();
        if self.config.durability == Durability::Fsync && active.dirty {
            let file = active.file.handle();
            self.in_flight = Some(InFlight {
                phase: Phase::Syncing,
                end_lsn,
                segment,
            });
            return CommitStep::Io(CommitIo::Sync { file });
        }
        self.committed(end_lsn)
    }

    fn committed(&mut self, end_lsn: Lsn) -> CommitStep<Handle<S>> {
        self.in_flight = None;
        self.committed_lsn = end_lsn;
        CommitStep::Committed(end_lsn)
    }
}
