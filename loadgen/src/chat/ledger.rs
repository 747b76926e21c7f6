//! [`FollowerTrack`]: what one connection has seen of one conversation, and the verdict on each delivery.
//!
//! A follower must see every sequence of the conversation exactly once and in increasing order, except
//! its own messages, which it learns from its `ack`s instead. It tracks a contiguous prefix (`1..=prefix`
//! seen) plus the sequences seen above it. After a reconnect it resumes from `prefix`; the server then
//! replays `prefix + 1..`, and a replayed sequence already seen live before the resume is a legitimate
//! re-delivery (the client asked for it), not a duplicate.
//!
//! Order is checked per priority lane: the protocol keeps order within a lane only (an AI answer on the
//! `ai_answer` lane may overtake an earlier chat message; docs/protocol.md, "Lanes"), so a delivery is out
//! of order when a higher sequence came before it *on the same lane*.

use std::collections::BTreeSet;

use switchboard_protocol::app::Lane;

/// Sequences remembered above the contiguous prefix; more means the follower is hopelessly behind and
/// the excess counts as lost at once.
pub const SEEN_ABOVE_PREFIX_MAX: usize = 65_536;

/// The verdict on one `deliver`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// First delivery, after every earlier delivery on this connection.
    InOrder,
    /// First delivery, but after a delivery of a later sequence on the same lane.
    OutOfOrder,
    /// Already seen (delivered or acked to this connection) and not asked for again.
    Duplicate,
    /// Part of a replay the follower asked for, already seen live before: expected, not an error.
    Redelivered,
}

/// One follower of one conversation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FollowerTrack {
    /// Every sequence in `1..=prefix` has been seen.
    prefix: u64,
    /// Sequences above `prefix` seen so far.
    seen: BTreeSet<u64>,
    /// Highest sequence delivered per lane since the last (re)connect: deliveries must climb per lane.
    last_delivered: [u64; Lane::ALL.len()],
    /// A replay the follower asked for is running up to this sequence...
    replay_to: Option<u64>,
    /// ...and this many of its deliveries have not arrived yet.
    replay_left: u64,
    /// Sequences forgotten because `seen` was full: counted lost.
    overflow: u64,
    /// An `unavailable` gap is being paged in with `history_query`, down to this sequence.
    page_floor: Option<u64>,
}

impl FollowerTrack {
    /// The contiguous prefix: what a `resume` asks to continue from.
    pub fn prefix(&self) -> u64 {
        self.prefix
    }

    fn mark(&mut self, sequence: u64) -> bool {
        if sequence <= self.prefix || self.seen.contains(&sequence) {
            return false;
        }
        if self.seen.len() >= SEEN_ABOVE_PREFIX_MAX {
            self.overflow += 1;
            return true;
        }
        self.seen.insert(sequence);
        while self.seen.first() == Some(&(self.prefix + 1)) {
            self.seen.pop_first();
            self.prefix += 1;
        }
        true
    }

    /// Whether a delivery of `sequence` belongs to a running replay.
    pub fn replaying(&self, sequence: u64) -> bool {
        self.replay_to.is_some_and(|to| sequence <= to)
    }

    /// The follower's own message was acked under `sequence`: it will not be delivered to it.
    pub fn own(&mut self, sequence: u64) {
        self.mark(sequence);
    }

    /// A `replay` of `from..=to` was announced.
    pub fn begin_replay(&mut self, from: u64, to: u64) {
        self.replay_to = Some(to);
        self.replay_left = (to + 1).saturating_sub(from);
        self.last_delivered = [from.saturating_sub(1); Lane::ALL.len()];
    }

    /// Classifies a `deliver` of `sequence` that arrived on `lane`.
    pub fn deliver(&mut self, sequence: u64, lane: Lane) -> Verdict {
        let replaying = self.replay_to.is_some_and(|to| sequence <= to);
        let last = &mut self.last_delivered[lane as usize];
        let ordered = sequence > *last;
        *last = (*last).max(sequence);
        let first = self.mark(sequence);
        // The replay is over once all its deliveries arrived (its lanes may interleave).
        if replaying {
            self.replay_left = self.replay_left.saturating_sub(1);
            if self.replay_left == 0 {
                self.replay_to = None;
            }
        }
        match (first, ordered) {
            (true, true) => Verdict::InOrder,
            (true, false) => Verdict::OutOfOrder,
            (false, _) if replaying => Verdict::Redelivered,
            (false, _) => Verdict::Duplicate,
        }
    }

    /// An `unavailable` gap of `from..=to` was announced: it is paged in with `history_query`. Returns
    /// the `before_sequence` of the first page to ask for, or `None` when a paging of this conversation
    /// is already running (it now goes down to `from` as well).
    pub fn begin_paging(&mut self, from: u64, to: u64) -> Option<u64> {
        let running = self.page_floor.is_some();
        self.page_floor = Some(self.page_floor.map_or(from, |floor| floor.min(from)));
        (!running).then_some(to + 1)
    }

