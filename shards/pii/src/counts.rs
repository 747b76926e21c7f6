//! [`PiiCounts`]: how many items of each kind were masked, dropped or kept.

use super::policy::{PiiAction, PiiKind};

/// Counters per kind and action, for one message or accumulated by a shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PiiCounts {
    /// `counts[kind.index()][action.index()]`.
    counts: [[u64; 3]; 4],
}

impl PiiCounts {
    /// Records one detected item.
    pub fn record(&mut self, kind: PiiKind, action: PiiAction) {
        self.counts[kind.index()][action.index()] += 1;
    }

    /// Items of `kind` that got `action`.
    pub fn get(&self, kind: PiiKind, action: PiiAction) -> u64 {
        self.counts[kind.index()][action.index()]
    }

    /// Items of `kind` detected, whatever the action.
    pub fn detected(&self, kind: PiiKind) -> u64 {
        self.counts[kind.index()].iter().sum()
    }

    /// Items that were masked or dropped (the text changed).
    pub fn changed(&self) -> u64 {
        PiiKind::ALL
            .iter()
            .map(|&kind| self.get(kind, PiiAction::Mask) + self.get(kind, PiiAction::Drop))
            .sum()
    }

    /// Whether nothing was detected.
    pub fn is_empty(&self) -> bool {
        self.counts.iter().flatten().all(|&count| count == 0)
    }

    /// Adds `other` into `self` (a shard accumulating per-message counts).
    pub fn add(&mut self, other: &PiiCounts) {
        for (mine, theirs) in self
            .counts
            .iter_mut()
            .flatten()
            .zip(other.counts.iter().flatten())
        {
            *mine += theirs;
        }
    }
}
