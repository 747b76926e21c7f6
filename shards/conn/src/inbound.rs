//! [`Inbound`]: one received frame or message, as the connection handles it, and the two ways to get one:
//! decoded directly from the received bytes when the frame is whole and the assembler holds nothing
//! ([`whole_control`], [`whole_data`]: no assembler allocation and one copy fewer), or copied out of the
//! [`MessageAssembler`] ([`next_event`]) for everything else (fragments, partial frames, errors). Both give
//! the same result for the same bytes; an invalid frame always goes through the assembler, which reports the
//! error.

use bytes::{Bytes, BytesMut};
use switchboard_protocol::ws::close::parse_close_payload;
use switchboard_protocol::ws::{
    copy_masked, for_each_masked_chunk, AssemblerLimits, Event, FrameHeader, MessageAssembler,
    OpCode, Role,
};

use super::lane::DataKind;
use super::lending::LendingInput;
use super::send_queue::GATHER_PAYLOAD_BYTES_MIN;
use super::wire::CONTROL_PAYLOAD_BYTES_MAX;

/// A received frame, copied out of the assembler so the assembler's borrow ends before it is handled.
pub(super) enum Inbound {
    Data(DataKind, Bytes),
    /// A message lent from the receive buffer (see [`whole_data_lent`]): like `Data`, but its payload must
    /// be dropped once sent, not kept for reuse (it holds a receive buffer).
    Lent(DataKind, Bytes),
    /// A message already echoed in place ([`echo_in_place`]), `.0` bytes handed to the transport.
    Echoed(usize),
    Ping([u8; CONTROL_PAYLOAD_BYTES_MAX], usize),
    Pong([u8; CONTROL_PAYLOAD_BYTES_MAX], usize),
    Close(Option<u16>),
}

/// A whole ping, pong or valid close at the start of `input` and the bytes it used, decoded exactly as a
/// fresh assembler would; `None` for anything else (other opcodes, a partial or invalid frame). A burst
/// of thousands of closes then allocates no assembler either.
pub(super) fn whole_control(input: &[u8], limits: &AssemblerLimits) -> Option<(Inbound, usize)> {
    let (header, header_len) = FrameHeader::parse(input, Role::Server).ok()??;
    let len = usize::try_from(header.payload_len).ok()?;
    let control = matches!(header.opcode, OpCode::Ping | OpCode::Pong | OpCode::Close);
    let fits = len <= CONTROL_PAYLOAD_BYTES_MAX && len <= limits.frame_payload_bytes_max;
    if !control || !header.fin || !fits || input.len() < header_len + len {
        return None;
    }
    let mut payload = [0; CONTROL_PAYLOAD_BYTES_MAX];
    let body = &input[header_len..header_len + len];
    match header.mask {
        Some(key) => copy_masked(&mut payload[..len], body, key, 0),
        None => payload[..len].copy_from_slice(body),
    }
    let inbound = match header.opcode {
        OpCode::Ping => Inbound::Ping(payload, len),
        OpCode::Pong => Inbound::Pong(payload, len),
        _ => Inbound::Close(parse_close_payload(&payload[..len]).ok()?.map(|f| f.code.0)),
    };
    Some((inbound, header_len + len))
}

/// A whole unfragmented text or binary frame within the limits: what [`whole_data`] and [`whole_data_lent`]
/// both check before they read its payload.
struct WholeData {
    kind: DataKind,
    mask: Option<[u8; 4]>,
    header_len: usize,
    len: usize,
}

impl WholeData {
    /// The frame at the start of `input`, if it is one (its payload all there).
    fn parse(input: &[u8], limits: &AssemblerLimits) -> Option<Self> {
        let (header, header_len) = FrameHeader::parse(input, Role::Server).ok()??;
        let kind = match header.opcode {
            OpCode::Binary => DataKind::Binary,
            OpCode::Text => DataKind::Text,
            _ => return None,
        };
        let len = usize::try_from(header.payload_len).ok()?;
        let fits = len <= limits.frame_payload_bytes_max && len <= limits.message_bytes_max;
        if !header.fin || !fits || input.len() - header_len < len {
            return None;
        }
        Some(Self {
            kind,
            mask: header.mask,
            header_len,
            len,
        })
    }
}

/// A whole unfragmented text or binary message at the start of `input` and the bytes it used, unmasked
/// straight into its payload (into `spare()`'s allocation when it gives one, so echo allocates nothing per
/// message), decoded exactly as a fresh assembler would; `None` for anything else (other opcodes, a
/// fragment, a partial frame, a limit exceeded, invalid UTF-8).
pub(super) fn whole_data(
    input: &[u8],
    limits: &AssemblerLimits,
    spare: impl FnOnce() -> Option<BytesMut>,
) -> Option<(Inbound, usize)> {
    let frame = WholeData::parse(input, limits)?;
    let (kind, header_len, len) = (frame.kind, frame.header_len, frame.len);
    let body = &input[header_len..header_len + len];
    let mut payload = spare().unwrap_or_default();
    payload.reserve(len);
    match frame.mask {
        // Read the receive buffer once and write the payload once, unmasked through a small buffer in
        // cache; never zeroed first (a `memset` of the whole room was 8% of a 16 KiB echo's CPU).
        Some(key) => for_each_masked_chunk(body, key, 0, |chunk| payload.extend_from_slice(chunk)),
        None => payload.extend_from_slice(body),
    }
    if kind == DataKind::Text && std::str::from_utf8(&payload).is_err() {
        return None;
    }
    // Echo lends a large payload to the engine by reference (`Engine::send_vectored`) and gets it back as
    // the next spare. In bytes' shared representation, which this turns a fresh vector into (once: a
    // spare stays shared), that clone and that return cost no allocation; a plain vector would be
    // promoted, allocating, at every clone. Small payloads are copied, not lent: no need.
    if payload.len() >= GATHER_PAYLOAD_BYTES_MIN {
        drop(payload.split_to(0));
    }
    Some((Inbound::Data(kind, payload.freeze()), header_len + len))
}

