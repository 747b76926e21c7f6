//! Start-up recovery: scan every segment in order, validate every frame, cut a torn tail, skip damaged
//! bytes and resynchronise on the next valid frame, detect records missing between segments, rebuild the
//! indexes, and say what was found in a [`RecoveryReport`].
//!
//! How a bad frame is classified:
//! - in the last segment, a bad frame after which no valid frame follows is a torn tail (a crash in the
//!   middle of a write, never acknowledged with `fsync` durability) when it looks like one: the frame
//!   runs past the end of the file (and its CRC does not match the bytes to the end, which would make it
//!   a complete frame with a damaged length), or its last page is zeros, or only zero bytes follow it.
//!   The file is cut back to the last good frame and appending continues there;
//! - anything else is damage inside the log: the bad frame is skipped — by its own length when that
//!   length is plausible and a valid frame follows it, otherwise byte by byte until a frame whose length
//!   and CRC check — and the scan goes on from there. The damaged bytes stay on disk for inspection and
//!   are reported as a [`DamagedRange`]. When that happens in the last segment, appending continues in a
//!   new segment.
//! - Segments are named by their first LSN, so the records of a closed segment must reach the next
//!   segment's base exactly. Fewer means records were lost (a missing segment, a truncated or damaged
//!   file): the shortfall is reported as a [`DamagedRange`] with its exact record count.
//!
//! Every damaged range remembers where it sits in log order ([`DamagedRange::lsn`]) and how many records
//! it may have held at most ([`DamagedRange::records_max`]). The log uses both so that a conversation
//! whose newest records may have been lost never gets their sequence numbers again, and so that a replay
//! reports the hole as damaged rather than expired.
//!
//! Every recovered segment is synced before the log is used: records that survived a process crash in
//! the page cache only are about to be acknowledged again (a retried message gets its original ack).
//!
//! Decoding never trusts the length field beyond `payload_bytes_max`, so no bad byte can make recovery
//! allocate or read without bound, and no bad byte can make it panic.

use super::crc::Crc32c;
use super::file::{LogFile, LogStorage};
use super::index::Location;
use super::record::{
    decode, FrameError, Lsn, RecordHeader, FRAME_OVERHEAD_BYTES, FRAME_PREFIX_BYTES, HEADER_BYTES,
};
use super::segment::Segment;
use super::LogError;

/// Bytes read from a segment at a time during recovery.
const READ_CHUNK_BYTES: usize = 1 << 20;

/// The page size a torn write leaves unwritten as a whole (zeros), bytes.
const PAGE_BYTES: u64 = 4096;

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
    /// Damaged ranges: bad bytes skipped inside a segment, and records missing between segments, in log
    /// order.
    pub corrupt: Vec<DamagedRange>,
    /// The LSN the next appended record gets.
    pub next_lsn: Lsn,
}

impl RecoveryReport {
    /// The most records the damaged ranges may have held (exact for closed segments, an upper bound
    /// from the damaged bytes in the last one).
    pub fn damaged_records_max(&self) -> u64 {
        self.corrupt.iter().map(|range| range.records_max).sum()
    }

    /// Bytes skipped as damaged.
    pub fn damaged_bytes(&self) -> u64 {
        self.corrupt.iter().map(|range| range.skipped_bytes).sum()
    }
}

/// A damaged range found by recovery: bad bytes skipped inside a segment, or records missing after a
/// segment's last valid one (a deleted segment, a truncated file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DamagedRange {
    /// Base LSN of the segment holding the range (for missing records: the segment they should follow).
    pub segment: Lsn,
    /// Byte offset of the range in the segment.
    pub offset: u64,
    /// What is wrong with its first frame; `None` when the frame runs past the end of the file or the
    /// records are missing altogether.
    pub error: Option<FrameError>,
    /// Bytes of the range, skipped (0 for missing records).
    pub skipped_bytes: u64,
    /// Where the range sits in log order: every record recovered before it has a smaller LSN, every
    /// record after it this LSN or more.
    pub lsn: Lsn,
    /// The most records the range may have held: exact for a closed segment (its records must reach the
    /// next segment's base), otherwise one per smallest frame that fits in the damaged bytes.
    pub records_max: u64,
}

