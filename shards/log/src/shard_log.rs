//! [`ShardLog`]: one owner shard's durable log — appends with group commit, reads by conversation and
//! sequence range, retention of whole segments.
//!
//! Appends are encoded into a write buffer and cost no syscall. [`ShardLog::commit`] writes the buffer
//! with one `write_at` and, with [`Durability::Fsync`], covers it with one `sync`; a shard loop appends
//! everything of one tick and commits once, so one `fdatasync` covers every append of the tick. The
//! buffer is also written (not synced) when it would outgrow `write_buffer_bytes_max`, and when a segment
//! is full: then the full segment is synced before the next one receives any byte, so after any crash
//! the surviving records are a prefix of the appended ones (no later record survives an earlier loss).
//!
//! The same group commit also runs asynchronously, without blocking the shard: see
//! [`ShardLog::begin_commit`] in `async_commit`.

use std::collections::VecDeque;
use std::path::Path;

use super::config::{Durability, LogConfig};
use super::file::{DirStorage, LogFile, LogStorage};
use super::index::{ConversationIndex, DedupWindow, Location};
use super::record::{decode, encode, frame_bytes, Lsn, Record, RecordHeader};
use super::recovery::{recover, DamagedRange, RecoveryReport};
use super::segment::Segment;
use super::LogError;

mod async_commit;
mod damage;
mod fault;

use async_commit::InFlight;

/// What [`ShardLog::retain`] deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// Segments deleted.
    pub segments: usize,
    /// Bytes of the deleted segments.
    pub bytes: u64,
    /// Indexed records that went with them.
    pub records: u64,
}

/// One owner shard's durable log over a [`LogStorage`].
pub struct ShardLog<S: LogStorage> {
    config: LogConfig,
    storage: S,
    /// Oldest first; the last one is the active segment, the only one appended to. Never empty.
    segments: VecDeque<Segment<S::File>>,
    /// Frames appended but not yet written; they belong at the active segment's `written_bytes`.
    buffer: Vec<u8>,
    /// The LSN of the next appended record.
    next_lsn: Lsn,
    /// Every record below this LSN is acknowledged: synced with `fsync`, written with `buffered`.
    committed_lsn: Lsn,
    /// Bytes written to all segments.
    written_bytes_total: u64,
    conversations: ConversationIndex,
    dedup: DedupWindow,
    /// The write or sync failure that degraded the log, if any: appends and commits then fail with
    /// [`LogError::Failed`] until [`ShardLog::retry`] succeeds.
    fault: Option<LogError>,
    /// With `fsync` durability, the bytes of the active segment between its `durable_bytes` and its
    /// `written_bytes` (written, not yet synced), kept so that a retry after a failed sync can write them
    /// again. At most `write_buffer_bytes_max`: every write is synced before the buffer refills.
    unsynced: Vec<u8>,
    /// The damaged ranges recovery found, in log order.
    damage: Vec<DamagedRange>,
    /// The asynchronous commit in flight, if any; while it is, appends do no I/O.
    in_flight: Option<InFlight>,
    /// The buffer an asynchronous commit's write copies the frames into; back here between commits.
    spare: Vec<u8>,
}

impl ShardLog<DirStorage> {
    /// Opens (recovering) the log of owner shard `shard` in `config.data_dir/shard-N`.
    ///
    /// # Errors
    ///
    /// As [`ShardLog::open`], plus an I/O error when the directory cannot be created.
    pub fn open_dir(config: LogConfig, shard: usize) -> Result<(Self, RecoveryReport), LogError> {
        let dir = config.shard_dir(shard);
        Self::open_path(config, &dir)
    }

    /// Opens (recovering) a log whose segments are in `dir`.
    ///
    /// # Errors
    ///
    /// As [`ShardLog::open`], plus an I/O error when the directory cannot be created and
    /// [`LogError::Locked`] when another log (usually another server process) has it open.
    pub fn open_path(config: LogConfig, dir: &Path) -> Result<(Self, RecoveryReport), LogError> {
        config.validate()?;
        let storage = DirStorage::open(dir).map_err(|e| match e.kind() {
            std::io::ErrorKind::WouldBlock => LogError::Locked {
                dir: dir.to_path_buf(),
            },
            _ => LogError::io("create log directory", &e),
        })?;
        Self::open(config, storage)
    }
}

