//! Per-shard connection statistics: plain counters owned by the shard thread, published with relaxed atomic
//! stores, read by anyone (the admin listener, the binary at exit, tests) without locks.
//!
//! The shard records per connection *deltas* of the [`crate::conn::Connection`] counters around the calls
//! that change them (`handle_bytes`, `poll_transmit`), so nothing here allocates, locks or logs per message.

use switchboard_core::metrics::{
    Counter, CounterReader, Gauge, GaugeReader, Histogram, HistogramReader, Snapshot,
};

use super::table::Entry;
use crate::conn::lane::{lane_index, LANE_COUNT};
use crate::conn::{CloseReason, Lane, SendQueueCounters};

/// The lane of messages without one: echo mode receives and answers every message in the chat lane. In chat
/// mode incoming messages are counted by the lane of their switchboard.v1 frame
/// ([`ShardStats::count_in_by_lane`]) and outgoing ones by the lane they were queued on.
const UNROUTED_LANE: Lane = Lane::Chat;

/// Microseconds in a millisecond, for the heartbeat's millisecond RTT samples.
const MICROS_PER_MS: u64 = 1_000;

/// Why connections ended, as counted; the label of each is [`CloseCause::label`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseCause {
    /// The upgrade request was invalid (400/405/414/426/431).
    HandshakeRejected,
    /// The upgrade request did not arrive within `handshake_timeout_ms`.
    HandshakeTimeout,
    /// A WebSocket protocol violation (1002/1007/1009).
    Protocol,
    /// More frames per second than `frames_per_second_max` (1008).
    FrameRate,
    /// The client stopped reading and its send queue hit `send_queue_bytes_max` (1013). Counted here even
    /// when our Close then times out: a client that does not read cannot answer it.
    SendQueueFull,
    /// No message within `idle_timeout_ms` (1000).
    Idle,
    /// A ping went unanswered past its deadline.
    Heartbeat,
    /// The client closed (close frame, EOF or reset).
    Peer,
    /// The server closed (drain or operator).
    Local,
    /// The close handshake did not finish within `close_timeout_ms`.
    CloseTimeout,
    /// Refused at accept: the shard already held `connections_per_shard_max`, or it is draining.
    Refused,
    /// An unfinished message was not finished within `partial_message_timeout_ms` (1008).
    PartialTimeout,
    /// Closed to bring the node back under `buffered_bytes_max` (1013).
    BufferBudget,
    /// A plain HTTP request (page, asset, demo token) was answered.
    HttpServed,
}

impl CloseCause {
    /// Every cause, in a fixed order (the index of the counter array).
    pub const ALL: [CloseCause; 14] = [
        CloseCause::HandshakeRejected,
        CloseCause::HandshakeTimeout,
        CloseCause::Protocol,
        CloseCause::FrameRate,
        CloseCause::SendQueueFull,
        CloseCause::Idle,
        CloseCause::Heartbeat,
        CloseCause::Peer,
        CloseCause::Local,
        CloseCause::CloseTimeout,
        CloseCause::Refused,
        CloseCause::PartialTimeout,
        CloseCause::BufferBudget,
        CloseCause::HttpServed,
    ];

