//! The outbound priority lanes and [`DataKind`], the opcode of an outbound message.
//!
//! [`Lane`] is the protocol's own (`switchboard.v1` carries it in every frame's flags), re-exported so the
//! send queue and the wire agree on one definition: urgent (tickets, handoff) > AI answer > chat > system.
//! A lane is served only when every higher one is empty (strict priority; a flood of urgent messages is
//! bounded by the send queue anyway).

pub use switchboard_protocol::app::Lane;

/// Number of lanes.
pub const LANE_COUNT: usize = Lane::ALL.len();

/// The WebSocket opcode an outbound data message is sent with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataKind {
    /// Opcode 0x1; the payload must be valid UTF-8 (the caller guarantees it).
    Text,
    /// Opcode 0x2.
    Binary,
}

impl DataKind {
    /// The RFC 6455 opcode.
    pub fn opcode(self) -> u8 {
        match self {
            DataKind::Text => 0x1,
            DataKind::Binary => 0x2,
        }
    }
}

/// The index of `lane` in [`Lane::ALL`] (its discriminant: 0 is the most urgent).
pub fn lane_index(lane: Lane) -> usize {
    lane as usize
}

// The queue indexes its rings by discriminant; the protocol lists lanes in that order.
const _: () = {
    let mut i = 0;
    while i < LANE_COUNT {
        assert!(Lane::ALL[i] as usize == i);
        i += 1;
    }
};
