//! Bounded, incremental parsing of an HTTP/1.1 head, shared by the server and client handshakes.
//!
//! [`parse_head`] rescans from the start on every call; that is quadratic in the worst case but bounded by
//! `handshake_bytes_max` (16 KiB by default) and keeps the parser stateless, so "need more bytes" consumes
//! nothing. Limits are checked on incomplete lines too, so an oversized head fails before it is complete.

use super::error::HeadError;
use super::limits::HandshakeLimits;

/// A parsed head: the start line and the validated header lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head<'a> {
    /// The request line or status line, without CRLF.
    pub start_line: &'a str,
    /// The header lines, each ending in CRLF, without the final blank line.
    header_block: &'a str,
}

impl<'a> Head<'a> {
    /// Iterates `(name, value)` pairs in order; the value has surrounding whitespace removed.
    pub fn headers(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.header_block.split_terminator("\r\n").map(|line| {
            let (name, value) = line.split_once(':').expect("header lines were validated");
            (name, value.trim_matches(|c| c == ' ' || c == '\t'))
        })
    }
}

/// Parses a head at the start of `buf`: `Ok(None)` if the blank line has not arrived yet.
pub fn parse_head<'a>(
    buf: &'a [u8],
    limits: &HandshakeLimits,
) -> Result<Option<(Head<'a>, usize)>, HeadError> {
    let mut line_start = 0;
    let mut header_count = 0;
    let mut start_line_end = None;
    loop {
        let is_start_line = start_line_end.is_none();
        let line_max = if is_start_line {
            limits.start_line_bytes_max
        } else {
            limits.header_line_bytes_max
        };
        let Some(newline) = buf[line_start..].iter().position(|&b| b == b'\n') else {
            check_partial(buf, line_start, line_max, is_start_line, limits)?;
            return Ok(None);
        };
        let line_end = line_start + newline;
        let head_end = line_end + 1;
        if head_end > limits.handshake_bytes_max {
            return Err(HeadError::HeadTooLarge {
                max: limits.handshake_bytes_max,
            });
        }
        let line = &buf[line_start..line_end];
        let Some(line) = line.strip_suffix(b"\r") else {
            return Err(if is_start_line {
                HeadError::MalformedStartLine
            } else {
                HeadError::MalformedHeader
            });
        };
        if line.len() > line_max {
            return Err(line_too_long(is_start_line, limits));
        }
        if is_start_line {
            if line.is_empty() || !line.iter().all(|&b| (0x20..0x7F).contains(&b)) {
                return Err(HeadError::MalformedStartLine);
            }
            start_line_end = Some(line_end - 1);
        } else if line.is_empty() {
            let start_end = start_line_end.expect("start line parsed first");
            let head = Head {
                start_line: to_str(&buf[..start_end])?,
                header_block: to_str(&buf[start_end + 2..line_start])?,
            };
            return Ok(Some((head, head_end)));
        } else {
            header_count += 1;
            if header_count > limits.header_count_max {
                return Err(HeadError::TooManyHeaders {
                    max: limits.header_count_max,
                });
            }
            check_header_line(line)?;
        }
        line_start = head_end;
    }
}

/// Applies the limits to an incomplete line at `line_start`.
fn check_partial(
    buf: &[u8],
    line_start: usize,
    line_max: usize,
    is_start_line: bool,
    limits: &HandshakeLimits,
) -> Result<(), HeadError> {
    // A partial line may end in the CR of its CRLF, which does not count towards the line length.
    let partial = buf.len() - line_start;
    let partial = if buf.last() == Some(&b'\r') {
        partial - 1
    } else {
        partial
    };
    if partial > line_max {
        return Err(line_too_long(is_start_line, limits));
    }
    if buf.len() >= limits.handshake_bytes_max {
        return Err(HeadError::HeadTooLarge {
            max: limits.handshake_bytes_max,
        });
    }
    Ok(())
}

fn line_too_long(is_start_line: bool, limits: &HandshakeLimits) -> HeadError {
    if is_start_line {
        HeadError::StartLineTooLong {
            max: limits.start_line_bytes_max,
        }
    } else {
        HeadError::HeaderLineTooLong {
            max: limits.header_line_bytes_max,
        }
    }
}