    /// A stable snake_case label for logs and metrics.
    pub fn label(self) -> &'static str {
        match self {
            CloseCause::HandshakeRejected => "handshake_rejected",
            CloseCause::HandshakeTimeout => "handshake_timeout",
            CloseCause::Protocol => "protocol_error",
            CloseCause::FrameRate => "frame_rate",
            CloseCause::SendQueueFull => "send_queue_full",
            CloseCause::Idle => "idle_timeout",
            CloseCause::Heartbeat => "heartbeat_timeout",
            CloseCause::Peer => "peer",
            CloseCause::Local => "local",
            CloseCause::CloseTimeout => "close_timeout",
            CloseCause::Refused => "refused",
            CloseCause::PartialTimeout => "partial_message_timeout",
            CloseCause::BufferBudget => "buffer_budget",
            CloseCause::HttpServed => "http_served",
        }
    }

    /// The cause a connection's close reason falls under (`None`: the transport went away first).
    pub fn of(reason: Option<&CloseReason>) -> CloseCause {
        match reason {
            None => CloseCause::Peer,
            Some(CloseReason::HandshakeRejected { .. }) => CloseCause::HandshakeRejected,
            Some(CloseReason::HttpServed { .. }) => CloseCause::HttpServed,
            Some(CloseReason::HandshakeTimeout) => CloseCause::HandshakeTimeout,
            Some(CloseReason::Protocol(_)) => CloseCause::Protocol,
            Some(CloseReason::FrameRateExceeded) => CloseCause::FrameRate,
            Some(CloseReason::SendQueueFull) => CloseCause::SendQueueFull,
            Some(CloseReason::IdleTimeout) => CloseCause::Idle,
            Some(CloseReason::PartialMessageTimeout) => CloseCause::PartialTimeout,
            Some(CloseReason::BufferBudget) => CloseCause::BufferBudget,
            Some(CloseReason::HeartbeatTimeout) => CloseCause::Heartbeat,
            Some(CloseReason::PeerClosed { .. }) => CloseCause::Peer,
            Some(CloseReason::Local { .. }) => CloseCause::Local,
            Some(CloseReason::CloseTimeout { first }) if **first == CloseReason::SendQueueFull => {
                CloseCause::SendQueueFull
            }
            Some(CloseReason::CloseTimeout { .. }) => CloseCause::CloseTimeout,
        }
    }

    fn index(self) -> usize {
        Self::ALL
            .iter()
            .position(|&cause| cause == self)
            .expect("every cause is in ALL")
    }
}

/// Where a shard is in recovering its durable state, as published in [`StatsReader::recovery`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// The shard has nothing to recover (echo mode) or has not said it does.
    NotNeeded,
    /// The shard is replaying its durable log and rebuilding its conversations.
    Running,
    /// Recovery finished.
    Done,
}

impl Recovery {
    fn as_i64(self) -> i64 {
        match self {
            Recovery::NotNeeded => 0,
            Recovery::Running => 1,
            Recovery::Done => 2,
        }
    }

    fn from_i64(value: i64) -> Recovery {
        match value {
            1 => Recovery::Running,
            2 => Recovery::Done,
            _ => Recovery::NotNeeded,
        }
    }
}

/// The shard's side: plain counters, updated without atomic read-modify-write.
#[derive(Debug)]
pub(crate) struct ShardStats {
    /// Chat-mode counters (zero in echo mode).
    pub(crate) chat: super::chat_stats::ChatStats,
    pub(crate) accepted: Counter,
    pub(crate) open: Gauge,
    pub(crate) bytes_received: Counter,
    pub(crate) bytes_sent: Counter,
    /// Connection flushes put off to the next tick by the per-tick send bound.
    pub(crate) flushes_deferred: Counter,
    pub(crate) closed: [Counter; CloseCause::ALL.len()],
    /// 1 while the shard's loop runs (it listens), 0 before and after.
    pub(crate) listening: Gauge,
    /// A [`Recovery`] state: set by [`ShardStats::recovery_started`] and [`ShardStats::recovery_done`].
    recovery: Gauge,
    messages_in: [Counter; LANE_COUNT],
    messages_out: [Counter; LANE_COUNT],
    /// Connections with data messages queued and not yet handed to the engine.
    queue_depth: Gauge,
    heartbeat_rtt: Histogram,
    /// Echo: from the tick that read a message to the tick that handed its echo to the engine.
    delivery_sent: Histogram,
    /// Chat mode: incoming messages are counted by frame lane, not as WebSocket messages.
    lanes_from_frames: bool,
}

impl ShardStats {
    /// A fresh set of counters and the reader that sees them.
    pub(crate) fn new() -> (ShardStats, StatsReader) {
        let (chat, chat_reader) = super::chat_stats::ChatStats::new();
        let stats = ShardStats {
            chat,
            accepted: Counter::new(),
            open: Gauge::new(),
            bytes_received: Counter::new(),
            bytes_sent: Counter::new(),
            flushes_deferred: Counter::new(),
            closed: std::array::from_fn(|_| Counter::new()),
            listening: Gauge::new(),
            recovery: Gauge::new(),
            messages_in: std::array::from_fn(|_| Counter::new()),
            messages_out: std::array::from_fn(|_| Counter::new()),
            queue_depth: Gauge::new(),
            heartbeat_rtt: Histogram::new(),
            delivery_sent: Histogram::new(),
            lanes_from_frames: false,
        };
        let reader = StatsReader {
            chat: chat_reader,
            accepted: stats.accepted.reader(),
            open: stats.open.reader(),
            bytes_received: stats.bytes_received.reader(),
            bytes_sent: stats.bytes_sent.reader(),
            flushes_deferred: stats.flushes_deferred.reader(),
            closed: std::array::from_fn(|i| stats.closed[i].reader()),
            listening: stats.listening.reader(),
            recovery: stats.recovery.reader(),
            messages_in: std::array::from_fn(|i| stats.messages_in[i].reader()),
            messages_out: std::array::from_fn(|i| stats.messages_out[i].reader()),
            queue_depth: stats.queue_depth.reader(),
            heartbeat_rtt: stats.heartbeat_rtt.reader(),
            delivery_sent: stats.delivery_sent.reader(),
        };
        (stats, reader)
    }

