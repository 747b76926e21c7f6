//! What the log knows about the damage recovery found: where each damaged range sits in log order and how
//! many records it may have held, so that the conversation layer never reuses a sequence number that a
//! lost record may have had, and reports holes next to damage as damaged rather than expired.

use super::ShardLog;
use crate::file::LogStorage;
use crate::record::Lsn;
use crate::recovery::DamagedRange;

impl<S: LogStorage> ShardLog<S> {
    /// The damaged ranges recovery found, in log order (empty for a healthy log).
    pub fn damaged_ranges(&self) -> &[DamagedRange] {
        &self.damage
    }

    /// The highest sequence `conversation_id` may have been given: its last recovered or appended
    /// sequence, plus the most records every damaged range after its last record may have held (one of
    /// them may have been this conversation's newest). The conversation layer continues numbering above
    /// it so that no sequence is ever given twice. `None` when the log holds no record of it.
    pub fn sequence_high_water(&self, conversation_id: u64) -> Option<u64> {
        let last = self.conversations.last_sequence(conversation_id)?;
        let Some((_, location)) = self
            .conversations
            .range(conversation_id, last, last, 1)
            .into_iter()
            .next()
        else {
            // Deleted by retention: older than anything recovery looked at in this run.
            return Some(last);
        };
        let lost: u64 = self
            .damage
            .iter()
            .filter(|range| range.lsn > location.lsn)
            .map(|range| range.records_max)
            .sum();
        Some(last.saturating_add(lost))
    }

    /// Whether a damaged range lies between the record at LSN `after` and the one at `before` in log
    /// order (`None`: the start, or the end, of the log), i.e. whether records missing between them may
    /// have been lost to damage rather than deleted by retention.
    pub fn damaged_between(&self, after: Option<Lsn>, before: Option<Lsn>) -> bool {
        self.damage.iter().any(|range| {
            after.is_none_or(|after| range.lsn > after)
                && before.is_none_or(|before| range.lsn <= before)
        })
    }
}
