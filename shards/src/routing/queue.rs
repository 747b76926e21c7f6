//! A group's waiting queue: highest priority first, then longest waiting, then arrival order.

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
