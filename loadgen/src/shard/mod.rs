//! One client thread: its own engine, its share of the connections, its own counters.
//!
//! Layout:
//! - this file: [`run_shard`], the loop and its stages (running → draining → closing → done).
//! - `events`: what each engine event does to a connection.
//! - `sending`: connection starts at the connect rate, the open-loop schedule, closed-loop refills.
//! - `chat`: the switchboard.v1 extras: hello, the chat world's outbox, agent replies, churn.
//!
//! The loop follows the engine's contract: queue sends and connects while handling events, then one
//! `poll` submits them all and waits until the next scheduled send, connect or stage deadline.

mod chat;
mod events;
mod sending;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Barrier, OnceLock};
use std::time::{Duration, Instant};

use switchboard_core::engine::{ConnId, Engine, EngineConfig, EngineKind, Event};

use crate::chat::ChatWorld;
use crate::client::{ClientConn, Context, Phase, Target};
use crate::config::{Pacing, RunConfig};
use crate::rng::Rng;
use crate::schedule::Schedule;
use crate::stats::Stats;

/// How long we wait for the server's Close after sending ours at the end of the run.
pub const CLOSE_TIMEOUT_MS: u64 = 2_000;
/// Interval of the progress reports to the main thread.
pub const PROGRESS_INTERVAL_MS: u64 = 1_000;
/// Longest single wait in `poll`, so stage changes are noticed promptly.
const POLL_WAIT_MS_MAX: u64 = 50;
/// Spare buffers kept for reuse.
const FREE_BUFFERS_MAX: usize = 4096;

/// What a thread tells the main thread once a second and at the end.
#[derive(Debug)]
pub struct ProgressReport {
    /// Which thread.
    pub thread: usize,
    /// Its counters so far (histograms included).
    pub stats: Stats,
}

/// Where the thread is in the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Connecting and sending.
    Running,
    /// Duration over: no new sends; waiting for outstanding echoes until the deadline.
    Draining { until_ns: u64 },
    /// Close frames sent; waiting for the server's until the deadline.
    Closing { until_ns: u64 },
}

/// A connection slot of the engine and the client state on it.
struct Entry {
    id: ConnId,
    client: ClientConn,
}

/// Everything but the engine, so event handlers can borrow it while an event borrows the engine.
struct State {
    config: Arc<RunConfig>,
    thread: usize,
    epoch: Instant,
    target: Target,
    stats: Stats,
    rng: Rng,
    stage: Stage,
    entries: Vec<Option<Entry>>,
    /// Open-loop schedule (echo only).
    schedule: Option<Schedule>,
    /// Next due send per connection: (due ns, engine index, generation).
    due: BinaryHeap<Reverse<(u64, u32, u32)>>,
    /// Connections of this thread started so far.
    started: u32,
    /// Connections this thread owns.
    owned: u32,
    free_buffers: Vec<Vec<u8>>,
    scratch: Vec<u8>,
    /// switchboard.v1 scenarios: the actors and conversations of this thread.
    chat: Option<ChatWorld>,
    /// Churn: connections closed on purpose so far.
    churned: u64,
    /// Churn: where the round robin over actors continues.
    churn_cursor: usize,
}

struct Shard {
    engine: Engine,
    state: State,
}

/// When the run starts: every thread sets up its engine, then they agree on one epoch, so no thread's
/// setup time eats into the schedule.
#[derive(Debug)]
pub struct StartLine {
    barrier: Barrier,
    epoch: OnceLock<Instant>,
}

impl StartLine {
    /// A start line for `threads` client threads.
    pub fn new(threads: usize) -> StartLine {
        StartLine {
            barrier: Barrier::new(threads),
            epoch: OnceLock::new(),
        }
    }

    /// Waits for every thread, then returns the shared epoch.
    fn wait(&self) -> Instant {
        self.barrier.wait();
        *self.epoch.get_or_init(Instant::now)
    }

    /// The epoch, once the threads have passed the line.
    pub fn epoch(&self) -> Option<Instant> {
        self.epoch.get().copied()
    }
}

/// Runs thread `thread`'s share of the run until it is over; reports progress on `progress`.
pub fn run_shard(
    config: Arc<RunConfig>,
    thread: usize,
    start: &StartLine,
    progress: Sender<ProgressReport>,
) -> Result<Stats, String> {
    let shard = Shard::new(config, thread);
    let epoch = start.wait();
    let mut shard = shard?;
    shard.state.epoch = epoch;
    shard.run(&progress)?;
    Ok(shard.state.stats)
}

