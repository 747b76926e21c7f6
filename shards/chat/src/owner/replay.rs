//! Reading back: `resume` (replay of what a client missed, with gaps) and `history_query` pages.

use switchboard_protocol::app::{GapReason, HistoryResult, Lane, Message, OwnedFrame, Replay};
use tracing::error;

use super::Owner;
use crate::frames::{deliver_frame, gap_frame};
use crate::messages::{Audience, ConnRef, Reply, REPLAY_QUEUE_LANE};
use crate::owner::Outbound;
use crate::reads::READ_MESSAGE_OVERHEAD_BYTES;
use crate::stored::StoredMessage;
use switchboard_log::LogStorage;

impl<S: LogStorage> Owner<S> {
    pub(super) fn resume(&mut self, from: ConnRef, conversation_id: u64, last_sequence: u64) {
        let current = self.conversations[&conversation_id].released_seq;
        self.counters.resumes += 1;
        let mut frames = Vec::new();
        if last_sequence < current {
            let mut from_seq = last_sequence + 1;
            let replay_max = self.config.replay_messages_max;
            if current - last_sequence > replay_max {
                // Too much to replay: the oldest part is a gap the client pages in with `history_query`.
                let to = current - replay_max;
                frames.push(gap_frame(
                    conversation_id,
                    from_seq,
                    to,
                    GapReason::UNAVAILABLE,
                ));
                from_seq = to + 1;
            }
            match self
                .log
                .read(conversation_id, from_seq, current, usize::MAX)
            {
                Ok(mut records) => {
                    // Too many bytes to replay: the oldest records are a gap paged in with
                    // `history_query`, so one resume position never queues more than replay_bytes_max.
                    let keep = newest_within(&records, self.config.replay_bytes_max);
                    if keep < records.len() {
                        let first_kept = records[records.len() - keep].header.sequence;
                        records.drain(..records.len() - keep);
                        frames.push(gap_frame(
                            conversation_id,
                            from_seq,
                            first_kept - 1,
                            GapReason::UNAVAILABLE,
                        ));
                        from_seq = first_kept;
                    }
                    self.replay_frames(conversation_id, from_seq, current, &records, &mut frames)
                }
                Err(error) => {
                    error!(shard = self.shard, conversation_id, %error, "replay read failed");
                    self.counters.log_errors += 1;
                    frames.push(gap_frame(
                        conversation_id,
                        from_seq,
                        current,
                        GapReason::UNAVAILABLE,
                    ));
                }
            }
        }
        self.counters.gaps += frames
            .iter()
            .filter(|frame| matches!(frame.message, Message::Gap(_)))
            .count() as u64;
        self.out.push_back(Outbound::Reply(Reply {
            to: from,
            frames,
            resumed: Some(conversation_id),
            refused: None,
            completes_read: false,
        }));
    }

    /// The messages in sequence order with a `gap` in place for every missing range (expired, or
    /// damaged), and the `replay` announcement right before the first message. The connection queues a resume's frames on one lane
    /// ([`crate::messages::Reply::resumed`]), so they arrive in this order.
    fn replay_frames(
        &mut self,
        conversation_id: u64,
        from_seq: u64,
        to_seq: u64,
        records: &[switchboard_log::Record],
        frames: &mut Vec<OwnedFrame>,
    ) {
        let mut expected = from_seq;
        let mut previous_lsn = None;
        let mut replayed = Vec::with_capacity(records.len() + 1);
        let mut delivered = None;
        for record in records {
            let header = &record.header;
            if header.sequence > expected {
                let reason = self.hole_reason(previous_lsn, Some(record.lsn));
                replayed.push(gap_frame(
                    conversation_id,
                    expected,
                    header.sequence - 1,
                    reason,
                ));
            }
            previous_lsn = Some(record.lsn);
            expected = header.sequence + 1;
            match StoredMessage::decode(&record.payload) {
                Ok(stored) => {
                    let (first, _) = delivered.unwrap_or((header.sequence, 0));
                    delivered = Some((first, header.sequence));
                    self.counters.replayed += 1;
                    replayed.push(deliver_frame(header, &stored));
                }
                Err(error) => {
                    error!(shard = self.shard, conversation_id, sequence = header.sequence, %error, "unreadable record");
                    replayed.push(gap_frame(
                        conversation_id,
                        header.sequence,
                        header.sequence,
                        GapReason::UNAVAILABLE,
                    ));
                }
            }
        }
        if expected <= to_seq {
            let reason = self.hole_reason(previous_lsn, None);
            replayed.push(gap_frame(conversation_id, expected, to_seq, reason));
        }
        if let Some((from_sequence, to_sequence)) = delivered {
            // Right before the first replayed message (after a gap below it, if any).
            let first = replayed
                .iter()
                .position(|frame| matches!(frame.message, Message::Deliver(_)))
                .expect("a message was replayed");
            let announce = OwnedFrame {
                lane: Lane::Urgent,
                message: Message::Replay(Replay {
                    conversation_id,
                    from_sequence,
                    to_sequence,
                }),
            };
            replayed.insert(first, announce);
        }
        frames.extend(replayed);
    }

