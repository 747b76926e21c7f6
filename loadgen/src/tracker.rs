//! Per-connection delivery checking: every echo must come back exactly once, in order.
//!
//! TCP and an echo server preserve order, so anything else is a server bug: the tracker classifies each
//! received sequence number against the next expected one, remembering gaps (bounded) so a late
//! arrival can be told apart from a duplicate.

/// Gaps remembered per connection; past this a gap is final (counted lost at once).
pub const MISSING_REMEMBERED_MAX: usize = 4096;

/// How one received sequence number relates to what came before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The next expected one.
    InOrder,
    /// Ahead of the expected one: this many earlier messages are missing (for now).
    Ahead(u64),
    /// Filled an earlier gap: delivered out of order.
    Late,
    /// Already delivered.
    Duplicate,
    /// A sequence number that was never sent.
    NeverSent,
}

/// Delivery state of one connection.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SequenceTracker {
    /// The next sequence number expected in order.
    expected: u64,
    /// Sequence numbers skipped over and not yet seen (at most [`MISSING_REMEMBERED_MAX`]).
    missing: Vec<u64>,
    /// Gap members that did not fit in `missing`: lost for good.
    forgotten: u64,
}

impl SequenceTracker {
    /// Classifies `sequence`, given that `sent` messages (`0..sent`) have been sent.
    pub fn receive(&mut self, sequence: u64, sent: u64) -> Delivery {
        if sequence >= sent {
            return Delivery::NeverSent;
        }
        if sequence == self.expected {
            self.expected += 1;
            return Delivery::InOrder;
        }
        if sequence > self.expected {
            let gap = sequence - self.expected;
            for skipped in self.expected..sequence {
                if self.missing.len() < MISSING_REMEMBERED_MAX {
                    self.missing.push(skipped);
                } else {
                    self.forgotten += 1;
                }
            }
            self.expected = sequence + 1;
            return Delivery::Ahead(gap);
        }
        match self.missing.iter().position(|&m| m == sequence) {
            Some(i) => {
                self.missing.swap_remove(i);
                Delivery::Late
            }
            None => Delivery::Duplicate,
        }
    }

    /// Messages sent (`0..sent`) that never came back.
    pub fn unanswered(&self, sent: u64) -> u64 {
        sent.saturating_sub(self.expected) + self.missing.len() as u64 + self.forgotten
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_every_case() {
        let mut tracker = SequenceTracker::default();
        assert_eq!(tracker.receive(0, 10), Delivery::InOrder);
        assert_eq!(tracker.receive(3, 10), Delivery::Ahead(2));
        assert_eq!(tracker.receive(1, 10), Delivery::Late);
        assert_eq!(tracker.receive(1, 10), Delivery::Duplicate);
        assert_eq!(tracker.receive(0, 10), Delivery::Duplicate);
        assert_eq!(tracker.receive(10, 10), Delivery::NeverSent);
        assert_eq!(tracker.receive(4, 10), Delivery::InOrder);
        // 2 is missing, 5..10 not back yet.
        assert_eq!(tracker.unanswered(10), 1 + 5);
    }
}
