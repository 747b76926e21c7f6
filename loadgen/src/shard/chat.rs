//! The switchboard.v1 side of a client thread: hello after the upgrade, agent replies and resumes for
//! other connections (the world's outbox), churn (close on purpose, reconnect as the same actor).

use switchboard_core::engine::ConnId;

use super::{entry_mut, Shard, State};
use crate::chat::ChatContext;
use crate::client::Phase;

impl State {
    /// When this thread churns its next connection (its share of `chat.churn_rate`); `None`: no churn.
    pub(super) fn next_churn_ns(&self) -> Option<u64> {
        let rate = self.config.chat.as_ref()?.churn_rate_per_sec;
        if rate <= 0.0 {
            return None;
        }
        let per_thread = rate / self.config.threads as f64;
        Some(((self.churned + 1) as f64 / per_thread * 1e9) as u64)
    }
}

impl Shard {
    /// The upgrade of `conn` completed: say `hello`.
    pub(super) fn send_hello(&mut self, conn: ConnId) {
        let state = &mut self.state;
        let (Some(world), Some(entry)) = (state.chat.as_mut(), entry_mut(&mut state.entries, conn))
        else {
            return;
        };
        let mut out = state.free_buffers.pop().unwrap_or_default();
        world.write_hello(entry.client.number, &mut state.rng, &mut out);
        self.engine.send(conn, out);
    }

    /// Sends what the world wrote for other connections (dropped if that actor is not connected).
    pub(super) fn flush_outbox(&mut self) {
        let Some(world) = self.state.chat.as_mut() else {
            return;
        };
        for (k, bytes) in std::mem::take(&mut world.outbox) {
            if let Some(conn) = world.actors[k as usize].conn {
                self.engine.send(conn, bytes);
            }
        }
    }

    /// Agent replies whose think time is over.
    pub(super) fn send_due_replies(&mut self, now_ns: u64) {
        let state = &mut self.state;
        let Some(world) = state.chat.as_mut() else {
            return;
        };
        if world.next_reply_ns().is_none_or(|due| due > now_ns) {
            return;
        }
        let mut ctx = ChatContext {
            stats: &mut state.stats,
            rng: &mut state.rng,
            now_ns,
        };
        world.send_due_replies(&mut ctx);
        self.flush_outbox();
    }

    /// Churn: closes the next welcomed connection (round robin) when its time has come; it reconnects
    /// as the same actor once closed.
    pub(super) fn churn(&mut self, now_ns: u64) {
        while self.state.next_churn_ns().is_some_and(|due| due <= now_ns) {
            self.state.churned += 1;
            let state = &mut self.state;
            let Some(world) = state.chat.as_mut() else {
                return;
            };
            let count = world.actors.len();
            for step in 0..count {
                let k = (state.churn_cursor + step) % count;
                let actor = &mut world.actors[k];
                let Some(conn) = actor.conn.filter(|_| actor.welcomed && !actor.reconnect) else {
                    continue;
                };
                let Some(entry) = entry_mut(&mut state.entries, conn) else {
                    continue;
                };
                if entry.client.phase != Phase::Open {
                    continue;
                }
                actor.reconnect = true;
                // Nothing more goes out on a closing connection (no data after Close): replies wait
                // for the reconnect, unacked sends are re-sent after it.
                actor.welcomed = false;
                state.churn_cursor = k + 1;
                let mut out = state.free_buffers.pop().unwrap_or_default();
                let mut ctx = crate::client::Context {
                    stats: &mut state.stats,
                    rng: &mut state.rng,
                    now_ns,
                    chat: None,
                };
                entry.client.write_close(&mut ctx, &mut out);
                self.engine.send(conn, out);
                break;
            }
        }
    }

    /// `conn` is closed: forget it; a churned actor reconnects at once while the run is loading.
    pub(super) fn on_closed(&mut self, conn: ConnId) {
        let Some((number, next_index)) = self.state.remove(conn) else {
            return;
        };
        let running = self.state.stage == super::Stage::Running;
        let Some(world) = self.state.chat.as_mut() else {
            return;
        };
        let actor = world.actor(number);
        if actor.is_customer() && next_index > 0 {
            actor.schedule_index = Some(next_index);
        }
        let reconnect = std::mem::take(&mut actor.reconnect);
        world.on_disconnected(number);
        if reconnect && running {
            self.state.stats.reconnects += 1;
            let now_ns = self.state.now_ns();
            self.start_connection(number, now_ns);
        }
    }
}
