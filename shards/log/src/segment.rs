//! [`Segment`]: one file of a shard's log and what the log remembers about it.

use super::record::Lsn;

/// One segment file and its bookkeeping.
#[derive(Debug)]
pub struct Segment<F> {
    /// The LSN of the segment's first record; also its file name.
    pub base: Lsn,
    /// The open file.
    pub file: F,
    /// Bytes written to the file (valid frames only; recovery cuts or ignores the rest).
    pub written_bytes: u64,
    /// Bytes known to be durable: synced with `fsync` durability, written with `buffered`. After a failed
    /// write or sync the file is cut back to this length before the log retries.
    pub durable_bytes: u64,
    /// Records in the segment, written or still in the write buffer.
    pub records: u64,
    /// The newest record's timestamp, for age retention; 0 for an empty segment.
    pub timestamp_ms_max: u64,
    /// Whether a write has reached the file since its last sync.
    pub dirty: bool,
}

impl<F> Segment<F> {
    /// A new empty segment.
    pub fn empty(base: Lsn, file: F) -> Self {
        Self {
            base,
            file,
            written_bytes: 0,
            durable_bytes: 0,
            records: 0,
            timestamp_ms_max: 0,
            dirty: false,
        }
    }

    /// The LSN the segment's next record would get.
    pub fn next_lsn(&self) -> Lsn {
        self.base + self.records
    }
}
