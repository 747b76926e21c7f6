//! # `switchboard.v1`: the application protocol
//!
//! Frames carried inside WebSocket messages (normative spec: `docs/protocol.md`). A binary frame is
//! `kind (u8) | flags (u8) | body length (LEB128) | body`; the body is a FlatBuffers table chosen by the
//! kind (schema: `protocol/schema/switchboard.fbs`), except for `fragment`. The same frames travel as JSON
//! objects in text messages under the `switchboard.json.v1` subprotocol ([`json`]).
//!
//! Reading never copies a body: [`parse_frame`] returns a [`Frame`] borrowing the input, holding verified
//! FlatBuffers accessors. Writing goes through an [`Encoder`] that keeps its `FlatBufferBuilder` between
//! frames and appends to the caller's `Vec`. Large frames are cut by a [`Fragmenter`] and put back together
//! by a [`Reassembler`], so urgent frames can overtake a large message.
//!
//! ## Layout
//!
//! - [`kind`]: frame kinds, priority lanes, flag bits.
//! - [`varint`]: LEB128 encoding of lengths and ids.
//! - [`header`]: the frame header and [`FrameLimits`].
//! - [`codes`]: open enumerations (error codes, sender roles, gap reasons, ticket states, conversation
//!   states, degradation modes).
//! - [`model`]: the owned frame model shared by both encodings.
//! - [`view`]: zero-copy decoding ([`parse_frame`], [`Frame`], [`Body`]); `to_owned` converts to the model.
//! - [`encode`]: the binary [`Encoder`].
//! - [`fragment`]: fragment layout and the [`Fragmenter`]; [`reassembler`]: the [`Reassembler`].
//! - [`json`]: the `switchboard.json.v1` mapping.
//! - `soffset_guard`: works around a flatbuffers 2.1.2 verifier overflow on hostile input.
//! - [`error`]: typed errors and what the server does about each ([`Reaction`]).
//! - [`generated`]: flatc output, checked in and verified by `scripts/check-flatc.sh`.
//!
//! ## Decisions
//!
//! - The kind selects the root table, so no FlatBuffers union (and its tag and offset) is spent per frame.
//! - The schema uses no FlatBuffers enums or structs: flatc 2.0.8 emits `unsafe` for them and this crate
//!   forbids `unsafe`. Enumerations are integers with named constants ([`codes`]); message ids are two
//!   big-endian `u64` halves. No `bool` fields either: the flatbuffers 2.x runtime reads a bool byte
//!   without checking it is 0 or 1, which would be undefined behaviour on hostile input; flags are `u8`.
//! - Fragment bodies are varints plus raw bytes, not FlatBuffers: they carry slices of another frame, and
//!   a table would add bytes and alignment for nothing.

pub mod codes;
pub mod encode;
pub mod error;
pub mod fragment;
pub mod generated;
pub mod header;
pub mod json;
pub mod kind;
pub mod model;
pub mod reassembler;
mod soffset_guard;
mod to_owned;
pub mod varint;
pub mod view;

pub use codes::{
    ConversationState, ErrorCode, GapReason, PresenceState, SenderRole, StatusMode, TicketStatus,
};
pub use encode::Encoder;
pub use error::{ConfigError, FragmentError, FrameError, Reaction};
pub use fragment::{encode_fragment, FragmentView, Fragmenter};
pub use header::{FrameHeader, FrameLimits};
pub use kind::{Kind, Lane};
pub use model::*;
pub use reassembler::{Reassembler, ReassemblerConfig};
pub use view::{parse_frame, Body, Frame};

/// The protocol version this crate speaks (sent in `hello`/`welcome`).
pub const PROTOCOL_VERSION: u16 = 1;
/// WebSocket subprotocol name of the binary encoding.
pub const SUBPROTOCOL_BINARY: &str = "switchboard.v1";
/// WebSocket subprotocol name of the JSON encoding.
pub const SUBPROTOCOL_JSON: &str = "switchboard.json.v1";
