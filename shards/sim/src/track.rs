//! [`Track`]: what a client holds of one conversation, kept by the rule of docs/protocol.md section 4:
//! a **position** (the highest N such that every sequence 1..=N is held, or announced as a gap) and the
//! set of sequences held above it. Never a high-water mark.

use std::collections::BTreeSet;

/// One conversation as a client holds it.
#[derive(Debug, Clone, Default)]
pub struct Track {
    position: u64,
    above: BTreeSet<u64>,
}

impl Track {
    /// The position: what goes into `resume`.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Whether `sequence` is held (a copy of it is a duplicate to drop).
    pub fn holds(&self, sequence: u64) -> bool {
        sequence <= self.position || self.above.contains(&sequence)
    }

    /// Holds `sequence`; returns `false` when it was held already (a duplicate).
    pub fn insert(&mut self, sequence: u64) -> bool {
        if self.holds(sequence) || sequence == 0 {
            return false;
        }
        self.above.insert(sequence);
        while self.above.remove(&(self.position + 1)) {
            self.position += 1;
        }
        true
    }

    /// Counts `from..=to` as held (a `gap`: the client cannot have them).
    pub fn insert_range(&mut self, from: u64, to: u64) {
        for sequence in from.max(1)..=to {
            self.insert(sequence);
        }
    }

    /// The sequences of `1..=last` not held.
    pub fn missing(&self, last: u64) -> Vec<u64> {
        (self.position + 1..=last)
            .filter(|s| !self.above.contains(s))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_position_is_contiguous_and_sequences_above_it_are_kept() {
        let mut track = Track::default();
        assert!(track.insert(2));
        assert!(track.insert(4));
        assert_eq!(
            track.position(),
            0,
            "1 is missing: a high-water mark would say 4"
        );
        assert!(track.insert(1));
        assert_eq!(track.position(), 2);
        assert!(!track.insert(2), "a copy is a duplicate");
        assert!(track.holds(4));
        assert_eq!(track.missing(5), vec![3, 5]);
        track.insert_range(3, 3);
        assert_eq!(track.position(), 4);
    }
}
