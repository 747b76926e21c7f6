//! What a simulated client reads: the server's messages decoded the client's way, and the trace hash over
//! every byte read (equal for equal seeds).

use switchboard_protocol::app::json::parse_json;
use switchboard_protocol::app::{parse_frame, FrameLimits, OwnedFrame};

use crate::Violation;

/// The frames of one message the server sent, decoded the client's way.
pub fn decode(bytes: &[u8], json: bool) -> Result<Vec<OwnedFrame>, Violation> {
    if json {
        let mut text = bytes.to_vec();
        return parse_json(&mut text).map(|frame| vec![frame]).map_err(|e| {
            Violation::new(format!("the server sent JSON a client cannot parse: {e}"))
        });
    }
    let limits = FrameLimits {
        body_bytes_max: FrameLimits::BODY_BYTES_MAX_MAX,
    };
    let mut frames = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        match parse_frame(rest, &limits) {
            Ok(Some((frame, used))) => {
                frames.push(frame.to_owned_frame());
                rest = &rest[used..];
            }
            Ok(None) => return Err(Violation::new("the server sent half a frame")),
            Err(e) => {
                return Err(Violation::new(format!(
                    "the server sent a frame a client cannot parse: {e}"
                )))
            }
        }
    }
    Ok(frames)
}

/// FNV-1a over `bytes`, continuing from `hash`.
pub fn mix(hash: u64, bytes: &[u8]) -> u64 {
    let mut hash = if hash == 0 {
        0xcbf2_9ce4_8422_2325
    } else {
        hash
    };
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}
