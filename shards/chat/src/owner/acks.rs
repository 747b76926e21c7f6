//! [`Acks`]: the connections a message is acknowledged to once its commit covers it — the sender, and
//! the retries that arrived before the commit. The first is held inline, so the usual message (one
//! sender, no retry) allocates nothing for it.

use switchboard_protocol::app::MessageId;

use crate::messages::ConnRef;

/// Who gets the `ack` of one message, in arrival order.
#[derive(Debug, Default)]
pub(super) struct Acks {
    /// The first (the sender, unless the message came from the routing shard).
    first: Option<(ConnRef, MessageId)>,
    /// Retries after the first, in order (empty, unallocated, for almost every message).
    more: Vec<(ConnRef, MessageId)>,
}

impl Acks {
    /// The sender of a message (none for the bot's).
    pub(super) fn of(sender: Option<(ConnRef, MessageId)>) -> Self {
        Acks {
            first: sender,
            more: Vec::new(),
        }
    }

    /// Adds a retry of the message.
    pub(super) fn push(&mut self, to: (ConnRef, MessageId)) {
        if self.first.is_none() {
            self.first = Some(to);
        } else {
            self.more.push(to);
        }
    }
}

impl IntoIterator for Acks {
    type Item = (ConnRef, MessageId);
    type IntoIter =
        std::iter::Chain<std::option::IntoIter<Self::Item>, std::vec::IntoIter<Self::Item>>;

    fn into_iter(self) -> Self::IntoIter {
        self.first.into_iter().chain(self.more)
    }
}
