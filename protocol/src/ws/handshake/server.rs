//! Server side of the opening handshake: validate the upgrade request, write the 101 or an error.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::accept::accept_key;
use super::error::HandshakeError;
use super::http::{parse_head, token_list_contains, Head};
use super::limits::HandshakeLimits;
use super::{Subprotocol, WEBSOCKET_VERSION};

/// A valid upgrade request, with what the server needs to authenticate and route it. Owned, so the read
/// buffer can be reused at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpgradeRequest {
    /// The request path, e.g. `/ws` (always starts with `/`, still percent-encoded).
    pub path: String,
    /// The raw query string after `?`, if any (still percent-encoded).
    pub query: Option<String>,
    /// The percent-decoded value of the first `token` query parameter, if any (for browsers, which cannot
    /// set `Authorization` on a WebSocket).
    pub token: Option<String>,
    /// The `Authorization` header value, if any.
    pub authorization: Option<String>,
    /// The `Origin` header value, if any; the server decides which origins it accepts.
    pub origin: Option<String>,
    /// The `Host` header value.
    pub host: String,
    /// The negotiated subprotocol; `None` when the client offered none (plain WebSocket).
    pub subprotocol: Option<Subprotocol>,
    /// The client's `Sec-WebSocket-Key`, as sent.
    pub key: String,
}

/// Header values collected while scanning the head.
#[derive(Default)]
struct Collected<'a> {
    host: Option<&'a str>,
    upgrade_websocket: Option<bool>,
    connection_upgrade: Option<bool>,
    key: Option<&'a str>,
    version: Option<&'a str>,
    authorization: Option<&'a str>,
    origin: Option<&'a str>,
    /// Which of [`Subprotocol::PREFERENCE`] were offered.
    offered: [bool; 2],
    offered_any: bool,
}

/// Parses and validates an upgrade request at the start of `buf`.
///
/// `Ok(None)`: the head is incomplete, call again with more bytes (nothing consumed). `Ok(Some((request,
/// consumed)))`: bytes after `consumed` are already WebSocket frames. On `Err`, answer with
/// [`HandshakeError::write_response`] and close.
pub fn parse_upgrade_request(
    buf: &[u8],
    limits: &HandshakeLimits,
) -> Result<Option<(UpgradeRequest, usize)>, HandshakeError> {
    let Some((head, consumed)) = parse_head(buf, limits)? else {
        return Ok(None);
    };
    let (path, query) = parse_request_line(head.start_line)?;
    let collected = collect_headers(&head)?;
    let request = validate(path, query, collected)?;
    Ok(Some((request, consumed)))
}

/// Splits `GET <target> HTTP/1.1` and the target into path and query.
pub(super) fn parse_request_line(line: &str) -> Result<(&str, Option<&str>), HandshakeError> {
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(super::HeadError::MalformedStartLine.into());
    };
    if method != "GET" {
        return Err(HandshakeError::MethodNotGet);
    }
    if version != "HTTP/1.1" {
        return Err(HandshakeError::HttpVersionUnsupported);
    }
    if !target.starts_with('/') || target.contains('#') {
        return Err(HandshakeError::InvalidTarget);
    }
    Ok(match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    })
}

fn collect_headers<'a>(head: &Head<'a>) -> Result<Collected<'a>, HandshakeError> {
    let mut collected = Collected::default();
    for (name, value) in head.headers() {
        let once = |slot: &mut Option<&'a str>, header: &'static str| match slot {
            Some(_) => Err(HandshakeError::DuplicateHeader(header)),
            None => {
                *slot = Some(value);
                Ok(())
            }
        };
        if name.eq_ignore_ascii_case("host") {
            once(&mut collected.host, "Host")?;
        } else if name.eq_ignore_ascii_case("upgrade") {
            let found = token_list_contains(value, "websocket");
            collected.upgrade_websocket =
                Some(collected.upgrade_websocket.unwrap_or(false) || found);
        } else if name.eq_ignore_ascii_case("connection") {
            let found = token_list_contains(value, "upgrade");
            collected.connection_upgrade =
                Some(collected.connection_upgrade.unwrap_or(false) || found);
        } else if name.eq_ignore_ascii_case("sec-websocket-key") {
            once(&mut collected.key, "Sec-WebSocket-Key")?;
        } else if name.eq_ignore_ascii_case("sec-websocket-version") {
            once(&mut collected.version, "Sec-WebSocket-Version")?;
        } else if name.eq_ignore_ascii_case("authorization") {
            once(&mut collected.authorization, "Authorization")?;
        } else if name.eq_ignore_ascii_case("origin") {
            once(&mut collected.origin, "Origin")?;
        } else if name.eq_ignore_ascii_case("sec-websocket-protocol") {
            for token in value.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                collected.offered_any = true;
                if let Some(index) = Subprotocol::PREFERENCE
                    .iter()
                    .position(|p| p.as_str() == token)
                {
                    collected.offered[index] = true;
                }
            }
        }
        // Sec-WebSocket-Extensions (e.g. permessage-deflate) is declined by never answering it.
    }
    Ok(collected)
}