impl<S: LogStorage> ShardLog<S> {
    /// Validates `config`, recovers the segments in `storage` and rebuilds the indexes.
    ///
    /// # Errors
    ///
    /// [`LogError::Config`] for an invalid configuration, [`LogError::Io`] when a segment cannot be
    /// listed, read, cut or created. Corrupt or torn records are not errors: they are in the report.
    pub fn open(config: LogConfig, mut storage: S) -> Result<(Self, RecoveryReport), LogError> {
        config.validate()?;
        let mut conversations = ConversationIndex::default();
        let mut dedup = DedupWindow::new(config.dedup_window_max as usize);
        let recovered = recover(
            &mut storage,
            config.payload_bytes_max as usize,
            |header, location| {
                conversations.insert(header.conversation_id, header.sequence, location);
                dedup.insert(header.message_id, header.conversation_id, header.sequence);
            },
        )?;
        let report = recovered.report;
        let written_bytes_total = recovered.segments.iter().map(|s| s.written_bytes).sum();
        let mut log = Self {
            buffer: Vec::with_capacity(config.write_buffer_bytes_max as usize),
            config,
            storage,
            segments: recovered.segments.into(),
            next_lsn: report.next_lsn,
            committed_lsn: report.next_lsn,
            written_bytes_total,
            conversations,
            dedup,
            fault: None,
            unsynced: Vec::new(),
            damage: report.corrupt.clone(),
            in_flight: None,
            spare: Vec::new(),
        };
        // A new segment also when the last one cannot continue the LSNs: an earlier segment held more
        // records than the LSNs up to the next one's base (damaged file names or contents).
        let continues = log
            .segments
            .back()
            .is_some_and(|last| last.next_lsn() == log.next_lsn);
        if !continues || recovered.roll_needed {
            log.start_segment()?;
        }
        log.invariants();
        Ok((log, report))
    }

    /// Appends a record to the write buffer and returns its LSN. It is acknowledged once
    /// [`ShardLog::commit`] returns an LSN above it.
    ///
    /// Usually no syscall; writes (and, with `fsync`, syncs) when the buffer is full, and rolls to a new
    /// segment when the active one is full.
    ///
    /// # Errors
    ///
    /// [`LogError::PayloadTooLarge`], [`LogError::SequenceNotIncreasing`], or an I/O error from the
    /// write or roll, after which the log is degraded ([`LogError::Failed`] until
    /// [`ShardLog::retry`] succeeds); the record is then not appended.
    pub fn append(&mut self, header: &RecordHeader, payload: &[u8]) -> Result<Lsn, LogError> {
        self.check_not_failed()?;
        if payload.len() > self.config.payload_bytes_max as usize {
            return Err(LogError::PayloadTooLarge {
                payload_bytes: payload.len(),
                max: self.config.payload_bytes_max,
            });
        }
        if let Some(last) = self.conversations.last_sequence(header.conversation_id) {
            if header.sequence <= last {
                return Err(LogError::SequenceNotIncreasing {
                    conversation_id: header.conversation_id,
                    last,
                    sequence: header.sequence,
                });
            }
        }
        let frame = frame_bytes(payload.len());
        self.make_room(frame)?;
        let offset = self.active_end();
        let lsn = self.next_lsn;
        let written = encode(header, payload, &mut self.buffer);
        debug_assert_eq!(written, frame);
        let active = self.segments.back_mut().expect("never empty");
        active.records += 1;
        active.timestamp_ms_max = active.timestamp_ms_max.max(header.timestamp_ms);
        let location = Location {
            lsn,
            segment: active.base,
            offset,
            frame_bytes: frame as u32,
        };
        self.conversations
            .insert(header.conversation_id, header.sequence, location);
        self.dedup
            .insert(header.message_id, header.conversation_id, header.sequence);
        self.next_lsn += 1;
        self.invariants();
        Ok(lsn)
    }

