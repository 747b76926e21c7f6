//! Outgoing work: connection starts at the connect rate, open-loop sends on schedule, closed-loop refills.

use std::cmp::Reverse;

use switchboard_core::engine::{ConnId, EngineError};

use super::{Entry, Shard, State};
use crate::chat::ChatContext;
use crate::client::{ClientConn, Context, Phase};
use crate::config::{Pacing, Scenario};

/// Connections started in one loop tick at most: each holds a real file descriptor until the engine
/// has moved it into the ring's table, so a burst must stay far below `RLIMIT_NOFILE`.
const CONNECTS_PER_TICK_MAX: u32 = 256;
/// Overdue messages sent to one connection in one go at most (the rest follow next tick).
const OVERDUE_BATCH_MAX: u32 = 1024;

impl State {
    /// When this thread may start its next connection, per its share of `--connect-rate`.
    pub(super) fn next_connect_ns(&self) -> u64 {
        let per_thread = self.config.connect_rate_per_sec / self.config.threads as f64;
        (f64::from(self.started) / per_thread * 1e9) as u64
    }

    /// Connection number (within the run) of this thread's `k`-th connection.
    fn number_of(&self, k: u32) -> u32 {
        k * self.config.threads as u32 + self.thread as u32
    }
}

impl Shard {
    /// Starts the connections whose connect time has come.
    pub(super) fn start_connections(&mut self, now_ns: u64) {
        let mut this_tick = 0;
        while self.state.started < self.state.owned
            && this_tick < CONNECTS_PER_TICK_MAX
            && self.state.next_connect_ns() <= now_ns
        {
            let number = self.state.number_of(self.state.started);
            self.state.started += 1;
            this_tick += 1;
            self.start_connection(number, now_ns);
        }
    }

    pub(super) fn start_connection(&mut self, number: u32, now_ns: u64) {
        let config = &self.state.config;
        let source = match &config.source_addrs {
            Some(sources) => match sources.source_of(number, config.dest.port()) {
                Some(source) => Some(source),
                None => {
                    self.state
                        .stats
                        .error("connect: source addresses exhausted");
                    return;
                }
            },
            None => None,
        };
        self.state.stats.connects_started += 1;
        match self.engine.connect(config.dest, source) {
            Ok(id) => {
                let client = ClientConn::new(number, now_ns);
                self.state.entries[id.index()] = Some(Entry { id, client });
                if let Some(world) = self.state.chat.as_mut() {
                    world.actor(number).conn = Some(id);
                }
            }
            Err(EngineError::Connect { errno, .. }) => {
                self.state.stats.error(format!("connect: {errno}"));
            }
            Err(other) => self.state.stats.error(format!("connect: {other}")),
        }
    }

    /// A connection just upgraded: schedule (open loop) or fill (closed loop) its messages.
    pub(super) fn start_load(&mut self, conn: ConnId) {
        let state = &mut self.state;
        let sends = match &mut state.chat {
            None => state.config.scenario == Scenario::Echo,
            Some(world) => {
                let number = super::entry_mut(&mut state.entries, conn).map(|e| e.client.number);
                number.is_some_and(|n| world.actor(n).is_customer())
            }
        };
        if !sends {
            return;
        }
        match state.config.pacing {
            Pacing::OpenLoop { .. } => {
                let schedule = state.schedule.expect("open loop has a schedule");
                let now_secs = state.now_ns() as f64 / 1e9;
                let Some(entry) = super::entry_mut(&mut state.entries, conn) else {
                    return;
                };
                let phase = f64::from(entry.client.number) / f64::from(state.config.connections);
                // A reconnecting customer carries on where its last connection stopped: what fell due
                // meanwhile is sent now, timed from when it was due.
                let resumed = state
                    .chat
                    .as_mut()
                    .and_then(|world| world.actor(entry.client.number).schedule_index.take());
                let first = resumed.unwrap_or_else(|| schedule.first_index_at(now_secs, phase));
                entry.client.next_index = first;
                let due_ns = (schedule.due_secs(first, phase) * 1e9) as u64;
                let key = (due_ns, conn.index() as u32, conn.generation());
                state.due.push(Reverse(key));
            }
            Pacing::ClosedLoop { in_flight } => self.send_closed_loop(conn, in_flight),
        }
    }

    /// Sends `count` messages now on `conn` (closed loop: one per echo received).
    pub(super) fn send_closed_loop(&mut self, conn: ConnId, count: u32) {
        let state = &mut self.state;
        let now_ns = state.now_ns();
        let size = state.config.size_bytes;
        let mut out = state.free_buffers.pop().unwrap_or_default();
        let Some(entry) = state
            .entries
            .get_mut(conn.index())
            .and_then(Option::as_mut)
            .filter(|e| e.id == conn && e.client.phase == Phase::Open)
        else {
            state.recycle(out);
            return;
        };
        let mut ctx = Context {
            stats: &mut state.stats,
            rng: &mut state.rng,
            now_ns,
            chat: None,
        };
        for _ in 0..count {
            entry
                .client
                .write_message(now_ns, size, &mut ctx, &mut state.scratch, &mut out);
        }
        self.engine.send(conn, out);
    }

    /// Sends every open-loop message whose intended time has come, stamped with that time.
    pub(super) fn send_due(&mut self, now_ns: u64) {
        while let Some(&Reverse((due_ns, index, generation))) = self.state.due.peek() {
            if due_ns > now_ns {
                break;
            }
            self.state.due.pop();
            if let Some(next_due_ns) = self.send_overdue(index as usize, generation, now_ns) {
                self.state
                    .due
                    .push(Reverse((next_due_ns, index, generation)));
            }
        }
    }

    /// Sends the overdue messages of one connection; returns when its next one is due.
    fn send_overdue(&mut self, index: usize, generation: u32, now_ns: u64) -> Option<u64> {
        let state = &mut self.state;
        let schedule = state.schedule.expect("open loop has a schedule");
        let (size, in_flight_max) = (state.config.size_bytes, state.config.in_flight_max);
        let connections = state.config.connections;
        let entry = state.entries.get_mut(index)?.as_mut()?;
        if entry.id.generation() != generation || entry.client.phase != Phase::Open {
            return None;
        }
        let phase = f64::from(entry.client.number) / f64::from(connections);
        let mut out = state.free_buffers.pop().unwrap_or_default();
        let mut ctx = Context {
            stats: &mut state.stats,
            rng: &mut state.rng,
            now_ns,
            chat: None,
        };
        let mut due_ns = (schedule.due_secs(entry.client.next_index, phase) * 1e9) as u64;
        let mut batch = 0;
        while due_ns <= now_ns && batch < OVERDUE_BATCH_MAX {
            if let Some(world) = state.chat.as_mut() {
                let mut chat = ChatContext {
                    stats: &mut *ctx.stats,
                    rng: &mut *ctx.rng,
                    now_ns,
                };
                let number = entry.client.number;
                world.write_scheduled(number, due_ns, in_flight_max, &mut chat, &mut out);
            } else if entry.client.in_flight() < u64::from(in_flight_max) {
                let client = &mut entry.client;
                client.write_message(due_ns, size, &mut ctx, &mut state.scratch, &mut out);
            } else {
                ctx.stats.skipped_backlog += 1;
            }
            entry.client.next_index += 1;
            batch += 1;
            due_ns = (schedule.due_secs(entry.client.next_index, phase) * 1e9) as u64;
        }
        let id = entry.id;
        if out.is_empty() {
            state.recycle(out);
        } else {
            self.engine.send(id, out);
        }
        Some(due_ns)
    }
}
