//! The on-disk record frame, sans-IO: [`encode`] appends a frame to a caller's buffer, [`decode`] parses
//! one from a byte slice.
//!
//! Frame layout, all integers little-endian:
//!
//! ```text
//! body_bytes u32 | crc32c u32 | conversation_id u64 | sequence u64 | message_id [u8; 16]
//!                             | timestamp_ms u64 | lane u8 | kind u8 | payload [u8; body_bytes - 42]
//! ```
//!
//! `body_bytes` counts the header and the payload; the CRC covers the four `body_bytes` bytes and then the
//! body, so a flipped length is caught as surely as a flipped payload byte. The record's log sequence
//! number is not stored: it is the segment's base LSN plus the record's index in the segment.

use super::crc::Crc32c;

/// A log sequence number: the position of a record in its shard's log, counting records from 0.
pub type Lsn = u64;

/// Bytes of the `body_bytes` and `crc32c` fields that precede every body.
pub const FRAME_PREFIX_BYTES: usize = 8;

/// Bytes of the fixed record header inside the body.
pub const HEADER_BYTES: usize = 8 + 8 + 16 + 8 + 1 + 1;

/// Bytes a frame adds around its payload.
pub const FRAME_OVERHEAD_BYTES: usize = FRAME_PREFIX_BYTES + HEADER_BYTES;

// The header layout above is written field by field; this catches a field added to one side only.
const _: () = assert!(HEADER_BYTES == 42);

/// The fixed fields of a record: who it belongs to and how to order, de-duplicate and prioritise it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RecordHeader {
    /// The conversation the record belongs to.
    pub conversation_id: u64,
    /// The record's sequence number in its conversation, assigned by the owner shard.
    pub sequence: u64,
    /// The client's 16-byte message id, the key of the de-duplication window.
    pub message_id: [u8; 16],
    /// When the owner accepted the record, in milliseconds since the Unix epoch; drives age retention.
    pub timestamp_ms: u64,
    /// The protocol priority lane, stored as its wire value.
    pub lane: u8,
    /// The kind of record (message, receipt, state change…), defined by the conversation layer.
    pub kind: u8,
}

/// A record read back from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Where the record sits in its shard's log.
    pub lsn: Lsn,
    /// The fixed fields.
    pub header: RecordHeader,
    /// The payload bytes, as appended.
    pub payload: Vec<u8>,
}

/// Why bytes that should hold a frame do not. The disk (or whatever wrote the file) is at fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The length field is smaller than a header or larger than the configured record limit.
    #[error("frame body length {body_bytes} is out of range {min}..={max}")]
    LengthOutOfRange {
        /// The length field as read.
        body_bytes: u32,
        /// Smallest valid body length (a header with an empty payload).
        min: u32,
        /// Largest valid body length for the configured payload limit.
        max: u32,
    },
    /// The stored checksum does not match the bytes.
    #[error("frame checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    CrcMismatch {
        /// The CRC field as read.
        stored: u32,
        /// The CRC of the bytes as read.
        computed: u32,
    },
}

/// A decoded frame: its header, its payload and the frame's length in bytes.
pub type Decoded<'a> = (RecordHeader, &'a [u8], usize);

/// Bytes of the frame that holds a payload of `payload_bytes`.
pub const fn frame_bytes(payload_bytes: usize) -> usize {
    FRAME_OVERHEAD_BYTES + payload_bytes
}

/// Appends the frame of `header` and `payload` to `out` and returns the frame's length in bytes.
///
/// # Panics
///
/// When `payload` is longer than `u32::MAX - HEADER_BYTES`; the log checks its configured payload limit,
/// far below that, before calling.
pub fn encode(header: &RecordHeader, payload: &[u8], out: &mut Vec<u8>) -> usize {
    let body_bytes =
        u32::try_from(HEADER_BYTES + payload.len()).expect("payload checked by the caller");
    let start = out.len();
    out.extend_from_slice(&body_bytes.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&header.conversation_id.to_le_bytes());
    out.extend_from_slice(&header.sequence.to_le_bytes());
    out.extend_from_slice(&header.message_id);
    out.extend_from_slice(&header.timestamp_ms.to_le_bytes());
    out.push(header.lane);
    out.push(header.kind);
    out.extend_from_slice(payload);
    let mut crc = Crc32c::new();
    crc.update(&out[start..start + 4]);
    crc.update(&out[start + FRAME_PREFIX_BYTES..]);
    out[start + 4..start + 8].copy_from_slice(&crc.finish().to_le_bytes());
    out.len() - start
}

