//! The shard's share of the node's budget for bytes held for clients (`limits.buffered_bytes_max`):
//! what is queued to send plus the unfinished messages being reassembled (WebSocket continuation frames
//! and switchboard.v1 fragments).
//!
//! Each connection is bounded on its own (`send_queue_bytes_max`, `message_bytes_max`,
//! `partial_messages_max`, `partial_message_timeout_ms`), but many connections each parking an unfinished
//! megabyte added up unseen: 100 connections held 542 MB until their idle timeout. The periodic scan sums
//! every connection's bytes (the overload detector's queued-bytes signal, so brownout and survival see
//! them too), and a shard over its share closes the connections holding the largest unfinished messages
//! with 1013 until it is back under. Send queues are not cut here: their own bound closes a client that
//! does not read.

use switchboard_core::engine::ConnId;
use tracing::warn;

use super::{mark, ChatShard};
use crate::server::table::Table;

impl ChatShard {
    /// Sums the bytes held for this shard's clients and enforces the shard's share of the budget.
    /// Returns the sum (after any closes).
    pub(super) fn scan_buffers(
        &mut self,
        table: &mut Table,
        dirty: &mut Vec<ConnId>,
        now: u64,
    ) -> u64 {
        let mut holders = std::mem::take(&mut self.budget_holders);
        holders.clear();
        let mut total = 0u64;
        for entry in table.iter() {
            let partial = entry.conn.partial_message_bytes()
                + entry
                    .session
                    .as_ref()
                    .map_or(0, |session| session.reassembly_bytes());
            total += (entry.conn.queued_bytes() + partial) as u64;
            if partial > 0 {
                holders.push((partial as u64, entry.id));
            }
        }
        if total > self.buffered_bytes_share {
            let before = total;
            let mut closed = 0u64;
            holders.sort_unstable_by_key(|&(bytes, _)| std::cmp::Reverse(bytes));
            for &(bytes, conn) in &holders {
                if total <= self.buffered_bytes_share {
                    break;
                }
                if let Some(entry) = table.get_mut(conn) {
                    entry.conn.close_for_budget(now);
                    mark(entry, dirty);
                    total = total.saturating_sub(bytes);
                    closed += 1;
                }
            }
            self.core.counters.budget_closes += closed;
            warn!(
                shard = self.id,
                held_bytes = before,
                share_bytes = self.buffered_bytes_share,
                closed,
                "bytes held for clients over this shard's share of limits.buffered_bytes_max; closed the \
                 connections with the largest unfinished messages (1013)"
            );
        }
        self.budget_holders = holders;
        total
    }
}
