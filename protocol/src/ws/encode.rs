//! Whole-frame encoders: header plus (masked) payload, into a caller's buffer.
//!
//! A server passes `mask: None`; a client passes `Some(key)` with four fresh random bytes of its own
//! (this crate has no RNG). Nothing here allocates except growing the caller's `Vec`.

use super::close::CloseCode;
use super::error::EncodeError;
use super::frame::{FrameHeader, OpCode, CONTROL_PAYLOAD_BYTES_MAX};
use super::mask::apply_mask;

/// Appends one frame to `out` and returns the number of bytes appended.
///
/// `fin = false` starts or continues a fragmented message (use [`OpCode::Continuation`] after the first
/// fragment). Fails, leaving `out` untouched, for a control frame with `fin = false` or a payload above
/// 125 bytes.
pub fn encode_frame(
    out: &mut Vec<u8>,
    opcode: OpCode,
    fin: bool,
    payload: &[u8],
    mask: Option<[u8; 4]>,
) -> Result<usize, EncodeError> {
    let header = FrameHeader {
        fin,
        opcode,
        mask,
        payload_len: payload.len() as u64,
    };
    let mut header_bytes = [0u8; super::frame::FRAME_HEADER_BYTES_MAX];
    let header_len = header.encode(&mut header_bytes)?;
    out.reserve(header_len + payload.len());
    out.extend_from_slice(&header_bytes[..header_len]);
    let payload_start = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = mask {
        apply_mask(&mut out[payload_start..], key, 0);
    }
    Ok(header_len + payload.len())
}

/// Writes one frame at the start of `out` and returns the number of bytes written.
///
/// Same rules as [`encode_frame`]; additionally fails with [`EncodeError::BufferTooSmall`] when `out`
/// cannot hold the whole frame.
pub fn encode_frame_to_slice(
    out: &mut [u8],
    opcode: OpCode,
    fin: bool,
    payload: &[u8],
    mask: Option<[u8; 4]>,
) -> Result<usize, EncodeError> {
    let header = FrameHeader {
        fin,
        opcode,
        mask,
        payload_len: payload.len() as u64,
    };
    let needed = header.encoded_len() + payload.len();
    if out.len() < needed {
        return Err(EncodeError::BufferTooSmall {
            needed,
            available: out.len(),
        });
    }
    let header_len = header.encode(out)?;
    let body = &mut out[header_len..needed];
    body.copy_from_slice(payload);
    if let Some(key) = mask {
        apply_mask(body, key, 0);
    }
    Ok(needed)
}

/// Appends a Close frame with `code` and `reason` (at most 123 bytes) to `out`.
///
/// To close without a status code, use [`encode_frame`] with [`OpCode::Close`] and an empty payload.
pub fn encode_close(
    out: &mut Vec<u8>,
    code: CloseCode,
    reason: &str,
    mask: Option<[u8; 4]>,
) -> Result<usize, EncodeError> {
    if !code.is_valid_on_wire() {
        return Err(EncodeError::InvalidCloseCode(code.0));
    }
    let payload_len = 2 + reason.len();
    if payload_len > CONTROL_PAYLOAD_BYTES_MAX {
        return Err(EncodeError::ControlPayloadTooLong(payload_len));
    }
    let mut payload = [0u8; CONTROL_PAYLOAD_BYTES_MAX];
    payload[..2].copy_from_slice(&code.0.to_be_bytes());
    payload[2..payload_len].copy_from_slice(reason.as_bytes());
    encode_frame(out, OpCode::Close, true, &payload[..payload_len], mask)
}

#[cfg(test)]
mod tests {
    use super::super::frame::Role;
    use super::*;

    #[test]
    fn vec_and_slice_encoders_agree() {
        for len in [0usize, 1, 125, 126, 65_535, 65_536] {
            let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
            for mask in [None, Some([9, 8, 7, 6])] {
                let mut vec = Vec::new();
                let written = encode_frame(&mut vec, OpCode::Binary, true, &payload, mask).unwrap();
                assert_eq!(written, vec.len());
                let mut slice = vec![0u8; written + 3];
                assert_eq!(
                    encode_frame_to_slice(&mut slice, OpCode::Binary, true, &payload, mask),
                    Ok(written)
                );
                assert_eq!(&slice[..written], &vec[..]);
                let role = if mask.is_some() {
                    Role::Server
                } else {
                    Role::Client
                };
                let (header, header_len) = FrameHeader::parse(&vec, role).unwrap().unwrap();
                assert_eq!(header.payload_len, len as u64);
                let mut body = vec[header_len..].to_vec();
                if let Some(key) = header.mask {
                    apply_mask(&mut body, key, 0);
                }
                assert_eq!(body, payload);
            }
        }
    }

    #[test]
    fn slice_encoder_reports_small_buffer() {
        let mut out = [0u8; 4];
        assert_eq!(
            encode_frame_to_slice(&mut out, OpCode::Text, true, b"hello", None),
            Err(EncodeError::BufferTooSmall {
                needed: 7,
                available: 4
            })
        );
    }

    #[test]
    fn close_frames() {
        let mut out = Vec::new();
        encode_close(&mut out, CloseCode::NORMAL, "bye", None).unwrap();
        assert_eq!(out, [0x88, 0x05, 0x03, 0xe8, b'b', b'y', b'e']);
        assert_eq!(
            encode_close(&mut out, CloseCode::NO_STATUS, "", None),
            Err(EncodeError::InvalidCloseCode(1005))
        );
        let long = "x".repeat(124);
        assert_eq!(
            encode_close(&mut out, CloseCode::NORMAL, &long, None),
            Err(EncodeError::ControlPayloadTooLong(126))
        );
        assert_eq!(
            encode_frame(&mut out, OpCode::Ping, false, b"", None),
            Err(EncodeError::FragmentedControlFrame)
        );
    }
}
