//! Sans-IO HTTP/1.1 for the admin listener: parse one bounded request head, route it, write the response.
//!
//! Only what a scraper and a load balancer need: `GET` on three paths, no body, no keep-alive (every
//! response says `Connection: close`). The head is parsed with the protocol crate's bounded head parser.

use switchboard_protocol::ws::handshake::http::parse_head;
use switchboard_protocol::ws::handshake::{HandshakeLimits, HeadError};

use super::render::render_metrics;
use super::source::{AdminSource, Readiness};

/// The largest request head accepted, in bytes; a scrape request is a few hundred.
pub(crate) const REQUEST_BYTES_MAX: usize = 8 * 1024;
/// The longest request line, in bytes.
const REQUEST_LINE_BYTES_MAX: usize = 2 * 1024;
/// The most header lines accepted.
const HEADER_COUNT_MAX: usize = 64;

/// The content type of the Prometheus text exposition format, version 0.0.4.
pub(crate) const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
const TEXT_CONTENT_TYPE: &str = "text/plain; charset=utf-8";

const LIMITS: HandshakeLimits = HandshakeLimits {
    handshake_bytes_max: REQUEST_BYTES_MAX,
    header_count_max: HEADER_COUNT_MAX,
    start_line_bytes_max: REQUEST_LINE_BYTES_MAX,
    header_line_bytes_max: REQUEST_LINE_BYTES_MAX,
};

/// Why a request was refused before routing. Always the client's fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RequestError {
    /// The head is malformed or over a limit (400, 414 or 431).
    #[error(transparent)]
    Head(#[from] HeadError),
    /// No blank line within `REQUEST_BYTES_MAX` bytes (431).
    #[error("request head exceeds {REQUEST_BYTES_MAX} bytes")]
    TooLarge,
    /// The request line is not `METHOD SP TARGET SP HTTP/1.x` with an origin-form target (400).
    #[error("malformed request line")]
    RequestLine,
}

impl RequestError {
    /// The status to answer with.
    fn status(&self) -> u16 {
        match self {
            RequestError::Head(error) => error.status(),
            RequestError::TooLarge => 431,
            RequestError::RequestLine => 400,
        }
    }
}

/// A parsed request: what routing needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Request<'a> {
    /// The method, case-sensitive as HTTP says.
    pub(crate) method: &'a str,
    /// The path, without the query string.
    pub(crate) path: &'a str,
}

/// Whether `buf` holds a whole head (the blank line arrived).
pub(crate) fn head_complete(buf: &[u8]) -> bool {
    buf.windows(4).any(|window| window == b"\r\n\r\n")
}

/// Parses the request head at the start of `buf`; `Ok(None)` means incomplete.
pub(crate) fn parse_request(buf: &[u8]) -> Result<Option<Request<'_>>, RequestError> {
    let Some((head, _)) = parse_head(buf, &LIMITS)? else {
        return if buf.len() >= REQUEST_BYTES_MAX {
            Err(RequestError::TooLarge)
        } else {
            Ok(None)
        };
    };
    let mut parts = head.start_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(RequestError::RequestLine);
    };
    if method.is_empty() || !target.starts_with('/') || !version.starts_with("HTTP/1.") {
        return Err(RequestError::RequestLine);
    }
    let path = target.split_once('?').map_or(target, |(path, _)| path);
    Ok(Some(Request { method, path }))
}

/// Answers `request` from `source`.
pub(crate) fn route(request: &Request<'_>, source: &AdminSource) -> Response {
    let known = ["/metrics", "/healthz", "/readyz"];
    if !known.contains(&request.path) {
        let body = format!(
            "not found: {}\nendpoints: /metrics /healthz /readyz\n",
            request.path
        );
        return Response::text(404, body);
    }
    if request.method != "GET" {
        let body = format!(
            "method {} not allowed on {}; use GET\n",
            request.method, request.path
        );
        return Response {
            allow_get: true,
            ..Response::text(405, body)
        };
    }
    match request.path {
        "/metrics" => Response {
            content_type: METRICS_CONTENT_TYPE,
            ..Response::text(200, render_metrics(source))
        },
        "/healthz" => Response::text(200, "ok\n".to_owned()),
        _ => match source.readiness() {
            Readiness::Ready => Response::text(200, "ready\n".to_owned()),
            not_ready => Response::text(503, format!("not ready: {not_ready}\n")),
        },
    }
}

/// One response: status, content type, body; always `Connection: close`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Response {
    status: u16,
    content_type: &'static str,
    /// Send `Allow: GET` (with 405).
    allow_get: bool,
    body: String,
}

impl Response {
    fn text(status: u16, body: String) -> Response {
        Response {
            status,
            content_type: TEXT_CONTENT_TYPE,
            allow_get: false,
            body,
        }
    }

    /// 400 with `reason`.
    pub(crate) fn bad_request(reason: &str) -> Response {
        Response::text(400, format!("bad request: {reason}\n"))
    }

    /// 408: the request did not arrive within the deadline.
    pub(crate) fn request_timeout() -> Response {
        Response::text(408, "request timeout\n".to_owned())
    }

    /// 503: `connections_max` admin connections are already being served.
    pub(crate) fn too_many_connections(connections_max: usize) -> Response {
        Response::text(
            503,
            format!("too many admin connections (at most {connections_max} at once); retry\n"),
        )
    }

    /// The answer to a request refused before routing.
    pub(crate) fn from_request_error(error: &RequestError) -> Response {
        Response::text(error.status(), format!("{error}\n"))
    }

    /// Bytes of the body.
    pub(crate) fn body_len(&self) -> usize {
        self.body.len()
    }

    /// Appends the whole response to `out`.
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        let head = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{}Cache-Control: no-store\r\nConnection: close\r\n\r\n",
            self.status,
            reason_phrase(self.status),
            self.content_type,
            self.body.len(),
            if self.allow_get { "Allow: GET\r\n" } else { "" },
        );
        out.extend_from_slice(head.as_bytes());
        out.extend_from_slice(self.body.as_bytes());
    }
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        414 => "URI Too Long",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_get_with_query() {
        let request = parse_request(b"GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(
            request,
            Request {
                method: "GET",
                path: "/metrics"
            }
        );
    }

    #[test]
    fn incomplete_then_too_large() {
        assert_eq!(
            parse_request(b"GET /metrics HTTP/1.1\r\nHost: a\r\n"),
            Ok(None)
        );
        let mut big = b"GET /metrics HTTP/1.1\r\n".to_vec();
        while big.len() < REQUEST_BYTES_MAX {
            big.extend_from_slice(b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
        }
        let status = parse_request(&big).map(|_| ()).unwrap_err().status();
        assert_eq!(status, 431);
    }

    #[test]
    fn rejects_bad_request_lines() {
        for line in [
            "GET /metrics\r\n\r\n",
            "GET metrics HTTP/1.1\r\n\r\n",
            "GET /m HTTP/2\r\n\r\n",
            "GET  /m HTTP/1.1\r\n\r\n",
        ] {
            assert_eq!(
                parse_request(line.as_bytes()),
                Err(RequestError::RequestLine),
                "{line:?}"
            );
        }
    }

    #[test]
    fn response_is_closed_and_sized() {
        let mut out = Vec::new();
        Response::text(404, "nope\n".to_owned()).write(&mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 404 Not Found\r\n"));
        assert!(text.contains("Content-Length: 5\r\n") && text.contains("Connection: close\r\n"));
        assert!(text.ends_with("\r\n\r\nnope\n"));
    }
}
