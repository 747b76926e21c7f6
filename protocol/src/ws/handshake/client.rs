//! Client side of the opening handshake: write the request, validate the response.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::accept::accept_key;
use super::error::ClientHandshakeError;
use super::http::{parse_head, token_list_contains};
use super::limits::HandshakeLimits;
use super::Subprotocol;

/// What the client asks for. Field values must not contain CR or LF (asserted: that is a caller bug).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientRequest<'a> {
    /// `Host` header value, e.g. `chat.example.com:8080`.
    pub host: &'a str,
    /// Request target, e.g. `/ws?token=abc`; must start with `/`.
    pub path_and_query: &'a str,
    /// Subprotocols to offer, in order of preference; empty for plain WebSocket.
    pub subprotocols: &'a [Subprotocol],
    /// Optional `Origin` header.
    pub origin: Option<&'a str>,
    /// Optional `Authorization` header.
    pub authorization: Option<&'a str>,
}

/// The client's handshake in flight: knows the expected accept key and what was offered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHandshake {
    expected_accept: String,
    offered: Vec<Subprotocol>,
}

/// A valid 101 response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandshakeResponse {
    /// The subprotocol the server chose; `None` if it chose none (the caller decides whether that is fine).
    pub subprotocol: Option<Subprotocol>,
}

impl ClientRequest<'_> {
    /// Appends the upgrade request to `out`. `key_nonce` must be 16 fresh random bytes from the caller
    /// (RFC 6455 4.1); they become `Sec-WebSocket-Key`.
    pub fn write(&self, key_nonce: [u8; 16], out: &mut Vec<u8>) -> ClientHandshake {
        let fields = [
            Some(self.host),
            Some(self.path_and_query),
            self.origin,
            self.authorization,
        ];
        assert!(
            fields.iter().flatten().all(|f| !f.contains(['\r', '\n'])),
            "ClientRequest fields must not contain CR or LF"
        );
        assert!(
            self.path_and_query.starts_with('/'),
            "path_and_query must start with '/'"
        );
        let key = STANDARD.encode(key_nonce);
        let mut head = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n",
            self.path_and_query, self.host
        );
        if !self.subprotocols.is_empty() {
            let list: Vec<&str> = self.subprotocols.iter().map(|p| p.as_str()).collect();
            head += &format!("Sec-WebSocket-Protocol: {}\r\n", list.join(", "));
        }
        if let Some(origin) = self.origin {
            head += &format!("Origin: {origin}\r\n");
        }
        if let Some(authorization) = self.authorization {
            head += &format!("Authorization: {authorization}\r\n");
        }
        head += "\r\n";
        out.extend_from_slice(head.as_bytes());
        ClientHandshake {
            expected_accept: accept_key(&key),
            offered: self.subprotocols.to_vec(),
        }
    }
}

impl ClientHandshake {
    /// Parses and validates the server's response at the start of `buf`.
    ///
    /// `Ok(None)`: incomplete, call again with more bytes (nothing consumed). `Ok(Some((response,
    /// consumed)))`: bytes after `consumed` are already WebSocket frames.
    pub fn parse_response(
        &self,
        buf: &[u8],
        limits: &HandshakeLimits,
    ) -> Result<Option<(HandshakeResponse, usize)>, ClientHandshakeError> {
        let Some((head, consumed)) = parse_head(buf, limits)? else {
            return Ok(None);
        };
        let status = parse_status_line(head.start_line)?;
        if status != 101 {
            return Err(ClientHandshakeError::UnexpectedStatus(status));
        }
        let (mut upgrade, mut connection, mut accept_ok) = (false, false, false);
        let mut subprotocol = None;
        for (name, value) in head.headers() {
            if name.eq_ignore_ascii_case("upgrade") {
                upgrade |= token_list_contains(value, "websocket");
            } else if name.eq_ignore_ascii_case("connection") {
                connection |= token_list_contains(value, "upgrade");
            } else if name.eq_ignore_ascii_case("sec-websocket-accept") {
                accept_ok = !accept_ok && value == self.expected_accept;
            } else if name.eq_ignore_ascii_case("sec-websocket-protocol") {
                let chosen = Subprotocol::from_token(value)
                    .filter(|p| subprotocol.is_none() && self.offered.contains(p))
                    .ok_or(ClientHandshakeError::UnrequestedSubprotocol)?;
                subprotocol = Some(chosen);
            } else if name.eq_ignore_ascii_case("sec-websocket-extensions") && !value.is_empty() {
                return Err(ClientHandshakeError::UnrequestedExtension);
            }
        }
        if !upgrade {
            return Err(ClientHandshakeError::UpgradeNotWebsocket);
        }
        if !connection {
            return Err(ClientHandshakeError::ConnectionNotUpgrade);
        }
        if !accept_ok {
            return Err(ClientHandshakeError::AcceptMismatch);
        }
        Ok(Some((HandshakeResponse { subprotocol }, consumed)))
    }
}

/// `HTTP/1.1 <3-digit status>[ <reason>]` → the status.
fn parse_status_line(line: &str) -> Result<u16, ClientHandshakeError> {
    let rest = line
        .strip_prefix("HTTP/1.1 ")
        .ok_or(ClientHandshakeError::MalformedStatusLine)?;
    let code = rest
        .get(..3)
        .filter(|c| c.bytes().all(|b| b.is_ascii_digit()));
    let code = code.ok_or(ClientHandshakeError::MalformedStatusLine)?;
    if !(rest.len() == 3 || rest[3..].starts_with(' ')) {
        return Err(ClientHandshakeError::MalformedStatusLine);
    }
    code.parse()
        .map_err(|_| ClientHandshakeError::MalformedStatusLine)
}
