//! Frame headers (RFC 6455 5.2): parsing with every receive-side rule, and header encoding.

use super::error::{EncodeError, WsError};

/// Largest payload a control frame (Close, Ping, Pong) may carry (RFC 6455 5.5).
pub const CONTROL_PAYLOAD_BYTES_MAX: usize = 125;
/// Largest encoded frame header: 2 fixed bytes, 8 extended-length bytes, 4 mask bytes.
pub const FRAME_HEADER_BYTES_MAX: usize = 14;

/// Which end of the connection this endpoint is. Decides the masking rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// We accepted the connection: we receive masked frames and send unmasked ones.
    Server,
    /// We opened the connection: we receive unmasked frames and send masked ones.
    Client,
}

/// A frame opcode. Reserved opcodes are rejected while parsing and have no variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpCode {
    /// 0x0: a continuation fragment of a Text or Binary message.
    Continuation,
    /// 0x1: the first (or only) frame of a UTF-8 text message.
    Text,
    /// 0x2: the first (or only) frame of a binary message.
    Binary,
    /// 0x8: connection close.
    Close,
    /// 0x9: ping.
    Ping,
    /// 0xA: pong.
    Pong,
}

impl OpCode {
    /// Every opcode, for tests and fuzzing.
    pub const ALL: [OpCode; 6] = [
        OpCode::Continuation,
        OpCode::Text,
        OpCode::Binary,
        OpCode::Close,
        OpCode::Ping,
        OpCode::Pong,
    ];

    /// Decodes the low four bits of the first header byte; `None` for a reserved opcode.
    pub fn from_u8(value: u8) -> Option<OpCode> {
        match value {
            0x0 => Some(OpCode::Continuation),
            0x1 => Some(OpCode::Text),
            0x2 => Some(OpCode::Binary),
            0x8 => Some(OpCode::Close),
            0x9 => Some(OpCode::Ping),
            0xA => Some(OpCode::Pong),
            _ => None,
        }
    }

    /// The wire value.
    pub fn as_u8(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xA,
        }
    }

    /// Close, Ping and Pong are control opcodes: at most 125 bytes, never fragmented.
    pub fn is_control(self) -> bool {
        matches!(self, OpCode::Close | OpCode::Ping | OpCode::Pong)
    }
}

/// A decoded frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Final fragment of a message (always true for control frames).
    pub fin: bool,
    /// The frame type.
    pub opcode: OpCode,
    /// The masking key; present exactly on client-to-server frames.
    pub mask: Option<[u8; 4]>,
    /// Number of payload bytes following the header.
    pub payload_len: u64,
}

impl FrameHeader {
    /// Parses a header received by an endpoint in role `receiver`.
    ///
    /// Returns `Ok(None)` when more bytes are needed (nothing consumed), or the header and its encoded
    /// length. Rejects, as soon as the offending byte is present: RSV bits (no extension is ever
    /// negotiated), reserved opcodes, fragmented control frames, wrong masking for the role, a 64-bit
    /// length with its top bit set, control payloads above 125 bytes. Non-minimal length encodings are
    /// accepted. Payload size limits are the [`MessageAssembler`](super::MessageAssembler)'s job.
    pub fn parse(buf: &[u8], receiver: Role) -> Result<Option<(FrameHeader, usize)>, WsError> {
        let Some(&first) = buf.first() else {
            return Ok(None);
        };
        if first & 0x70 != 0 {
            return Err(WsError::ReservedBitsSet);
        }
        let opcode = OpCode::from_u8(first & 0x0F).ok_or(WsError::ReservedOpcode(first & 0x0F))?;
        let fin = first & 0x80 != 0;
        if opcode.is_control() && !fin {
            return Err(WsError::FragmentedControlFrame);
        }
        let Some(&second) = buf.get(1) else {
            return Ok(None);
        };
        let masked = second & 0x80 != 0;
        match (receiver, masked) {
            (Role::Server, false) => return Err(WsError::UnmaskedClientFrame),
            (Role::Client, true) => return Err(WsError::MaskedServerFrame),
            _ => {}
        }
        let Some((payload_len, length_end)) = parse_length(buf, second & 0x7F)? else {
            return Ok(None);
        };
        if opcode.is_control() && payload_len > CONTROL_PAYLOAD_BYTES_MAX as u64 {
            return Err(WsError::ControlFrameTooLong(payload_len));
        }
        let (mask, header_len) = if masked {
            let Some(key) = buf.get(length_end..length_end + 4) else {
                return Ok(None);
            };
            (Some([key[0], key[1], key[2], key[3]]), length_end + 4)
        } else {
            (None, length_end)
        };
        let header = FrameHeader {
            fin,
            opcode,
            mask,
            payload_len,
        };
        Ok(Some((header, header_len)))
    }

    /// The number of bytes [`FrameHeader::encode`] writes (2 to 14), using the minimal length encoding.
    pub fn encoded_len(&self) -> usize {
        let length_bytes = match self.payload_len {
            0..=125 => 0,
            126..=0xFFFF => 2,
            _ => 8,
        };
        2 + length_bytes + if self.mask.is_some() { 4 } else { 0 }
    }