/// Bytes of a client frame's header that its echo's header does not need: the masking key.
const MASK_KEY_BYTES: usize = 4;
/// The longest frame header (RFC 6455: 2 bytes, an 8-byte length, a 4-byte key).
const FRAME_HEADER_BYTES_MAX: usize = 14;

/// The echo of a whole unfragmented, masked text or binary message at `at` that ends `input`, written over
/// it in place and handed to the transport ([`LendingInput::send_in_place`]): the payload unmasked where it
/// is, the server's header (minimal length encoding, no mask, so at least 4 bytes shorter) written right
/// before it. Returns the input bytes used and the bytes sent, or `None` (the bytes as they were) for
/// anything else: another frame kind, a fragment, a partial frame, bytes after it, a payload over
/// `limits` or over `fragment_bytes` (the send queue would fragment it), invalid UTF-8, or `admit`
/// refusing it (the frame rate limit), which is asked last.
pub(super) fn echo_in_place(
    input: &mut dyn LendingInput,
    at: usize,
    limits: &AssemblerLimits,
    fragment_bytes: usize,
    admit: impl FnOnce() -> bool,
) -> Option<(usize, usize)> {
    let frame = WholeData::parse(&input.bytes()[at..], limits)?;
    let (kind, client_header_len, len) = (frame.kind, frame.header_len, frame.len);
    let key = frame.mask?;
    let start = at + client_header_len;
    let end = start + len;
    if end != input.bytes().len() || len > fragment_bytes || !input.can_send_in_place() {
        return None;
    }
    input.unmask(start, len, key);
    let valid = kind == DataKind::Binary || std::str::from_utf8(&input.bytes()[start..end]).is_ok();
    if !valid || !admit() {
        // Masked again (masking is its own inverse): the other paths read the frame as it arrived.
        input.unmask(start, len, key);
        return None;
    }
    let header = FrameHeader {
        fin: true,
        opcode: match kind {
            DataKind::Text => OpCode::Text,
            DataKind::Binary => OpCode::Binary,
        },
        mask: None,
        payload_len: len as u64,
    };
    let header_len = header.encoded_len();
    debug_assert!(header_len + MASK_KEY_BYTES <= client_header_len);
    let from = start - header_len;
    let mut original = [0u8; FRAME_HEADER_BYTES_MAX];
    original[..header_len].copy_from_slice(&input.bytes()[from..start]);
    header
        .encode(&mut input.bytes_mut_from(from)[..header_len])
        .expect("a data frame header fits the room the client's header leaves");
    if !input.send_in_place(from..end) {
        // Not expected after `can_send_in_place`; put the request back for the other paths.
        input.bytes_mut_from(from)[..header_len].copy_from_slice(&original[..header_len]);
        input.unmask(start, len, key);
        return None;
    }
    Some((end - at, end - from))
}

/// A whole unfragmented, masked text or binary message of at least `GATHER_PAYLOAD_BYTES_MIN` bytes at
/// `at` in `input`, unmasked in place and lent by reference (`LendingInput::lend`), and the bytes it used;
/// `None` for anything else, or when the transport cannot lend (the bytes are then as they were, and
/// [`whole_data`] or the assembler reads them).
pub(super) fn whole_data_lent(
    input: &mut dyn LendingInput,
    at: usize,
    limits: &AssemblerLimits,
) -> Option<(Inbound, usize)> {
    let frame = WholeData::parse(&input.bytes()[at..], limits)?;
    let (kind, header_len, len) = (frame.kind, frame.header_len, frame.len);
    let key = frame.mask?;
    if len < GATHER_PAYLOAD_BYTES_MIN {
        return None;
    }
    let start = at + header_len;
    input.unmask(start, len, key);
    let valid =
        kind == DataKind::Binary || std::str::from_utf8(&input.bytes()[start..start + len]).is_ok();
    let lent = if valid {
        input.lend(start..start + len)
    } else {
        None
    };
    let Some(payload) = lent else {
        // Masked again (masking is its own inverse): the other paths read the frame as it arrived.
        input.unmask(start, len, key);
        return None;
    };
    Some((Inbound::Lent(kind, payload), header_len + len))
}

/// The assembler's next event, copied out so its borrow ends before the event is handled.
pub(super) fn next_event(assembler: &mut MessageAssembler) -> Option<Inbound> {
    let copy_control = |payload: &[u8]| {
        let mut buf = [0; CONTROL_PAYLOAD_BYTES_MAX];
        buf[..payload.len()].copy_from_slice(payload);
        (buf, payload.len())
    };
    Some(match assembler.poll_event()? {
        Event::Text(text) => Inbound::Data(DataKind::Text, Bytes::copy_from_slice(text.as_bytes())),
        Event::Binary(data) => Inbound::Data(DataKind::Binary, Bytes::copy_from_slice(data)),
        Event::Ping(payload) => {
            let (buf, len) = copy_control(payload);
            Inbound::Ping(buf, len)
        }
        Event::Pong(payload) => {
            let (buf, len) = copy_control(payload);
            Inbound::Pong(buf, len)
        }
        Event::Close(frame) => Inbound::Close(frame.map(|frame| frame.code.0)),
    })
}
