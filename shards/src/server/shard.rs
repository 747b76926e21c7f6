//! One shard's event loop: engine events in, connection state machines in the middle, sends and timers out.
//!
//! Each tick: wait in the engine (bounded by the timer wheel's next deadline), handle every event, fire due
//! timers, then flush each connection touched this tick (events, at most one send in flight, timer re-arm).
//! The engine submits everything the tick queued in one go at the next `poll`.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use switchboard_core::engine::{
    ConnId, Engine, EngineChoice, EngineConfig, EngineKind, Event, HeldBytes,
};
use switchboard_core::timer::{TimerConfig, TimerWheel};
use tracing::{debug, error, info, warn};

use super::chat::{ChatSetup, ChatShard};
use super::stats::{CloseCause, ShardStats};
use super::table::{Entry, Table};
use super::ShardControl;
use crate::conn::close::CLOSE_GOING_AWAY;
use crate::conn::{Connection, ConnectionConfig, ConnectionEvent};
use crate::log::CommitCompletion;
use receive_buffer::ReceiveBuffer;

mod receive_buffer;
mod tls_io;
mod transmit;

/// Bytes of one send buffer at most: large enough to batch many small frames into one `send`.
const SEND_BUFFER_BYTES: usize = 64 * 1024;
/// Smallest new send buffer: a close or control frame, or a few small messages. A new buffer is sized to
/// what the connection has queued (plus frame headers), not to the maximum, so that a burst of thousands of
/// closes or pongs in one tick does not touch a 64 KiB allocation each.
const SEND_BUFFER_BYTES_MIN: usize = 512;
/// Send buffers kept for reuse; more than this in flight at once are allocated and freed.
const SEND_BUFFERS_RETAINED_MAX: usize = 1024;
/// New sends one tick starts at most (a flush may start several for one connection, see
/// `shard/transmit.rs`); the rest of the tick's dirty connections are flushed on the next
/// tick (which polls without sleeping). A send's buffer lives until its completion is handled on the next
/// tick, so without a bound a burst — 100,000 clients closing at once, each Close answered — would hold a
/// buffer per connection at the same moment (measured: +380 B per connection of peak RSS at 100K). With
/// the bound the buffers of one tick are the ones retained for reuse, and a burst costs no allocation.
const SENDS_PER_TICK_MAX: usize = SEND_BUFFERS_RETAINED_MAX;
/// Longest wait in the engine while draining, so the drain deadline is checked promptly.
const DRAIN_POLL_MS_MAX: u64 = 50;

/// Everything a shard thread is started with.
pub(crate) struct ShardSetup {
    pub(crate) id: usize,
    pub(crate) cpu: Option<usize>,
    pub(crate) listen: SocketAddr,
    pub(crate) engine_config: EngineConfig,
    pub(crate) engine_kind: EngineKind,
    pub(crate) connection_config: ConnectionConfig,
    pub(crate) connections_max: u64,
    pub(crate) drain_timeout_ms: u64,
    /// This shard's share of `limits.buffered_bytes_max`.
    pub(crate) buffered_bytes_share: u64,
    pub(crate) control: Arc<ShardControl>,
    pub(crate) stats: ShardStats,
    /// Chat mode: the rings to the other shards, the keyring, the log settings.
    pub(crate) chat: Option<ChatSetup>,
    /// TLS termination, when configured.
    pub(crate) tls: Option<Arc<crate::tls::TlsTerminator>>,
}

/// What the shard reports once it listens (or why it could not).
pub(crate) type Ready = Result<(SocketAddr, EngineChoice), String>;

