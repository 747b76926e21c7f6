//! [`Encoded`]: one frame and its encodings, each made at most once however many connections get it.

use bytes::Bytes;
use switchboard_protocol::app::OwnedFrame;

use super::FrameBytes;
use crate::session::Encoding;

/// One frame and its encodings, each made at most once however many connections get it (a delivery to
/// many followers encodes once per encoding, and every connection's queue shares the same bytes).
#[derive(Debug)]
pub struct Encoded<'a> {
    frame: &'a OwnedFrame,
    binary: Option<Bytes>,
    json: Option<Bytes>,
}

impl<'a> Encoded<'a> {
    /// `frame`, not encoded yet.
    pub fn new(frame: &'a OwnedFrame) -> Self {
        Encoded {
            frame,
            binary: None,
            json: None,
        }
    }

    /// The frame.
    pub fn frame(&self) -> &'a OwnedFrame {
        self.frame
    }

    /// The frame's bytes for `encoding` (encoded by `frames` the first time).
    pub fn get(&mut self, frames: &mut FrameBytes, encoding: Encoding) -> Bytes {
        let frame = self.frame;
        let bytes = match encoding {
            Encoding::Binary => &mut self.binary,
            Encoding::Json => &mut self.json,
        };
        bytes
            .get_or_insert_with(|| frames.encode(frame, encoding))
            .clone()
    }
}
