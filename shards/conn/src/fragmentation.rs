//! How a message larger than `fragment_bytes` is cut into frames: [`Fragmentation`], and for app-level
//! fragments ([`Fragmentation::App`]) the prefix each fragment carries ([`FragmentInfo`], [`WritePrefix`]).

use super::lane::{DataKind, Lane};
use super::wire;

/// What an app-level fragment prefix needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragmentInfo {
    /// Number of the message on this connection (0, 1, 2, … in enqueue order), to tell fragments apart.
    pub message_number: u64,
    /// Index of this fragment in its message, from 0.
    pub index: u32,
    /// Number of fragments of the message.
    pub count: u32,
    /// Whether this is the message's last fragment.
    pub last: bool,
    /// The lane the message travels in.
    pub lane: Lane,
    /// Payload bytes of the whole message.
    pub total_bytes: usize,
}

/// Appends the prefix of the fragment `info` carrying `chunk_bytes` bytes of the message.
pub type WritePrefix = fn(info: &FragmentInfo, chunk_bytes: usize, out: &mut Vec<u8>);

/// How a message larger than `fragment_bytes` is cut.
#[derive(Debug, Clone, Copy)]
pub enum Fragmentation {
    /// RFC 6455 continuation frames; lanes switch only between whole messages.
    WebSocket,
    /// Each fragment is its own binary WebSocket message: a prefix written by `write_prefix` (for
    /// switchboard.v1 the `fragment` frame header, see [`super::app_fragment`]) then the chunk; lanes switch
    /// per fragment. Messages that fit in one fragment are sent unchanged.
    App {
        /// Upper bound of what `write_prefix` appends.
        prefix_bytes_max: usize,
        /// Appends the prefix of one fragment whose chunk has the given number of bytes.
        write_prefix: WritePrefix,
    },
}

/// Appends one app-level fragment's binary frame header and prefix; the caller appends the chunk.
/// `scratch` is reused across calls so the prefix costs no allocation once it has grown.
pub(super) fn write_app_fragment(
    out: &mut Vec<u8>,
    scratch: &mut Vec<u8>,
    info: &FragmentInfo,
    (prefix_bytes_max, write_prefix): (usize, WritePrefix),
    chunk: usize,
) {
    // The frame header encodes the prefix length, which is only known once the prefix is written.
    scratch.clear();
    write_prefix(info, chunk, scratch);
    assert!(
        scratch.len() <= prefix_bytes_max,
        "write_prefix exceeded its declared bound"
    );
    wire::write_header(out, true, DataKind::Binary.opcode(), scratch.len() + chunk);
    out.extend_from_slice(scratch);
}