/// The shard thread's body: set up, report readiness, loop until drained.
pub(crate) fn run(setup: ShardSetup, ready: mpsc::Sender<Ready>) {
    if let Some(cpu) = setup.cpu {
        if let Err(error) = switchboard_core::affinity::pin_current_thread(cpu) {
            warn!(shard = setup.id, cpu, %error, "could not pin shard thread; running unpinned");
        }
    }
    let mut shard = match Shard::new(setup) {
        Ok((mut shard, addr, choice)) => {
            shard.stats.listening.set(1);
            let _ = ready.send(Ok((addr, choice)));
            shard
        }
        Err(message) => {
            let _ = ready.send(Err(message));
            return;
        }
    };
    if let Err(error) = shard.run() {
        error!(shard = shard.id, %error, "shard stopped on an engine error");
    }
    shard.stats.listening.set(0);
}

struct Shard {
    id: usize,
    engine: Engine,
    table: Table,
    timers: TimerWheel<ConnId>,
    connection_config: ConnectionConfig,
    connections_max: usize,
    drain_timeout_ms: u64,
    /// Unfinished WebSocket messages are admitted against this share of `limits.buffered_bytes_max` as
    /// their bytes arrive (see [`Shard::admit_partial`]).
    buffered_bytes_share: u64,
    /// Bytes of unfinished WebSocket messages held on this shard (the sum of `Entry::partial_bytes`).
    partial_bytes: u64,
    control: Arc<ShardControl>,
    stats: ShardStats,
    epoch: Instant,
    /// When (µs since `epoch`) this tick's events became visible, and when its flush began; one clock read
    /// each per tick, for the delivery latency metric.
    received_us: u64,
    flushed_us: u64,
    /// Connections touched this tick, flushed at its end (or, past `SENDS_PER_TICK_MAX`, on the next).
    dirty: Vec<ConnId>,
    /// Sends started this tick, against `SENDS_PER_TICK_MAX`.
    sends_this_tick: usize,
    /// Timers fired this tick.
    expired: Vec<ConnId>,
    /// Reusable send buffers.
    free_buffers: Vec<Vec<u8>>,
    /// When draining: the deadline after which remaining connections are dropped.
    drain_deadline_ms: Option<u64>,
    /// Chat mode: sessions, the owner of this shard's conversations, the rings.
    chat: Option<ChatShard>,
    /// The heartbeat interval announced to chat clients in `welcome`.
    heartbeat_interval_ms: u64,
    /// Log write/sync completions of this tick, handed to chat mode after the event loop.
    log_io: Vec<CommitCompletion>,
    /// TLS termination, when configured; and the shard's scratch for decrypted and outgoing plaintext.
    tls: Option<Arc<crate::tls::TlsTerminator>>,
    tls_scratch: Vec<u8>,
}

