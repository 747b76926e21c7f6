//! Close codes and close-frame payloads (RFC 6455 5.5.1 and 7.4).

use super::error::WsError;

/// A WebSocket close status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: normal closure.
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1001: the endpoint is going away (server shutdown, page navigation).
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: protocol error.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// 1003: a data type the endpoint cannot accept (e.g. text on a binary-only protocol).
    pub const UNSUPPORTED_DATA: CloseCode = CloseCode(1003);
    /// 1005: no status code was present. Never sent on the wire.
    pub const NO_STATUS: CloseCode = CloseCode(1005);
    /// 1006: the connection dropped without a Close frame. Never sent on the wire.
    pub const ABNORMAL: CloseCode = CloseCode(1006);
    /// 1007: payload data inconsistent with the message type (e.g. invalid UTF-8 in text).
    pub const INVALID_PAYLOAD: CloseCode = CloseCode(1007);
    /// 1008: policy violation.
    pub const POLICY_VIOLATION: CloseCode = CloseCode(1008);
    /// 1009: message too big to process.
    pub const MESSAGE_TOO_BIG: CloseCode = CloseCode(1009);
    /// 1010: the client expected an extension the server did not negotiate.
    pub const MANDATORY_EXTENSION: CloseCode = CloseCode(1010);
    /// 1011: the server hit an unexpected condition.
    pub const INTERNAL_ERROR: CloseCode = CloseCode(1011);
    /// 1013: try again later (registered with IANA after RFC 6455; a server under load sends it). A
    /// received 1013 is still refused by [`CloseCode::is_valid_on_wire`], as RFC 6455 and the Autobahn
    /// suite expect.
    pub const TRY_AGAIN_LATER: CloseCode = CloseCode(1013);
    /// 1015: TLS handshake failure. Never sent on the wire.
    pub const TLS_HANDSHAKE: CloseCode = CloseCode(1015);

    /// Whether this code may appear in a Close frame: 1000-1003, 1007-1011 and 3000-4999 (RFC 6455 7.4,
    /// as Autobahn checks it). 1004, 1005, 1006, 1015, anything below 1000 and unassigned ranges are not.
    pub fn is_valid_on_wire(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1011 | 3000..=4999)
    }
}

/// The content of a Close frame that carried a status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseFrame<'a> {
    /// The status code, always [`CloseCode::is_valid_on_wire`].
    pub code: CloseCode,
    /// The UTF-8 reason, possibly empty.
    pub reason: &'a str,
}

/// Validates a received Close payload. `Ok(None)` means an empty payload (no status, i.e. 1005).
pub fn parse_close_payload(payload: &[u8]) -> Result<Option<CloseFrame<'_>>, WsError> {
    match payload {
        [] => Ok(None),
        [_] => Err(WsError::ClosePayloadTooShort),
        [high, low, reason @ ..] => {
            let code = CloseCode(u16::from_be_bytes([*high, *low]));
            if !code.is_valid_on_wire() {
                return Err(WsError::InvalidCloseCode(code.0));
            }
            let reason =
                std::str::from_utf8(reason).map_err(|_| WsError::CloseReasonInvalidUtf8)?;
            Ok(Some(CloseFrame { code, reason }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_ranges_match_rfc_6455_section_7_4() {
        let valid = [
            1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999,
        ];
        let invalid = [
            0, 999, 1004, 1005, 1006, 1012, 1013, 1014, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
        ];
        for code in valid {
            assert!(CloseCode(code).is_valid_on_wire(), "{code}");
        }
        for code in invalid {
            assert!(!CloseCode(code).is_valid_on_wire(), "{code}");
        }
    }

    #[test]
    fn payload_validation() {
        assert_eq!(parse_close_payload(&[]), Ok(None));
        assert_eq!(
            parse_close_payload(&[3]),
            Err(WsError::ClosePayloadTooShort)
        );
        assert_eq!(
            parse_close_payload(&[0x03, 0xe8, b'o', b'k']),
            Ok(Some(CloseFrame {
                code: CloseCode::NORMAL,
                reason: "ok"
            }))
        );
        assert_eq!(
            parse_close_payload(&[0x03, 0xed]),
            Err(WsError::InvalidCloseCode(1005))
        );
        assert_eq!(
            parse_close_payload(&[0x03, 0xe8, 0xff]),
            Err(WsError::CloseReasonInvalidUtf8)
        );
        assert_eq!(
            WsError::ClosePayloadTooShort.close_code(),
            CloseCode::PROTOCOL_ERROR
        );
        assert_eq!(
            WsError::InvalidCloseCode(0).close_code(),
            CloseCode::PROTOCOL_ERROR
        );
        assert_eq!(
            WsError::CloseReasonInvalidUtf8.close_code(),
            CloseCode::INVALID_PAYLOAD
        );
    }
}
