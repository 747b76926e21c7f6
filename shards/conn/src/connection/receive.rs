//! The receive side of an open connection: bytes in (plain or the transport's lendable receive buffer), frames
//! decoded directly when whole or through the assembler, and what each frame does (echo, chat event, pong,
//! close).

use super::*;

impl Connection {
    /// Feeds bytes read from the transport at `now_ms`. Every byte is consumed; afterwards check
    /// `poll_event`, `poll_transmit`, `poll_timeout` and `is_closed`.
    pub fn handle_bytes(&mut self, input: &[u8], now_ms: u64) {
        match self.state {
            ConnectionState::Handshaking => self.handle_handshake_bytes(input, now_ms),
            ConnectionState::Open | ConnectionState::Closing => {
                self.handle_frame_bytes(input, now_ms)
            }
            ConnectionState::Closed => {}
        }
        self.invariants();
    }

    /// [`Connection::handle_bytes`] for bytes in the transport's receive buffer. In echo mode, when the read
    /// ends with a whole message and nothing else of this connection is queued or in flight, its reply is
    /// written over it and handed to the transport as it stands ([`LendingInput::send_in_place`]: counted in
    /// flight until `handle_send_complete`); otherwise a large whole message is unmasked where it is and sent
    /// back from there, lent by reference, without a copy.
    pub fn handle_received(&mut self, input: &mut dyn LendingInput, now_ms: u64) {
        let open = matches!(self.state, ConnectionState::Open | ConnectionState::Closing);
        if open && self.config.mode == Mode::Echo {
            self.handle_frames(&mut Input::Lending(input), now_ms);
            self.invariants();
        } else {
            self.handle_bytes(input.bytes(), now_ms);
        }
    }

    pub(super) fn handle_frame_bytes(&mut self, input: &[u8], now_ms: u64) {
        self.handle_frames(&mut Input::Shared(input), now_ms);
    }

    fn handle_frames(&mut self, input: &mut Input<'_>, now_ms: u64) {
        if input.bytes().is_empty() || self.state == ConnectionState::Closed {
            return;
        }
        self.heartbeat.on_activity(now_ms);
        let mut offset = 0;
        // Where in `input` the assembler is known to be clean (between messages and frames), if anywhere.
        let mut clean_at = (self.assembler_clean || self.assembler.is_none()).then_some(0);
        while matches!(self.state, ConnectionState::Open | ConnectionState::Closing) {
            // A fresh (or clean) assembler may be bypassed for a whole frame: same result, fewer copies.
            let clean = self.assembler.is_none() || clean_at == Some(offset);
            let (inbound, consumed) = match self.next_inbound(input, offset, clean, now_ms) {
                Ok(next) => next,
                // Messages that arrived whole before the violation are still answered, then our Close
                // (Autobahn 3.2, 4.x, 5.15 expect the earlier echo); the close deadline bounds the wait.
                Err(error) => {
                    self.assembler_clean = false;
                    return self.start_close(CloseReason::Protocol(error), true, now_ms);
                }
            };
            offset += consumed;
            let Some(inbound) = inbound else {
                self.assembler_clean =
                    self.assembler.is_none() || clean_at == Some(input.bytes().len());
                self.note_partial(self.assembler_clean, now_ms);
                return;
            };
            clean_at = match &inbound {
                // Decoded without an assembler: there is no partial state anywhere.
                _ if self.assembler.is_none() => Some(offset),
                // A complete message leaves the assembler between messages.
                Inbound::Data(..) | Inbound::Lent(..) | Inbound::Echoed(..) => Some(offset),
                // A control frame keeps it clean only if it was the only frame since the clean point.
                Inbound::Ping(_, len) | Inbound::Pong(_, len) => clean_at
                    .map(|at| at + CONTROL_FRAME_OVERHEAD_BYTES + len)
                    .filter(|&at| at == offset),
                Inbound::Close(_) => None,
            };
            // Only an open connection is rate-limited, and never by its Close: after our 1008 the client's
            // Close must still complete the handshake (the rest of `input` is read to find it). An echo sent
            // in place took its token before it went.
            let limited = self.state == ConnectionState::Open
                && !matches!(inbound, Inbound::Close(_) | Inbound::Echoed(_));
            if limited && !self.rate.take(now_ms, self.config.frames_per_second_max) {
                self.start_close(CloseReason::FrameRateExceeded, false, now_ms);
                continue;
            }
            self.handle_inbound(inbound, now_ms);
        }
        self.assembler_clean = false;
    }

