//! Application-level fragmentation: cutting an encoded frame into `fragment` frames so that urgent frames
//! can be sent between two pieces, and the fragment body layout.
//!
//! A fragment body is not a FlatBuffer: it is four LEB128 varints — `fragment_id`, `index`, `count`,
//! `total_bytes` — followed by the piece's bytes up to the end of the body. The pieces of one message are
//! sent in index order; pieces of different messages and other frames may be interleaved between them.

use super::error::{ConfigError, FrameError};
use super::header::encode_header;
use super::kind::{Kind, Lane};
use super::model::Fragment;
use super::varint::{decode_varint, encode_varint, varint_len};

/// A borrowed fragment: the decoded view of a `fragment` frame, or a piece produced by [`Fragmenter`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FragmentView<'a> {
    /// Sender-chosen id of the fragmented message.
    pub fragment_id: u64,
    /// Position of this piece, from 0.
    pub index: u32,
    /// Number of pieces (at least 1).
    pub count: u32,
    /// Length of the whole message, in bytes.
    pub total_bytes: u32,
    /// This piece's bytes, borrowed from the input (or the message being cut).
    pub data: &'a [u8],
}

impl<'a> From<&'a Fragment> for FragmentView<'a> {
    fn from(fragment: &'a Fragment) -> Self {
        FragmentView {
            fragment_id: fragment.fragment_id,
            index: fragment.index,
            count: fragment.count,
            total_bytes: fragment.total_bytes,
            data: &fragment.data,
        }
    }
}

impl FragmentView<'_> {
    /// An owned copy.
    pub fn to_owned_fragment(&self) -> Fragment {
        Fragment {
            fragment_id: self.fragment_id,
            index: self.index,
            count: self.count,
            total_bytes: self.total_bytes,
            data: self.data.to_vec(),
        }
    }

    /// True for the last piece of its message.
    pub fn is_last(&self) -> bool {
        self.index + 1 == self.count
    }
}

/// Appends a complete `fragment` frame (header, prefix, data) to `out`.
pub fn encode_fragment(lane: Lane, fragment: FragmentView<'_>, out: &mut Vec<u8>) {
    let prefix_bytes = varint_len(fragment.fragment_id)
        + varint_len(u64::from(fragment.index))
        + varint_len(u64::from(fragment.count))
        + varint_len(u64::from(fragment.total_bytes));
    encode_header(
        Kind::Fragment,
        lane,
        prefix_bytes + fragment.data.len(),
        out,
    );
    encode_varint(fragment.fragment_id, out);
    encode_varint(u64::from(fragment.index), out);
    encode_varint(u64::from(fragment.count), out);
    encode_varint(u64::from(fragment.total_bytes), out);
    out.extend_from_slice(fragment.data);
}

/// Parses a fragment body (everything after the frame header).
pub fn parse_fragment_body(body: &[u8]) -> Result<FragmentView<'_>, FrameError> {
    let mut rest = body;
    let fragment_id = next_varint(&mut rest, "fragment_id")?;
    let index = next_u32(&mut rest, "index")?;
    let count = next_u32(&mut rest, "count")?;
    let total_bytes = next_u32(&mut rest, "total_bytes")?;
    if count == 0 {
        return Err(FrameError::MalformedFragment {
            reason: "count is zero",
        });
    }
    if index >= count {
        return Err(FrameError::MalformedFragment {
            reason: "index is not below count",
        });
    }
    if rest.len() as u64 > u64::from(total_bytes) {
        return Err(FrameError::MalformedFragment {
            reason: "data is longer than total_bytes",
        });
    }
    Ok(FragmentView {
        fragment_id,
        index,
        count,
        total_bytes,
        data: rest,
    })
}

/// Takes one varint off the front of `rest`; a truncated varint inside a complete body is malformed.
fn next_varint(rest: &mut &[u8], field: &'static str) -> Result<u64, FrameError> {
    match decode_varint(rest)? {
        Some((value, used)) => {
            *rest = &rest[used..];
            Ok(value)
        }
        None => Err(FrameError::MalformedFragment { reason: field }),
    }
}

/// Takes one varint that must fit in a `u32`.
fn next_u32(rest: &mut &[u8], field: &'static str) -> Result<u32, FrameError> {
    u32::try_from(next_varint(rest, field)?)
        .map_err(|_| FrameError::MalformedFragment { reason: field })
}

/// Cuts encoded frames into pieces of at most `fragment_data_bytes` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fragmenter {
    /// Largest piece, in bytes. Allowed range: `FRAGMENT_DATA_BYTES_MIN..=FRAGMENT_DATA_BYTES_MAX`.
    /// Smaller pieces let urgent frames in sooner; larger ones cost fewer headers.
    pub fragment_data_bytes: u32,
}