    /// The shard starts recovering its durable state: `/readyz` answers "shard N recovering" until
    /// [`ShardStats::recovery_done`].
    pub(crate) fn recovery_started(&mut self) {
        self.recovery.set(Recovery::Running.as_i64());
    }

    /// The shard finished recovering its durable state.
    pub(crate) fn recovery_done(&mut self) {
        self.recovery.set(Recovery::Done.as_i64());
    }

    /// Chat mode: from now on incoming messages are counted by [`ShardStats::count_in_by_lane`].
    pub(crate) fn count_in_by_frame_lane(&mut self) {
        self.lanes_from_frames = true;
    }

    /// Chat mode: `received[i]` complete switchboard.v1 frames arrived on lane `i`.
    pub(crate) fn count_in_by_lane(&mut self, received: [u64; LANE_COUNT]) {
        for (counter, count) in self.messages_in.iter_mut().zip(received) {
            if count > 0 {
                counter.add(count);
            }
        }
    }

    /// Counts one connection ended for `cause`.
    pub(crate) fn count_close(&mut self, cause: CloseCause) {
        self.closed[cause.index()].increment();
    }

    /// Records what `entry.conn.handle_bytes` did, given its `messages_received()` before the call and the
    /// tick's receive time: messages in, the receive time of the oldest unsent one, heartbeat RTT samples.
    pub(crate) fn after_bytes(
        &mut self,
        entry: &mut Entry,
        received_before: u64,
        received_us: u64,
    ) {
        let received = entry.conn.messages_received() - received_before;
        if received > 0 {
            if !self.lanes_from_frames {
                self.messages_in[lane_index(UNROUTED_LANE)].add(received);
            }
            if entry.received_at_us == 0 {
                entry.received_at_us = received_us.max(1);
            }
        }
        if let Some(rtt_ms) = entry.conn.take_rtt_sample_ms() {
            self.heartbeat_rtt
                .record(rtt_ms.saturating_mul(MICROS_PER_MS));
        }
        // Echoes queue here; a client that stops reading keeps its send in flight, so no transmit follows.
        self.update_queued(entry, entry.conn.send_counters());
    }

    /// Records what `entry.conn.poll_transmit` did, given `send_counters()` before the call and the time of
    /// the flush: messages out by lane, their delivery latency, and whether output is still queued.
    ///
    /// Messages are timed from the tick that read the oldest unsent one, so when several reads queue up
    /// behind one send, the later ones are over-reported (never under-reported).
    pub(crate) fn after_transmit(
        &mut self,
        entry: &mut Entry,
        before: SendQueueCounters,
        flushed_us: u64,
    ) {
        let counters = entry.conn.send_counters();
        let sent = counters.messages_sent - before.messages_sent;
        if sent > 0 {
            for (lane, counter) in self.messages_out.iter_mut().enumerate() {
                let lane_sent = counters.sent_by_lane[lane] - before.sent_by_lane[lane];
                if lane_sent > 0 {
                    counter.add(lane_sent);
                }
            }
            if entry.received_at_us != 0 {
                let received_us = entry.received_at_us;
                let latency_us = flushed_us.saturating_sub(received_us);
                for _ in 0..sent {
                    self.delivery_sent.record(latency_us);
                }
            }
        }
        self.update_queued(entry, counters);
    }