    /// The next received frame or message and the input bytes used. When the assembler is absent or
    /// `clean` (between messages and frames at the start of `input`), a complete ping or pong, or a complete
    /// unfragmented text or binary message, is decoded directly from the input; anything else goes through
    /// the (then allocated) assembler.
    fn next_inbound(
        &mut self,
        input: &mut Input<'_>,
        offset: usize,
        clean: bool,
        now_ms: u64,
    ) -> Result<(Option<Inbound>, usize), WsError> {
        if clean {
            if input.bytes().len() == offset {
                return Ok((None, 0));
            }
            let limits = &self.config.assembler;
            if let Input::Lending(lending) = input {
                // Nothing else to send, so the echo may go ahead of the send queue (see `lending`).
                let idle = self.state == ConnectionState::Open
                    && self.bytes_in_flight == 0
                    && !self.send_queue.has_pending();
                if idle {
                    let (rate, frames_per_second_max) =
                        (&mut self.rate, self.config.frames_per_second_max);
                    let echoed = inbound::echo_in_place(
                        &mut **lending,
                        offset,
                        limits,
                        self.config.fragment_bytes,
                        || rate.take(now_ms, frames_per_second_max),
                    );
                    if let Some((consumed, sent)) = echoed {
                        return Ok((Some(Inbound::Echoed(sent)), consumed));
                    }
                }
                if lending.bytes().len() - offset >= GATHER_PAYLOAD_BYTES_MIN {
                    if let Some(decoded) = inbound::whole_data_lent(&mut **lending, offset, limits)
                    {
                        return Ok((Some(decoded.0), decoded.1));
                    }
                }
            }
            let input = &input.bytes()[offset..];
            let decoded = inbound::whole_control(input, limits)
                .or_else(|| inbound::whole_data(input, limits, || self.send_queue.take_spare()));
            if let Some((inbound, consumed)) = decoded {
                return Ok((Some(inbound), consumed));
            }
        }
        let config = self.config;
        let assembler = self.assembler.get_or_insert_with(|| {
            Box::new(
                MessageAssembler::new(Role::Server, config.assembler)
                    .expect("ConnectionConfig validated the assembler limits"),
            )
        });
        let consumed = assembler.handle_bytes(&input.bytes()[offset..])?;
        Ok((inbound::next_event(assembler), consumed))
    }

    /// Starts (or stops) the unfinished-message clock: running while the assembler is inside a message or
    /// a frame (a control frame cut in two counts too, which is harmless: a live client finishes any frame
    /// long before the timeout). `clean` says the assembler is known to be between frames: then it is not
    /// read at all (a busy echo connection's boxed assembler is cold in cache; reading it cost ~1% of a
    /// 1 KiB echo's CPU, issue 19).
    ///
    /// Only a change reads [`Cold`] (its box is cold in cache too). When the clock stops in echo mode, the box
    /// is freed if nothing else is in it: echo keeps nothing there once open, and a box kept after a message
    /// that came in two reads made every later message read it (events, transmit, timeouts: 4 cache misses,
    /// ~3% of a 1 KiB echo's CPU, issue 19). Chat mode keeps it: its events need it again at once.
    fn note_partial(&mut self, clean: bool, now_ms: u64) {
        let partial = !clean
            && self
                .assembler
                .as_ref()
                .is_some_and(|assembler| assembler.in_message());
        match (partial, self.partial_clock) {
            (true, false) => {
                self.cold_mut().partial_since_ms = now_ms.max(1);
                self.partial_clock = true;
            }
            (false, true) => {
                self.partial_clock = false;
                if let Some(cold) = self.cold.as_mut() {
                    cold.partial_since_ms = 0;
                }
                if self.config.mode == Mode::Echo {
                    self.release_cold_if_idle();
                }
            }
            (true, true) | (false, false) => {}
        }
    }

    /// Bytes of the WebSocket message the client has started and not finished (capacity held).
    pub fn partial_message_bytes(&self) -> usize {
        self.assembler
            .as_ref()
            .map_or(0, |assembler| assembler.buffered_bytes())
    }

    fn handle_inbound(&mut self, inbound: Inbound, now_ms: u64) {
        let open = self.state == ConnectionState::Open;
        match inbound {
            Inbound::Data(kind, payload) if open => {
                self.last_message_ms = now_ms;
                self.messages_received += 1;
                match self.config.mode {
                    Mode::Echo => self.enqueue_or_close(Lane::Chat, kind, payload, true, now_ms),
                    Mode::Chat => self
                        .cold_mut()
                        .events
                        .push_back(ConnectionEvent::Message { kind, payload }),
                }
            }
            // Only echo lends (see `handle_received`).
            Inbound::Lent(kind, payload) if open => {
                self.last_message_ms = now_ms;
                self.messages_received += 1;
                self.enqueue_or_close(Lane::Chat, kind, payload, false, now_ms);
            }
            // Already with the transport (it is only made while open): counted as in flight until its
            // completion whatever happens next, or that completion would report more than was handed out.
            Inbound::Echoed(sent) => {
                self.last_message_ms = now_ms;
                self.messages_received += 1;
                self.bytes_in_flight += u32::try_from(sent).expect("at most fragment_bytes + 10");
            }
            Inbound::Ping(buf, len) if open => self.send_queue.enqueue_pong(&buf[..len]),
            Inbound::Pong(buf, len) => {
                self.heartbeat.on_pong(&buf[..len], now_ms);
            }
            Inbound::Close(code) if open => {
                self.send_queue
                    .enqueue_close(code.unwrap_or(CLOSE_NORMAL), "", false);
                self.finish(CloseReason::PeerClosed { code }, now_ms);
            }
            // The client answered our Close: the close handshake is complete.
            Inbound::Close(_) => self.finish(CloseReason::PeerClosed { code: None }, now_ms),
            // After our Close, data and pings are read (to find the client's Close) but not answered.
            Inbound::Data(..) | Inbound::Lent(..) | Inbound::Ping(..) => {}
        }
    }

    /// `reusable`: the payload's memory may be kept for the next received message once written (not a
    /// lent receive buffer, which must go back).
    fn enqueue_or_close(
        &mut self,
        lane: Lane,
        kind: DataKind,
        payload: Bytes,
        reusable: bool,
        now_ms: u64,
    ) {
        let queued = match reusable {
            true => self.send_queue.enqueue(lane, kind, payload),
            false => self.send_queue.enqueue_lent(lane, kind, payload),
        };
        if let Err(SendQueueError::Full { .. }) = queued {
            self.start_close(CloseReason::SendQueueFull, false, now_ms);
        }
    }
}
