//! A plain HTTP `GET` on the WebSocket port (a browser loading a page, not upgrading): what a server
//! that also serves static files needs from it. [`parse_upgrade_request`](super::parse_upgrade_request)
//! says a request is such a `GET` with [`HandshakeError::is_plain_http`]; this parses the same head again.

use super::error::HandshakeError;
use super::http::{parse_head, token_list_contains};
use super::limits::HandshakeLimits;

/// A `GET` without `Upgrade: websocket`. Owned, so the read buffer can be reused at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlainRequest {
    /// The request path (always starts with `/`, still percent-encoded).
    pub path: String,
    /// The raw query string after `?`, if any (still percent-encoded).
    pub query: Option<String>,
    /// The client accepts a gzip-encoded body (`Accept-Encoding` lists `gzip`).
    pub accepts_gzip: bool,
    /// The `If-None-Match` header value, if any (a cached entity tag).
    pub if_none_match: Option<String>,
}

/// Parses a plain `GET` head at the start of `buf`: `Ok(None)` while it is incomplete.
///
/// # Errors
///
/// [`HandshakeError`] for a malformed or oversized head, another method, another HTTP version or a
/// target that is not a path.
pub fn parse_plain_request(
    buf: &[u8],
    limits: &HandshakeLimits,
) -> Result<Option<(PlainRequest, usize)>, HandshakeError> {
    let Some((head, consumed)) = parse_head(buf, limits)? else {
        return Ok(None);
    };
    let (path, query) = super::server::parse_request_line(head.start_line)?;
    let mut request = PlainRequest {
        path: path.to_owned(),
        query: query.map(str::to_owned),
        accepts_gzip: false,
        if_none_match: None,
    };
    for (name, value) in head.headers() {
        if name.eq_ignore_ascii_case("accept-encoding") {
            request.accepts_gzip |= token_list_contains(value, "gzip");
        } else if name.eq_ignore_ascii_case("if-none-match") {
            request.if_none_match = Some(value.to_owned());
        }
    }
    Ok(Some((request, consumed)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_browser_get_is_parsed() {
        let head = b"GET /assets/app.js?v=2 HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip, br\r\nIf-None-Match: \"abc\"\r\n\r\nrest";
        let (request, consumed) = parse_plain_request(head, &HandshakeLimits::default())
            .unwrap()
            .unwrap();
        assert_eq!(request.path, "/assets/app.js");
        assert_eq!(request.query.as_deref(), Some("v=2"));
        assert!(request.accepts_gzip);
        assert_eq!(request.if_none_match.as_deref(), Some("\"abc\""));
        assert_eq!(&head[consumed..], b"rest");
        assert_eq!(
            parse_plain_request(b"GET / HTTP/1.1\r\n", &HandshakeLimits::default()).unwrap(),
            None
        );
    }
}