/// A header line is `token ":" OWS value OWS` with no control characters besides HTAB (RFC 9110 5.5).
fn check_header_line(line: &[u8]) -> Result<(), HeadError> {
    let colon = line
        .iter()
        .position(|&b| b == b':')
        .ok_or(HeadError::MalformedHeader)?;
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    if name.is_empty() || !name.iter().all(|&b| is_token_byte(b)) {
        return Err(HeadError::MalformedHeader);
    }
    if value.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7F) {
        return Err(HeadError::MalformedHeader);
    }
    std::str::from_utf8(value).map_err(|_| HeadError::MalformedHeader)?;
    Ok(())
}

/// `tchar` from RFC 9110 5.6.2.
fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

fn to_str(bytes: &[u8]) -> Result<&str, HeadError> {
    std::str::from_utf8(bytes).map_err(|_| HeadError::MalformedHeader)
}

/// Whether a comma-separated token list (e.g. `Connection: keep-alive, Upgrade`) contains `token`,
/// compared case-insensitively.
pub fn token_list_contains(value: &str, token: &str) -> bool {
    value
        .split(',')
        .any(|item| item.trim().eq_ignore_ascii_case(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUEST: &[u8] =
        b"GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nConnection:  keep-alive, Upgrade \r\n\r\nrest";

    #[test]
    fn parses_head_and_reports_consumed_bytes() {
        let limits = HandshakeLimits::default();
        let (head, consumed) = parse_head(REQUEST, &limits).unwrap().unwrap();
        assert_eq!(consumed, REQUEST.len() - 4);
        assert_eq!(head.start_line, "GET / HTTP/1.1");
        let headers: Vec<_> = head.headers().collect();
        assert_eq!(
            headers,
            [
                ("Host", "a"),
                ("X-Empty", ""),
                ("Connection", "keep-alive, Upgrade")
            ]
        );
        for prefix in 0..consumed {
            assert_eq!(
                parse_head(&REQUEST[..prefix], &limits),
                Ok(None),
                "prefix {prefix}"
            );
        }
    }

    #[test]
    fn malformed_lines_are_rejected() {
        let limits = HandshakeLimits::default();
        let parse = |bytes: &'static [u8]| parse_head(bytes, &limits);
        assert_eq!(
            parse(b"GET / HTTP/1.1\nHost: a\r\n\r\n"),
            Err(HeadError::MalformedStartLine)
        );
        assert_eq!(parse(b"\r\n\r\n"), Err(HeadError::MalformedStartLine));
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\nHost a\r\n\r\n"),
            Err(HeadError::MalformedHeader)
        );
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\nHost : a\r\n\r\n"),
            Err(HeadError::MalformedHeader)
        );
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n"),
            Err(HeadError::MalformedHeader)
        );
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\nA: b\x01\r\n\r\n"),
            Err(HeadError::MalformedHeader)
        );
    }

    #[test]
    fn each_limit_has_its_own_error() {
        let limits = HandshakeLimits {
            handshake_bytes_max: 200,
            header_count_max: 4,
            start_line_bytes_max: 32,
            header_line_bytes_max: 40,
        };
        let long_target = format!("GET /{} HTTP/1.1", "a".repeat(40));
        assert_eq!(
            parse_head(long_target.as_bytes(), &limits),
            Err(HeadError::StartLineTooLong { max: 32 })
        );
        let long_header = format!("GET / HTTP/1.1\r\nX: {}", "b".repeat(40));
        assert_eq!(
            parse_head(long_header.as_bytes(), &limits),
            Err(HeadError::HeaderLineTooLong { max: 40 })
        );
        let many = "GET / HTTP/1.1\r\n".to_string() + &"A: b\r\n".repeat(5);
        assert_eq!(
            parse_head(many.as_bytes(), &limits),
            Err(HeadError::TooManyHeaders { max: 4 })
        );
        let big = "GET / HTTP/1.1\r\n".to_string()
            + &format!("A: {}\r\n", "c".repeat(35)).repeat(5)
            + "\r\n";
        assert_eq!(
            parse_head(big.as_bytes(), &limits),
            Err(HeadError::HeadTooLarge { max: 200 })
        );
        assert_eq!(HeadError::HeadTooLarge { max: 1 }.status(), 431);
        assert_eq!(HeadError::StartLineTooLong { max: 1 }.status(), 414);
    }

    #[test]
    fn token_lists_are_case_insensitive() {
        assert!(token_list_contains("keep-alive, Upgrade", "upgrade"));
        assert!(token_list_contains("UPGRADE", "upgrade"));
        assert!(!token_list_contains("upgraded", "upgrade"));
    }
}
