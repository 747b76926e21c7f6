//! [`Connection`]: one client connection as an explicit sans-IO state machine (quinn-proto style).
//!
//! Inputs: [`Connection::handle_bytes`], [`Connection::handle_timeout`], [`Connection::handle_send_complete`],
//! and the shard's own [`Connection::send`] / [`Connection::close`]. Outputs: [`Connection::poll_transmit`],
//! [`Connection::poll_event`], [`Connection::poll_timeout`], [`Connection::is_closed`]. Time is passed in as
//! milliseconds on the shard's monotonic clock; nothing here reads a clock or touches a socket.
//!
//! States: `Handshaking` (collecting the upgrade request) → `Open` → `Closing` (our Close is queued, we wait
//! for the client's) → `Closed` (nothing more to do but flush what is queued, then drop the transport).
//! Every path to `Closed` records a [`CloseReason`]; see [the crate root](crate) for the codes.
//!
//! Memory (a million idle connections per process must fit in 300 B each, this struct 144 of them): the
//! settings are shared and passed in where needed, the handshake, event and close state is boxed (`Cold`)
//! and freed as soon as the 101 is written, the send queue keeps only its ping slot inline, and the receive
//! assembler is boxed and allocated only when a frame other than a complete ping or pong arrives (those are
//! decoded straight from the input, so heartbeat traffic allocates nothing). Buffers grown by a burst
//! (assembler, send-queue rings, event queue) are kept while the connection is busy and released when its
//! heartbeat next pings, i.e. after a whole heartbeat interval without a received byte, so a busy connection
//! never reallocates per message and an idle one holds no heap buffer.

use bytes::Bytes;
use switchboard_protocol::ws::handshake::{
    parse_plain_request, PlainRequest, Subprotocol, UpgradeRequest,
};
use switchboard_protocol::ws::handshake::{
    parse_upgrade_request, write_rejection, HandshakeError, HeadError,
};
use switchboard_protocol::ws::{MessageAssembler, Role, WsError};

use super::app_fragment::switchboard_v1_fragmentation;
use super::close::{is_sendable, CloseReason, CLOSE_NORMAL, HTTP_REQUEST_TIMEOUT};
use super::connection_config::ConnectionConfig;
use super::heartbeat::{Heartbeat, HeartbeatAction};
use super::inbound::{self, Inbound};
use super::lane::{DataKind, Lane};
use super::lending::{Input, LendingInput};
use super::rate::FrameRateLimiter;
use super::send_queue::{
    Fragmentation, SendQueue, SendQueueCounters, SendQueueError, GATHER_PAYLOAD_BYTES_MIN,
};
use crate::mode::Mode;

mod cold;
mod handshake;
mod receive;
mod timeouts;

use cold::Cold;

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    /// Collecting and validating the HTTP upgrade request.
    Handshaking,
    /// Exchanging messages.
    Open,
    /// Our Close is queued or sent; waiting for the client's Close (or `close_timeout_ms`).
    Closing,
    /// Done: flush what is queued, then drop the transport once [`Connection::is_closed`].
    Closed,
}

/// Something the shard must act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionEvent {
    /// The handshake succeeded (the 101 is queued). Boxed: it is rare and large.
    Opened {
        /// The validated request: path, token, origin, negotiated subprotocol.
        request: Box<UpgradeRequest>,
        /// The heartbeat interval to announce to the client (e.g. in the switchboard.v1 `welcome`).
        heartbeat_interval_ms: u64,
    },
    /// The deadline set with [`Connection::set_app_deadline`] passed (e.g. no `hello` in time).
    AppDeadline,
    /// A plain HTTP `GET` that is not an upgrade (chat mode only: a browser loading a page). The shard
    /// answers it with [`Connection::answer_plain`] while handling the event. Boxed: it is rare.
    PlainRequest {
        /// Path, query and the headers a file server needs.
        request: Box<PlainRequest>,
    },
    /// A complete text or binary message (chat mode only; echo mode answers it itself).
    Message {
        /// Text or binary.
        kind: DataKind,
        /// The payload (text is valid UTF-8).
        payload: Bytes,
    },
}

