//! The shard's connection table: one entry per engine connection, indexed by the engine's dense connection
//! index and checked by generation, so a stale id from an old connection never reaches a new one.

use switchboard_core::engine::ConnId;
use switchboard_core::timer::TimerHandle;

use crate::conn::Connection;

/// One connection as the shard sees it: the protocol state machine plus the I/O bookkeeping around it.
#[derive(Debug)]
pub(crate) struct Entry {
    /// The engine's id (index and generation).
    pub(crate) id: ConnId,
    /// The sans-IO protocol state machine.
    pub(crate) conn: Connection,
    /// The armed timer, if any (its deadline is kept by the wheel; it may be earlier than the connection's next
    /// deadline, see `Shard::rearm_timer`).
    pub(crate) timer: Option<TimerHandle>,
    /// Bytes handed to the engine and not yet completed, over all of `sends_in_flight` (a flush's worth,
    /// far below 4 GiB).
    pub(crate) bytes_in_flight: u32,
    /// Sends handed to the engine and not yet completed (a flush may hand it several, at most
    /// `SENDS_PER_FLUSH_MAX`: see `shard/transmit.rs`); the next flush waits until they are all back.
    pub(crate) sends_in_flight: u8,
    /// `Engine::close` was called; waiting for `Event::Closed`.
    pub(crate) closing: bool,
    /// Already queued for a flush in this tick.
    pub(crate) dirty: bool,
    /// Metrics: when (µs on the shard's clock, at least 1) the oldest message not yet echoed was read; 0 when
    /// none is waiting.
    pub(crate) received_at_us: u64,
    /// Metrics: data messages are queued and not yet handed to the engine (counted in the queue depth).
    pub(crate) output_queued: bool,
    /// Chat mode: the switchboard.v1 session, once the WebSocket opened.
    pub(crate) session: Option<Box<crate::chat::Session>>,
    /// Bytes of its unfinished WebSocket message counted in the shard's total (see `Shard::admit_partial`;
    /// at most `limits.message_bytes_max`, which is below 4 GiB).
    pub(crate) partial_bytes: u32,
    /// TLS, when the port terminates it: the bytes on the wire are its ciphertext.
    pub(crate) tls: Option<Box<crate::tls::TlsSession>>,
}

/// Entries indexed by `ConnId::index()`; grows to the highest index the engine hands out, never shrinks.
#[derive(Debug, Default)]
pub(crate) struct Table {
    entries: Vec<Option<Entry>>,
    len: usize,
}

impl Table {
    /// A table with room for `capacity` connections before it reallocates. Only the address space is
    /// reserved: slots are written (and so become resident memory) as the engine hands out higher indexes, so
    /// a shard configured for many connections but holding few stays small.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Table {
            entries: Vec::with_capacity(capacity),
            len: 0,
        }
    }

    /// Connections in the table.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Adds a new connection; an index still occupied is an engine bug (it reuses an index only after
    /// reporting `Closed`, which removes the entry).
    pub(crate) fn insert(&mut self, id: ConnId, conn: Connection) {
        let index = id.index();
        if index >= self.entries.len() {
            self.entries.resize_with(index + 1, || None);
        }
        let slot = &mut self.entries[index];
        assert!(
            slot.is_none(),
            "engine reused {id:?} before reporting it closed"
        );
        *slot = Some(Entry {
            id,
            conn,
            timer: None,
            bytes_in_flight: 0,
            sends_in_flight: 0,
            closing: false,
            dirty: false,
            received_at_us: 0,
            output_queued: false,
            session: None,
            partial_bytes: 0,
            tls: None,
        });
        self.len += 1;
    }

    /// The entry for `id`, if it is still that connection.
    pub(crate) fn get(&self, id: ConnId) -> Option<&Entry> {
        self.entries
            .get(id.index())?
            .as_ref()
            .filter(|entry| entry.id == id)
    }

    /// The entry for `id`, if it is still that connection.
    pub(crate) fn get_mut(&mut self, id: ConnId) -> Option<&mut Entry> {
        self.entries
            .get_mut(id.index())?
            .as_mut()
            .filter(|entry| entry.id == id)
    }

    /// Removes and returns the entry for `id`.
    pub(crate) fn remove(&mut self, id: ConnId) -> Option<Entry> {
        let slot = self.entries.get_mut(id.index())?;
        if slot.as_ref().is_some_and(|entry| entry.id == id) {
            self.len -= 1;
            return slot.take();
        }
        None
    }

    /// Every connection.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Entry> + '_ {
        self.entries.iter().flatten()
    }

    /// Every connection id, for a drain that must touch them all.
    pub(crate) fn ids(&self) -> impl Iterator<Item = ConnId> + '_ {
        self.entries.iter().flatten().map(|entry| entry.id)
    }
}

/// Budget of one table slot (`Option<Entry>`, the connection state machine inline). With the heap an idle
/// connection holds (none, see `Connection::buffer_bytes`), the engine's per-connection state (24 bytes
/// plus 9 in its slot allocator) and the timer wheel's entry (40 bytes), an idle connection must stay under
/// 300 bytes of process RSS at a million connections (issue 19's C1M; `bench/scripts/c1m.sh` measured 281).
pub(crate) const ENTRY_BYTES_MAX: usize = 200;
/// Budget of the connection state machine inside the entry.
pub(crate) const CONNECTION_BYTES_MAX: usize = 144;

// The slot is written (and so made resident) for every connection index the engine hands out.
const _: () = assert!(std::mem::size_of::<Option<Entry>>() <= ENTRY_BYTES_MAX);
const _: () = assert!(std::mem::size_of::<Connection>() <= CONNECTION_BYTES_MAX);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_and_connection_stay_within_their_budgets() {
        let entry = std::mem::size_of::<Option<Entry>>();
        let connection = std::mem::size_of::<Connection>();
        assert!(
            entry <= ENTRY_BYTES_MAX,
            "table entry grew to {entry} bytes"
        );
        assert!(
            connection <= CONNECTION_BYTES_MAX,
            "Connection grew to {connection} bytes"
        );
        // The chat session is boxed, so echo-mode and idle connections pay one pointer for it.
        assert_eq!(std::mem::size_of::<Option<Box<crate::chat::Session>>>(), 8);
    }
}