impl Shard {
    fn new(config: Arc<RunConfig>, thread: usize) -> Result<Shard, String> {
        let owned = config.connections_of_thread(thread);
        let engine_config = EngineConfig {
            connections_max: owned.max(8),
            recv_buffer_bytes: 16 << 10,
            ..EngineConfig::default()
        };
        let (engine, choice) = Engine::new(&engine_config, EngineKind::Auto)
            .map_err(|e| format!("thread {thread}: engine: {e}"))?;
        if thread == 0 {
            eprintln!("engine: {choice}");
        }
        let schedule = match config.pacing {
            Pacing::OpenLoop { rate_per_sec, ramp } => {
                let senders = match config.chat {
                    Some(_) => config.customers(),
                    None => config.connections,
                };
                let schedule = Schedule::new(rate_per_sec, ramp.as_secs_f64(), senders);
                Some(match &config.chat {
                    Some(chat) if chat.burst_secs > 0.0 => schedule.with_burst(
                        chat.burst_start_secs,
                        chat.burst_secs,
                        chat.burst_factor,
                    ),
                    _ => schedule,
                })
            }
            Pacing::ClosedLoop { .. } => None,
        };
        let chat = match &config.chat {
            Some(params) => Some(ChatWorld::new(&config, params, thread)?),
            None => None,
        };
        let state = State {
            target: Target {
                host: config.host.clone(),
                path: config.path.clone(),
                raw_echo: config.raw_echo,
                raw_relay: config.raw_relay,
            },
            thread,
            epoch: Instant::now(),
            stats: Stats::default(),
            rng: Rng::new(thread as u64 + 1),
            stage: Stage::Running,
            entries: (0..engine_config.connections_max).map(|_| None).collect(),
            schedule,
            due: BinaryHeap::new(),
            started: 0,
            owned,
            free_buffers: Vec::new(),
            scratch: Vec::new(),
            chat,
            churned: 0,
            churn_cursor: 0,
            config,
        };
        Ok(Shard { engine, state })
    }

    fn run(&mut self, progress: &Sender<ProgressReport>) -> Result<(), String> {
        let mut next_report_ns = PROGRESS_INTERVAL_MS * 1_000_000;
        loop {
            let now_ns = self.state.now_ns();
            if !self.advance_stage(now_ns) {
                break;
            }
            if self.state.stage == Stage::Running {
                self.start_connections(now_ns);
                self.send_due(now_ns);
                self.send_due_replies(now_ns);
                self.churn(now_ns);
            }
            if now_ns >= next_report_ns {
                let report = ProgressReport {
                    thread: self.state.thread,
                    stats: self.state.stats.clone(),
                };
                let _ = progress.send(report);
                next_report_ns += PROGRESS_INTERVAL_MS * 1_000_000;
            }
            let wait_ns = self.state.wait_ns(now_ns).min(next_report_ns - now_ns);
            self.engine
                .poll(Some(Duration::from_nanos(wait_ns)))
                .map_err(|e| format!("thread {}: poll: {e}", self.state.thread))?;
            self.handle_events();
        }
        Ok(())
    }

    /// Moves to the next stage when its condition holds; `false` when the run is over.
    fn advance_stage(&mut self, now_ns: u64) -> bool {
        let config = &self.state.config;
        match self.state.stage {
            Stage::Running if now_ns >= config.duration.as_nanos() as u64 => {
                let until_ns = now_ns + config.drain.as_nanos() as u64;
                self.state.stats.open_at_end = self.state.stats.open;
                self.state.stage = Stage::Draining { until_ns };
                true
            }
            Stage::Draining { until_ns } if now_ns >= until_ns || self.state.in_flight() == 0 => {
                if let Some(world) = &self.state.chat {
                    world.settle(&mut self.state.stats);
                }
                self.close_all(now_ns);
                true
            }
            Stage::Closing { until_ns } => {
                if now_ns < until_ns && self.state.entries.iter().any(Option::is_some) {
                    return true;
                }
                for entry in self.state.entries.iter_mut().flatten() {
                    entry.client.finish(&mut self.state.stats);
                }
                false
            }
            _ => true,
        }
    }