/// Wire bytes of a masked client control frame with a payload of at most 125 bytes: 2 header bytes and the
/// 4-byte mask key. Used to follow frame boundaries across control events (see `Connection::assembler_clean`).
const CONTROL_FRAME_OVERHEAD_BYTES: usize = 6;

/// One client connection. See the module documentation.
///
/// It exists once per connection, a million per node, so it keeps inline only what an open, idle connection
/// uses (heartbeat, rate limiter, the send queue's fixed slots, timestamps, counters) and boxes the rest:
/// the receive assembler, the send queue's buffers, and the handshake, event and close state (`Cold`).
#[derive(Debug)]
pub struct Connection {
    config: ConnectionConfig,
    /// Handshake, events and close; `None` while none of them is in use (see [`Cold`]).
    cold: Option<Box<Cold>>,
    /// The receive state machine; `None` while between frames and not needed (see the module docs).
    assembler: Option<Box<MessageAssembler>>,
    heartbeat: Heartbeat,
    rate: FrameRateLimiter,
    send_queue: SendQueue,
    /// When the last text/binary message arrived (or the connection opened), for the idle timeout.
    last_message_ms: u64,
    /// Complete text/binary messages received while open, for metrics.
    messages_received: u64,
    /// Bytes handed out by `poll_transmit` and not yet reported by `handle_send_complete` (at most a few
    /// flushes' worth, far below 4 GiB).
    bytes_in_flight: u32,
    state: ConnectionState,
    /// Whether `assembler` (if any) is between messages and frames, so it can be dropped and later replaced
    /// by a fresh one without changing what is decoded. Conservative: `false` when unsure.
    assembler_clean: bool,
    /// The transport is to be dropped now, without flushing.
    aborted: bool,
    /// Whether the unfinished-message clock runs (`Cold::partial_since_ms` is set): kept here so that a
    /// busy connection checks it without reading the boxed `Cold` at the end of every read.
    partial_clock: bool,
}

impl Connection {
    /// A connection accepted at `now_ms`, waiting for its upgrade request.
    pub fn new(config: ConnectionConfig, now_ms: u64) -> Self {
        Self {
            cold: Some(Box::new(Cold {
                handshake_deadline_ms: now_ms + config.handshake_timeout_ms,
                ..Cold::default()
            })),
            assembler: None,
            heartbeat: Heartbeat::new(&config.settings().heartbeat, now_ms),
            rate: FrameRateLimiter::new(config.frames_per_second_max, now_ms),
            send_queue: SendQueue::new(
                Fragmentation::WebSocket,
                config.fragment_bytes,
                config.send_queue_bytes_max,
            ),
            last_message_ms: now_ms,
            messages_received: 0,
            bytes_in_flight: 0,
            state: ConnectionState::Handshaking,
            assembler_clean: true,
            aborted: false,
            partial_clock: false,
            config,
        }
    }

    /// The handshake, event and close state (all empty when not allocated).
    fn cold(&self) -> &Cold {
        self.cold.as_deref().unwrap_or(&cold::IDLE)
    }

    /// The handshake, event and close state, allocated if it was not.
    fn cold_mut(&mut self) -> &mut Cold {
        self.cold.get_or_insert_with(Box::default)
    }

    /// Frees the handshake, event and close state if none of it is in use.
    fn release_cold_if_idle(&mut self) {
        if self.cold.as_ref().is_some_and(|cold| cold.is_idle()) {
            self.cold = None;
        }
    }

    /// The current state.
    pub fn state(&self) -> ConnectionState {
        self.state
    }

    /// Why the connection is closing or closed; `None` while it is healthy.
    pub fn close_reason(&self) -> Option<&CloseReason> {
        self.cold().close_reason.as_ref()
    }

