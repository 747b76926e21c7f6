//! Start-up recovery: scan every segment in order, validate every frame, cut a torn tail, stop a segment
//! at a corrupt record, rebuild the indexes, and say what was found in a [`RecoveryReport`].
//!
//! How a bad frame is classified:
//! - in the last segment, a frame that runs past the end of the file, or a bad frame followed only by
//!   zero bytes or by nothing, is a torn tail (a crash in the middle of a write): the file is cut back to
//!   the last good frame and appending continues there;
//! - anywhere else the bad frame is corruption: it is reported with its location, the rest of that
//!   segment is ignored (left on disk for inspection) and the scan continues with the next segment. When
//!   that happens in the last segment, appending continues in a new segment.
//!
//! Every recovered segment is synced before the log is used: records that survived a process crash in
//! the page cache only are about to be acknowledged again (a retried message gets its original ack).
//!
//! Decoding never trusts the length field beyond `payload_bytes_max`, so no bad byte can make recovery
//! allocate or read without bound, and no bad byte can make it panic.

use super::file::{LogFile, LogStorage};
use super::index::Location;
use super::record::{decode, FrameError, Lsn, RecordHeader, FRAME_PREFIX_BYTES};
use super::segment::Segment;
use super::LogError;

/// Bytes read from a segment at a time during recovery.
const READ_CHUNK_BYTES: usize = 1 << 20;

/// What recovery found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Segments scanned.
    pub segments: usize,
    /// Valid records found.
    pub records: u64,
    /// Bytes of valid records found.
    pub bytes: u64,
    /// Bytes cut from the end of the last segment as a torn tail.
    pub torn_tail_bytes: u64,
    /// Corrupt records, each ending its segment's scan.
    pub corrupt: Vec<CorruptRecord>,
    /// The LSN the next appended record gets.
    pub next_lsn: Lsn,
}

/// A corrupt record found by recovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CorruptRecord {
    /// Base LSN of the segment holding it.
    pub segment: Lsn,
    /// Byte offset of the bad frame in the segment.
    pub offset: u64,
    /// What is wrong with it; `None` when the segment ends in the middle of the frame.
    pub error: Option<FrameError>,
    /// Bytes from the bad frame to the end of the segment, ignored.
    pub skipped_bytes: u64,
}

/// Where and why a segment's scan stopped before its end.
#[derive(Debug, Clone, Copy)]
struct Stop {
    offset: u64,
    error: Option<FrameError>,
    /// Where the bad frame ends according to its length field, when that length was in range.
    frame_end: Option<u64>,
}

/// The result of scanning one segment.
#[derive(Debug)]
struct Scan {
    records: u64,
    valid_bytes: u64,
    file_bytes: u64,
    timestamp_ms_max: u64,
    stop: Option<Stop>,
}

/// The log as recovery leaves it.
pub(crate) struct Recovered<F> {
    pub segments: Vec<Segment<F>>,
    pub report: RecoveryReport,
    /// Whether appending must start a new segment because the last one ends in corruption.
    pub roll_needed: bool,
}

/// Scans every segment of `storage`, calling `on_record` for each valid record in log order.
pub(crate) fn recover<S: LogStorage>(
    storage: &mut S,
    payload_bytes_max: usize,
    mut on_record: impl FnMut(RecordHeader, Location),
) -> Result<Recovered<S::File>, LogError> {
    let bases = storage
        .list_segments()
        .map_err(|e| LogError::io("list segments", &e))?;
    let mut report = RecoveryReport::default();
    let mut segments = Vec::with_capacity(bases.len());
    let mut roll_needed = false;
    let mut buf = Vec::new();
    for (index, &base) in bases.iter().enumerate() {
        let mut file = storage
            .open_segment(base)
            .map_err(|e| LogError::io("open segment", &e))?;
        let scan = scan_segment(&file, base, payload_bytes_max, &mut buf, &mut on_record)
            .map_err(|e| LogError::io("read segment", &e))?;
        report.segments += 1;
        report.records += scan.records;
        report.bytes += scan.valid_bytes;
        let is_last = index + 1 == bases.len();
        let mut corrupt = false;
        if let Some(stop) = scan.stop {
            if is_last && is_torn_tail(&file, &scan, stop, &mut buf)? {
                file.truncate(stop.offset)
                    .map_err(|e| LogError::io("truncate torn tail", &e))?;
                report.torn_tail_bytes = scan.file_bytes - stop.offset;
            } else {
                report.corrupt.push(CorruptRecord {
                    segment: base,
                    offset: stop.offset,
                    error: stop.error,
                    skipped_bytes: scan.file_bytes - stop.offset,
                });
                corrupt = true;
                roll_needed = is_last;
            }
        }
        // What recovery found may have survived in the page cache only (written, never synced); it is
        // about to be served and acknowledged (de-duplicated retries get the original ack), so make it
        // durable first. Syncing a clean file costs next to nothing.
        file.sync()
            .map_err(|e| LogError::io("fdatasync recovered segment", &e))?;
        let mut segment = Segment::empty(base, file);
        segment.written_bytes = scan.valid_bytes;
        segment.records = scan.records;
        segment.timestamp_ms_max = scan.timestamp_ms_max;
        // A corrupt record used an LSN that the next segment must not reuse; a torn one was never acked.
        let next = segment.next_lsn() + u64::from(corrupt);
        report.next_lsn = report.next_lsn.max(next);
        segments.push(segment);
    }
    Ok(Recovered {
        segments,
        report,
        roll_needed,
    })
}

