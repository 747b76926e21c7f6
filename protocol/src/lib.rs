//! # switchboard-protocol
//!
//! Sans-IO codecs for Switchboard: the RFC 6455 WebSocket handshake and frame codec (both sides), and the
//! `switchboard.v1` application protocol carried inside WebSocket messages.
//!
//! No sockets, no clock, no `async`, no `unsafe`: every parser takes bytes and returns
//! `Ok(Some((value, consumed)))`, `Ok(None)` ("need more bytes", nothing consumed) or a typed error that
//! says who is at fault and which close code to send.
//!
//! ## Layout
//!
//! - [`ws`]: RFC 6455 WebSocket: opening handshake (server and client), frame codec, masking, and the
//!   per-connection [`ws::MessageAssembler`] that turns bytes into messages, pings and close events.
//! - [`app`]: the `switchboard.v1` application protocol: frame header, FlatBuffers bodies, JSON mapping
//!   (`switchboard.json.v1`), application-level fragmentation and the reassembler.
#![forbid(unsafe_code)]

pub mod app;
pub mod ws;