/// The compatible name of [`DamagedRange`].
pub type CorruptRecord = DamagedRange;

/// A run of bad bytes found by a segment's scan.
#[derive(Debug, Clone, Copy)]
struct Region {
    offset: u64,
    /// Where the next valid frame starts, or the end of the file.
    end: u64,
    error: Option<FrameError>,
    /// Where the first bad frame ends according to its length field, when that length was in range.
    frame_end: Option<u64>,
    /// Valid records of the segment before the region.
    records_before: u64,
}

/// The result of scanning one segment.
#[derive(Debug)]
struct Scan {
    records: u64,
    /// The end of the last valid frame.
    valid_bytes: u64,
    file_bytes: u64,
    timestamp_ms_max: u64,
    regions: Vec<Region>,
}

/// The log as recovery leaves it.
pub(crate) struct Recovered<F> {
    pub segments: Vec<Segment<F>>,
    pub report: RecoveryReport,
    /// Whether appending must start a new segment because the last one holds damage.
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
    let mut window = Vec::new();
    for (index, &base) in bases.iter().enumerate() {
        let mut file = storage
            .open_segment(base)
            .map_err(|e| LogError::io("open segment", &e))?;
        let mut scan = scan_segment(&file, base, payload_bytes_max, &mut window, &mut on_record)
            .map_err(|e| LogError::io("read segment", &e))?;
        report.segments += 1;
        report.records += scan.records;
        report.bytes += scan.valid_bytes;
        let next_base = bases.get(index + 1).copied();
        if next_base.is_none() {
            if let Some(tail) = scan.regions.last().copied() {
                if tail.end == scan.file_bytes
                    && is_torn_tail(&file, &scan, tail, payload_bytes_max, &mut window)?
                {
                    file.truncate(tail.offset)
                        .map_err(|e| LogError::io("truncate torn tail", &e))?;
                    report.torn_tail_bytes = scan.file_bytes - tail.offset;
                    scan.regions.pop();
                }
            }
        }
        let damaged = damaged_ranges(base, &scan, next_base);
        // A damaged range may have used LSNs the next segment must not reuse; a torn one was never acked.
        let lost: u64 = damaged.iter().map(|range| range.records_max).sum();
        if next_base.is_none() && !damaged.is_empty() {
            roll_needed = true;
        }
        report.corrupt.extend(damaged);
        // What recovery found may have survived in the page cache only (written, never synced); it is
        // about to be served and acknowledged (de-duplicated retries get the original ack), so make it
        // durable first. Syncing a clean file costs next to nothing.
        file.sync()
            .map_err(|e| LogError::io("fdatasync recovered segment", &e))?;
        let mut segment = Segment::empty(base, file);
        segment.written_bytes = scan.valid_bytes;
        segment.durable_bytes = scan.valid_bytes;
        segment.records = scan.records;
        segment.timestamp_ms_max = scan.timestamp_ms_max;
        report.next_lsn = report.next_lsn.max(segment.next_lsn() + lost);
        segments.push(segment);
    }
    Ok(Recovered {
        segments,
        report,
        roll_needed,
    })
}

