//! The connection's clock: what is due when (handshake, idle, unfinished-message and app deadlines, the
//! heartbeat's ping or expiry, the close timeout), and what happens when it is.

use super::*;

impl Connection {
    /// Fires whatever is due at `now_ms`: handshake timeout, idle timeout, heartbeat ping or expiry,
    /// close timeout. Call it when [`Connection::poll_timeout`] is reached (calling early is harmless).
    pub fn handle_timeout(&mut self, now_ms: u64) {
        match self.state {
            ConnectionState::Handshaking if now_ms >= self.cold().handshake_deadline_ms => {
                let cold = self.cold_mut();
                write_rejection(
                    &mut cold.http_out,
                    HTTP_REQUEST_TIMEOUT,
                    "handshake timeout",
                );
                cold.handshake_buf = Vec::new();
                self.finish(CloseReason::HandshakeTimeout, now_ms);
            }
            ConnectionState::Handshaking => {}
            ConnectionState::Open
                if now_ms >= self.last_message_ms + self.config.idle_timeout_ms =>
            {
                self.start_close(CloseReason::IdleTimeout, true, now_ms);
            }
            ConnectionState::Open
                if self.cold().partial_since_ms != 0
                    && now_ms
                        >= self.cold().partial_since_ms
                            + self.config.partial_message_timeout_ms =>
            {
                self.start_close(CloseReason::PartialMessageTimeout, true, now_ms);
            }
            ConnectionState::Open
                if self.cold().app_deadline_ms != 0 && now_ms >= self.cold().app_deadline_ms =>
            {
                let cold = self.cold_mut();
                cold.app_deadline_ms = 0;
                cold.events.push_back(ConnectionEvent::AppDeadline);
            }
            ConnectionState::Open => match self
                .heartbeat
                .handle_timeout(&self.config.heartbeat, now_ms)
            {
                Some(HeartbeatAction::SendPing { payload }) => {
                    // A ping is due only after a whole interval without a received byte: quiet enough to
                    // give back what the last burst grew.
                    self.release_idle_buffers();
                    self.send_queue.enqueue_ping(payload)
                }
                Some(HeartbeatAction::Expired) => self.abort(CloseReason::HeartbeatTimeout),
                None => {}
            },
            ConnectionState::Closing | ConnectionState::Closed => {
                let expired = self
                    .cold()
                    .close_deadline_ms
                    .is_some_and(|deadline| now_ms >= deadline);
                if expired && !self.is_closed() {
                    let first = self
                        .cold_mut()
                        .close_reason
                        .take()
                        .expect("a close reason is set before Closing");
                    self.abort(CloseReason::CloseTimeout {
                        first: Box::new(first),
                    });
                }
            }
        }
        self.invariants();
    }

    /// The next instant `handle_timeout` must be called, or `None` when no timer is needed. Changed by every
    /// `handle_*` call and by `send`/`close`.
    pub fn poll_timeout(&self) -> Option<u64> {
        match self.state {
            _ if self.is_closed() => None,
            ConnectionState::Handshaking => Some(self.cold().handshake_deadline_ms),
            ConnectionState::Open => {
                let mut idle = self.last_message_ms + self.config.idle_timeout_ms;
                let app_deadline_ms = self.cold().app_deadline_ms;
                if app_deadline_ms != 0 {
                    idle = idle.min(app_deadline_ms);
                }
                let partial_since_ms = self.cold().partial_since_ms;
                if partial_since_ms != 0 {
                    idle = idle.min(partial_since_ms + self.config.partial_message_timeout_ms);
                }
                Some(
                    self.heartbeat
                        .poll_timeout(&self.config.heartbeat)
                        .map_or(idle, |ping| ping.min(idle)),
                )
            }
            ConnectionState::Closing | ConnectionState::Closed => self.cold().close_deadline_ms,
        }
    }
}