    /// Writes the buffered records with one write and, with [`Durability::Fsync`], syncs them with one
    /// sync, blocking the thread. Returns the commit point: every record with an LSN below it may be
    /// acknowledged. A shard loop uses [`ShardLog::begin_commit`] instead; this is for tests and the
    /// fallback, and must not be called while an asynchronous commit is in flight (a caller's bug).
    ///
    /// # Errors
    ///
    /// An I/O error from the write or sync, after which the log is degraded ([`LogError::Failed`]
    /// until [`ShardLog::retry`] succeeds). The records stay buffered: the retry writes them.
    pub fn commit(&mut self) -> Result<Lsn, LogError> {
        assert!(
            self.in_flight.is_none(),
            "ShardLog::commit called while an asynchronous commit is in flight"
        );
        self.check_not_failed()?;
        self.write_buffer()?;
        if self.config.durability == Durability::Fsync {
            self.sync_active()?;
        }
        self.committed_lsn = self.next_lsn;
        self.invariants();
        Ok(self.committed_lsn)
    }

    /// Every record with an LSN below this is acknowledged (see [`ShardLog::commit`]).
    pub fn committed_lsn(&self) -> Lsn {
        self.committed_lsn
    }

    /// The LSN the next appended record gets.
    pub fn next_lsn(&self) -> Lsn {
        self.next_lsn
    }

    /// Whether records are waiting for a [`ShardLog::commit`]; a shard loop commits at the end of a
    /// tick when this is true. Changed by `append` (to true) and `commit` (to false).
    pub fn needs_commit(&self) -> bool {
        self.next_lsn > self.committed_lsn
    }

    /// The highest sequence appended to `conversation_id`, if any record of it was ever recovered or
    /// appended since start-up (retention does not lower it).
    pub fn last_sequence(&self, conversation_id: u64) -> Option<u64> {
        self.conversations.last_sequence(conversation_id)
    }

    /// The sequence that `message_id` became in `conversation`, while the pair is in the
    /// de-duplication window (the last `dedup_window_max` records). Ids are scoped to their
    /// conversation: the same id in another conversation is another message.
    pub fn lookup_message(&self, conversation: u64, message_id: &[u8; 16]) -> Option<u64> {
        self.dedup.get(conversation, message_id)
    }

