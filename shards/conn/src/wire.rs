//! Server-side frame headers and control frames, written straight into an output buffer.
//!
//! The header encoding itself is the protocol crate's [`FrameHeader`]; this module only adapts it to the
//! send path (unmasked server frames appended to a `Vec`) and holds control frames inline so queueing a
//! pong, ping or close never allocates.

use switchboard_protocol::ws::frame::FRAME_HEADER_BYTES_MAX;
use switchboard_protocol::ws::{FrameHeader, OpCode};

pub use switchboard_protocol::ws::frame::CONTROL_PAYLOAD_BYTES_MAX;

/// Largest header of an unmasked frame: 2 bytes plus a 64-bit extended length.
pub const SERVER_FRAME_HEADER_BYTES_MAX: usize = 10;
/// Largest close reason: a control payload minus the 2-byte code.
pub const CLOSE_REASON_BYTES_MAX: usize = CONTROL_PAYLOAD_BYTES_MAX - 2;

/// Opcode of a continuation frame.
pub const OPCODE_CONTINUATION: u8 = 0x0;
/// Opcode of a Close frame.
pub const OPCODE_CLOSE: u8 = 0x8;
/// Opcode of a Ping frame.
pub const OPCODE_PING: u8 = 0x9;
/// Opcode of a Pong frame.
pub const OPCODE_PONG: u8 = 0xA;

/// The unmasked server header for `payload_len` bytes.
fn server_header(fin: bool, opcode: u8, payload_len: usize) -> FrameHeader {
    let opcode = OpCode::from_u8(opcode).expect("the send path only writes defined opcodes");
    FrameHeader {
        fin,
        opcode,
        mask: None,
        payload_len: payload_len as u64,
    }
}

/// Bytes of the header of an unmasked frame with `payload_len` payload bytes.
pub fn header_len(payload_len: usize) -> usize {
    server_header(true, OPCODE_CONTINUATION, payload_len).encoded_len()
}

/// Appends the header of an unmasked frame to `out`.
pub fn write_header(out: &mut Vec<u8>, fin: bool, opcode: u8, payload_len: usize) {
    let mut header = [0u8; FRAME_HEADER_BYTES_MAX];
    let written = server_header(fin, opcode, payload_len)
        .encode(&mut header)
        .expect("the send path keeps control frames whole and within 125 bytes");
    out.extend_from_slice(&header[..written]);
}

/// A control frame waiting to be sent, held inline (no allocation).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ControlFrame {
    opcode: u8,
    len: u8,
    payload: [u8; CONTROL_PAYLOAD_BYTES_MAX],
}

impl std::fmt::Debug for ControlFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlFrame")
            .field("opcode", &self.opcode)
            .field("payload", &self.payload())
            .finish()
    }
}

impl ControlFrame {
    /// A Ping or Pong; the payload is cut to 125 bytes (callers pass at most that: the assembler rejects
    /// longer control frames, and our pings are 8 bytes).
    pub fn new(opcode: u8, payload: &[u8]) -> Self {
        debug_assert!(
            payload.len() <= CONTROL_PAYLOAD_BYTES_MAX,
            "control payload checked by caller"
        );
        let len = payload.len().min(CONTROL_PAYLOAD_BYTES_MAX);
        let mut frame = Self {
            opcode,
            len: len as u8,
            payload: [0; CONTROL_PAYLOAD_BYTES_MAX],
        };
        frame.payload[..len].copy_from_slice(&payload[..len]);
        frame
    }

    /// A Close frame with `code` and `reason`, the reason cut at a character boundary to fit 123 bytes.
    pub fn close(code: u16, reason: &str) -> Self {
        let mut end = reason.len().min(CLOSE_REASON_BYTES_MAX);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        let mut payload = [0u8; CONTROL_PAYLOAD_BYTES_MAX];
        payload[..2].copy_from_slice(&code.to_be_bytes());
        payload[2..2 + end].copy_from_slice(&reason.as_bytes()[..end]);
        Self::new(OPCODE_CLOSE, &payload[..2 + end])
    }

    /// The payload bytes.
    pub fn payload(&self) -> &[u8] {
        &self.payload[..usize::from(self.len)]
    }

    /// Bytes the encoded frame takes.
    pub fn encoded_len(&self) -> usize {
        2 + usize::from(self.len)
    }

    /// Appends the encoded frame to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        write_header(out, true, self.opcode, usize::from(self.len));
        out.extend_from_slice(self.payload());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lengths_match_rfc_boundaries() {
        for len in [0, 1, 125, 126, 127, 65_535, 65_536, 1 << 20] {
            let mut out = Vec::new();
            write_header(&mut out, true, 0x2, len);
            assert_eq!(out.len(), header_len(len), "len {len}");
            assert_eq!(out[0], 0x82);
        }
        let mut out = Vec::new();
        write_header(&mut out, false, OPCODE_CONTINUATION, 300);
        assert_eq!(out, [0x00, 126, 0x01, 0x2C]);
    }

    #[test]
    fn close_reason_is_cut_at_a_char_boundary() {
        let reason = "é".repeat(100);
        let frame = ControlFrame::close(1000, &reason);
        assert!(frame.payload().len() <= CONTROL_PAYLOAD_BYTES_MAX);
        assert!(std::str::from_utf8(&frame.payload()[2..]).is_ok());
        assert_eq!(&frame.payload()[..2], &1000u16.to_be_bytes());
    }
}
