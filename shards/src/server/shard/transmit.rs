//! The shard's plaintext send path: a connection's next frames go to the engine as one or more sends, each
//! a pooled buffer of headers and small frames optionally followed by a large payload lent by reference
//! (`Engine::send_vectored`), and come back as completions that free the connection for its next flush.
//!
//! Why by reference (issue 19): at 500 × 16 KiB echo, copying each payload behind its header into the send
//! buffer was a quarter of the server's CPU, more than the kernel's own copy of the same bytes. The engine
//! starts the sends one tick queues on a connection together, so a header, its payload and the frames
//! behind them still leave in one `sendmsg`.

use switchboard_core::engine::ConnId;

use super::{Shard, SEND_BUFFERS_RETAINED_MAX, SEND_BUFFER_BYTES, SEND_BUFFER_BYTES_MIN};
use crate::server::table::Entry;

/// Room for frame headers on top of the queued payload bytes when sizing a new send buffer.
const SEND_HEADERS_BYTES: usize = 64;
/// Sends one flush hands the engine at most (each a buffer and at most one lent payload). With
/// `SEND_BUFFER_BYTES` of frames per flush, 16 KiB payloads need 4; the engine covers 8 such sends with
/// one `sendmsg`.
const SENDS_PER_FLUSH_MAX: u8 = 4;

impl Shard {
    /// Hands `conn`'s next frames to the engine if nothing of it is in flight; returns the sends started
    /// (each holds a send buffer until its completion, which `SENDS_PER_TICK_MAX` bounds).
    pub(super) fn transmit(&mut self, conn: ConnId) -> usize {
        let Some(entry) = self.table.get_mut(conn) else {
            return 0;
        };
        if entry.sends_in_flight > 0 || entry.closing {
            return 0;
        }
        let sent_before = entry.conn.send_counters();
        let frame_bytes_min = entry.conn.transmit_bytes_min();
        let mut budget = SEND_BUFFER_BYTES.max(frame_bytes_min);
        while entry.sends_in_flight < SENDS_PER_FLUSH_MAX && budget >= frame_bytes_min {
            let mut buf = self
                .free_buffers
                .pop()
                .unwrap_or_else(|| new_send_buffer(entry));
            let (written, payload) = entry.conn.poll_transmit_vectored(&mut buf, budget);
            if written == 0 {
                self.free_buffers.push(buf);
                break;
            }
            budget -= written;
            entry.bytes_in_flight += u32::try_from(written).expect("a flush is far below 4 GiB");
            entry.sends_in_flight += 1;
            match payload {
                Some(payload) => self.engine.send_vectored(conn, buf, payload),
                // Everything that fitted was copied into `buf`: nothing more this flush.
                None => {
                    self.engine.send(conn, buf);
                    break;
                }
            }
        }
        self.stats
            .after_transmit(entry, sent_before, self.flushed_us);
        entry.sends_in_flight as usize
    }

    /// One send of `conn` finished: once its last send in flight is back, the connection learns how many
    /// bytes were written and may flush again. The buffer is kept for reuse.
    pub(super) fn send_complete(&mut self, conn: ConnId, mut buf: Vec<u8>, ok: bool) {
        if let Some(entry) = self.table.get_mut(conn) {
            if let Some(tls) = entry.tls.as_mut() {
                // Plaintext was handed to the session when it was encrypted; this was its ciphertext.
                tls.sending = false;
                if ok {
                    self.stats.bytes_sent.add(buf.len() as u64);
                }
            } else {
                entry.sends_in_flight -= 1;
                if entry.sends_in_flight == 0 {
                    let sent = std::mem::take(&mut entry.bytes_in_flight) as usize;
                    entry.conn.handle_send_complete(sent);
                    if ok {
                        self.stats.bytes_sent.add(sent as u64);
                    }
                }
            }
            // An open connection with nothing left to send has nothing for a flush to do (its timer was set
            // when its message was read): skipped, half of an echo's flushes (issue 19).
            if !ok || entry.conn.wants_flush_after_send() {
                super::mark_dirty(entry, &mut self.dirty);
            }
            if !ok {
                self.close_transport(conn);
            }
        }
        if keeps_for_reuse(&buf, self.free_buffers.len()) {
            buf.clear();
            self.free_buffers.push(buf);
        }
    }
}

/// Whether a send buffer back from the engine goes to the pool, which holds `pooled`: not past
/// `SEND_BUFFERS_RETAINED_MAX`, not an outsized one, and not one without room (an echo sent in place hands
/// back an empty `Vec`; pooled, it would be the next flush's buffer and allocate as it is written).
fn keeps_for_reuse(buf: &Vec<u8>, pooled: usize) -> bool {
    pooled < SEND_BUFFERS_RETAINED_MAX
        && (SEND_BUFFER_BYTES_MIN..=SEND_BUFFER_BYTES * 2).contains(&buf.capacity())
}

/// A new send buffer sized to what `entry` has queued (plus frame headers), not to the maximum, so that a
/// burst of thousands of closes or pongs in one tick does not touch a 64 KiB allocation each.
fn new_send_buffer(entry: &Entry) -> Vec<u8> {
    let need = entry.conn.queued_bytes() + SEND_HEADERS_BYTES;
    Vec::with_capacity(need.clamp(SEND_BUFFER_BYTES_MIN, SEND_BUFFER_BYTES))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_buffers_with_room_are_pooled() {
        assert!(keeps_for_reuse(&Vec::with_capacity(SEND_BUFFER_BYTES), 0));
        assert!(keeps_for_reuse(
            &Vec::with_capacity(SEND_BUFFER_BYTES_MIN),
            0
        ));
        assert!(
            !keeps_for_reuse(&Vec::new(), 0),
            "an in-place echo's empty buffer"
        );
        assert!(
            !keeps_for_reuse(&Vec::with_capacity(SEND_BUFFER_BYTES * 4), 0),
            "outsized"
        );
        assert!(!keeps_for_reuse(
            &Vec::with_capacity(SEND_BUFFER_BYTES),
            SEND_BUFFERS_RETAINED_MAX
        ));
    }
}
