//! [`FrameBytes`]: encodes frames for connections' send queues into shared blocks that are reused once
//! every connection has written (and dropped) the frames cut from them, so that encoding a frame costs
//! no allocation in steady state.
//!
//! A frame is encoded into a scratch buffer, copied to the end of the current block and cut off as a
//! [`Bytes`] (one reference to the block). When the current block is full the next one is tried: a
//! block whose frames are all gone is reclaimed from its start ([`BytesMut::try_reclaim`]). Only when
//! every block still has a frame queued somewhere is a new block allocated in place of the current one
//! (the old one is freed by its last frame): under load that is one allocation per
//! [`FRAME_BLOCK_BYTES`] of frames, never one per frame. A frame larger than a block gets its own.

use bytes::{Bytes, BytesMut};
use switchboard_protocol::app::{encode::Encoder, json, OwnedFrame};

use crate::session::Encoding;

/// The size of one block of encoded frames, bytes.
pub const FRAME_BLOCK_BYTES: usize = 64 << 10;
/// Blocks of encoded frames a shard cycles through (its memory for frames not yet written is at least
/// this times [`FRAME_BLOCK_BYTES`]; more only while old blocks still have frames queued).
pub const FRAME_BLOCKS: usize = 4;

/// The shard's frame encoder and the blocks its frames are cut from.
pub struct FrameBytes {
    encoder: Encoder,
    /// One frame's encoding, before it is copied to a block.
    scratch: Vec<u8>,
    /// The blocks, made on first use; `current` is the one frames are cut from.
    blocks: Vec<BytesMut>,
    current: usize,
}

impl std::fmt::Debug for FrameBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameBytes")
            .field("blocks", &self.blocks.len())
            .field("current", &self.current)
            .finish_non_exhaustive()
    }
}

impl Default for FrameBytes {
    fn default() -> Self {
        FrameBytes::new()
    }
}

impl FrameBytes {
    /// An encoder with no block yet.
    pub fn new() -> Self {
        FrameBytes {
            encoder: Encoder::new(),
            scratch: Vec::new(),
            blocks: Vec::new(),
            current: 0,
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
        let len = self.scratch.len();
        if len > FRAME_BLOCK_BYTES {
            return Bytes::copy_from_slice(&self.scratch);
        }
        if self.blocks.is_empty() {
            self.blocks = (0..FRAME_BLOCKS)
                .map(|_| BytesMut::with_capacity(FRAME_BLOCK_BYTES))
                .collect();
        }
        if !self.room(len) {
            self.blocks[self.current] = BytesMut::with_capacity(FRAME_BLOCK_BYTES);
        }
        let block = &mut self.blocks[self.current];
        block.extend_from_slice(&self.scratch);
        block.split().freeze()
    }

    /// Makes a block with room for `len` more bytes current, from the current one on; false when
    /// every block still has frames queued and too little room.
    fn room(&mut self, len: usize) -> bool {
        for step in 0..FRAME_BLOCKS {
            let index = (self.current + step) % FRAME_BLOCKS;
            if self.blocks[index].try_reclaim(len) {
                self.current = index;
                return true;
            }
        }
        false
    }
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
    fn blocks_are_reused_once_their_frames_are_dropped_and_kept_while_not() {
        let mut frames = FrameBytes::new();
        let held = frames.encode(&ping(1), Encoding::Binary);
        let mut written = 0;
        // Far more than the blocks hold: the blocks without a held frame are reclaimed, the one with
        // it is left alone, and every frame keeps its own bytes.
        while written < 3 * FRAME_BLOCKS * FRAME_BLOCK_BYTES {
            let bytes = frames.encode(&ping(2), Encoding::Binary);
            written += bytes.len();
        }
        assert_eq!(held, frames.encode(&ping(1), Encoding::Binary));
        assert_eq!(frames.blocks.len(), FRAME_BLOCKS);
    }
}