fn validate(
    path: &str,
    query: Option<&str>,
    collected: Collected<'_>,
) -> Result<UpgradeRequest, HandshakeError> {
    let host = collected
        .host
        .ok_or(HandshakeError::MissingHeader("Host"))?;
    match collected.upgrade_websocket {
        None => return Err(HandshakeError::MissingHeader("Upgrade")),
        Some(false) => return Err(HandshakeError::UpgradeNotWebsocket),
        Some(true) => {}
    }
    match collected.connection_upgrade {
        None => return Err(HandshakeError::MissingHeader("Connection")),
        Some(false) => return Err(HandshakeError::ConnectionNotUpgrade),
        Some(true) => {}
    }
    if collected.version != Some(WEBSOCKET_VERSION) {
        return Err(HandshakeError::UnsupportedVersion);
    }
    let key = collected
        .key
        .ok_or(HandshakeError::MissingHeader("Sec-WebSocket-Key"))?;
    match STANDARD.decode(key) {
        Ok(bytes) if bytes.len() == 16 => {}
        _ => return Err(HandshakeError::InvalidKey),
    }
    let subprotocol = Subprotocol::PREFERENCE
        .into_iter()
        .zip(collected.offered)
        .find_map(|(protocol, offered)| offered.then_some(protocol));
    if collected.offered_any && subprotocol.is_none() {
        return Err(HandshakeError::UnsupportedSubprotocol);
    }
    let token = match query {
        Some(query) => query_parameter(query, "token")?,
        None => None,
    };
    Ok(UpgradeRequest {
        path: path.to_owned(),
        query: query.map(str::to_owned),
        token,
        authorization: collected.authorization.map(str::to_owned),
        origin: collected.origin.map(str::to_owned),
        host: host.to_owned(),
        subprotocol,
        key: key.to_owned(),
    })
}

/// The percent-decoded value of the first `name=value` pair in `query`. `+` stays a literal `+`.
fn query_parameter(query: &str, name: &str) -> Result<Option<String>, HandshakeError> {
    let Some(raw) = query
        .split('&')
        .find_map(|pair| match pair.split_once('=') {
            Some((key, value)) if key == name => Some(value),
            None if pair == name => Some(""),
            _ => None,
        })
    else {
        return Ok(None);
    };
    let bytes = raw.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = bytes
                .get(index + 1..index + 3)
                .ok_or(HandshakeError::InvalidTokenParameter)?;
            let hex =
                std::str::from_utf8(hex).map_err(|_| HandshakeError::InvalidTokenParameter)?;
            let byte =
                u8::from_str_radix(hex, 16).map_err(|_| HandshakeError::InvalidTokenParameter)?;
            decoded.push(byte);
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(decoded)
        .map(Some)
        .map_err(|_| HandshakeError::InvalidTokenParameter)
}

impl UpgradeRequest {
    /// Appends the `101 Switching Protocols` response: `Sec-WebSocket-Accept`, the negotiated
    /// `Sec-WebSocket-Protocol` if any, and never `Sec-WebSocket-Extensions`.
    pub fn write_response(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n",
        );
        out.extend_from_slice(b"Sec-WebSocket-Accept: ");
        out.extend_from_slice(accept_key(&self.key).as_bytes());
        out.extend_from_slice(b"\r\n");
        if let Some(protocol) = self.subprotocol {
            out.extend_from_slice(b"Sec-WebSocket-Protocol: ");
            out.extend_from_slice(protocol.as_str().as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
    }
}

impl HandshakeError {
    /// Appends the error response: [`HandshakeError::status`], the error text as a plain-text body, and
    /// `Sec-WebSocket-Version: 13` for 426 or `Allow: GET` for 405.
    pub fn write_response(&self, out: &mut Vec<u8>) {
        write_rejection(out, self.status(), &self.to_string());
    }
}

/// Appends a complete `Connection: close` error response with a plain-text `body`, e.g. for a server's own
/// 401/403 after checking the token or origin. Adds the headers RFC 9110 requires for 405 and 426.
pub fn write_rejection(out: &mut Vec<u8>, status: u16, body: &str) {
    let reason = match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        414 => "URI Too Long",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Error",
    };
    let extra = match status {
        405 => "Allow: GET\r\n",
        426 => "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n",
        _ => "",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\n{extra}Connection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(body.as_bytes());
}