/// The damaged ranges of one scanned segment whose successor (if any) starts at `next_base`.
fn damaged_ranges(base: Lsn, scan: &Scan, next_base: Option<Lsn>) -> Vec<DamagedRange> {
    let mut ranges: Vec<DamagedRange> = scan
        .regions
        .iter()
        .map(|region| {
            let skipped_bytes = region.end - region.offset;
            DamagedRange {
                segment: base,
                offset: region.offset,
                error: region.error,
                skipped_bytes,
                lsn: base + region.records_before,
                records_max: skipped_bytes.div_ceil(FRAME_OVERHEAD_BYTES as u64).max(1),
            }
        })
        .collect();
    let Some(next_base) = next_base else {
        return ranges;
    };
    // A closed segment's records reach the next segment's base exactly; the shortfall is what was lost.
    let shortfall = next_base.saturating_sub(base + scan.records);
    let mut left = shortfall;
    for range in &mut ranges {
        range.records_max = range.records_max.min(left);
        left -= range.records_max;
    }
    match ranges.last_mut() {
        Some(last) => last.records_max += left,
        None if shortfall > 0 => ranges.push(DamagedRange {
            segment: base,
            offset: scan.valid_bytes,
            error: None,
            skipped_bytes: 0,
            lsn: base + scan.records,
            records_max: shortfall,
        }),
        None => {}
    }
    ranges
}

/// A sliding window over a segment file, read in chunks.
struct Window<'a, F> {
    file: &'a F,
    buf: &'a mut Vec<u8>,
    /// File offset of `buf[0]`.
    start: u64,
    file_bytes: u64,
}

impl<F: LogFile> Window<'_, F> {
    /// The bytes from `from` to at least `to` (or the end of the file), dropping those before `from`.
    fn bytes(&mut self, from: u64, to: u64) -> std::io::Result<&[u8]> {
        debug_assert!(from >= self.start);
        let to = to.min(self.file_bytes);
        let end = self.start + self.buf.len() as u64;
        if end < to {
            self.buf.drain(..(from - self.start) as usize);
            self.start = from;
            let want = (to - end)
                .max(READ_CHUNK_BYTES as u64)
                .min(self.file_bytes - end);
            let old = self.buf.len();
            self.buf.resize(old + want as usize, 0);
            self.file.read_at(end, &mut self.buf[old..])?;
        }
        Ok(&self.buf[(from - self.start) as usize..])
    }
}

/// Decodes every frame of one segment, skipping damaged bytes.
fn scan_segment<F: LogFile>(
    file: &F,
    base: Lsn,
    payload_bytes_max: usize,
    buf: &mut Vec<u8>,
    on_record: &mut impl FnMut(RecordHeader, Location),
) -> std::io::Result<Scan> {
    let file_bytes = file.len()?;
    buf.clear();
    let mut window = Window {
        file,
        buf,
        start: 0,
        file_bytes,
    };
    let frame_max = (FRAME_OVERHEAD_BYTES + payload_bytes_max) as u64;
    let mut scan = Scan {
        records: 0,
        valid_bytes: 0,
        file_bytes,
        timestamp_ms_max: 0,
        regions: Vec::new(),
    };
    let mut region: Option<Region> = None;
    let mut offset = 0u64;
    while offset < file_bytes {
        let bytes = window.bytes(offset, offset + frame_max)?;
        match decode(bytes, payload_bytes_max) {
            Ok(Some((header, _payload, used))) => {
                if let Some(mut damaged) = region.take() {
                    damaged.end = offset;
                    scan.regions.push(damaged);
                }
                on_record(
                    header,
                    Location {
                        lsn: base + scan.records,
                        segment: base,
                        offset,
                        frame_bytes: used as u32,
                    },
                );
                scan.records += 1;
                scan.timestamp_ms_max = scan.timestamp_ms_max.max(header.timestamp_ms);
                offset += used as u64;
                scan.valid_bytes = offset;
                continue;
            }
            Ok(None) | Err(_) if region.is_some() => {}
            Ok(None) => region = Some(new_region(offset, None, None, scan.records)),
            Err(error) => {
                let frame_end = match error {
                    FrameError::CrcMismatch { .. } => {
                        let length = u32::from_le_bytes(bytes[0..4].try_into().expect("4 bytes"));
                        Some(offset + (FRAME_PREFIX_BYTES as u64) + u64::from(length))
                    }
                    FrameError::LengthOutOfRange { .. } => None,
                };
                region = Some(new_region(offset, Some(error), frame_end, scan.records));
                // Usually only the body or the CRC is damaged: skip the frame by its own length when a
                // valid frame follows it.
                if let Some(end) = frame_end.filter(|&end| end < file_bytes) {
                    let bytes = window.bytes(offset, end + frame_max)?;
                    let at = (end - offset) as usize;
                    if matches!(decode(&bytes[at..], payload_bytes_max), Ok(Some(_))) {
                        offset = end;
                        continue;
                    }
                }
            }
        }
        // Resynchronise: the next frame may start at any byte.
        offset += 1;
    }
    if let Some(mut damaged) = region {
        damaged.end = file_bytes;
        scan.regions.push(damaged);
    }
    Ok(scan)
}