    /// Bytes queued for the client and not yet handed to the transport (the overload detector's input).
    pub fn queued_bytes(&self) -> usize {
        self.send_queue.queued_bytes()
    }

    /// The send queue's counters, for metrics.
    pub fn send_counters(&self) -> SendQueueCounters {
        self.send_queue.counters()
    }

    /// Complete text/binary messages received while open (each is echoed or handed out as an event), for
    /// metrics. Changed by `handle_bytes`.
    pub fn messages_received(&self) -> u64 {
        self.messages_received
    }

    /// Takes the heartbeat RTT sample (ms) measured by the last answered ping, if not taken yet, for metrics.
    /// Changed by `handle_bytes`.
    pub fn take_rtt_sample_ms(&mut self) -> Option<u64> {
        self.heartbeat.take_sample_ms()
    }

    /// The smallest `max_bytes` [`Connection::poll_transmit`] accepts: size write buffers at least this.
    pub fn transmit_bytes_min(&self) -> usize {
        self.send_queue.frame_bytes_max()
    }

    /// Moves to `Closed`, keeping the first reason, with `close_timeout_ms` to flush what is queued.
    fn finish(&mut self, reason: CloseReason, now_ms: u64) {
        let close_timeout_ms = self.config.close_timeout_ms;
        let cold = self.cold_mut();
        cold.close_reason.get_or_insert(reason);
        cold.close_deadline_ms
            .get_or_insert(now_ms + close_timeout_ms);
        self.state = ConnectionState::Closed;
    }

    /// Queues our Close for `reason` and starts the close handshake (or, after a protocol error, only
    /// flushes: the assembler is dead and could not read the client's Close anyway).
    fn start_close(&mut self, reason: CloseReason, after_data: bool, now_ms: u64) {
        if let Some(code) = reason.code_sent() {
            self.send_queue
                .enqueue_close(code, reason.text(), after_data);
        }
        // After a protocol error the assembler is dead; after a memory-driven close nothing more of the
        // client's unfinished message may be held: stop reading, only flush our Close.
        let stop_reading = matches!(
            reason,
            CloseReason::Protocol(_)
                | CloseReason::PartialMessageTimeout
                | CloseReason::BufferBudget
        );
        if stop_reading && !matches!(reason, CloseReason::Protocol(_)) {
            self.assembler = None;
            self.assembler_clean = true;
            self.partial_clock = false;
            if let Some(cold) = self.cold.as_mut() {
                cold.partial_since_ms = 0;
            }
        }
        let close_timeout_ms = self.config.close_timeout_ms;
        let cold = self.cold_mut();
        cold.close_reason.get_or_insert(reason);
        cold.close_deadline_ms
            .get_or_insert(now_ms + close_timeout_ms);
        self.state = if stop_reading {
            ConnectionState::Closed
        } else {
            ConnectionState::Closing
        };
    }

    /// Drops the transport at once, without a close handshake.
    fn abort(&mut self, reason: CloseReason) {
        let cold = self.cold_mut();
        cold.close_reason.get_or_insert(reason);
        cold.http_out.clear();
        cold.handshake_buf = Vec::new();
        self.send_queue.discard_data();
        self.state = ConnectionState::Closed;
        self.aborted = true;
    }

    /// Starts a graceful close for exceeding the node's buffer budget (1013), dropping what is queued.
    pub fn close_for_budget(&mut self, now_ms: u64) {
        if self.state == ConnectionState::Open {
            self.start_close(CloseReason::BufferBudget, false, now_ms);
        }
    }

    /// Frees the buffers a burst grew, once the connection has been quiet for a heartbeat interval: the
    /// assembler (if between frames), the send queue's rings (if empty) and the event queue with the rest
    /// of [`Cold`] (if none of it is in use; else just the event queue, if empty).
    fn release_idle_buffers(&mut self) {
        if self.assembler_clean {
            self.assembler = None;
        }
        self.send_queue.release_idle_buffers();
        self.release_cold_if_idle();
        if let Some(cold) = self.cold.as_mut() {
            if cold.events.is_empty() {
                cold.events = std::collections::VecDeque::new();
            }
        }
    }