    /// A `history_result` page whose sequences are `sequences` (ascending) arrived, `has_more` as the
    /// server said. Returns how many of them were new to this follower, and the `before_sequence` of the
    /// next page to ask for (`None`: the paging is over, or none is running).
    pub fn page(&mut self, sequences: &[u64], has_more: bool) -> (u64, Option<u64>) {
        let new = sequences.iter().filter(|&&s| self.mark(s)).count() as u64;
        let Some(floor) = self.page_floor else {
            return (new, None);
        };
        match sequences.first() {
            Some(&lowest) if has_more && lowest > floor => (new, Some(lowest)),
            _ => {
                self.page_floor = None;
                (new, None)
            }
        }
    }

    /// The connection is gone: the next one resumes from [`FollowerTrack::prefix`], so what was seen above
    /// it will be replayed and must not count as duplicates.
    pub fn reconnecting(&mut self) {
        self.seen.clear();
        self.last_delivered = [self.prefix; Lane::ALL.len()];
        self.replay_to = None;
        // Its answer is lost with the connection; the resume's gap starts a new paging.
        self.page_floor = None;
    }

    /// Sequences in `1..=head` never seen: lost, if the follower was following until the end.
    pub fn missing(&self, head: u64) -> u64 {
        let above = self.seen.range(..=head).count() as u64;
        head.saturating_sub(self.prefix).saturating_sub(above) + self.overflow
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_own_and_missing() {
        let mut track = FollowerTrack::default();
        assert_eq!(track.deliver(1, Lane::Chat), Verdict::InOrder);
        track.own(2);
        assert_eq!(track.deliver(4, Lane::Chat), Verdict::InOrder);
        assert_eq!(track.prefix(), 2);
        assert_eq!(track.missing(5), 2); // 3 and 5
        assert_eq!(track.deliver(3, Lane::Chat), Verdict::OutOfOrder);
        assert_eq!(track.deliver(3, Lane::Chat), Verdict::Duplicate);
        assert_eq!(track.prefix(), 4);
        assert_eq!(track.missing(4), 0);
    }

    #[test]
    fn order_is_per_lane() {
        let mut track = FollowerTrack::default();
        assert_eq!(track.deliver(2, Lane::AiAnswer), Verdict::InOrder);
        assert_eq!(track.deliver(1, Lane::Chat), Verdict::InOrder);
        assert_eq!(track.deliver(4, Lane::Chat), Verdict::InOrder);
        assert_eq!(track.deliver(3, Lane::Chat), Verdict::OutOfOrder);
    }

    #[test]
    fn replay_after_reconnect_is_not_duplicate() {
        let mut track = FollowerTrack::default();
        for s in 1..=3 {
            assert_eq!(track.deliver(s, Lane::Chat), Verdict::InOrder);
        }
        track.reconnecting();
        // Live 5 sneaks in before the replay of 4..=5 that the resume asked for.
        assert_eq!(track.deliver(5, Lane::Chat), Verdict::InOrder);
        track.begin_replay(4, 5);
        assert_eq!(track.deliver(4, Lane::Chat), Verdict::InOrder);
        assert_eq!(track.deliver(5, Lane::Chat), Verdict::Redelivered);
        assert_eq!(track.deliver(5, Lane::Chat), Verdict::Duplicate);
        assert_eq!(track.missing(5), 0);
    }

    #[test]
    fn an_unavailable_gap_is_paged_down_to_its_start() {
        let mut track = FollowerTrack::default();
        // Resume from 0: 1..=250 is a gap, 251..=252 the replay.
        assert_eq!(track.begin_paging(1, 250), Some(251));
        assert_eq!(track.begin_paging(1, 250), None, "one paging at a time");
        track.begin_replay(251, 252);
        assert_eq!(track.deliver(251, Lane::Chat), Verdict::InOrder);
        assert_eq!(track.deliver(252, Lane::Chat), Verdict::InOrder);
        assert_eq!(track.missing(252), 250);
        let page = |from: u64, to: u64| (from..=to).collect::<Vec<u64>>();
        assert_eq!(track.page(&page(151, 250), true), (100, Some(151)));
        assert_eq!(track.page(&page(51, 150), true), (100, Some(51)));
        // The last page: has_more is false (nothing before 1), the paging ends.
        assert_eq!(track.page(&page(1, 50), false), (50, None));
        assert_eq!(track.missing(252), 0);
        assert_eq!(track.prefix(), 252);
        // A page that repeats what was seen counts nothing new, and a stray page ends nothing.
        assert_eq!(track.page(&page(1, 10), true), (0, None));
    }

    #[test]
    fn paging_stops_when_a_page_reaches_the_gap_start_and_what_never_came_stays_missing() {
        let mut track = FollowerTrack::default();
        assert_eq!(track.begin_paging(101, 300), Some(301));
        // The server says more exist (1..=100, before the gap), but the gap starts at 101: done.
        assert_eq!(track.page(&[101, 150, 300], true), (3, None));
        assert_eq!(track.missing(300), 100 + 197);
        // A reconnect drops a running paging: the new resume's gap starts it again.
        assert_eq!(track.begin_paging(1, 10), Some(11));
        track.reconnecting();
        assert_eq!(track.begin_paging(1, 10), Some(11));
    }
}
