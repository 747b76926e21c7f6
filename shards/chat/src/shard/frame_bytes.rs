//! [`FrameBytes`]: encodes frames for connections' send queues into small shared slots that are reused
//! once every connection has written (and dropped) the frames cut from them, so that encoding a frame
//! costs no allocation in steady state.
//!
//! A frame is encoded into a scratch buffer, copied into a slot and cut off as a [`Bytes`] (a reference
//! to the slot). The slot used last is tried first (frames of one tick share it while it has room),
//! then the oldest few: a slot whose frames are all gone is reclaimed from its start
//! ([`BytesMut::try_reclaim`]). Only when none has room is a new slot allocated; beyond
//! [`FRAME_SLOTS_MAX`] the oldest is let go (its last frame frees it). Slots are small, so a frame that
//! waits long in a slow client's queue keeps at most [`FRAME_SLOT_BYTES`] alive, not the frames of
//! everyone else. A frame larger than a slot gets its own allocation.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};
use switchboard_protocol::app::{encode::Encoder, json, OwnedFrame};

use crate::session::Encoding;

/// The size of one slot of encoded frames, bytes (a chat message's `deliver` fits several times).
pub const FRAME_SLOT_BYTES: usize = 2_048;
/// The most slots a shard keeps for reuse (their memory: this times [`FRAME_SLOT_BYTES`]).
pub const FRAME_SLOTS_MAX: usize = 1_024;
/// The oldest slots looked at for room before a new one is made.
const FRAME_SLOT_PROBES_MAX: usize = 4;

/// The shard's frame encoder and the slots its frames are cut from.
pub struct FrameBytes {
    encoder: Encoder,
    /// One frame's encoding, before it is copied to a slot.
    scratch: Vec<u8>,
    /// The slots, oldest first; the back one is the one used last.
    slots: VecDeque<BytesMut>,
}

impl std::fmt::Debug for FrameBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameBytes")
            .field("slots", &self.slots.len())
            .finish_non_exhaustive()
    }
}

impl Default for FrameBytes {
    fn default() -> Self {
        FrameBytes::new()
    }
}

impl FrameBytes {
    /// An encoder with no slot yet.
    pub fn new() -> Self {
        FrameBytes {
            encoder: Encoder::new(),
            scratch: Vec::new(),
            slots: VecDeque::new(),
        }
    }

    /// The binary encoder (for frames encoded elsewhere).
    pub fn encoder(&mut self) -> &mut Encoder {
        &mut self.encoder
    }

    /// `frame` encoded as `encoding`, in shared bytes.
    pub fn encode(&mut self, frame: &OwnedFrame, encoding: Encoding) -> Bytes {
        self.scratch.clear();
        match encoding {
            Encoding::Binary => self.encoder.encode(frame, &mut self.scratch),
            Encoding::Json => json::encode_json(frame, &mut self.scratch),
        }
        if self.scratch.len() > FRAME_SLOT_BYTES {
            return Bytes::copy_from_slice(&self.scratch);
        }
        let len = self.scratch.len();
        let slot = slot_with_room(&mut self.slots, len);
        slot.extend_from_slice(&self.scratch);
        slot.split().freeze()
    }
}

/// A slot of `slots` with room for `len` more bytes, at the back: the one used last, else one of the
/// oldest whose frames are gone, else a new one.
fn slot_with_room(slots: &mut VecDeque<BytesMut>, len: usize) -> &mut BytesMut {
    let last_has_room = slots.back_mut().is_some_and(|slot| slot.try_reclaim(len));
    if !last_has_room && !reclaim_oldest(slots, len) {
        if slots.len() >= FRAME_SLOTS_MAX {
            slots.pop_front();
        }
        slots.push_back(BytesMut::with_capacity(FRAME_SLOT_BYTES));
    }
    slots.back_mut().expect("a slot was found or made")
}

/// Moves the first of the oldest few slots with room for `len` bytes to the back; the others looked
/// at go to the back too (they still have frames queued).
fn reclaim_oldest(slots: &mut VecDeque<BytesMut>, len: usize) -> bool {
    for _ in 0..FRAME_SLOT_PROBES_MAX.min(slots.len()) {
        let Some(mut slot) = slots.pop_front() else {
            break;
        };
        let room = slot.try_reclaim(len);
        slots.push_back(slot);
        if room {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use switchboard_protocol::app::{Message, Ping};

    use super::*;

    fn ping(timestamp_ms: u64) -> OwnedFrame {
        OwnedFrame::new(Message::Ping(Ping {
            timestamp_ms,
            ..Ping::default()
        }))
    }

    #[test]
    fn frames_are_encoded_as_the_encoder_does() {
        let mut frames = FrameBytes::new();
        for encoding in [Encoding::Binary, Encoding::Json] {
            let mut expected = Vec::new();
            match encoding {
                Encoding::Binary => Encoder::new().encode(&ping(7), &mut expected),
                Encoding::Json => json::encode_json(&ping(7), &mut expected),
            }
            assert_eq!(frames.encode(&ping(7), encoding), expected);
        }
    }

    #[test]
    fn slots_are_reused_once_their_frames_are_dropped_and_kept_while_not() {
        let mut frames = FrameBytes::new();
        let held = frames.encode(&ping(1), Encoding::Binary);
        let mut written = 0;
        // Far more than a slot holds, each frame dropped at once: the slot with the held frame is
        // left alone, one other is reclaimed again and again, and the held frame keeps its bytes.
        while written < 100 * FRAME_SLOT_BYTES {
            written += frames.encode(&ping(2), Encoding::Binary).len();
        }
        assert_eq!(held, frames.encode(&ping(1), Encoding::Binary));
        assert_eq!(frames.slots.len(), 2);
    }

    #[test]
    fn frames_held_make_new_slots_up_to_the_bound() {
        let mut frames = FrameBytes::new();
        let held: Vec<Bytes> = (0..FRAME_SLOTS_MAX * 2)
            .map(|_| frames.encode(&ping(3), Encoding::Binary))
            .collect();
        let per_slot = FRAME_SLOT_BYTES / held[0].len();
        assert_eq!(
            frames.slots.len(),
            (held.len() / per_slot).min(FRAME_SLOTS_MAX) + 1
        );
        assert!(held.iter().all(|bytes| *bytes == held[0]));
    }
}
