//! Unsigned LEB128 varints: 7 bits per byte, least significant group first, high bit set on every byte but
//! the last. Used for the body length in the frame header and for the fragment prefix.

use super::error::FrameError;

/// The longest encoding of a `u64`: ten bytes (9 × 7 + 1 bits).
pub const VARINT_BYTES_MAX: usize = 10;

/// Appends the minimal LEB128 encoding of `value` to `out`.
pub fn encode_varint(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// The number of bytes [`encode_varint`] writes for `value`.
pub fn varint_len(value: u64) -> usize {
    let bits = 64 - (value | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Decodes a varint at the start of `input`: `Ok(Some((value, consumed)))`, `Ok(None)` when `input` ends
/// inside the varint, or [`FrameError::MalformedVarint`] when it is longer than ten bytes, overflows
/// `u64`, or is not minimal (a trailing zero group), so that every value has exactly one encoding.
pub fn decode_varint(input: &[u8]) -> Result<Option<(u64, usize)>, FrameError> {
    let mut value: u64 = 0;
    for (index, &byte) in input.iter().enumerate().take(VARINT_BYTES_MAX) {
        let group = u64::from(byte & 0x7F);
        if index == VARINT_BYTES_MAX - 1 && byte > 1 {
            return Err(FrameError::MalformedVarint);
        }
        value |= group << (7 * index);
        if byte & 0x80 == 0 {
            if byte == 0 && index > 0 {
                return Err(FrameError::MalformedVarint);
            }
            return Ok(Some((value, index + 1)));
        }
    }
    // Fewer than ten bytes, all with the continuation bit: the varint goes on past the input.
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_encodings() {
        let cases: [(u64, &[u8]); 6] = [
            (0, &[0x00]),
            (1, &[0x01]),
            (127, &[0x7F]),
            (128, &[0x80, 0x01]),
            (300, &[0xAC, 0x02]),
            (
                u64::MAX,
                &[0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01],
            ),
        ];
        for (value, bytes) in cases {
            let mut out = Vec::new();
            encode_varint(value, &mut out);
            assert_eq!(out, bytes);
            assert_eq!(varint_len(value), bytes.len());
            assert_eq!(decode_varint(bytes), Ok(Some((value, bytes.len()))));
        }
    }

    #[test]
    fn every_prefix_needs_more_bytes() {
        let mut out = Vec::new();
        encode_varint(u64::MAX, &mut out);
        for end in 0..out.len() {
            assert_eq!(decode_varint(&out[..end]), Ok(None));
        }
    }

    #[test]
    fn rejects_overflow_overlong_and_non_minimal() {
        assert_eq!(decode_varint(&[0xFF; 10]), Err(FrameError::MalformedVarint));
        assert_eq!(decode_varint(&[0x80; 11]), Err(FrameError::MalformedVarint));
        let overflow = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02];
        assert_eq!(decode_varint(&overflow), Err(FrameError::MalformedVarint));
        assert_eq!(
            decode_varint(&[0x80, 0x00]),
            Err(FrameError::MalformedVarint)
        );
    }

    #[test]
    fn round_trips_powers_of_two() {
        for shift in 0..64 {
            for value in [(1u64 << shift) - 1, 1u64 << shift, (1u64 << shift) + 1] {
                let mut out = Vec::new();
                encode_varint(value, &mut out);
                assert_eq!(out.len(), varint_len(value));
                assert_eq!(decode_varint(&out), Ok(Some((value, out.len()))));
            }
        }
    }
}
