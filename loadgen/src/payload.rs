//! The echo message payload: a fixed header that makes every message self-describing.
//!
//! Layout (little-endian), followed by filler up to `--size`:
//!
//! | bytes | field |
//! |---|---|
//! | 0..4 | magic `SBLG` |
//! | 4..8 | connection number (of the whole run) |
//! | 8..16 | sequence number on that connection, from 0 |
//! | 16..24 | intended send time, nanoseconds since the run's epoch |
//!
//! Carrying the *intended* time in the message makes the latency measurement independent of any
//! bookkeeping on the client: the echo brings back everything needed to compute it.

/// Bytes of the header; `--size` must be at least this.
pub const PAYLOAD_HEADER_BYTES: usize = 24;
const MAGIC: [u8; 4] = *b"SBLG";

/// The header of one echo message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PayloadHeader {
    /// Which connection sent it.
    pub connection: u32,
    /// Its sequence number on that connection.
    pub sequence: u64,
    /// When it was scheduled to be sent, in nanoseconds since the run's epoch.
    pub intended_ns: u64,
}

impl PayloadHeader {
    /// Appends this header and filler to `out`, `size_bytes` in total (at least the header).
    pub fn write(&self, size_bytes: usize, out: &mut Vec<u8>) {
        assert!(
            size_bytes >= PAYLOAD_HEADER_BYTES,
            "size validated in config"
        );
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&self.connection.to_le_bytes());
        out.extend_from_slice(&self.sequence.to_le_bytes());
        out.extend_from_slice(&self.intended_ns.to_le_bytes());
        out.resize(out.len() + size_bytes - PAYLOAD_HEADER_BYTES, b'.');
    }

    /// Reads the header of a received payload; `None` if it is not one of ours.
    pub fn read(payload: &[u8]) -> Option<PayloadHeader> {
        if payload.len() < PAYLOAD_HEADER_BYTES || payload[..4] != MAGIC {
            return None;
        }
        let u32_at = |i: usize| u32::from_le_bytes(payload[i..i + 4].try_into().expect("4 bytes"));
        let u64_at = |i: usize| u64::from_le_bytes(payload[i..i + 8].try_into().expect("8 bytes"));
        Some(PayloadHeader {
            connection: u32_at(4),
            sequence: u64_at(8),
            intended_ns: u64_at(16),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let header = PayloadHeader {
            connection: 7,
            sequence: 1 << 40,
            intended_ns: 123_456_789,
        };
        let mut out = Vec::new();
        header.write(64, &mut out);
        assert_eq!(out.len(), 64);
        assert_eq!(PayloadHeader::read(&out), Some(header));
        assert_eq!(PayloadHeader::read(&out[..20]), None);
        out[0] = b'X';
        assert_eq!(PayloadHeader::read(&out), None);
    }
}