fn new_region(
    offset: u64,
    error: Option<FrameError>,
    frame_end: Option<u64>,
    records_before: u64,
) -> Region {
    Region {
        offset,
        end: offset,
        error,
        frame_end,
        records_before,
    }
}

/// Whether the bad bytes `tail`, which run to the end of the last segment, are a torn tail (the end of a
/// write a crash interrupted, never acknowledged with `fsync`) rather than damage to acknowledged data:
/// - a frame that runs past the end of the file is torn, unless its CRC matches the bytes up to the end
///   with the length they would need (then only its length field was damaged);
/// - a complete frame at the very end with a bad CRC is torn only when the file's last page within it
///   is all zeros (a page that never landed); a flipped byte leaves no such page;
/// - otherwise the bad frame is torn when only zero bytes follow it (or when it is zeros itself and so is
///   everything after it: a file extended by a write whose data never landed).
fn is_torn_tail<F: LogFile>(
    file: &F,
    scan: &Scan,
    tail: Region,
    payload_bytes_max: usize,
    buf: &mut Vec<u8>,
) -> Result<bool, LogError> {
    let read = |offset: u64, buf: &mut Vec<u8>, len: usize| {
        buf.clear();
        buf.resize(len, 0);
        file.read_at(offset, buf)
            .map_err(|e| LogError::io("read segment", &e))
    };
    let to_end = scan.file_bytes - tail.offset;
    if tail.error.is_none() {
        let body_bytes = to_end.saturating_sub(FRAME_PREFIX_BYTES as u64);
        if to_end < FRAME_OVERHEAD_BYTES as u64
            || body_bytes > (HEADER_BYTES + payload_bytes_max) as u64
        {
            return Ok(true);
        }
        read(tail.offset, buf, to_end as usize)?;
        let stored = u32::from_le_bytes(buf[4..8].try_into().expect("4 bytes"));
        let mut crc = Crc32c::new();
        crc.update(&(body_bytes as u32).to_le_bytes());
        crc.update(&buf[FRAME_PREFIX_BYTES..]);
        return Ok(crc.finish() != stored);
    }
    if tail.frame_end == Some(scan.file_bytes) {
        let last_page = ((scan.file_bytes - 1) & !(PAGE_BYTES - 1)).max(tail.offset);
        read(last_page, buf, (scan.file_bytes - last_page) as usize)?;
        return Ok(buf.iter().all(|&byte| byte == 0));
    }
    if to_end < FRAME_PREFIX_BYTES as u64 {
        return Ok(true);
    }
    read(tail.offset, buf, FRAME_PREFIX_BYTES)?;
    let mut offset = match tail.frame_end {
        _ if buf.iter().all(|&byte| byte == 0) => tail.offset,
        Some(end) => end,
        None => return Ok(false),
    };
    while offset < scan.file_bytes {
        let want = READ_CHUNK_BYTES.min((scan.file_bytes - offset) as usize);
        read(offset, buf, want)?;
        if buf.iter().any(|&byte| byte != 0) {
            return Ok(false);
        }
        offset += want as u64;
    }
    Ok(true)
}
