//! The connection before it is a WebSocket: collecting the upgrade request, answering it (101, or the
//! protocol crate's HTTP status), a plain HTTP request on the WebSocket port, and a refused upgrade.

use super::*;

impl Connection {
    pub(super) fn handle_handshake_bytes(&mut self, input: &[u8], now_ms: u64) {
        let limit = self.config.handshake.handshake_bytes_max;
        let cold = self.cold_mut();
        if cold.plain_pending {
            return;
        }
        let taken = input.len().min(limit - cold.handshake_buf.len());
        cold.handshake_buf.extend_from_slice(&input[..taken]);
        let full = cold.handshake_buf.len() == limit;
        // The head ends with a line break, so parse only when one arrived (or the buffer is full): a
        // client trickling bytes one at a time costs one scan per line, not one per byte.
        if !full && !input[..taken].contains(&b'\n') {
            return;
        }
        match parse_upgrade_request(&self.cold().handshake_buf, &self.config.handshake) {
            Ok(Some((request, consumed))) => {
                let buffered = std::mem::take(&mut self.cold_mut().handshake_buf);
                self.open(request, now_ms);
                self.handle_frame_bytes(&buffered[consumed..], now_ms);
                self.handle_frame_bytes(&input[taken..], now_ms);
            }
            Ok(None) if full => {
                let error = HandshakeError::Head(HeadError::HeadTooLarge { max: limit });
                self.reject_handshake(&error, now_ms);
            }
            Ok(None) => {}
            Err(error) if error.is_plain_http() && self.config.mode == Mode::Chat => {
                match parse_plain_request(&self.cold().handshake_buf, &self.config.handshake) {
                    Ok(Some((request, _))) => {
                        let cold = self.cold_mut();
                        cold.handshake_buf = Vec::new();
                        cold.plain_pending = true;
                        cold.events.push_back(ConnectionEvent::PlainRequest {
                            request: Box::new(request),
                        });
                    }
                    _ => self.reject_handshake(&error, now_ms),
                }
            }
            Err(error) => self.reject_handshake(&error, now_ms),
        }
    }

    /// Answers the [`ConnectionEvent::PlainRequest`] with a whole HTTP `response` (which must say
    /// `Connection: close`) of `status`; the connection closes once it is flushed.
    pub fn answer_plain(&mut self, status: u16, response: &[u8], now_ms: u64) {
        let cold = self.cold_mut();
        assert!(cold.plain_pending, "answer_plain without a plain request");
        cold.plain_pending = false;
        cold.http_out.extend_from_slice(response);
        self.finish(CloseReason::HttpServed { status }, now_ms);
    }

    pub(super) fn open(&mut self, request: UpgradeRequest, now_ms: u64) {
        request.write_response(&mut self.cold_mut().http_out);
        // switchboard.v1 clients reassemble app-level fragments, so urgent frames can overtake large ones.
        // Echo mode sends the client's own messages back unchanged, so it keeps WebSocket fragmentation.
        if self.config.mode == Mode::Chat && request.subprotocol == Some(Subprotocol::Binary) {
            self.send_queue
                .set_fragmentation(switchboard_v1_fragmentation());
        }
        self.state = ConnectionState::Open;
        self.heartbeat = Heartbeat::new(&self.config.settings().heartbeat, now_ms);
        self.last_message_ms = now_ms;
        let heartbeat_interval_ms = self
            .heartbeat
            .advertised_interval_ms(&self.config.heartbeat);
        let cold = self.cold_mut();
        debug_assert!(cold.events.is_empty(), "Opened is the first event");
        cold.opened = Some(ConnectionEvent::Opened {
            request: Box::new(request),
            heartbeat_interval_ms,
        });
    }

    /// Takes back the upgrade just accepted: the layer above refused it while handling
    /// [`ConnectionEvent::Opened`] (a token that does not verify: 401; chat mode without a switchboard
    /// subprotocol: 400). The queued `101` is replaced by a `status` response with `body`, any frames that
    /// arrived with the request are dropped, and the connection closes after flushing the response.
    ///
    /// Only valid before the `101` was transmitted, which holds while the shard handles the `Opened`
    /// event: events are polled before the flush that writes the response.
    pub fn refuse_upgrade(&mut self, status: u16, body: &str, now_ms: u64) {
        let cold = self.cold_mut();
        assert!(
            cold.http_out.starts_with(b"HTTP/1.1 101"),
            "refuse_upgrade after the 101 was transmitted"
        );
        cold.http_out.clear();
        cold.events.clear();
        write_rejection(&mut cold.http_out, status, body);
        self.send_queue.discard_data();
        self.finish(CloseReason::HandshakeRejected { status }, now_ms);
    }

    pub(super) fn reject_handshake(&mut self, error: &HandshakeError, now_ms: u64) {
        let cold = self.cold_mut();
        error.write_response(&mut cold.http_out);
        cold.handshake_buf = Vec::new();
        self.finish(
            CloseReason::HandshakeRejected {
                status: error.status(),
            },
            now_ms,
        );
    }
}
