//! [`CloseReason`]: why a connection ended, and the code (or HTTP status) it was told.

use switchboard_protocol::ws::{CloseCode, WsError};

/// Close code 1000: normal closure (also our answer to a Close without a code).
pub const CLOSE_NORMAL: u16 = CloseCode::NORMAL.0;
/// Close code 1001: going away (server drain on deploy).
pub const CLOSE_GOING_AWAY: u16 = CloseCode::GOING_AWAY.0;
/// Close code 1008: policy violation (frame rate above the limit).
pub const CLOSE_POLICY_VIOLATION: u16 = CloseCode::POLICY_VIOLATION.0;
/// Close code 1013: try again later (the client does not read fast enough; its send queue is full).
pub const CLOSE_TRY_AGAIN_LATER: u16 = CloseCode::TRY_AGAIN_LATER.0;
/// HTTP status for a handshake that did not complete within `handshake_timeout_ms`.
pub const HTTP_REQUEST_TIMEOUT: u16 = 408;

/// Whether `code` may be sent in a Close frame (RFC 6455 7.4): the defined codes except the reserved
/// 1004, 1005, 1006 and 1015, and the registered (3000-3999) and private (4000-4999) ranges.
pub fn is_sendable(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// Why a connection closed. Each variant says who was at fault and what the client was told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// The client's upgrade request was invalid or too large (client's fault); it got this HTTP status
    /// (400, 405, 414, 426 or 431) and the transport was closed.
    HandshakeRejected {
        /// The HTTP status sent.
        status: u16,
    },
    /// A plain HTTP `GET` (a page, an asset, a demo token) was answered with this status and the
    /// transport closed (`Connection: close`); nobody's fault.
    HttpServed {
        /// The HTTP status sent.
        status: u16,
    },
    /// The upgrade request did not complete within `handshake_timeout_ms` (client's fault or a slow
    /// network); the client got 408 if it was still listening.
    HandshakeTimeout,
    /// The client broke RFC 6455 or a receive limit (client's fault); we sent [`WsError::close_code`]:
    /// 1002 protocol error, 1007 invalid UTF-8, 1009 too big.
    Protocol(WsError),
    /// The client sent more than `frames_per_second_max` frames per second (client's fault): 1008.
    FrameRateExceeded,
    /// The client stopped reading and its send queue reached `send_queue_bytes_max`: 1013.
    SendQueueFull,
    /// No text/binary message for `idle_timeout_ms` (nobody's fault): 1000.
    IdleTimeout,
    /// A message the client started (WebSocket continuation frames, or switchboard.v1 fragments) was
    /// not finished within `partial_message_timeout_ms` (client's fault): 1008.
    PartialMessageTimeout,
    /// The node's budget for bytes held for clients (`buffered_bytes_max`) was exceeded and this
    /// connection held one of the largest unfinished messages (server load): 1013.
    BufferBudget,
    /// A ping went unanswered past its deadline (the path or the client is dead): no close frame was sent,
    /// the transport was dropped, which the client (if alive) sees as 1006.
    HeartbeatTimeout,
    /// The client sent a Close with this code (`None`: no code, i.e. 1005); we answered it.
    PeerClosed {
        /// The client's code.
        code: Option<u16>,
    },
    /// The shard closed the connection (e.g. drain with 1001) with this code.
    Local {
        /// The code sent.
        code: u16,
    },
    /// We sent a Close but the client neither answered nor read it within `close_timeout_ms`; the
    /// transport was dropped. `first` says why the close started (and so which code was sent, if any).
    CloseTimeout {
        /// The reason that started the close.
        first: Box<CloseReason>,
    },
}

impl CloseReason {
    /// The WebSocket close code we sent for this reason, if a Close frame was sent.
    pub fn code_sent(&self) -> Option<u16> {
        match self {
            CloseReason::HandshakeRejected { .. }
            | CloseReason::HttpServed { .. }
            | CloseReason::HandshakeTimeout
            | CloseReason::HeartbeatTimeout => None,
            CloseReason::Protocol(error) => Some(error.close_code().0),
            CloseReason::FrameRateExceeded => Some(CLOSE_POLICY_VIOLATION),
            CloseReason::SendQueueFull => Some(CLOSE_TRY_AGAIN_LATER),
            CloseReason::IdleTimeout => Some(CLOSE_NORMAL),
            CloseReason::PartialMessageTimeout => Some(CLOSE_POLICY_VIOLATION),
            CloseReason::BufferBudget => Some(CLOSE_TRY_AGAIN_LATER),
            CloseReason::PeerClosed { code } => Some(code.unwrap_or(CLOSE_NORMAL)),
            CloseReason::Local { code } => Some(*code),
            CloseReason::CloseTimeout { first } => first.code_sent(),
        }
    }

    /// The reason text put in our Close frame.
    pub fn text(&self) -> &'static str {
        match self {
            CloseReason::HandshakeRejected { .. } => "handshake rejected",
            CloseReason::HttpServed { .. } => "http served",
            CloseReason::HandshakeTimeout => "handshake timeout",
            CloseReason::Protocol(WsError::InvalidUtf8) => "invalid utf-8",
            CloseReason::Protocol(WsError::FramePayloadTooLarge { .. }) => "frame too big",
            CloseReason::Protocol(WsError::MessageTooLarge { .. }) => "message too big",
            CloseReason::Protocol(_) => "protocol error",
            CloseReason::FrameRateExceeded => "frame rate limit exceeded",
            CloseReason::SendQueueFull => "send queue full: client not reading",
            CloseReason::IdleTimeout => "idle timeout",
            CloseReason::PartialMessageTimeout => "unfinished message timed out",
            CloseReason::BufferBudget => "server memory budget: try again later",
            CloseReason::HeartbeatTimeout => "heartbeat timeout",
            CloseReason::PeerClosed { .. } => "",
            // The drain's reconnect hint: the node is going away, not refusing this client.
            CloseReason::Local {
                code: CLOSE_GOING_AWAY,
            } => "server restarting: reconnect",
            CloseReason::Local { .. } => "server closing",
            CloseReason::CloseTimeout { .. } => "close timeout",
        }
    }
}