    /// Records an echo the connection wrote over its request and the shard handed to the engine while the
    /// read was handled (`Connection::handle_received`): one message out on the lane echo uses, delivered
    /// in the tick that read it (0 µs: its hand-off is not timed, and comes before the tick's flush).
    pub(crate) fn after_echo_in_place(&mut self) {
        self.messages_out[lane_index(Lane::Chat)].add(1);
        self.delivery_sent.record(0);
    }

    /// Counts `entry` in the queue depth while it has data messages not yet handed to the engine.
    fn update_queued(&mut self, entry: &mut Entry, counters: SendQueueCounters) {
        let queued = counters.messages_enqueued > counters.messages_sent;
        if !queued {
            entry.received_at_us = 0;
        }
        if queued != entry.output_queued {
            entry.output_queued = queued;
            self.queue_depth.add(if queued { 1 } else { -1 });
        }
    }

    /// Forgets a connection that ended (its share of the queue depth).
    pub(crate) fn after_close(&mut self, entry: &Entry) {
        if entry.output_queued {
            self.queue_depth.add(-1);
        }
    }
}

/// A lock-free view of one shard's counters, readable from any thread.
#[derive(Debug, Clone)]
pub struct StatsReader {
    chat: super::chat_stats::ChatStatsReader,
    accepted: CounterReader,
    open: GaugeReader,
    bytes_received: CounterReader,
    bytes_sent: CounterReader,
    flushes_deferred: CounterReader,
    closed: [CounterReader; CloseCause::ALL.len()],
    listening: GaugeReader,
    recovery: GaugeReader,
    messages_in: [CounterReader; LANE_COUNT],
    messages_out: [CounterReader; LANE_COUNT],
    queue_depth: GaugeReader,
    heartbeat_rtt: HistogramReader,
    delivery_sent: HistogramReader,
}

impl StatsReader {
    /// The chat-mode counters.
    pub fn chat(&self) -> &super::chat_stats::ChatStatsReader {
        &self.chat
    }

    /// Connections accepted since start (including those refused at capacity).
    pub fn accepted(&self) -> u64 {
        self.accepted.get()
    }

    /// Connections open now.
    pub fn open(&self) -> i64 {
        self.open.get()
    }

    /// Bytes received from clients.
    pub fn bytes_received(&self) -> u64 {
        self.bytes_received.get()
    }

    /// Bytes written to clients.
    pub fn bytes_sent(&self) -> u64 {
        self.bytes_sent.get()
    }

    /// Connection flushes (their sends, timers and closes) put off to the next tick because the tick had
    /// started its maximum of sends: a burst (thousands of closes or pings at once) is spread over ticks.
    pub fn flushes_deferred(&self) -> u64 {
        self.flushes_deferred.get()
    }

    /// Connections that ended for `cause`.
    pub fn closed(&self, cause: CloseCause) -> u64 {
        self.closed[cause.index()].get()
    }

    /// Whether the shard's loop runs (it started listening and has not stopped).
    pub fn listening(&self) -> bool {
        self.listening.get() > 0
    }

    /// Where the shard is in recovering its durable state.
    pub fn recovery(&self) -> Recovery {
        Recovery::from_i64(self.recovery.get())
    }

    /// Complete messages received from clients in `lane` (see the module docs for how lanes are assigned).
    pub fn messages_in(&self, lane: Lane) -> u64 {
        self.messages_in[lane_index(lane)].get()
    }

    /// Complete messages handed to the engine for clients in `lane`.
    pub fn messages_out(&self, lane: Lane) -> u64 {
        self.messages_out[lane_index(lane)].get()
    }

    /// Connections with data messages queued and not yet handed to the engine.
    pub fn queue_depth(&self) -> i64 {
        self.queue_depth.get()
    }

    /// Heartbeat round-trip samples (µs; the heartbeat measures whole milliseconds).
    pub fn heartbeat_rtt(&self) -> Snapshot {
        self.heartbeat_rtt.snapshot()
    }

    /// Echo delivery latency (µs): from the tick that read a message to the tick that handed its echo to the
    /// engine.
    pub fn delivery_sent(&self) -> Snapshot {
        self.delivery_sent.snapshot()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_is_published() {
        let (mut stats, reader) = ShardStats::new();
        assert_eq!(reader.recovery(), Recovery::NotNeeded);
        stats.recovery_started();
        assert_eq!(reader.recovery(), Recovery::Running);
        stats.recovery_done();
        assert_eq!(reader.recovery(), Recovery::Done);
    }
}
