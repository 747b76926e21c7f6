//! The frame header: `kind (u8) | flags (u8) | body length (LEB128)`, and the frame limits.

use super::error::{ConfigError, FrameError};
use super::kind::{Kind, Lane, FLAGS_RESERVED_MASK};
use super::varint::{decode_varint, encode_varint};

/// The smallest header: kind, flags and a one-byte body length.
pub const HEADER_BYTES_MIN: usize = 3;

/// Limits a receiver applies to every binary frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameLimits {
    /// Largest body accepted in one frame, in bytes. Larger application messages are fragmented by the
    /// sender ([`crate::app::Fragmenter`]). Allowed range: `BODY_BYTES_MAX_MIN..=BODY_BYTES_MAX_MAX`.
    pub body_bytes_max: u32,
}

impl FrameLimits {
    /// Lower bound for `body_bytes_max`: every non-fragment frame of a conforming sender must fit.
    pub const BODY_BYTES_MAX_MIN: u32 = 1024;
    /// Upper bound for `body_bytes_max`.
    pub const BODY_BYTES_MAX_MAX: u32 = 16 * 1024 * 1024;

    /// Checks every field against its allowed range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        ConfigError::check(
            "body_bytes_max",
            u64::from(self.body_bytes_max),
            u64::from(Self::BODY_BYTES_MAX_MIN),
            u64::from(Self::BODY_BYTES_MAX_MAX),
        )
    }
}

impl Default for FrameLimits {
    /// 64 KiB bodies: four default fragments' worth, far above any chat line.
    fn default() -> Self {
        FrameLimits {
            body_bytes_max: 64 * 1024,
        }
    }
}

/// A parsed header whose kind and flags have been checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// The frame kind.
    pub kind: Kind,
    /// The priority lane from the flags byte.
    pub lane: Lane,
    /// Length of the header itself, in bytes (3 to 12).
    pub header_bytes: usize,
    /// Length of the body that follows, in bytes.
    pub body_bytes: usize,
}

impl FrameHeader {
    /// Header plus body length.
    pub fn frame_bytes(&self) -> usize {
        self.header_bytes + self.body_bytes
    }
}

/// Parses the header at the start of `input`. `Ok(None)` means more bytes are needed. The kind and flags are
/// checked only once the whole frame is present, so a skippable error always carries a frame length that
/// lies within `input`.
pub fn parse_header(input: &[u8], limits: &FrameLimits) -> Result<Option<FrameHeader>, FrameError> {
    let Some(&[kind_byte, flags]) = input.get(..2) else {
        return Ok(None);
    };
    let Some((body_bytes, length_bytes)) = decode_varint(&input[2..])? else {
        return Ok(None);
    };
    if body_bytes > u64::from(limits.body_bytes_max) {
        return Err(FrameError::BodyTooLarge {
            body_bytes,
            body_bytes_max: limits.body_bytes_max,
        });
    }
    // Cannot truncate: bounded by `body_bytes_max` (a u32) just above.
    let body_bytes = body_bytes as usize;
    let header_bytes = 2 + length_bytes;
    let frame_bytes = header_bytes + body_bytes;
    if input.len() < frame_bytes {
        return Ok(None);
    }
    let Some(kind) = Kind::from_u8(kind_byte) else {
        return Err(FrameError::UnknownKind {
            kind: kind_byte,
            frame_bytes,
        });
    };
    if flags & FLAGS_RESERVED_MASK != 0 {
        return Err(FrameError::ReservedFlags { flags, frame_bytes });
    }
    Ok(Some(FrameHeader {
        kind,
        lane: Lane::from_flags(flags),
        header_bytes,
        body_bytes,
    }))
}

/// Appends a header for a body of `body_bytes` bytes to `out`.
pub fn encode_header(kind: Kind, lane: Lane, body_bytes: usize, out: &mut Vec<u8>) {
    out.push(kind as u8);
    out.push(lane as u8);
    encode_varint(body_bytes as u64, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_split_points() {
        let mut frame = Vec::new();
        encode_header(Kind::Deliver, Lane::AiAnswer, 200, &mut frame);
        assert_eq!(frame, [0x05, 0x01, 0xC8, 0x01]);
        frame.resize(4 + 200, 0);
        let limits = FrameLimits::default();
        for end in 0..frame.len() {
            assert_eq!(parse_header(&frame[..end], &limits), Ok(None), "end {end}");
        }
        let header = parse_header(&frame, &limits).unwrap().unwrap();
        assert_eq!(header.kind, Kind::Deliver);
        assert_eq!(header.lane, Lane::AiAnswer);
        assert_eq!(header.frame_bytes(), 204);
    }

    #[test]
    fn unknown_kind_and_reserved_flags_are_skippable() {
        let limits = FrameLimits::default();
        assert_eq!(
            parse_header(&[0x7F, 0x00, 0x01, 0xAA], &limits),
            Err(FrameError::UnknownKind {
                kind: 0x7F,
                frame_bytes: 4
            })
        );
        assert_eq!(
            parse_header(&[0x0E, 0x84, 0x00], &limits),
            Err(FrameError::ReservedFlags {
                flags: 0x84,
                frame_bytes: 3
            })
        );
    }

    #[test]
    fn body_too_large_is_reported_before_the_body_arrives() {
        let limits = FrameLimits {
            body_bytes_max: 1024,
        };
        let mut frame = Vec::new();
        encode_header(Kind::Send, Lane::Chat, 1025, &mut frame);
        assert_eq!(
            parse_header(&frame, &limits),
            Err(FrameError::BodyTooLarge {
                body_bytes: 1025,
                body_bytes_max: 1024
            })
        );
    }

    #[test]
    fn limits_validate() {
        assert!(FrameLimits::default().validate().is_ok());
        assert_eq!(
            FrameLimits { body_bytes_max: 10 }
                .validate()
                .unwrap_err()
                .field,
            "body_bytes_max"
        );
    }
}