    /// With an assignment, the agents get the conversation's newest messages (at most
    /// [`HANDOFF_RECENT_MESSAGES`], within `history_page_bytes_max`), announced by a `replay`, so the
    /// console shows what the customer said without asking (docs/protocol.md, `handoff`).
    pub(super) fn send_recent_to_staff(&mut self, conversation_id: u64) {
        let Some(released) = self
            .conversations
            .get(&conversation_id)
            .map(|c| c.released_seq)
        else {
            return;
        };
        if released == 0 {
            return;
        }
        let from = released.saturating_sub(HANDOFF_RECENT_MESSAGES - 1).max(1);
        let Ok(mut records) = self.log.read(conversation_id, from, released, usize::MAX) else {
            return;
        };
        let keep = newest_within(&records, self.config.history_page_bytes_max);
        records.drain(..records.len() - keep);
        let frames: Vec<OwnedFrame> = records
            .iter()
            .filter_map(|record| {
                let stored = StoredMessage::decode(&record.payload).ok()?;
                Some(deliver_frame(&record.header, &stored))
            })
            .collect();
        let sequences = |frame: &OwnedFrame| match &frame.message {
            Message::Deliver(deliver) => deliver.sequence,
            _ => 0,
        };
        let (Some(first), Some(last)) = (frames.first(), frames.last()) else {
            return;
        };
        let announce = OwnedFrame {
            lane: Lane::Urgent,
            message: Message::Replay(Replay {
                conversation_id,
                from_sequence: sequences(first),
                to_sequence: sequences(last),
            }),
        };
        // One queue lane for the announcement and its frames, so they arrive in sequence order.
        let queue = Some(REPLAY_QUEUE_LANE);
        self.fan_out_queued(conversation_id, announce, (None, Audience::Staff), queue);
        for frame in frames {
            self.fan_out_queued(conversation_id, frame, (None, Audience::Staff), queue);
        }
    }

    /// Why the records of a conversation between the one at LSN `after` and the one at `before` (`None`:
    /// the start, or the end, of the log) are missing: `damaged` when the log's recovery found a damaged
    /// range between them, otherwise `expired` (retention deletes whole segments, oldest first).
    fn hole_reason(
        &self,
        after: Option<switchboard_log::Lsn>,
        before: Option<switchboard_log::Lsn>,
    ) -> GapReason {
        if self.log.damaged_between(after, before) {
            GapReason::DAMAGED
        } else {
            GapReason::EXPIRED
        }
    }

    pub(super) fn history(
        &mut self,
        from: ConnRef,
        conversation_id: u64,
        query_id: u32,
        before_sequence: u64,
        limit: u16,
    ) {
        self.counters.history_queries += 1;
        let released = self.conversations[&conversation_id].released_seq;
        let below = if before_sequence == 0 {
            released + 1
        } else {
            before_sequence.min(released + 1)
        };
        let limit = u64::from(limit.clamp(1, crate::config::HISTORY_PAGE_MAX));
        let first = below.saturating_sub(limit).max(1);
        let mut messages = Vec::new();
        let mut has_more = first > 1;
        if below > 1 {
            match self
                .log
                .read(conversation_id, first, below - 1, limit as usize)
            {
                Ok(records) => {
                    // The newest messages that fit history_page_bytes_max; the rest is the next page.
                    let keep = newest_within(&records, self.config.history_page_bytes_max);
                    has_more |= keep < records.len();
                    for record in &records[records.len() - keep..] {
                        if let Ok(stored) = StoredMessage::decode(&record.payload) {
                            if let Message::Deliver(deliver) =
                                deliver_frame(&record.header, &stored).message
                            {
                                messages.push(deliver);
                            }
                        }
                    }
                }
                Err(error) => return self.log_failed(from, conversation_id, &error),
            }
        }
        let result = HistoryResult {
            query_id,
            conversation_id,
            messages,
            has_more,
        };
        self.reply(from, vec![OwnedFrame::new(Message::HistoryResult(result))]);
    }
}

/// The newest messages an agent gets with an assignment.
pub const HANDOFF_RECENT_MESSAGES: u64 = 20;

/// How many of the newest `records` fit in `bytes_max` (payload plus [`READ_MESSAGE_OVERHEAD_BYTES`]
/// each); at least one, so a page or replay always makes progress.
fn newest_within(records: &[switchboard_log::Record], bytes_max: u64) -> usize {
    let mut bytes = 0u64;
    let mut keep = 0;
    for record in records.iter().rev() {
        bytes += record.payload.len() as u64 + READ_MESSAGE_OVERHEAD_BYTES;
        if bytes > bytes_max && keep > 0 {
            break;
        }
        keep += 1;
    }
    keep
}
