//! The log's in-memory indexes, rebuilt by recovery and kept up to date by appends and retention:
//! [`ConversationIndex`] (conversation → sequence → location, and each conversation's last sequence) and
//! [`DedupWindow`] (message id → conversation and sequence, bounded, oldest forgotten first).
//!
//! Neither allocates per record in steady state: a conversation's records are a deque in sequence
//! order (appends push at the back, retention pops at the front, so its room is reused once it reached
//! its working size), and the window is allocated whole, at its configured size, when the log opens.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};

use super::record::Lsn;

/// Where a record's frame lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// The record's LSN.
    pub lsn: Lsn,
    /// The base LSN of the segment holding it.
    pub segment: Lsn,
    /// The frame's byte offset in the segment.
    pub offset: u64,
    /// The frame's length in bytes.
    pub frame_bytes: u32,
}

/// Per conversation: the location of every retained record by sequence, and the last sequence seen.
#[derive(Debug, Default)]
pub struct ConversationIndex {
    /// Each conversation's retained records, in increasing sequence order.
    records: HashMap<u64, VecDeque<(u64, Location)>>,
    last_sequence: HashMap<u64, u64>,
}

impl ConversationIndex {
    /// Records that `conversation`'s record `sequence` is at `location` (replacing an earlier location
    /// of the same sequence).
    pub fn insert(&mut self, conversation: u64, sequence: u64, location: Location) {
        let records = self.records.entry(conversation).or_default();
        // Appends come in sequence order (the log refuses a sequence that does not increase): at the
        // back. Recovery may meet them otherwise; those go in their place.
        match records.back() {
            Some(&(last, _)) if last >= sequence => {
                let at = records.partition_point(|&(s, _)| s < sequence);
                match records.get_mut(at) {
                    Some(entry) if entry.0 == sequence => entry.1 = location,
                    _ => records.insert(at, (sequence, location)),
                }
            }
            _ => records.push_back((sequence, location)),
        }
        let last = self.last_sequence.entry(conversation).or_insert(sequence);
        *last = (*last).max(sequence);
    }

    /// The highest sequence appended to `conversation`, even when retention has since deleted it.
    pub fn last_sequence(&self, conversation: u64) -> Option<u64> {
        self.last_sequence.get(&conversation).copied()
    }