    /// Sends our Close on every open connection and drops the ones not yet upgraded.
    fn close_all(&mut self, now_ns: u64) {
        let state = &mut self.state;
        state.stage = Stage::Closing {
            until_ns: now_ns + CLOSE_TIMEOUT_MS * 1_000_000,
        };
        for index in 0..state.entries.len() {
            let Some(entry) = state.entries[index].as_mut() else {
                continue;
            };
            let id = entry.id;
            if entry.client.phase == Phase::Open {
                let mut out = state.free_buffers.pop().unwrap_or_default();
                let mut ctx = Context {
                    stats: &mut state.stats,
                    rng: &mut state.rng,
                    now_ns,
                    chat: None,
                };
                entry.client.write_close(&mut ctx, &mut out);
                self.engine.send(id, out);
            } else {
                if matches!(entry.client.phase, Phase::Connecting | Phase::Upgrading) {
                    state.stats.error("not upgraded when the load phase ended");
                }
                entry.client.finish(&mut state.stats);
                let _ = self.engine.close(id);
            }
        }
    }

    fn handle_events(&mut self) {
        while let Some(event) = self.engine.next_event() {
            match event {
                Event::Data { conn, bytes } => {
                    let outcome = self.state.on_data(conn, &bytes);
                    self.apply(conn, outcome);
                }
                Event::Connected { conn } => {
                    let (out, open) = self.state.on_connected(conn);
                    self.send(conn, out);
                    if open && self.state.stage == Stage::Running {
                        self.start_load(conn);
                    }
                }
                Event::ConnectFailed { conn, cause } => self.state.on_connect_failed(conn, cause),
                Event::SendComplete { conn, buf, result } => {
                    self.state.on_send_complete(conn, buf, result)
                }
                Event::PeerClosed { conn, cause } => {
                    if self.state.on_peer_closed(conn, cause) {
                        let _ = self.engine.close(conn);
                    }
                }
                Event::Closed { conn } => self.on_closed(conn),
                Event::Accepted { .. }
                | Event::Wake { .. }
                | Event::FileWritten { .. }
                | Event::FileSynced { .. }
                | Event::Timeout => {}
            }
        }
    }

    /// Sends `out` on `conn` if it holds anything, else keeps the buffer.
    fn send(&mut self, conn: ConnId, out: Vec<u8>) {
        if out.is_empty() {
            self.state.recycle(out);
        } else {
            self.engine.send(conn, out);
        }
    }
}

/// The live entry of `conn`, if `conn` is not stale.
fn entry_mut(entries: &mut [Option<Entry>], conn: ConnId) -> Option<&mut Entry> {
    entries
        .get_mut(conn.index())?
        .as_mut()
        .filter(|e| e.id == conn)
}

impl State {
    fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    fn entry(&mut self, conn: ConnId) -> Option<&mut Entry> {
        entry_mut(&mut self.entries, conn)
    }

    /// Drops the entry of `conn`; returns its connection number.
    /// Forgets `conn`; returns its connection number and the next open-loop schedule index it held.
    fn remove(&mut self, conn: ConnId) -> Option<(u32, u64)> {
        let mut entry = self.entries[conn.index()].take()?;
        if entry.id != conn {
            self.entries[conn.index()] = Some(entry);
            return None;
        }
        entry.client.finish(&mut self.stats);
        Some((entry.client.number, entry.client.next_index))
    }

    fn recycle(&mut self, mut buf: Vec<u8>) {
        if self.free_buffers.len() < FREE_BUFFERS_MAX {
            buf.clear();
            self.free_buffers.push(buf);
        }
    }

    /// Messages sent and not answered (chat: also deliveries still missing), over this thread.
    fn in_flight(&self) -> u64 {
        let echo: u64 = self
            .entries
            .iter()
            .flatten()
            .map(|e| e.client.in_flight())
            .sum();
        echo + self.chat.as_ref().map_or(0, ChatWorld::outstanding)
    }

    /// How long `poll` may wait: until the next due send or connect, at most `POLL_WAIT_MS_MAX`.
    fn wait_ns(&self, now_ns: u64) -> u64 {
        let mut wait = POLL_WAIT_MS_MAX * 1_000_000;
        if self.stage == Stage::Running {
            if let Some(Reverse((due, _, _))) = self.due.peek() {
                wait = wait.min(due.saturating_sub(now_ns));
            }
            if self.started < self.owned {
                wait = wait.min(self.next_connect_ns().saturating_sub(now_ns));
            }
            if let Some(due) = self.chat.as_ref().and_then(ChatWorld::next_reply_ns) {
                wait = wait.min(due.saturating_sub(now_ns));
            }
            if let Some(due) = self.next_churn_ns() {
                wait = wait.min(due.saturating_sub(now_ns));
            }
        }
        wait
    }
}
