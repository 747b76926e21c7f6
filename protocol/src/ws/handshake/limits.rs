//! Bounds on an HTTP head during the opening handshake.

use crate::ws::error::LimitError;

/// Named limits on the handshake head; each violation is its own [`HeadError`](super::HeadError) variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandshakeLimits {
    /// Whole head, start line through the blank line. Default 16 KiB.
    pub handshake_bytes_max: usize,
    /// Number of header lines. Default 64.
    pub header_count_max: usize,
    /// The request line (server side) or status line (client side), without CRLF. Default 8 KiB.
    pub start_line_bytes_max: usize,
    /// One header line, without CRLF. Default 8 KiB (room for a long `Authorization` token).
    pub header_line_bytes_max: usize,
}

impl Default for HandshakeLimits {
    fn default() -> Self {
        HandshakeLimits {
            handshake_bytes_max: 16 << 10,
            header_count_max: 64,
            start_line_bytes_max: 8 << 10,
            header_line_bytes_max: 8 << 10,
        }
    }
}

impl HandshakeLimits {
    /// Upper bound accepted for `handshake_bytes_max`: 1 MiB.
    pub const HANDSHAKE_BYTES_LIMIT: usize = 1 << 20;

    /// Checks each field: the head in `64..=1 MiB`, lines in `16..=handshake_bytes_max`, header count in
    /// `8..=1024` (an upgrade request needs Host, Upgrade, Connection, Sec-WebSocket-Key and
    /// Sec-WebSocket-Version, and real clients add a few more). Call it once when loading configuration.
    pub fn validate(&self) -> Result<(), LimitError> {
        let head = self.handshake_bytes_max as u64;
        LimitError::check(
            "handshake_bytes_max",
            head,
            64,
            Self::HANDSHAKE_BYTES_LIMIT as u64,
        )?;
        LimitError::check("header_count_max", self.header_count_max as u64, 8, 1024)?;
        LimitError::check(
            "start_line_bytes_max",
            self.start_line_bytes_max as u64,
            16,
            head,
        )?;
        LimitError::check(
            "header_line_bytes_max",
            self.header_line_bytes_max as u64,
            16,
            head,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_errors_name_the_field() {
        assert_eq!(HandshakeLimits::default().validate(), Ok(()));
        let limits = HandshakeLimits {
            header_line_bytes_max: 1 << 20,
            ..HandshakeLimits::default()
        };
        assert_eq!(
            limits.validate().unwrap_err().field,
            "header_line_bytes_max"
        );
        let limits = HandshakeLimits {
            header_count_max: 0,
            ..HandshakeLimits::default()
        };
        assert_eq!(limits.validate().unwrap_err().field, "header_count_max");
    }
}