impl Shard {
    fn new(mut setup: ShardSetup) -> Result<(Shard, SocketAddr, EngineChoice), String> {
        let (mut engine, choice) =
            Engine::new(&setup.engine_config, setup.engine_kind).map_err(|e| e.to_string())?;
        info!(shard = setup.id, %choice, "engine ready");
        let (_, addr) = engine
            .listen(setup.listen)
            .map_err(|e| format!("listen on {}: {e}", setup.listen))?;
        engine
            .watch_eventfd(setup.control.wake.raw_fd())
            .map_err(|e| e.to_string())?;
        let chat = match setup.chat {
            Some(chat_setup) => {
                setup.stats.recovery_started();
                let chat = ChatShard::new(setup.id, chat_setup)?;
                setup.stats.recovery_done();
                setup.stats.count_in_by_frame_lane();
                engine
                    .watch_eventfd(chat.wake_fd())
                    .map_err(|e| e.to_string())?;
                Some(chat)
            }
            None => None,
        };
        let connections_max = usize::try_from(setup.connections_max).unwrap_or(usize::MAX);
        let epoch = Instant::now();
        // One timer per connection at most, plus headroom; the wheel is preallocated.
        let timers_max = connections_max
            .saturating_add(16)
            .min(switchboard_core::timer::TIMERS_MAX_LIMIT);
        let timers = TimerWheel::new(
            TimerConfig {
                timers_max,
                ..TimerConfig::default()
            },
            0,
        )
        .map_err(|e| e.to_string())?;
        let table_capacity = connections_max.min(setup.engine_config.connections_max as usize);
        let shard = Shard {
            id: setup.id,
            engine,
            table: Table::with_capacity(table_capacity),
            timers,
            connection_config: setup.connection_config,
            connections_max,
            drain_timeout_ms: setup.drain_timeout_ms,
            buffered_bytes_share: setup.buffered_bytes_share,
            partial_bytes: 0,
            control: setup.control,
            stats: setup.stats,
            epoch,
            received_us: 0,
            flushed_us: 0,
            dirty: Vec::with_capacity(1024),
            sends_this_tick: 0,
            expired: Vec::with_capacity(1024),
            free_buffers: Vec::new(),
            drain_deadline_ms: None,
            chat,
            heartbeat_interval_ms: setup.connection_config.heartbeat.interval_ms_max,
            log_io: Vec::new(),
            tls: setup.tls.take(),
            tls_scratch: Vec::new(),
        };
        Ok((shard, addr, choice))
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn now_us(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    fn run(&mut self) -> Result<(), switchboard_core::engine::EngineError> {
        loop {
            let now = self.now_ms();
            if self.drain_finished(now) {
                info!(shard = self.id, remaining = self.table.len(), "drained");
                return Ok(());
            }
            let mut timeout = self.poll_timeout(now);
            if !self.dirty.is_empty() {
                // Put off by `SENDS_PER_TICK_MAX` last tick: flush them now, without sleeping.
                self.stats.flushes_deferred.add(self.dirty.len() as u64);
                timeout = Some(Duration::ZERO);
            }
            if self.chat.as_ref().is_some_and(|chat| !chat.may_sleep()) {
                timeout = Some(Duration::ZERO);
            }
            self.engine.poll(timeout)?;
            self.sends_this_tick = 0;
            if let Some(chat) = &self.chat {
                chat.woke();
            }
            let now = self.now_ms();
            self.received_us = self.now_us();
            self.handle_events(now);
            self.finish_log_io();
            self.fire_timers(now);
            if let Some(chat) = self.chat.as_mut() {
                chat.drain_mesh(&mut self.table, &mut self.dirty, now);
            }
            self.flushed_us = self.now_us();
            self.flush_dirty(now);
            if let Some(chat) = self.chat.as_mut() {
                chat.end_tick(&mut self.engine, &mut self.table, &mut self.dirty, now);
                self.flush_dirty(now);
                let tick_us = self.now_us().saturating_sub(self.received_us);
                if let Some(chat) = self.chat.as_mut() {
                    let conns = (&mut self.table, &mut self.dirty);
                    chat.observe(now, conns, tick_us, &mut self.stats.chat);
                    chat.tell_mode(&mut self.table, &mut self.dirty, now);
                }
                self.flush_dirty(now);
            }
        }
    }

    fn poll_timeout(&self, now: u64) -> Option<Duration> {
        let mut deadline = self.timers.next_deadline();
        if self.drain_deadline_ms.is_some() {
            let cap = now + DRAIN_POLL_MS_MAX;
            deadline = Some(deadline.map_or(cap, |d| d.min(cap)));
        }
        // A degraded log retries on its own schedule, even on a shard nothing else wakes.
        if let Some(due) = self.chat.as_ref().and_then(|chat| chat.wake_by_ms()) {
            deadline = Some(deadline.map_or(due, |d| d.min(due)));
        }
        deadline.map(|d| Duration::from_millis(d.saturating_sub(now)))
    }

    fn drain_finished(&self, now: u64) -> bool {
        self.drain_deadline_ms
            .is_some_and(|deadline| self.table.len() == 0 || now >= deadline)
    }

    fn handle_events(&mut self, now: u64) {
        while let Some(event) = self.engine.next_event() {
            // An echo written over its request, sent once the event no longer borrows the engine.
            let mut echo = None;
            match event {
                Event::Data { conn, mut bytes } => {
                    self.stats.bytes_received.add(bytes.len() as u64);
                    if let Some(entry) = self.table.get_mut(conn) {
                        let received_before = entry.conn.messages_received();
                        if entry.tls.is_some() {
                            tls_io::receive(entry, &bytes, &mut self.tls_scratch, now);
                        } else if bytes.can_lend() {
                            let mut held = None;
                            let mut input = ReceiveBuffer {
                                bytes: &mut bytes,
                                held: &mut held,
                            };
                            entry.conn.handle_received(&mut input, now);
                            echo = held.map(|held| (conn, held));
                        } else {
                            entry.conn.handle_bytes(&bytes, now);
                        }
                        self.stats
                            .after_bytes(entry, received_before, self.received_us);
                        mark_dirty(entry, &mut self.dirty);
                        self.admit_partial(conn, now);
                    }
                }
                Event::Accepted { conn, .. } => self.accept(conn, now),
                Event::SendComplete { conn, buf, result } => {
                    self.send_complete(conn, buf, result.is_ok())
                }
                Event::PeerClosed { conn, cause } => {
                    debug!(shard = self.id, ?conn, ?cause, "peer closed");
                    self.close_transport(conn);
                }
                Event::Closed { conn } => self.closed(conn),
                Event::Wake { .. } => self.check_drain(now),
                Event::FileWritten { buf, result, .. } => {
                    self.log_io.push(CommitCompletion::Written {
                        bytes: buf,
                        result: result.map_err(|errno| errno.to_io_error()),
                    });
                }
                Event::FileSynced { result, .. } => self.log_io.push(CommitCompletion::Synced {
                    result: result.map_err(|errno| errno.to_io_error()),
                }),
                Event::Connected { .. } | Event::ConnectFailed { .. } | Event::Timeout => {}
            }
            if let Some((conn, held)) = echo {
                self.send_echo_in_place(conn, held);
            }
        }
    }

    /// Hands the engine an echo the connection wrote over its request (`LendingInput::send_in_place`): one
    /// send in flight like a flush's, so nothing else of the connection is sent before its completion, and
    /// its bytes are reported back to the connection (which counted them in flight) by `send_complete`.
    fn send_echo_in_place(&mut self, conn: ConnId, held: HeldBytes) {
        let Some(entry) = self.table.get_mut(conn) else {
            return;
        };
        debug_assert_eq!(
            entry.sends_in_flight, 0,
            "the connection had nothing to send"
        );
        entry.sends_in_flight += 1;
        entry.bytes_in_flight +=
            u32::try_from(held.bytes().len()).expect("an echo is at most fragment_bytes");
        self.sends_this_tick += 1;
        self.engine.send_held(conn, held);
        self.stats.after_echo_in_place();
    }

    /// Hands the tick's log I/O completions to chat mode (after the event loop: events borrow the engine).
    fn finish_log_io(&mut self) {
        if let Some(chat) = self.chat.as_mut() {
            for completion in self.log_io.drain(..) {
                chat.log_io_done(&mut self.engine, completion, &mut self.stats.chat);
            }
        }
    }

    fn accept(&mut self, conn: ConnId, now: u64) {
        self.stats.accepted.increment();
        if self.drain_deadline_ms.is_some() || self.table.len() >= self.connections_max {
            self.stats.count_close(CloseCause::Refused);
            let _ = self.engine.close(conn);
            return;
        }
        self.table
            .insert(conn, Connection::new(self.connection_config, now));
        if let Some(tls) = &self.tls {
            match tls.session() {
                Ok(session) => {
                    if let Some(entry) = self.table.get_mut(conn) {
                        entry.tls = Some(Box::new(session));
                    }
                }
                Err(error) => {
                    warn!(shard = self.id, ?conn, %error, "TLS session refused; closing");
                    self.close_transport(conn);
                }
            }
        }
        self.stats.open.add(1);
        if let Some(entry) = self.table.get_mut(conn) {
            mark_dirty(entry, &mut self.dirty);
        }
    }

    /// Asks the engine to drop the transport (once); `Event::Closed` follows.
    fn close_transport(&mut self, conn: ConnId) {
        if let Some(entry) = self.table.get_mut(conn) {
            if !entry.closing {
                entry.closing = true;
                if let Err(error) = self.engine.close(conn) {
                    debug!(shard = self.id, ?conn, %error, "close");
                }
            }
        }
    }

    /// Accounts the connection's unfinished WebSocket message after its bytes arrived; when the shard's
    /// unfinished messages would take it over its share of `limits.buffered_bytes_max`, the connection
    /// whose message grew is closed with 1013 (at arrival, before the bytes pile up; the periodic scan in
    /// chat mode also counts send queues and switchboard.v1 fragments).
    fn admit_partial(&mut self, conn: ConnId, now: u64) {
        let Some(entry) = self.table.get_mut(conn) else {
            return;
        };
        let held = u32::try_from(entry.conn.partial_message_bytes())
            .expect("an unfinished message is bounded by limits.message_bytes_max");
        self.partial_bytes = self.partial_bytes - u64::from(entry.partial_bytes) + u64::from(held);
        entry.partial_bytes = held;
        if held > 0 && self.partial_bytes > self.buffered_bytes_share {
            warn!(
                shard = self.id,
                ?conn,
                held_bytes = held,
                shard_partial_bytes = self.partial_bytes,
                share_bytes = self.buffered_bytes_share,
                "unfinished messages over this shard's share of limits.buffered_bytes_max; closing (1013)"
            );
            entry.conn.close_for_budget(now);
        }
    }

    fn closed(&mut self, conn: ConnId) {
        let Some(mut entry) = self.table.remove(conn) else {
            return;
        };
        self.partial_bytes -= u64::from(entry.partial_bytes);
        if let Some(chat) = self.chat.as_mut() {
            chat.closed(&mut entry);
        }
        if let Some(handle) = entry.timer {
            self.timers.cancel(handle);
        }
        let cause = CloseCause::of(entry.conn.close_reason());
        debug!(
            shard = self.id,
            ?conn,
            cause = cause.label(),
            reason = ?entry.conn.close_reason(),
            "connection closed"
        );
        self.stats.count_close(cause);
        self.stats.after_close(&entry);
        self.stats.open.add(-1);
    }

    fn check_drain(&mut self, now: u64) {
        if self.drain_deadline_ms.is_some() || !self.control.drain.load(Ordering::Acquire) {
            return;
        }
        self.control.wake.drain();
        info!(shard = self.id, connections = self.table.len(), "draining");
        self.drain_deadline_ms = Some(now + self.drain_timeout_ms);
        let ids: Vec<ConnId> = self.table.ids().collect();
        for id in ids {
            if let Some(entry) = self.table.get_mut(id) {
                entry.conn.close(CLOSE_GOING_AWAY, now);
                mark_dirty(entry, &mut self.dirty);
            }
        }
    }

    fn fire_timers(&mut self, now: u64) {
        let expired = &mut self.expired;
        self.timers.advance(now, |conn| expired.push(conn));
        let mut expired = std::mem::take(&mut self.expired);
        for conn in expired.drain(..) {
            if let Some(entry) = self.table.get_mut(conn) {
                entry.timer = None;
                entry.conn.handle_timeout(now);
                mark_dirty(entry, &mut self.dirty);
            }
        }
        self.expired = expired;
    }

    /// Flushes the dirty connections in the order they became dirty, until `SENDS_PER_TICK_MAX` sends
    /// were started this tick; the rest stay dirty, first in line for the next tick.
    fn flush_dirty(&mut self, now: u64) {
        let mut dirty = std::mem::take(&mut self.dirty);
        let mut flushed = 0;
        for &conn in &dirty {
            if self.sends_this_tick >= SENDS_PER_TICK_MAX {
                break;
            }
            self.flush(conn, now);
            flushed += 1;
        }
        dirty.drain(..flushed);
        // Connections marked while flushing (they were not in the list, or were flushed already) go last.
        dirty.append(&mut self.dirty);
        self.dirty = dirty;
    }

    /// Moves one connection forward: its events, its next send, its timer, its end.
    fn flush(&mut self, conn: ConnId, now: u64) {
        let Some(entry) = self.table.get_mut(conn) else {
            return;
        };
        entry.dirty = false;
        self.handle_connection_events(conn, now);
        let Some(entry) = self.table.get_mut(conn) else {
            return;
        };
        if entry.tls.is_some() {
            return self.flush_tls(conn);
        }
        self.sends_this_tick += self.transmit(conn);
        let Some(entry) = self.table.get_mut(conn) else {
            return;
        };
        if entry.conn.is_closed() {
            self.close_transport(conn);
            return;
        }
        self.rearm_timer(conn);
    }

    /// Hands the connection's events to chat mode (echo mode has only `Opened`).
    fn handle_connection_events(&mut self, conn: ConnId, now: u64) {
        loop {
            let Some(entry) = self.table.get_mut(conn) else {
                return;
            };
            let Some(event) = entry.conn.poll_event() else {
                return;
            };
            match (event, self.chat.as_mut()) {
                (ConnectionEvent::Opened { request, .. }, chat) => {
                    debug!(shard = self.id, ?conn, path = %request.path, "websocket open");
                    if let Some(chat) = chat {
                        chat.opened(entry, &request, now);
                    }
                }
                (ConnectionEvent::Message { kind, payload }, Some(chat)) => {
                    let interval = self.heartbeat_interval_ms;
                    let conns = (&mut self.table, &mut self.dirty);
                    chat.message(conns, conn, (kind, &payload), now, interval);
                    self.stats.count_in_by_lane(chat.take_lanes_in());
                }
                (ConnectionEvent::AppDeadline, Some(chat)) => chat.deadline(entry, now),
                (ConnectionEvent::PlainRequest { request }, Some(chat)) => {
                    chat.plain_request(entry, &request, now)
                }
                // Echo mode answers messages inside `Connection` and sets no deadline.
                (
                    ConnectionEvent::Message { .. }
                    | ConnectionEvent::AppDeadline
                    | ConnectionEvent::PlainRequest { .. },
                    None,
                ) => {
                    unreachable!("chat event in echo mode")
                }
            }
        }
    }

    fn rearm_timer(&mut self, conn: ConnId) {
        let Some(entry) = self.table.get_mut(conn) else {
            return;
        };
        let wanted = entry.conn.poll_timeout();
        match (wanted, entry.timer) {
            (None, None) => {}
            (None, Some(handle)) => {
                self.timers.cancel(handle);
                entry.timer = None;
            }
            // Armed for this deadline or an earlier one: left as it is. A busy connection pushes its
            // deadlines (idle, heartbeat) later with every message; moving its timer each time was ~1% of a
            // 1 KiB echo's CPU (issue 19). Fired early, it finds nothing due (`Connection::handle_timeout`
            // acts on what is due only) and is re-armed for the deadline of then.
            (Some(deadline), Some(handle)) if self.timers.is_armed_by(handle, deadline) => {}
            (Some(deadline), Some(handle)) if self.timers.reset(handle, deadline) => {}
            // A deadline already past fires at the next `advance`, like one at `now`.
            (Some(deadline), _) => match self.timers.insert(deadline, conn) {
                Ok(handle) => entry.timer = Some(handle),
                Err(error) => {
                    // The wheel is sized for one timer per allowed connection, so this is our bug; dropping the
                    // connection keeps every other connection's timeouts intact.
                    error!(shard = self.id, ?conn, %error, "timer wheel full; dropping connection");
                    entry.timer = None;
                    self.close_transport(conn);
                }
            },
        }
    }
}

fn mark_dirty(entry: &mut Entry, dirty: &mut Vec<ConnId>) {
    if !entry.dirty {
        entry.dirty = true;
        dirty.push(entry.id);
    }
}
