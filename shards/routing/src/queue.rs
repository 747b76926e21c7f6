//! A group's waiting queue: highest priority first, then longest waiting, then arrival order.
//!
//! A waiting conversation's priority can only go up ([`WaitQueue::rekey`], used by the router's escalation):
//! it keeps its arrival time and sequence number, so it moves ahead of every lower-priority conversation but
//! stays behind conversations of its new priority that arrived before it.

use std::cmp::Reverse;
use std::collections::BTreeMap;

use super::ticket::{ConversationId, Priority};

/// The ordering key of a waiting conversation. A re-queued conversation keeps its original key, so a
/// customer whose agent vanished goes back to the front rather than the back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QueueKey {
    /// Higher priority sorts first.
    pub priority: Reverse<Priority>,
    /// Earlier arrival sorts first.
    pub enqueued_at_ms: u64,
    /// Arrival sequence number, the final tie-break.
    pub seq: u64,
}

impl QueueKey {
    /// The same arrival time and sequence number with another priority.
    pub fn with_priority(self, priority: Priority) -> Self {
        QueueKey {
            priority: Reverse(priority),
            ..self
        }
    }
}

/// One group's waiting conversations in serving order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WaitQueue {
    entries: BTreeMap<QueueKey, ConversationId>,
}

impl WaitQueue {
    /// Adds a conversation; the key must be unique (it contains the router's sequence number).
    pub fn push(&mut self, key: QueueKey, conversation: ConversationId) {
        let previous = self.entries.insert(key, conversation);
        assert!(
            previous.is_none(),
            "queue keys are unique by sequence number"
        );
    }

    /// The conversation to serve next.
    pub fn head(&self) -> Option<(QueueKey, ConversationId)> {
        self.entries.first_key_value().map(|(&k, &c)| (k, c))
    }

    /// Removes the entry with `key`, returning its conversation.
    pub fn remove(&mut self, key: &QueueKey) -> Option<ConversationId> {
        self.entries.remove(key)
    }

    /// Moves the entry at `key` to `key.with_priority(priority)`, keeping its arrival time and sequence
    /// number, and returns the new key; `None` (and no change) if no entry has `key`. The caller decides
    /// whether the new priority is an escalation; the new key is unique because the sequence number is.
    pub fn rekey(&mut self, key: &QueueKey, priority: Priority) -> Option<QueueKey> {
        let conversation = self.entries.remove(key)?;
        let new_key = key.with_priority(priority);
        self.push(new_key, conversation);
        Some(new_key)
    }

    /// Number waiting.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nobody waits.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Waiting conversations in serving order.
    pub fn iter(&self) -> impl Iterator<Item = (&QueueKey, &ConversationId)> {
        self.entries.iter()
    }
}

#[cfg(test)]
mod tests {
    use std::cmp::Reverse;

    use super::{Priority, QueueKey, WaitQueue};

    fn key(priority: Priority, enqueued_at_ms: u64, seq: u64) -> QueueKey {
        QueueKey {
            priority: Reverse(priority),
            enqueued_at_ms,
            seq,
        }
    }

    fn order(queue: &WaitQueue) -> Vec<u64> {
        queue.iter().map(|(_, &c)| c).collect()
    }

    /// Urgent 1 (t=10), normal 2 (t=20), normal 3 (t=30), normal 4 (t=40), low 5 (t=50).
    fn queue() -> WaitQueue {
        let mut queue = WaitQueue::default();
        queue.push(key(Priority::Normal, 20, 1), 2);
        queue.push(key(Priority::Low, 50, 4), 5);
        queue.push(key(Priority::Urgent, 10, 0), 1);
        queue.push(key(Priority::Normal, 40, 3), 4);
        queue.push(key(Priority::Normal, 30, 2), 3);
        queue
    }

    #[test]
    fn serving_order_is_priority_then_arrival() {
        assert_eq!(order(&queue()), [1, 2, 3, 4, 5]);
    }

    #[test]
    fn rekey_moves_ahead_of_lower_priorities_but_behind_earlier_equals() {
        let mut queue = queue();
        let old = key(Priority::Normal, 40, 3);
        let new = queue.rekey(&old, Priority::Urgent).expect("entry exists");
        assert_eq!(
            new,
            key(Priority::Urgent, 40, 3),
            "arrival time and seq kept"
        );
        assert_eq!(order(&queue), [1, 4, 2, 3, 5]);
        assert_eq!(queue.len(), 5);
        assert_eq!(queue.remove(&old), None, "the old key is gone");
        assert_eq!(queue.head(), Some((key(Priority::Urgent, 10, 0), 1)));
    }

    #[test]
    fn rekey_to_a_middle_priority_keeps_arrival_order_among_equals() {
        let mut queue = queue();
        queue.rekey(&key(Priority::Low, 50, 4), Priority::Normal);
        assert_eq!(
            order(&queue),
            [1, 2, 3, 4, 5],
            "latest normal arrival, last"
        );
        queue.rekey(&key(Priority::Normal, 50, 4), Priority::High);
        assert_eq!(order(&queue), [1, 5, 2, 3, 4]);
    }

    #[test]
    fn rekey_of_a_missing_key_changes_nothing() {
        let mut queue = queue();
        let before = queue.clone();
        assert_eq!(
            queue.rekey(&key(Priority::Normal, 40, 99), Priority::Urgent),
            None
        );
        assert_eq!(queue, before);
    }
}
