//! The shard's TLS paths: received ciphertext is decrypted and fed to the connection; the connection's
//! plaintext is encrypted into its session at once and the session's ciphertext goes to the engine one
//! send at a time.

use switchboard_core::engine::ConnId;
use tracing::debug;

use super::{Shard, SEND_BUFFER_BYTES, SEND_BUFFER_BYTES_MIN};
use crate::server::table::Entry;

/// Bytes of decrypted TLS plaintext handed to a connection at once.
const TLS_PLAINTEXT_CHUNK_BYTES: usize = 16 * 1024;

/// Feeds received ciphertext `bytes` to `entry`'s TLS session and the plaintext to its connection; a
/// peer that breaks TLS gets the alert rustls queued, then the transport is dropped (see the send path).
pub(super) fn receive(entry: &mut Entry, bytes: &[u8], scratch: &mut Vec<u8>, now: u64) {
    let Some(tls) = entry.tls.as_mut() else {
        return;
    };
    scratch.resize(TLS_PLAINTEXT_CHUNK_BYTES, 0);
    let connection = &mut entry.conn;
    let read = tls.read(bytes, scratch, |plain| connection.handle_bytes(plain, now));
    if let crate::tls::TlsRead::Fatal(why) = read {
        debug!(conn = ?entry.id, %why, "TLS ended");
        tls.close();
        tls.failed = true;
    }
}

impl Shard {
    /// [`Shard::flush`] for a TLS connection: the connection's next plaintext is encrypted into the
    /// session at once (the connection counts it as sent), and the session's ciphertext goes to the
    /// engine, one send at a time. The transport is dropped once the connection is closed and the
    /// session has flushed its `close_notify` (or alert).
    pub(super) fn flush_tls(&mut self, conn: ConnId) {
        let Some(entry) = self.table.get_mut(conn) else {
            return;
        };
        // Taken out for the duration (the entry's statistics need the entry itself).
        let Some(mut tls) = entry.tls.take() else {
            return;
        };
        if !tls.sending && !entry.closing {
            if !tls.failed {
                let max = SEND_BUFFER_BYTES.max(entry.conn.transmit_bytes_min());
                self.tls_scratch.clear();
                let sent_before = entry.conn.send_counters();
                let written = entry.conn.poll_transmit(&mut self.tls_scratch, max);
                self.stats
                    .after_transmit(entry, sent_before, self.flushed_us);
                if written > 0 {
                    tls.write(&self.tls_scratch[..written]);
                    entry.conn.handle_send_complete(written);
                }
            }
            if entry.conn.is_closed() || tls.failed {
                tls.close();
            }
            if tls.wants_write() {
                let mut buf = self
                    .free_buffers
                    .pop()
                    .unwrap_or_else(|| Vec::with_capacity(SEND_BUFFER_BYTES_MIN));
                tls.take_ciphertext(&mut buf);
                tls.sending = true;
                self.sends_this_tick += 1;
                self.engine.send(conn, buf);
                // More plaintext may wait; the send's completion marks the connection dirty again.
            }
        }
        let finished = (entry.conn.is_closed() || tls.failed) && !tls.sending && !tls.wants_write();
        entry.tls = Some(tls);
        if finished {
            self.close_transport(conn);
            return;
        }
        self.rearm_timer(conn);
    }
}
