//! The degraded log: what a failed write or sync leaves behind, and [`ShardLog::retry`], which repairs it.
//!
//! A write or sync error (a full disk, an I/O error) does not stop the log for good. The log becomes
//! degraded: appends and commits fail with [`LogError::Failed`], and nothing is lost that was not
//! acknowledged — every record since the last commit stays in memory (the write buffer, plus the bytes
//! written but not yet synced). The caller retries later, with backoff. A retry first cuts the active
//! segment back to its durable length, so that whatever part of the failed write reached the file (or
//! whatever a failed `fdatasync` may have dropped) is gone, then writes the kept bytes again at exactly
//! the offsets they had, and syncs: no record is written twice, and none leaves a hole.
//!
//! Why not simply retry the sync: after a failed `fdatasync` the kernel may have dropped the dirty pages
//! and marked them clean, so a second `fdatasync` can succeed without the data on disk. Rewriting from
//! memory does not depend on what the kernel kept.

use super::ShardLog;
use crate::file::{LogFile, LogStorage};
use crate::record::Lsn;
use crate::LogError;

impl<S: LogStorage> ShardLog<S> {
    /// The failure that degraded the log, while it is degraded: appends and commits fail with
    /// [`LogError::Failed`] until [`ShardLog::retry`] succeeds. Changed by a failing write or sync
    /// (to `Some`) and a successful retry (to `None`).
    pub fn fault(&self) -> Option<&LogError> {
        self.fault.as_ref()
    }

    /// Whether the log is degraded (see [`ShardLog::fault`]).
    pub fn is_degraded(&self) -> bool {
        self.fault.is_some()
    }

    /// Tries to leave the degraded state: cuts the active segment back to its durable length, writes the
    /// records kept since then again, syncs (with `fsync` durability) and returns the new commit point,
    /// like [`ShardLog::commit`]. Blocking, like a segment roll; a caller retries with backoff. When the
    /// log is not degraded it is an ordinary blocking commit.
    ///
    /// # Errors
    ///
    /// The I/O error of this attempt; the log stays degraded with nothing lost that a later retry could
    /// not write.
    ///
    /// # Panics
    ///
    /// When an asynchronous commit is in flight (the caller's bug: a failed commit is never in flight).
    pub fn retry(&mut self) -> Result<Lsn, LogError> {
        assert!(
            self.in_flight.is_none(),
            "ShardLog::retry called while an asynchronous commit is in flight"
        );
        if self.fault.is_some() {
            self.restore_active()?;
            self.fault = None;
        }
        self.commit()
    }

    /// Cuts the active segment back to its durable length and writes the unsynced bytes again, so that
    /// the file holds exactly what the log believes was written.
    fn restore_active(&mut self) -> Result<(), LogError> {
        let active = self.segments.back_mut().expect("never empty");
        let durable = active.durable_bytes;
        let result = active.file.truncate(durable);
        self.guard("truncate after a failed write", result)?;
        let active = self.segments.back_mut().expect("never empty");
        self.written_bytes_total -= active.written_bytes - durable;
        active.written_bytes = durable;
        if !self.unsynced.is_empty() {
            let result = active.file.write_at(durable, &self.unsynced);
            self.guard("write", result)?;
            let active = self.segments.back_mut().expect("never empty");
            active.written_bytes += self.unsynced.len() as u64;
            active.dirty = true;
            self.written_bytes_total += self.unsynced.len() as u64;
        }
        Ok(())
    }
}