/// Parses the frame at the start of `bytes`.
///
/// Returns `Ok(None)` when `bytes` ends before the frame does (more bytes needed, or a torn tail at the
/// end of a file), otherwise the header, the payload slice and the frame's length. `payload_bytes_max` is
/// the configured limit; a longer length field is treated as corruption so a flipped length bit cannot
/// make recovery wait for gigabytes.
///
/// # Errors
///
/// [`FrameError`] when the length is out of range or the checksum does not match.
pub fn decode(bytes: &[u8], payload_bytes_max: usize) -> Result<Option<Decoded<'_>>, FrameError> {
    if bytes.len() < FRAME_PREFIX_BYTES {
        return Ok(None);
    }
    let body_bytes = u32::from_le_bytes(bytes[0..4].try_into().expect("4 bytes"));
    let stored = u32::from_le_bytes(bytes[4..8].try_into().expect("4 bytes"));
    let min = HEADER_BYTES as u32;
    let max = u32::try_from(HEADER_BYTES + payload_bytes_max).unwrap_or(u32::MAX);
    if !(min..=max).contains(&body_bytes) {
        return Err(FrameError::LengthOutOfRange {
            body_bytes,
            min,
            max,
        });
    }
    let total = FRAME_PREFIX_BYTES + body_bytes as usize;
    if bytes.len() < total {
        return Ok(None);
    }
    let body = &bytes[FRAME_PREFIX_BYTES..total];
    let mut crc = Crc32c::new();
    crc.update(&bytes[0..4]);
    crc.update(body);
    let computed = crc.finish();
    if computed != stored {
        return Err(FrameError::CrcMismatch { stored, computed });
    }
    let u64_at = |at: usize| u64::from_le_bytes(body[at..at + 8].try_into().expect("8 bytes"));
    let header = RecordHeader {
        conversation_id: u64_at(0),
        sequence: u64_at(8),
        message_id: body[16..32].try_into().expect("16 bytes"),
        timestamp_ms: u64_at(32),
        lane: body[40],
        kind: body[41],
    };
    Ok(Some((header, &body[HEADER_BYTES..], total)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> RecordHeader {
        RecordHeader {
            conversation_id: 0x0102_0304_0506_0708,
            sequence: 42,
            message_id: *b"0123456789abcdef",
            timestamp_ms: 1_700_000_000_000,
            lane: 3,
            kind: 9,
        }
    }

    #[test]
    fn round_trips_and_reports_its_length() {
        let mut out = vec![0xAA];
        let written = encode(&header(), b"hello", &mut out);
        assert_eq!(written, frame_bytes(5));
        assert_eq!(out.len(), 1 + written);
        let (decoded, payload, used) = decode(&out[1..], 64).unwrap().unwrap();
        assert_eq!((decoded, payload, used), (header(), &b"hello"[..], written));
    }

    #[test]
    fn empty_payload_is_a_valid_frame() {
        let mut out = Vec::new();
        encode(&header(), b"", &mut out);
        let (_, payload, used) = decode(&out, 0).unwrap().unwrap();
        assert!(payload.is_empty());
        assert_eq!(used, FRAME_OVERHEAD_BYTES);
    }

    #[test]
    fn every_strict_prefix_needs_more_bytes() {
        let mut out = Vec::new();
        encode(&header(), b"some payload", &mut out);
        for cut in 0..out.len() {
            assert_eq!(decode(&out[..cut], 64), Ok(None), "cut at {cut}");
        }
    }

    #[test]
    fn every_flipped_byte_is_detected() {
        let mut out = Vec::new();
        encode(&header(), b"payload bytes", &mut out);
        for index in 0..out.len() {
            let mut bad = out.clone();
            bad[index] ^= 0x10;
            let result = decode(&bad, 64);
            // A flipped length may also make the frame look longer than the bytes: never a valid record.
            assert!(
                !matches!(result, Ok(Some(_))),
                "flip at {index}: {result:?}"
            );
        }
    }

    #[test]
    fn zeroed_bytes_are_a_length_error() {
        assert_eq!(
            decode(&[0u8; 64], 64),
            Err(FrameError::LengthOutOfRange {
                body_bytes: 0,
                min: HEADER_BYTES as u32,
                max: (HEADER_BYTES + 64) as u32,
            })
        );
    }

    #[test]
    fn a_length_above_the_payload_limit_is_an_error() {
        let mut out = Vec::new();
        encode(&header(), &[7u8; 100], &mut out);
        assert!(matches!(
            decode(&out, 99),
            Err(FrameError::LengthOutOfRange { .. })
        ));
    }
}
