//! Handshake errors: the HTTP head, the server side (with HTTP statuses) and the client side.

/// The HTTP head is malformed or exceeds a [`HandshakeLimits`](super::HandshakeLimits) bound.
/// Always the peer's fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    /// The head is longer than `handshake_bytes_max` (no blank line within it).
    #[error("request head exceeds {max} bytes")]
    HeadTooLarge {
        /// The configured `handshake_bytes_max`.
        max: usize,
    },
    /// More than `header_count_max` header lines.
    #[error("more than {max} header lines")]
    TooManyHeaders {
        /// The configured `header_count_max`.
        max: usize,
    },
    /// The request or status line is longer than `start_line_bytes_max`.
    #[error("start line exceeds {max} bytes")]
    StartLineTooLong {
        /// The configured `start_line_bytes_max`.
        max: usize,
    },
    /// A header line is longer than `header_line_bytes_max`.
    #[error("header line exceeds {max} bytes")]
    HeaderLineTooLong {
        /// The configured `header_line_bytes_max`.
        max: usize,
    },
    /// The start line is empty, not UTF-8, or a line ends in a bare LF.
    #[error("malformed start line")]
    MalformedStartLine,
    /// A header line has no colon, an invalid name, control characters, obsolete line folding or a bare LF.
    #[error("malformed header line")]
    MalformedHeader,
}

impl HeadError {
    /// The HTTP status a server answers with: 431 for header limits, 414 for a long request line, else 400.
    pub fn status(&self) -> u16 {
        match self {
            HeadError::HeadTooLarge { .. }
            | HeadError::TooManyHeaders { .. }
            | HeadError::HeaderLineTooLong { .. } => 431,
            HeadError::StartLineTooLong { .. } => 414,
            HeadError::MalformedStartLine | HeadError::MalformedHeader => 400,
        }
    }
}

/// Why the server refuses an upgrade request. Always the client's fault; answer with
/// [`HandshakeError::status`] (see [`HandshakeError::write_response`]) and close the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// The head itself is malformed or too large.
    #[error(transparent)]
    Head(#[from] HeadError),
    /// The method is not `GET` (405).
    #[error("method must be GET")]
    MethodNotGet,
    /// The request line's version is not `HTTP/1.1` (400).
    #[error("HTTP version must be HTTP/1.1")]
    HttpVersionUnsupported,
    /// The request target is not an origin-form path (`/path?query`), or has a fragment (400).
    #[error("request target must be a path")]
    InvalidTarget,
    /// A required header is absent (400).
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    /// A header that must appear once appears twice (400).
    #[error("duplicate {0} header")]
    DuplicateHeader(&'static str),
    /// `Upgrade` does not list `websocket` (400).
    #[error("Upgrade header does not contain websocket")]
    UpgradeNotWebsocket,
    /// `Connection` does not list `upgrade` (400).
    #[error("Connection header does not contain upgrade")]
    ConnectionNotUpgrade,
    /// `Sec-WebSocket-Version` is absent or not 13 (426, with `Sec-WebSocket-Version: 13`).
    #[error("unsupported WebSocket version, expected 13")]
    UnsupportedVersion,
    /// `Sec-WebSocket-Key` is not the base64 encoding of 16 bytes (400).
    #[error("Sec-WebSocket-Key must be base64 of 16 bytes")]
    InvalidKey,
    /// The client offered subprotocols, none of them ours (400).
    #[error("no supported subprotocol offered; supported: switchboard.v1, switchboard.json.v1")]
    UnsupportedSubprotocol,
    /// The `token` query parameter has a broken percent-escape or is not UTF-8 (400).
    #[error("invalid token query parameter")]
    InvalidTokenParameter,
}

impl HandshakeError {
    /// Whether the request is a well-formed `GET` that simply is not a WebSocket upgrade (no
    /// `Upgrade: websocket`): a browser loading a page, which a server may answer with a file.
    pub fn is_plain_http(&self) -> bool {
        matches!(
            self,
            HandshakeError::MissingHeader("Upgrade") | HandshakeError::UpgradeNotWebsocket
        )
    }

    /// The HTTP status to answer with.
    pub fn status(&self) -> u16 {
        match self {
            HandshakeError::Head(head) => head.status(),
            HandshakeError::MethodNotGet => 405,
            HandshakeError::UnsupportedVersion => 426,
            HandshakeError::HttpVersionUnsupported
            | HandshakeError::InvalidTarget
            | HandshakeError::MissingHeader(_)
            | HandshakeError::DuplicateHeader(_)
            | HandshakeError::UpgradeNotWebsocket
            | HandshakeError::ConnectionNotUpgrade
            | HandshakeError::InvalidKey
            | HandshakeError::UnsupportedSubprotocol
            | HandshakeError::InvalidTokenParameter => 400,
        }
    }
}

/// Why a client rejects the server's handshake response. Always the server's fault (or a proxy's).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientHandshakeError {
    /// The head itself is malformed or too large.
    #[error(transparent)]
    Head(#[from] HeadError),
    /// The status line is not `HTTP/1.1 <3 digits> ...`.
    #[error("malformed status line")]
    MalformedStatusLine,
    /// The status is not 101; the server refused (its body says why).
    #[error("server answered {0} instead of 101")]
    UnexpectedStatus(u16),
    /// `Upgrade: websocket` is missing.
    #[error("Upgrade header does not contain websocket")]
    UpgradeNotWebsocket,
    /// `Connection: upgrade` is missing.
    #[error("Connection header does not contain upgrade")]
    ConnectionNotUpgrade,
    /// `Sec-WebSocket-Accept` is missing or does not match our key.
    #[error("Sec-WebSocket-Accept does not match the key")]
    AcceptMismatch,
    /// The server chose a subprotocol we did not offer (or several).
    #[error("server chose a subprotocol we did not offer")]
    UnrequestedSubprotocol,
    /// The server enabled an extension; we never offer any.
    #[error("server enabled an extension we did not offer")]
    UnrequestedExtension,
}