    /// The conversations that have at least one retained record.
    pub fn conversations(&self) -> impl Iterator<Item = u64> + '_ {
        self.conversations.conversations()
    }

    /// Up to `limit` retained records of `conversation_id` with a sequence in `from_seq..=to_seq`, in
    /// sequence order. Includes records not yet committed; compare [`Record::lsn`] with
    /// [`ShardLog::committed_lsn`] to replay only acknowledged ones.
    ///
    /// # Errors
    ///
    /// [`LogError::Io`] when a segment cannot be read, [`LogError::Corrupt`] when a record changed on
    /// disk since recovery validated it.
    pub fn read(
        &self,
        conversation_id: u64,
        from_seq: u64,
        to_seq: u64,
        limit: usize,
    ) -> Result<Vec<Record>, LogError> {
        let locations = self
            .conversations
            .range(conversation_id, from_seq, to_seq, limit);
        let mut records = Vec::with_capacity(locations.len());
        let mut frame = Vec::new();
        for (_, location) in locations {
            records.push(self.read_at(location, &mut frame)?);
        }
        Ok(records)
    }

    /// Deletes the oldest closed segments while the oldest one's newest record is older than
    /// `retention_ms` at `now_ms`, or the log is larger than `retention_bytes_max`. The active
    /// segment is never deleted. The conversation index forgets the deleted records; the
    /// de-duplication window keeps their ids until they age out of it, since the original ack is still
    /// the right answer to a retry.
    ///
    /// # Errors
    ///
    /// [`LogError::Io`] when a segment cannot be deleted; those before it are gone and unindexed.
    pub fn retain(&mut self, now_ms: u64) -> Result<RetentionReport, LogError> {
        let mut report = RetentionReport::default();
        let mut result = Ok(());
        while self.segments.len() > 1 {
            let oldest = self.segments.front().expect("more than one segment");
            let expired = self
                .config
                .retention_ms
                .is_some_and(|age| oldest.timestamp_ms_max.saturating_add(age) <= now_ms);
            let oversized = self
                .config
                .retention_bytes_max
                .is_some_and(|max| self.written_bytes_total > max);
            if !expired && !oversized {
                break;
            }
            if let Err(e) = self.storage.remove_segment(oldest.base) {
                result = Err(LogError::io("delete segment", &e));
                break;
            }
            let oldest = self.segments.pop_front().expect("more than one segment");
            self.written_bytes_total -= oldest.written_bytes;
            report.segments += 1;
            report.bytes += oldest.written_bytes;
        }
        if report.segments > 0 {
            let first_kept = self.segments.front().expect("never empty").base;
            report.records = self.conversations.remove_below(first_kept);
            // Best effort: a deletion lost in a crash is redone by the next retention pass.
            let synced = self.storage.sync_dir();
            if result.is_ok() {
                result = synced.map_err(|e| LogError::io("sync log directory", &e));
            }
        }
        self.invariants();
        result.map(|()| report)
    }

    /// Segments currently on disk.
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// Bytes written to all segments (not counting the write buffer).
    pub fn written_bytes(&self) -> u64 {
        self.written_bytes_total
    }

    /// The storage, e.g. to inspect a [`super::memory::MemoryStorage`] in a test.
    pub fn storage(&self) -> &S {
        &self.storage
    }

    fn read_at(&self, location: Location, frame: &mut Vec<u8>) -> Result<Record, LogError> {
        let index = self
            .segments
            .partition_point(|segment| segment.base <= location.segment)
            .checked_sub(1)
            .expect("indexed records are in retained segments");
        let segment = &self.segments[index];
        debug_assert_eq!(segment.base, location.segment);
        let bytes: &[u8] =
            if index + 1 == self.segments.len() && location.offset >= segment.written_bytes {
                let start = (location.offset - segment.written_bytes) as usize;
                &self.buffer[start..start + location.frame_bytes as usize]
            } else {
                frame.clear();
                frame.resize(location.frame_bytes as usize, 0);
                segment
                    .file
                    .read_at(location.offset, frame)
                    .map_err(|e| LogError::io("read record", &e))?;
                frame
            };
        let corrupt = |error| LogError::Corrupt {
            segment: location.segment,
            offset: location.offset,
            error,
        };
        match decode(bytes, self.config.payload_bytes_max as usize).map_err(corrupt)? {
            Some((header, payload, _)) => Ok(Record {
                lsn: location.lsn,
                header,
                payload: payload.to_vec(),
            }),
            None => unreachable!("the whole frame was read"),
        }
    }

    fn active(&self) -> &Segment<S::File> {
        self.segments.back().expect("never empty")
    }

    /// Where the next frame goes in the active segment.
    fn active_end(&self) -> u64 {
        self.active().written_bytes + self.buffer.len() as u64
    }

    fn check_not_failed(&self) -> Result<(), LogError> {
        if self.fault.is_some() {
            Err(LogError::Failed)
        } else {
            Ok(())
        }
    }

    /// Degrades the log when `result` is an error.
    fn guard<T>(
        &mut self,
        operation: &'static str,
        result: std::io::Result<T>,
    ) -> Result<T, LogError> {
        result.map_err(|e| {
            let error = LogError::io(operation, &e);
            self.fault = Some(error.clone());
            error
        })
    }

    /// Bookkeeping after `len` bytes reached the active segment's file.
    fn wrote(&mut self, len: usize) {
        let fsync = self.config.durability == Durability::Fsync;
        if fsync {
            self.unsynced.extend_from_slice(&self.buffer[..len]);
        }
        self.buffer.drain(..len);
        let active = self.segments.back_mut().expect("never empty");
        active.written_bytes += len as u64;
        if fsync {
            active.dirty = true;
        } else {
            active.durable_bytes = active.written_bytes;
        }
        self.written_bytes_total += len as u64;
    }

    /// Bookkeeping after the active segment's file was synced.
    fn synced(&mut self) {
        let active = self.segments.back_mut().expect("never empty");
        active.dirty = false;
        active.durable_bytes = active.written_bytes;
        self.unsynced.clear();
    }

    fn write_buffer(&mut self) -> Result<(), LogError> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let active = self.segments.back_mut().expect("never empty");
        let result = active.file.write_at(active.written_bytes, &self.buffer);
        self.guard("write", result)?;
        self.wrote(self.buffer.len());
        Ok(())
    }

    fn sync_active(&mut self) -> Result<(), LogError> {
        let active = self.segments.back_mut().expect("never empty");
        if !active.dirty {
            return Ok(());
        }
        let result = active.file.sync();
        self.guard("fdatasync", result)?;
        self.synced();
        Ok(())
    }

    /// Closes the active segment (written and, with `fsync`, synced) and starts the next one.
    fn roll(&mut self) -> Result<(), LogError> {
        self.write_buffer()?;
        if self.config.durability == Durability::Fsync {
            self.sync_active()?;
        }
        self.start_segment()
    }

    fn start_segment(&mut self) -> Result<(), LogError> {
        let base = self.next_lsn;
        let created = self.storage.create_segment(base);
        let file = self.guard("create segment", created)?;
        let synced = self.storage.sync_dir();
        self.guard("sync log directory", synced)?;
        self.segments.push_back(Segment::empty(base, file));
        Ok(())
    }

    /// Makes room for a frame of `frame` bytes before it is appended. Without a commit in flight:
    /// rolls to a new segment when the active one is full and writes (and, with `fsync`, syncs) the
    /// buffer when it is full (both blocking, and rare; the sync keeps every unsynced byte in memory
    /// bounded by the buffer, for a retry after a failure). With one in flight no I/O may start: a full segment takes the frame anyway
    /// (overshooting by at most the write buffer; `begin_commit` rolls it), and a full buffer is
    /// [`LogError::WriteBufferFull`].
    fn make_room(&mut self, frame: usize) -> Result<(), LogError> {
        let buffer_full = self.buffer.len() + frame > self.config.write_buffer_bytes_max as usize;
        if self.in_flight.is_some() {
            if buffer_full {
                return Err(LogError::WriteBufferFull {
                    buffered_bytes: self.buffer.len(),
                    max: self.config.write_buffer_bytes_max,
                });
            }
            return Ok(());
        }
        if self.active_end() + frame as u64 > self.config.segment_bytes_max
            && self.active().records > 0
        {
            self.roll()?;
        }
        if self.buffer.len() + frame > self.config.write_buffer_bytes_max as usize {
            self.write_buffer()?;
            if self.config.durability == Durability::Fsync {
                self.sync_active()?;
            }
        }
        Ok(())
    }

    /// Checks the log's bookkeeping in debug builds and tests.
    fn invariants(&self) {
        debug_assert!(!self.segments.is_empty());
        debug_assert!(self.committed_lsn <= self.next_lsn);
        debug_assert_eq!(self.active().next_lsn(), self.next_lsn);
        debug_assert!(self.buffer.len() <= self.config.write_buffer_bytes_max as usize);
        // Appends during an asynchronous commit may overshoot a full segment by up to the buffer.
        debug_assert!(
            self.active_end()
                <= self
                    .config
                    .segment_bytes_max
                    .max(self.config.frame_bytes_max())
                    + u64::from(self.config.write_buffer_bytes_max)
        );
        if let Some(in_flight) = &self.in_flight {
            in_flight.invariants(self.buffer.len(), self.next_lsn);
        }
        debug_assert_eq!(
            self.written_bytes_total,
            self.segments.iter().map(|s| s.written_bytes).sum::<u64>()
        );
        let active = self.active();
        debug_assert_eq!(
            self.unsynced.len() as u64,
            active.written_bytes - active.durable_bytes,
            "the unsynced bytes are kept for a retry"
        );
    }
}