    /// Writes the header into `out` and returns the bytes written. Checks the control-frame rules and that
    /// `out` is large enough; never writes RSV bits.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
        if self.opcode.is_control() {
            if !self.fin {
                return Err(EncodeError::FragmentedControlFrame);
            }
            if self.payload_len > CONTROL_PAYLOAD_BYTES_MAX as u64 {
                return Err(EncodeError::ControlPayloadTooLong(
                    self.payload_len as usize,
                ));
            }
        }
        assert!(
            self.payload_len >> 63 == 0,
            "payload length does not fit in 63 bits"
        );
        let needed = self.encoded_len();
        let Some(out) = out.get_mut(..needed) else {
            return Err(EncodeError::BufferTooSmall {
                needed,
                available: out.len(),
            });
        };
        out[0] = (u8::from(self.fin) << 7) | self.opcode.as_u8();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let length_end = match self.payload_len {
            len @ 0..=125 => {
                out[1] = mask_bit | len as u8;
                2
            }
            len @ 126..=0xFFFF => {
                out[1] = mask_bit | 126;
                out[2..4].copy_from_slice(&(len as u16).to_be_bytes());
                4
            }
            len => {
                out[1] = mask_bit | 127;
                out[2..10].copy_from_slice(&len.to_be_bytes());
                10
            }
        };
        if let Some(key) = self.mask {
            out[length_end..length_end + 4].copy_from_slice(&key);
        }
        Ok(needed)
    }
}

/// Decodes the 7/16/64-bit payload length; returns the length and where the length field ends.
fn parse_length(buf: &[u8], length7: u8) -> Result<Option<(u64, usize)>, WsError> {
    match length7 {
        126 => Ok(buf
            .get(2..4)
            .map(|b| (u64::from(u16::from_be_bytes([b[0], b[1]])), 4))),
        127 => {
            if buf.get(2).is_some_and(|high| high & 0x80 != 0) {
                return Err(WsError::PayloadLengthMsbSet);
            }
            let Some(bytes) = buf.get(2..10) else {
                return Ok(None);
            };
            let mut word = [0u8; 8];
            word.copy_from_slice(bytes);
            Ok(Some((u64::from_be_bytes(word), 10)))
        }
        short => Ok(Some((u64::from(short), 2))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc_examples() {
        // RFC 6455 5.7: unmasked "Hello" from a server, masked "Hello" from a client.
        let server_frame = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
        let (header, len) = FrameHeader::parse(&server_frame, Role::Client)
            .unwrap()
            .unwrap();
        assert_eq!(
            (
                header.fin,
                header.opcode,
                header.mask,
                header.payload_len,
                len
            ),
            (true, OpCode::Text, None, 5, 2)
        );
        let client_frame = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let (header, len) = FrameHeader::parse(&client_frame, Role::Server)
            .unwrap()
            .unwrap();
        assert_eq!(header.mask, Some([0x37, 0xfa, 0x21, 0x3d]));
        assert_eq!(len, 6);
    }

    #[test]
    fn incomplete_headers_need_more_bytes() {
        let mut buf = [0u8; 14];
        let header = FrameHeader {
            fin: true,
            opcode: OpCode::Binary,
            mask: Some([1, 2, 3, 4]),
            payload_len: 70_000,
        };
        let len = header.encode(&mut buf).unwrap();
        assert_eq!(len, 14);
        for prefix in 0..len {
            assert_eq!(
                FrameHeader::parse(&buf[..prefix], Role::Server),
                Ok(None),
                "prefix {prefix}"
            );
        }
        assert_eq!(
            FrameHeader::parse(&buf, Role::Server),
            Ok(Some((header, 14)))
        );
    }

    #[test]
    fn receive_rules_are_enforced() {
        let parse = |bytes: &[u8], role| FrameHeader::parse(bytes, role);
        assert_eq!(
            parse(&[0xC1, 0x80], Role::Server),
            Err(WsError::ReservedBitsSet)
        );
        assert_eq!(
            parse(&[0x83], Role::Server),
            Err(WsError::ReservedOpcode(3))
        );
        assert_eq!(
            parse(&[0x8B], Role::Server),
            Err(WsError::ReservedOpcode(0xB))
        );
        assert_eq!(
            parse(&[0x09], Role::Server),
            Err(WsError::FragmentedControlFrame)
        );
        assert_eq!(
            parse(&[0x82, 0x00], Role::Server),
            Err(WsError::UnmaskedClientFrame)
        );
        assert_eq!(
            parse(&[0x82, 0x80], Role::Client),
            Err(WsError::MaskedServerFrame)
        );
        assert_eq!(
            parse(&[0x89, 0x7E, 0, 126], Role::Client),
            Err(WsError::ControlFrameTooLong(126))
        );
        assert_eq!(
            parse(&[0x82, 0x7F, 0x80], Role::Client),
            Err(WsError::PayloadLengthMsbSet)
        );
        // Non-minimal length encodings are accepted on receive, also for control frames.
        let (header, _) = parse(&[0x89, 0x7E, 0, 5], Role::Client).unwrap().unwrap();
        assert_eq!(header.payload_len, 5);
        for error in [
            WsError::ReservedBitsSet,
            WsError::UnmaskedClientFrame,
            WsError::PayloadLengthMsbSet,
        ] {
            assert_eq!(error.close_code(), super::super::CloseCode::PROTOCOL_ERROR);
        }
    }

    #[test]
    fn encoder_rejects_bad_control_frames_and_small_buffers() {
        let ping = |fin, payload_len| FrameHeader {
            fin,
            opcode: OpCode::Ping,
            mask: None,
            payload_len,
        };
        let mut buf = [0u8; 14];
        assert_eq!(
            ping(false, 0).encode(&mut buf),
            Err(EncodeError::FragmentedControlFrame)
        );
        assert_eq!(
            ping(true, 126).encode(&mut buf),
            Err(EncodeError::ControlPayloadTooLong(126))
        );
        assert_eq!(
            ping(true, 0).encode(&mut buf[..1]),
            Err(EncodeError::BufferTooSmall {
                needed: 2,
                available: 1
            })
        );
    }
}
