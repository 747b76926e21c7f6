//! [`Cold`]: the parts of a [`Connection`](super::Connection) that an open, idle connection does not use —
//! the handshake's buffers and deadline, events not yet polled, the close's reason and deadline, the layer
//! above's deadline, the start of an unfinished message — boxed together so that such a connection holds one empty pointer instead of them.
//!
//! The box is allocated at accept (the handshake needs it) and whenever one of these is next needed (an
//! event, a close, an app deadline), and freed once all of them are back to empty: as soon as the `101` is
//! written (echo mode: the `Opened` event was polled before), otherwise when the connection next goes quiet
//! (`Connection::release_idle_buffers`). A busy chat connection keeps it, so it is not reallocated per
//! message.

use std::collections::VecDeque;

use super::ConnectionEvent;
use crate::close::CloseReason;

/// See the module documentation.
#[derive(Debug, Default)]
pub(super) struct Cold {
    /// The upgrade request so far (at most `handshake_bytes_max`); freed once the handshake ends.
    pub(super) handshake_buf: Vec<u8>,
    /// HTTP response bytes (101 or a rejection) not yet handed to the writer; they precede all frames.
    pub(super) http_out: Vec<u8>,
    /// When the upgrade request must be complete; meaningful while handshaking.
    pub(super) handshake_deadline_ms: u64,
    /// A plain HTTP request was handed out as an event and awaits `Connection::answer_plain`; bytes
    /// that arrive meanwhile are ignored.
    pub(super) plain_pending: bool,
    /// The `Opened` event until polled: always the first event, kept apart so that a connection whose only
    /// event is `Opened` (every echo-mode connection) never allocates the event queue.
    pub(super) opened: Option<ConnectionEvent>,
    /// Events not yet polled.
    pub(super) events: VecDeque<ConnectionEvent>,
    /// When a close in progress gives up waiting and drops the transport.
    pub(super) close_deadline_ms: Option<u64>,
    /// Why the connection is closing; set exactly when it is.
    pub(super) close_reason: Option<CloseReason>,
    /// A deadline of the layer above (0 = none), reported once as [`ConnectionEvent::AppDeadline`].
    pub(super) app_deadline_ms: u64,
    /// When the client started the message (or frame) the assembler is in the middle of (0 = none): it
    /// must finish within `partial_message_timeout_ms`.
    pub(super) partial_since_ms: u64,
}

/// What an absent box reads as.
pub(super) static IDLE: Cold = Cold {
    handshake_buf: Vec::new(),
    http_out: Vec::new(),
    handshake_deadline_ms: 0,
    plain_pending: false,
    opened: None,
    events: VecDeque::new(),
    close_deadline_ms: None,
    close_reason: None,
    app_deadline_ms: 0,
    partial_since_ms: 0,
};

impl Cold {
    /// Whether nothing here is in use, so the box can be freed without changing what the connection does
    /// (the handshake deadline only matters while handshaking, which an idle box is past).
    pub(super) fn is_idle(&self) -> bool {
        self.handshake_buf.capacity() == 0
            && self.http_out.capacity() == 0
            && !self.plain_pending
            && self.opened.is_none()
            && self.events.is_empty()
            && self.close_deadline_ms.is_none()
            && self.close_reason.is_none()
            && self.app_deadline_ms == 0
            && self.partial_since_ms == 0
    }

    /// Heap bytes held: the box itself and its buffers' capacities.
    pub(super) fn bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.handshake_buf.capacity()
            + self.http_out.capacity()
            + self.events.capacity() * std::mem::size_of::<ConnectionEvent>()
    }
}
