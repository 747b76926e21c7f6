//! Receive-side limits of the [`MessageAssembler`](super::MessageAssembler).

use super::error::LimitError;

/// Receive limits of one connection. Exceeding either is [`WsError::FramePayloadTooLarge`] or
/// [`WsError::MessageTooLarge`](super::WsError::MessageTooLarge), close code 1009.
///
/// [`WsError::FramePayloadTooLarge`]: super::WsError::FramePayloadTooLarge
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AssemblerLimits {
    /// Largest payload of a single frame. Default 16 MiB (Autobahn case 9 sends 16 MiB frames).
    pub frame_payload_bytes_max: usize,
    /// Largest reassembled message (sum of its fragments). Default 16 MiB.
    pub message_bytes_max: usize,
    /// Capacity the message buffer keeps between messages; a larger buffer is shrunk back to this after
    /// the message is consumed, so one big message does not pin memory for the connection's life.
    /// Default 64 KiB.
    pub retained_buffer_bytes_max: usize,
}

impl AssemblerLimits {
    /// Upper bound accepted by [`AssemblerLimits::validate`] for the size limits: 1 GiB.
    pub const SIZE_BYTES_MAX: usize = 1 << 30;
}

impl Default for AssemblerLimits {
    fn default() -> Self {
        AssemblerLimits {
            frame_payload_bytes_max: 16 << 20,
            message_bytes_max: 16 << 20,
            retained_buffer_bytes_max: 64 << 10,
        }
    }
}

impl AssemblerLimits {
    /// Checks every field: sizes in `1..=1 GiB`, and a frame never larger than a message.
    pub fn validate(&self) -> Result<(), LimitError> {
        let max = Self::SIZE_BYTES_MAX as u64;
        LimitError::check("message_bytes_max", self.message_bytes_max as u64, 1, max)?;
        LimitError::check(
            "frame_payload_bytes_max",
            self.frame_payload_bytes_max as u64,
            1,
            self.message_bytes_max as u64,
        )?;
        LimitError::check(
            "retained_buffer_bytes_max",
            self.retained_buffer_bytes_max as u64,
            0,
            max,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_bad_fields_are_named() {
        assert_eq!(AssemblerLimits::default().validate(), Ok(()));
        let limits = AssemblerLimits {
            frame_payload_bytes_max: 2048,
            message_bytes_max: 1024,
            ..AssemblerLimits::default()
        };
        assert_eq!(
            limits.validate().unwrap_err().field,
            "frame_payload_bytes_max"
        );
        let limits = AssemblerLimits {
            message_bytes_max: 0,
            ..AssemblerLimits::default()
        };
        assert_eq!(limits.validate().unwrap_err().field, "message_bytes_max");
    }
}
