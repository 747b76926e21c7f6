//! RFC 6455 WebSocket, sans-IO, for both the server and the client side.
//!
//! Layout:
//! - [`handshake`]: the HTTP/1.1 upgrade, server side ([`handshake::parse_upgrade_request`]) and client side
//!   ([`handshake::ClientRequest`]), with bounded incremental head parsing.
//! - [`frame`]: [`FrameHeader`] parsing and header encoding, [`OpCode`], [`Role`].
//! - [`encode`]: whole-frame encoders into a caller's `Vec<u8>` or `&mut [u8]`.
//! - [`mask`]: the XOR masking fast path (word at a time, resumable mid-payload).
//! - [`utf8`]: incremental, fail-fast UTF-8 validation across fragments.
//! - [`close`]: [`CloseCode`] and close-frame payload validation.
//! - [`assembler`]: [`MessageAssembler`], the per-connection receive state machine that turns bytes into
//!   [`Event`]s (messages, pings, pongs, close).
//! - [`limits`]: [`AssemblerLimits`], the named receive limits.
//! - [`error`]: [`WsError`] (each variant knows its close code), [`EncodeError`], [`LimitError`].
//!
//! Decisions:
//! - No extension is ever negotiated (`permessage-deflate` is declined), so any RSV bit is a protocol error.
//! - The assembler copies payload bytes out of the caller's buffer as they arrive, so the caller can hand
//!   its read buffer back immediately and feed bytes at arbitrary split points; the events are the same as
//!   for the whole input.
//! - No randomness and no clock: mask keys and handshake nonces come from the caller.

pub mod assembler;
pub mod close;
pub mod encode;
pub mod error;
pub mod frame;
pub mod handshake;
pub mod limits;
pub mod mask;
pub mod utf8;

pub use assembler::{Event, MessageAssembler};
pub use close::{CloseCode, CloseFrame};
pub use encode::{encode_close, encode_frame, encode_frame_to_slice};
pub use error::{EncodeError, LimitError, WsError};
pub use frame::{FrameHeader, OpCode, Role};
pub use limits::AssemblerLimits;
pub use mask::{apply_mask, copy_masked, for_each_masked_chunk};