    /// Up to `limit` locations of `conversation`'s records with a sequence in `from..=to`, in order.
    pub fn range(
        &self,
        conversation: u64,
        from: u64,
        to: u64,
        limit: usize,
    ) -> Vec<(u64, Location)> {
        if from > to {
            return Vec::new();
        }
        self.records
            .get(&conversation)
            .map(|records| {
                let start = records.partition_point(|&(sequence, _)| sequence < from);
                records
                    .range(start..)
                    .take_while(|&&(sequence, _)| sequence <= to)
                    .take(limit)
                    .copied()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Forgets every record stored in a segment below `segment_base`, returning how many were forgotten.
    ///
    /// A conversation's records are appended in sequence order, so the forgotten ones are always the
    /// front of its deque.
    pub fn remove_below(&mut self, segment_base: Lsn) -> u64 {
        let mut removed = 0;
        self.records.retain(|_, records| {
            while records
                .front()
                .is_some_and(|(_, location)| location.segment < segment_base)
            {
                records.pop_front();
                removed += 1;
            }
            !records.is_empty()
        });
        removed
    }

    /// How many records are indexed.
    pub fn record_count(&self) -> usize {
        self.records.values().map(VecDeque::len).sum()
    }

    /// The conversations that have at least one indexed record.
    pub fn conversations(&self) -> impl Iterator<Item = u64> + '_ {
        self.records.keys().copied()
    }
}

/// The most ids a [`DedupWindow`] allocates room for when the log opens (the default window, 100,000,
/// is allocated whole; a larger one grows past this as it fills).
pub const DEDUP_PREALLOCATED_MAX: usize = 1 << 20;

/// The de-duplication window: the most recent `capacity` (conversation, message id) pairs and the
/// sequence each one became. Message ids are unique per conversation (docs/protocol.md §4): the same id
/// in another conversation is another message, whichever shard owns either conversation.
#[derive(Debug)]
pub struct DedupWindow {
    entries: HashMap<(u64, [u8; 16]), u64>,
    order: VecDeque<(u64, [u8; 16])>,
    capacity: usize,
}

impl DedupWindow {
    /// An empty window remembering at most `capacity` ids, allocated whole now up to
    /// [`DEDUP_PREALLOCATED_MAX`] ids (about 60 bytes an id, mostly untouched until used), so that
    /// remembering an id never allocates; a larger window grows to its size as it fills.
    pub fn new(capacity: usize) -> Self {
        assert!(capacity > 0, "validated by LogConfig");
        let preallocated = capacity.min(DEDUP_PREALLOCATED_MAX);
        Self {
            // One over: a new pair goes in before the oldest leaves (see `insert`).
            entries: HashMap::with_capacity(preallocated + 1),
            order: VecDeque::with_capacity(preallocated),
            capacity,
        }
    }

    /// Remembers that `message_id` became `conversation`'s record `sequence`, forgetting the oldest pair
    /// when full. A repeated pair keeps its first record.
    pub fn insert(&mut self, message_id: [u8; 16], conversation: u64, sequence: u64) {
        let key = (conversation, message_id);
        // One lookup finds the pair or its place (a lookup then an insert hashed the key twice).
        match self.entries.entry(key) {
            Entry::Occupied(_) => return,
            Entry::Vacant(vacant) => {
                vacant.insert(sequence);
            }
        }
        if self.order.len() == self.capacity {
            let oldest = self.order.pop_front().expect("capacity is at least one");
            self.entries.remove(&oldest);
        }
        self.order.push_back(key);
        self.invariants();
    }

    /// The sequence `message_id` became in `conversation`, if the pair is still in the window.
    pub fn get(&self, conversation: u64, message_id: &[u8; 16]) -> Option<u64> {
        self.entries.get(&(conversation, *message_id)).copied()
    }

    /// How many ids the window holds.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether the window holds no id.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    fn invariants(&self) {
        debug_assert_eq!(self.entries.len(), self.order.len());
        debug_assert!(self.order.len() <= self.capacity);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(segment: Lsn, lsn: Lsn) -> Location {
        Location {
            lsn,
            segment,
            offset: 0,
            frame_bytes: 50,
        }
    }

    fn id(n: u8) -> [u8; 16] {
        [n; 16]
    }

    #[test]
    fn dedup_window_evicts_the_oldest_id() {
        let mut window = DedupWindow::new(3);
        for n in 0..5u8 {
            window.insert(id(n), 7, u64::from(n));
        }
        assert_eq!(window.len(), 3);
        assert_eq!(window.get(7, &id(0)), None);
        assert_eq!(window.get(7, &id(1)), None);
        assert_eq!(window.get(7, &id(2)), Some(2));
        assert_eq!(window.get(7, &id(4)), Some(4));
    }

    #[test]
    fn dedup_window_scopes_ids_to_their_conversation() {
        let mut window = DedupWindow::new(3);
        window.insert(id(1), 7, 1);
        window.insert(id(1), 8, 4);
        assert_eq!(
            (window.get(7, &id(1)), window.get(8, &id(1))),
            (Some(1), Some(4))
        );
        assert_eq!(window.get(9, &id(1)), None);
    }

    #[test]
    fn dedup_window_keeps_the_first_record_of_a_repeated_id() {
        let mut window = DedupWindow::new(3);
        window.insert(id(1), 7, 1);
        window.insert(id(1), 7, 2);
        assert_eq!((window.get(7, &id(1)), window.len()), (Some(1), 1));
    }

    #[test]
    fn range_is_ordered_bounded_and_limited() {
        let mut index = ConversationIndex::default();
        for sequence in (1..=10).rev() {
            index.insert(5, sequence, at(0, sequence));
        }
        let sequences: Vec<u64> = index.range(5, 3, 8, 4).iter().map(|(s, _)| *s).collect();
        assert_eq!(sequences, [3, 4, 5, 6]);
        assert!(index.range(5, 8, 3, 4).is_empty());
        assert!(index.range(6, 0, u64::MAX, 4).is_empty());
        assert_eq!(index.last_sequence(5), Some(10));
    }

    #[test]
    fn a_record_out_of_order_goes_in_its_place_and_a_repeated_one_replaces() {
        let mut index = ConversationIndex::default();
        for sequence in [2, 5, 3, 5] {
            index.insert(5, sequence, at(0, sequence * 10 + u64::from(sequence == 5)));
        }
        index.insert(5, 5, at(1, 99));
        let found: Vec<(u64, Lsn)> = index
            .range(5, 0, u64::MAX, 10)
            .iter()
            .map(|(s, l)| (*s, l.lsn))
            .collect();
        assert_eq!(found, [(2, 20), (3, 30), (5, 99)]);
        assert_eq!(index.last_sequence(5), Some(5));
    }

    #[test]
    fn remove_below_drops_old_segments_and_keeps_last_sequence() {
        let mut index = ConversationIndex::default();
        index.insert(1, 1, at(0, 0));
        index.insert(2, 1, at(0, 1));
        index.insert(1, 2, at(2, 2));
        assert_eq!(index.remove_below(2), 2);
        assert_eq!(index.record_count(), 1);
        assert_eq!(index.conversations().collect::<Vec<_>>(), [1]);
        assert_eq!(index.last_sequence(2), Some(1));
    }
}