    /// Whether the handshake, event and close state is allocated (the boxed `Cold`): an open echo connection
    /// between messages holds none. For tests.
    pub fn holds_cold_state(&self) -> bool {
        self.cold.is_some()
    }

    /// Heap bytes this connection holds in its own buffers (capacities; boxed parts by size), not counting
    /// the allocator's overhead or payloads shared with other connections (`Bytes`). For memory budgets.
    pub fn buffer_bytes(&self) -> usize {
        let assembler = self.assembler.as_ref().map_or(0, |assembler| {
            std::mem::size_of::<MessageAssembler>() + assembler.buffered_bytes()
        });
        self.cold.as_ref().map_or(0, |cold| cold.bytes())
            + assembler
            + self.send_queue.buffer_bytes()
    }

    /// Queues a message for the client in `lane` (chat mode). A full queue closes the connection with 1013
    /// and returns [`SendQueueError::Full`]; the shard then stops delivering to it.
    ///
    /// # Errors
    ///
    /// [`SendQueueError::Full`] as above, [`SendQueueError::Closing`] when the connection is not open (the
    /// message is dropped; the client resumes from its last acknowledged message when it reconnects).
    pub fn send(
        &mut self,
        lane: Lane,
        kind: DataKind,
        payload: Bytes,
        now_ms: u64,
    ) -> Result<(), SendQueueError> {
        if self.state != ConnectionState::Open {
            return Err(SendQueueError::Closing);
        }
        let result = self.send_queue.enqueue(lane, kind, payload);
        if let Err(SendQueueError::Full { .. }) = result {
            self.start_close(CloseReason::SendQueueFull, false, now_ms);
        }
        result
    }

    /// Sets (or clears) a deadline of the layer above, in the shard's milliseconds; when it passes while the
    /// connection is open, [`ConnectionEvent::AppDeadline`] is reported once.
    pub fn set_app_deadline(&mut self, deadline_ms: Option<u64>) {
        match deadline_ms {
            Some(deadline) => self.cold_mut().app_deadline_ms = deadline.max(1),
            None => {
                if let Some(cold) = self.cold.as_mut() {
                    cold.app_deadline_ms = 0;
                }
            }
        }
    }

    /// Starts a graceful close with `code` (e.g. 1001 on drain): queued messages are sent first, then our
    /// Close; the client has `close_timeout_ms` to answer. A connection still handshaking is dropped.
    /// A `code` that may not be sent (1005, 1006, 1015, outside 1000..=4999) is our bug and panics.
    pub fn close(&mut self, code: u16, now_ms: u64) {
        assert!(
            is_sendable(code),
            "close code {code} may not be sent (RFC 6455 7.4)"
        );
        match self.state {
            ConnectionState::Handshaking => self.abort(CloseReason::Local { code }),
            ConnectionState::Open => self.start_close(CloseReason::Local { code }, true, now_ms),
            ConnectionState::Closing | ConnectionState::Closed => {}
        }
    }

