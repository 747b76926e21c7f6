//! What each engine event does to a connection, and the follow-up I/O it asks for.

use switchboard_core::engine::{ConnId, Errno, PeerClose};

use super::{entry_mut, Shard, Stage, State};
use crate::client::{ClientError, Context, Phase, Progress};
use crate::config::Pacing;

/// What the shard must do after bytes arrived on a connection.
pub(super) struct DataOutcome {
    /// Control replies (pong, close) to send; may be empty.
    out: Vec<u8>,
    /// What the client reported, or why it failed.
    result: Result<Progress, ClientError>,
}

impl State {
    /// TCP connected: returns the upgrade request to send, and whether the connection is open already
    /// (`--raw-echo`).
    pub(super) fn on_connected(&mut self, conn: ConnId) -> (Vec<u8>, bool) {
        let mut out = self.free_buffers.pop().unwrap_or_default();
        let now_ns = self.now_ns();
        let target = self.target.clone();
        let Some(entry) = entry_mut(&mut self.entries, conn) else {
            return (out, false);
        };
        let mut ctx = Context {
            stats: &mut self.stats,
            rng: &mut self.rng,
            now_ns,
            chat: self.chat.as_mut(),
        };
        let open = entry.client.handle_connected(&target, &mut ctx, &mut out);
        (out, open)
    }

    pub(super) fn on_connect_failed(&mut self, conn: ConnId, cause: Errno) {
        self.stats.error(format!("connect: {cause}"));
        if let Some(entry) = self.entry(conn) {
            let number = entry.client.number;
            self.entries[conn.index()] = None;
            if let Some(world) = self.chat.as_mut() {
                world.on_disconnected(number);
            }
        }
    }

    pub(super) fn on_data(&mut self, conn: ConnId, bytes: &[u8]) -> DataOutcome {
        let mut out = self.free_buffers.pop().unwrap_or_default();
        let now_ns = self.now_ns();
        let Some(entry) = entry_mut(&mut self.entries, conn) else {
            return DataOutcome {
                out,
                result: Ok(Progress::default()),
            };
        };
        let mut ctx = Context {
            stats: &mut self.stats,
            rng: &mut self.rng,
            now_ns,
            chat: self.chat.as_mut(),
        };
        let result = entry.client.handle_bytes(bytes, &mut ctx, &mut out);
        DataOutcome { out, result }
    }

    pub(super) fn on_send_complete(
        &mut self,
        conn: ConnId,
        buf: Vec<u8>,
        result: Result<(), Errno>,
    ) {
        self.recycle(buf);
        if let Err(errno) = result {
            let closing = self
                .entry(conn)
                .is_none_or(|e| matches!(e.client.phase, Phase::Closing | Phase::Done));
            if errno != Errno::CANCELLED && !closing {
                self.stats.error(format!("send: {errno}"));
            }
        }
    }

    /// The server ended the stream; returns whether the shard should close the connection.
    pub(super) fn on_peer_closed(&mut self, conn: ConnId, cause: PeerClose) -> bool {
        let stats = &mut self.stats;
        let Some(entry) = entry_mut(&mut self.entries, conn) else {
            return false;
        };
        let expected = matches!(entry.client.phase, Phase::Closing | Phase::Done);
        if !expected {
            match cause {
                PeerClose::Eof => {
                    stats.error("server closed the TCP connection without a Close frame")
                }
                PeerClose::Error(errno) => stats.error(format!("recv: {errno}")),
            }
        }
        entry.client.finish(stats);
        true
    }
}

impl Shard {
    /// Acts on the outcome of `on_data`: sends replies, starts or refills the load, or closes.
    pub(super) fn apply(&mut self, conn: ConnId, outcome: DataOutcome) {
        let DataOutcome { out, result } = outcome;
        self.send(conn, out);
        self.flush_outbox();
        match result {
            Ok(progress) => {
                if progress.finished {
                    let _ = self.engine.close(conn);
                    return;
                }
                if self.state.stage != Stage::Running {
                    return;
                }
                let chat = self.state.chat.is_some();
                if progress.upgraded && chat {
                    self.send_hello(conn);
                }
                if (progress.upgraded && !chat) || progress.welcomed {
                    self.start_load(conn);
                }
                if progress.echoes > 0 {
                    if let Pacing::ClosedLoop { .. } = self.state.config.pacing {
                        self.send_closed_loop(conn, progress.echoes);
                    }
                }
            }
            Err(error) => {
                self.state.stats.error(error.to_string());
                if let Some(entry) = entry_mut(&mut self.state.entries, conn) {
                    entry.client.finish(&mut self.state.stats);
                }
                match error {
                    // Our Close reply is queued: let it go out, then the server's EOF closes.
                    ClientError::ServerClosed(_) => {
                        let _ = self.engine.shutdown_write(conn);
                    }
                    _ => {
                        let _ = self.engine.close(conn);
                    }
                }
            }
        }
    }
}
