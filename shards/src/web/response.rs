//! A whole HTTP/1.1 response with `Connection: close`, written at once.

use std::borrow::Cow;
use std::fmt::Write as _;

/// One response: status, headers that vary, body.
#[derive(Debug, Clone)]
pub struct Response<'a> {
    /// The status code.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// The body (already encoded as `content_encoding` says).
    pub body: Cow<'a, [u8]>,
    /// `Content-Encoding: gzip` when set.
    pub gzip: bool,
    /// `ETag`, quoted, when set.
    pub etag: Option<&'a str>,
    /// `Cache-Control`.
    pub cache_control: &'static str,
}

impl<'a> Response<'a> {
    /// A plain-text response that is never cached.
    pub fn text(status: u16, body: &'a str) -> Response<'a> {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: Cow::Borrowed(body.as_bytes()),
            gzip: false,
            etag: None,
            cache_control: "no-store",
        }
    }

    /// Writes status line, headers and body to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        let mut head = String::with_capacity(256);
        let _ = write!(
            head,
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: {}\r\n\
             X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\nConnection: close\r\n",
            self.status,
            reason(self.status),
            self.content_type,
            self.body.len(),
            self.cache_control
        );
        if self.gzip {
            head.push_str("Content-Encoding: gzip\r\n");
        }
        if let Some(etag) = self.etag {
            let _ = write!(head, "ETag: {etag}\r\nVary: Accept-Encoding\r\n");
        }
        head.push_str("\r\n");
        out.extend_from_slice(head.as_bytes());
        out.extend_from_slice(&self.body);
    }
}

/// The reason phrase of the statuses this server sends.
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        304 => "Not Modified",
        400 => "Bad Request",
        404 => "Not Found",
        426 => "Upgrade Required",
        _ => "Error",
    }
}