    /// Appends the next bytes to write to `out` (HTTP response first, then frames by priority), at most
    /// `max_bytes` (which must be at least [`Connection::transmit_bytes_min`]). Returns the bytes appended.
    /// Changed by `handle_bytes`, `handle_timeout`, `send` and `close`.
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>, max_bytes: usize) -> usize {
        self.transmit(out, max_bytes, false).0
    }

    /// [`Connection::poll_transmit`] without copying large payloads (see
    /// [`SendQueue::poll_transmit_vectored`]): when a payload chunk is returned, write it right after `out`
    /// (the bytes returned count it), then call again with a new buffer for what follows. Changed by the
    /// same calls as `poll_transmit`.
    pub fn poll_transmit_vectored(
        &mut self,
        out: &mut Vec<u8>,
        max_bytes: usize,
    ) -> (usize, Option<Bytes>) {
        self.transmit(out, max_bytes, true)
    }

    fn transmit(
        &mut self,
        out: &mut Vec<u8>,
        max_bytes: usize,
        gather: bool,
    ) -> (usize, Option<Bytes>) {
        if self.aborted {
            return (0, None);
        }
        let mut written = 0;
        if let Some(cold) = self.cold.as_mut().filter(|cold| !cold.http_out.is_empty()) {
            written = cold.http_out.len().min(max_bytes);
            out.extend_from_slice(&cold.http_out[..written]);
            cold.http_out.drain(..written);
            if cold.http_out.is_empty() {
                // The 101 (or a rejection) is written once: keep no buffer for the connection's lifetime,
                // nor the box, if the `Opened` event was polled and nothing else is pending.
                cold.http_out = Vec::new();
                self.release_cold_if_idle();
            }
        }
        let mut payload = None;
        if self.cold().http_out.is_empty()
            && max_bytes - written >= self.send_queue.frame_bytes_max()
        {
            let budget = max_bytes - written;
            let (frames, chunk) = if gather {
                self.send_queue.poll_transmit_vectored(out, budget)
            } else {
                (self.send_queue.poll_transmit(out, budget), None)
            };
            written += frames;
            payload = chunk;
        }
        self.bytes_in_flight += u32::try_from(written).expect("a flush is far below 4 GiB");
        (written, payload)
    }

    /// Reports that `bytes` of what `poll_transmit` handed out were written to the transport.
    pub fn handle_send_complete(&mut self, bytes: usize) {
        assert!(
            bytes <= self.bytes_in_flight as usize,
            "completed more than was handed out"
        );
        // At most `bytes_in_flight`, a u32.
        self.bytes_in_flight -= bytes as u32;
    }

    /// Hands out the next event for the shard. Changed by `handle_bytes`.
    pub fn poll_event(&mut self) -> Option<ConnectionEvent> {
        let cold = self.cold.as_mut()?;
        cold.opened.take().or_else(|| cold.events.pop_front())
    }

    /// Checks the relations between the fields; debug builds and tests only.
    pub fn invariants(&self) {
        if !cfg!(debug_assertions) {
            return;
        }
        let cold = self.cold();
        assert!(cold.handshake_buf.len() <= self.config.handshake.handshake_bytes_max);
        assert!(self.state == ConnectionState::Handshaking || cold.handshake_buf.is_empty());
        assert!(
            self.state != ConnectionState::Handshaking || self.cold.is_some(),
            "the handshake keeps its state"
        );
        let closing = matches!(
            self.state,
            ConnectionState::Closing | ConnectionState::Closed
        );
        assert_eq!(
            closing,
            cold.close_reason.is_some(),
            "a reason exactly when closing"
        );
        assert!(
            !closing || self.aborted || cold.close_deadline_ms.is_some(),
            "closing is time-bounded"
        );
        assert!(!self.aborted || self.state == ConnectionState::Closed);
        assert_eq!(
            self.partial_clock,
            cold.partial_since_ms != 0,
            "the hot flag mirrors the clock"
        );
        self.send_queue.invariants();
    }

    /// Whether a flush may have work after a send completed: anything to send, state in `Cold` (HTTP
    /// bytes of the handshake left to write, events), or a connection that is not plainly open (closing,
    /// closed, handshaking: its end or its next step may depend on the send). An open connection with none
    /// of these has nothing for a flush: its events and timers change only with its input and its timeouts.
    pub fn wants_flush_after_send(&self) -> bool {
        self.state != ConnectionState::Open
            || self.aborted
            || self.cold.is_some()
            || self.send_queue.has_pending()
    }

    /// Whether the shard should drop the transport now: aborted, or closed with everything flushed.
    pub fn is_closed(&self) -> bool {
        self.aborted
            || (self.state == ConnectionState::Closed
                && self.cold().http_out.is_empty()
                && !self.send_queue.has_pending()
                && self.bytes_in_flight == 0)
    }
}
