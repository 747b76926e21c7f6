//! [`Encoded`]: one frame and its encodings, each made at most once however many connections get it.

use bytes::Bytes;
use switchboard_protocol::app::{encode::Encoder, json, OwnedFrame};

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

    /// The frame's bytes for `encoding`.
    pub fn get(&mut self, encoder: &mut Encoder, encoding: Encoding) -> Bytes {
        let frame = self.frame;
        let bytes = match encoding {
            Encoding::Binary => self.binary.get_or_insert_with(|| {
                let mut out = Vec::new();
                encoder.encode(frame, &mut out);
                Bytes::from(out)
            }),
            Encoding::Json => self.json.get_or_insert_with(|| {
                let mut out = Vec::new();
                json::encode_json(frame, &mut out);
                Bytes::from(out)
            }),
        };
        bytes.clone()
    }
}