impl Default for Fragmenter {
    /// 16 KiB pieces: an urgent frame waits behind at most ~16 KiB of a large message.
    fn default() -> Self {
        Fragmenter {
            fragment_data_bytes: 16 * 1024,
        }
    }
}

impl Fragmenter {
    /// Lower bound for `fragment_data_bytes`.
    pub const FRAGMENT_DATA_BYTES_MIN: u32 = 64;
    /// Upper bound for `fragment_data_bytes`: a piece plus its largest prefix (25 bytes) must fit the
    /// default [`crate::app::FrameLimits::body_bytes_max`] of 64 KiB.
    pub const FRAGMENT_DATA_BYTES_MAX: u32 = 64 * 1024 - 32;

    /// Checks every field against its allowed range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        ConfigError::check(
            "fragment_data_bytes",
            u64::from(self.fragment_data_bytes),
            u64::from(Self::FRAGMENT_DATA_BYTES_MIN),
            u64::from(Self::FRAGMENT_DATA_BYTES_MAX),
        )
    }

    /// True when `message_bytes` would not fit in one frame and must be fragmented.
    pub fn needs_fragmenting(&self, message_bytes: usize) -> bool {
        message_bytes > self.fragment_data_bytes as usize
    }

    /// The pieces of `message` (an encoded frame), in the order they must be sent. Each is encoded with
    /// [`encode_fragment`] when its turn in the write queue comes. Panics (our bug) when the message is
    /// longer than `u32::MAX` bytes; callers bound messages far below that.
    pub fn pieces<'a>(
        &self,
        fragment_id: u64,
        message: &'a [u8],
    ) -> impl Iterator<Item = FragmentView<'a>> + 'a {
        let piece_bytes = self.fragment_data_bytes.max(1) as usize;
        let total_bytes = u32::try_from(message.len()).expect("message length fits u32");
        let count = message.len().div_ceil(piece_bytes).max(1);
        let count = u32::try_from(count).expect("count fits u32 since total_bytes does");
        (0..count).map(move |index| {
            let start = index as usize * piece_bytes;
            let end = (start + piece_bytes).min(message.len());
            FragmentView {
                fragment_id,
                index,
                count,
                total_bytes,
                data: &message[start..end],
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_cover_the_message_in_order() {
        let fragmenter = Fragmenter {
            fragment_data_bytes: 64,
        };
        let message: Vec<u8> = (0..=200u8).collect();
        let pieces: Vec<_> = fragmenter.pieces(7, &message).collect();
        assert_eq!(pieces.len(), 4);
        assert!(pieces
            .iter()
            .all(|piece| piece.count == 4 && piece.total_bytes == 201));
        assert!(pieces[3].is_last() && !pieces[2].is_last());
        let joined: Vec<u8> = pieces
            .iter()
            .flat_map(|piece| piece.data.iter().copied())
            .collect();
        assert_eq!(joined, message);
    }

    #[test]
    fn fragment_body_round_trip() {
        let piece = FragmentView {
            fragment_id: 300,
            index: 2,
            count: 3,
            total_bytes: 9,
            data: b"abc",
        };
        let mut out = Vec::new();
        encode_fragment(Lane::Chat, piece, &mut out);
        assert_eq!(out[0], Kind::Fragment as u8);
        assert_eq!(parse_fragment_body(&out[3..]), Ok(piece));
    }

    #[test]
    fn malformed_prefixes_are_typed_errors() {
        let reason = |body: &[u8]| match parse_fragment_body(body) {
            Err(FrameError::MalformedFragment { reason }) => reason,
            other => panic!("{other:?}"),
        };
        assert_eq!(reason(&[1, 0]), "count");
        assert_eq!(reason(&[1, 0, 0, 0]), "count is zero");
        assert_eq!(reason(&[1, 2, 2, 0]), "index is not below count");
        assert_eq!(
            reason(&[1, 0, 1, 1, 9, 9]),
            "data is longer than total_bytes"
        );
        assert_eq!(reason(&[1, 0, 0x80, 0x80, 0x80, 0x80, 0x10, 1]), "count");
    }

    #[test]
    fn validate_names_the_field() {
        assert!(Fragmenter::default().validate().is_ok());
        assert_eq!(
            Fragmenter {
                fragment_data_bytes: 1
            }
            .validate()
            .unwrap_err()
            .field,
            "fragment_data_bytes"
        );
    }
}