/// Decodes every frame of one segment, reading it in chunks.
fn scan_segment<F: LogFile>(
    file: &F,
    base: Lsn,
    payload_bytes_max: usize,
    buf: &mut Vec<u8>,
    on_record: &mut impl FnMut(RecordHeader, Location),
) -> std::io::Result<Scan> {
    let file_bytes = file.len()?;
    let mut scan = Scan {
        records: 0,
        valid_bytes: 0,
        file_bytes,
        timestamp_ms_max: 0,
        stop: None,
    };
    buf.clear();
    let mut buf_start = 0u64;
    let mut pos = 0usize;
    loop {
        let offset = buf_start + pos as u64;
        match decode(&buf[pos..], payload_bytes_max) {
            Ok(Some((header, _payload, used))) => {
                let location = Location {
                    lsn: base + scan.records,
                    segment: base,
                    offset,
                    frame_bytes: used as u32,
                };
                on_record(header, location);
                scan.records += 1;
                scan.timestamp_ms_max = scan.timestamp_ms_max.max(header.timestamp_ms);
                pos += used;
                scan.valid_bytes = buf_start + pos as u64;
            }
            Ok(None) => {
                let read_end = buf_start + buf.len() as u64;
                if read_end >= file_bytes {
                    if pos < buf.len() {
                        scan.stop = Some(Stop {
                            offset,
                            error: None,
                            frame_end: None,
                        });
                    }
                    return Ok(scan);
                }
                buf.drain(..pos);
                buf_start += pos as u64;
                pos = 0;
                let want = READ_CHUNK_BYTES.min((file_bytes - read_end) as usize);
                let old = buf.len();
                buf.resize(old + want, 0);
                file.read_at(read_end, &mut buf[old..])?;
            }
            Err(error) => {
                let frame_end = match error {
                    FrameError::CrcMismatch { .. } => {
                        let length =
                            u32::from_le_bytes(buf[pos..pos + 4].try_into().expect("4 bytes"));
                        Some(offset + (FRAME_PREFIX_BYTES as u64) + u64::from(length))
                    }
                    FrameError::LengthOutOfRange { .. } => None,
                };
                scan.stop = Some(Stop {
                    offset,
                    error: Some(error),
                    frame_end,
                });
                return Ok(scan);
            }
        }
    }
}

/// Whether the bad frame at `stop` in the last segment is a torn tail: nothing but the frame itself or
/// zero bytes follow it.
fn is_torn_tail<F: LogFile>(
    file: &F,
    scan: &Scan,
    stop: Stop,
    buf: &mut Vec<u8>,
) -> Result<bool, LogError> {
    if stop.error.is_none() || stop.frame_end.is_some_and(|end| end >= scan.file_bytes) {
        return Ok(true);
    }
    let mut offset = stop.offset + FRAME_PREFIX_BYTES as u64;
    // A zeroed length is the bad frame itself: a file extended by a write whose data never landed.
    let mut header = [0u8; FRAME_PREFIX_BYTES];
    let prefix_fits = stop.offset + FRAME_PREFIX_BYTES as u64 <= scan.file_bytes;
    if !prefix_fits {
        return Ok(true);
    }
    file.read_at(stop.offset, &mut header)
        .map_err(|e| LogError::io("read segment", &e))?;
    if header != [0u8; FRAME_PREFIX_BYTES] && stop.frame_end.is_none() {
        return Ok(false);
    }
    if let Some(end) = stop.frame_end {
        offset = end;
    }
    while offset < scan.file_bytes {
        let want = READ_CHUNK_BYTES.min((scan.file_bytes - offset) as usize);
        buf.clear();
        buf.resize(want, 0);
        file.read_at(offset, buf)
            .map_err(|e| LogError::io("read segment", &e))?;
        if buf.iter().any(|&byte| byte != 0) {
            return Ok(false);
        }
        offset += want as u64;
    }
    Ok(true)
}
