//! The RFC 6455 opening handshake over HTTP/1.1, both sides, sans-IO.
//!
//! Layout:
//! - [`http`]: bounded, incremental parsing of an HTTP/1.1 head (start line + headers), shared by both sides.
//! - [`limits`]: [`HandshakeLimits`], the named bounds on the head.
//! - [`error`]: [`HeadError`], [`HandshakeError`] (server, each with its HTTP status) and
//!   [`ClientHandshakeError`].
//! - [`server`]: [`parse_upgrade_request`] into an [`UpgradeRequest`], and the 101 / error responses.
//! - [`plain`]: [`parse_plain_request`], a plain `GET` on the WebSocket port (static files).
//! - [`client`]: [`ClientRequest`] writes the request and gives a [`ClientHandshake`] that validates the
//!   response.
//! - [`accept`]: the `Sec-WebSocket-Accept` computation.
//!
//! Subprotocols are `switchboard.v1` (binary) and `switchboard.json.v1` (text); a request without
//! `Sec-WebSocket-Protocol` negotiates none (plain WebSocket, e.g. Autobahn). Extensions, in particular
//! `permessage-deflate`, are always declined: the server never sends `Sec-WebSocket-Extensions`.

pub mod accept;
pub mod client;
pub mod error;
pub mod http;
pub mod limits;
pub mod plain;
pub mod server;

pub use accept::accept_key;
pub use client::{ClientHandshake, ClientRequest, HandshakeResponse};
pub use error::{ClientHandshakeError, HandshakeError, HeadError};
pub use limits::HandshakeLimits;
pub use plain::{parse_plain_request, PlainRequest};
pub use server::{parse_upgrade_request, write_rejection, UpgradeRequest};

/// A WebSocket subprotocol this crate knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subprotocol {
    /// `switchboard.v1`: binary FlatBuffers frames.
    Binary,
    /// `switchboard.json.v1`: the JSON text mapping, for debugging.
    Json,
}

impl Subprotocol {
    /// Server preference order when a client offers several.
    pub const PREFERENCE: [Subprotocol; 2] = [Subprotocol::Binary, Subprotocol::Json];

    /// The token used in `Sec-WebSocket-Protocol`.
    pub fn as_str(self) -> &'static str {
        match self {
            Subprotocol::Binary => "switchboard.v1",
            Subprotocol::Json => "switchboard.json.v1",
        }
    }

    /// Parses a token (case-sensitive, as RFC 6455 4.1 compares subprotocols byte for byte).
    pub fn from_token(token: &str) -> Option<Subprotocol> {
        Subprotocol::PREFERENCE
            .into_iter()
            .find(|p| p.as_str() == token)
    }
}

/// The only WebSocket version this crate speaks.
pub const WEBSOCKET_VERSION: &str = "13";
