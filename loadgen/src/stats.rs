//! What one client thread measured; merged over threads at the end.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

/// Largest value a latency histogram records: 10 minutes in nanoseconds (larger values saturate).
pub const LATENCY_NS_MAX: u64 = 600_000_000_000;
/// Significant decimal digits kept by every histogram.
pub const HISTOGRAM_DIGITS: u8 = 3;

/// A nanosecond histogram with the run's bounds.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_NS_MAX, HISTOGRAM_DIGITS)
        .expect("constant bounds are valid")
}

/// Records `ns`, clamped into the histogram's range.
pub fn record(histogram: &mut Histogram<u64>, ns: u64) {
    histogram.saturating_record(ns.clamp(1, LATENCY_NS_MAX));
}

/// Counters and histograms of one thread (or, after [`Stats::merge`], of the run).
#[derive(Debug, Clone)]
pub struct Stats {
    /// Echo round trip from the intended send time (open loop) or actual send time (closed loop).
    pub latency: Histogram<u64>,
    /// How late the client itself sent each message after its intended time (open loop): shows
    /// whether the load generator kept its schedule.
    pub send_lag: Histogram<u64>,
    /// switchboard.v1: `send` to its `ack`, from the intended send time.
    pub ack_latency: Histogram<u64>,
    /// switchboard.v1: `send` to each follower's live `deliver`, from the intended send time.
    pub deliver_latency: Histogram<u64>,
    /// Routed chat: a customer question's intended send time to the bot's message (AI lane) answering it.
    pub bot_answer_latency: Histogram<u64>,
    /// Routed chat: an out-of-scope or angry customer's first message (intended time) to the `handoff`
    /// assigning it at the agent.
    pub handoff_latency: Histogram<u64>,
    /// Routed chat: an agent reply's intended send time to its live `deliver` at the customer.
    pub agent_reply_latency: Histogram<u64>,
    /// From `connect` to the TCP connection being established.
    pub connect: Histogram<u64>,
    /// From `connect` to the 101 response being validated.
    pub upgrade: Histogram<u64>,
    /// Connections started.
    pub connects_started: u64,
    /// TCP connections established.
    pub connected: u64,
    /// WebSocket upgrades completed.
    pub upgraded: u64,
    /// Connections open (upgraded, not closed) now.
    pub open: u64,
    /// Connections open when the load phase ended (before the closing handshake).
    pub open_at_end: u64,
    /// Echo messages sent.
    pub sent: u64,
    /// Echo messages received back (first delivery of each).
    pub received: u64,
    /// Payload bytes sent.
    pub bytes_sent: u64,
    /// Payload bytes received.
    pub bytes_received: u64,
    /// Messages that came back after a later one.
    pub out_of_order: u64,
    /// Messages that came back more than once.
    pub duplicated: u64,
    /// Messages sent that never came back (counted at the end of the drain).
    pub lost: u64,
    /// Scheduled messages not sent because the connection had `in_flight_max` unanswered ones.
    pub skipped_backlog: u64,
    /// Server pings answered with a pong.
    pub pings_answered: u64,
    /// `--raw-relay`: other connections' frames received (forwarded by the relay).
    pub relayed: u64,
    /// switchboard.v1: sends acked.
    pub acked: u64,
    /// switchboard.v1: sends never acked by the end of the drain.
    pub unacked: u64,
    /// switchboard.v1: unacked sends re-sent (same id) after a reconnect.
    pub resent: u64,
    /// switchboard.v1: first deliveries that came in a replay (after a resume).
    pub replayed: u64,
    /// switchboard.v1: replayed deliveries already seen before the resume (asked for, not an error).
    pub redelivered: u64,
    /// switchboard.v1: sequences announced by `gap` frames with a reason other than `unavailable`
    /// (expired, deleted: could not be replayed): an error.
    pub gaps: u64,
    /// switchboard.v1: sequences announced by `unavailable` gaps (more than one replay holds), which the
    /// client pages in with `history_query`; not an error (what never arrives counts as lost).
    pub gaps_paged: u64,
    /// switchboard.v1: sequences that arrived in `history_result` pages for the first time.
    pub history_paged: u64,
    /// churn: reconnections made.
    pub reconnects: u64,
    /// Agent replies dropped because the agent was reconnecting.
    pub replies_dropped: u64,
    /// Routed chat: bot answers received by customers (AI messages that are not follow-up questions).
    pub bot_answers: u64,
    /// Routed chat: bot follow-up questions (asking for a missing slot) received by customers.
    pub follow_ups: u64,
    /// Routed chat: conversations handed off, as seen by their customers (first `handoff` frame).
    pub handoffs: u64,
    /// Routed chat: conversations assigned to an agent, as seen by the agent (`handoff` naming it).
    pub assignments: u64,
    /// Routed chat: handoffs of customers who only asked knowledge-base questions (low confidence,
    /// slots not given): counted, not timed.
    pub handoffs_unplanned: u64,
    /// Routed chat: distinct `ticket` frames received by customers.
    pub tickets: u64,
    /// Errors by cause (e.g. `connect: Connection refused (os error 111)`).
    pub errors: BTreeMap<String, u64>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            latency: new_histogram(),
            send_lag: new_histogram(),
            ack_latency: new_histogram(),
            deliver_latency: new_histogram(),
            bot_answer_latency: new_histogram(),
            handoff_latency: new_histogram(),
            agent_reply_latency: new_histogram(),
            connect: new_histogram(),
            upgrade: new_histogram(),
            connects_started: 0,
            connected: 0,
            upgraded: 0,
            open: 0,
            open_at_end: 0,
            sent: 0,
            received: 0,
            bytes_sent: 0,
            bytes_received: 0,
            out_of_order: 0,
            duplicated: 0,
            lost: 0,
            skipped_backlog: 0,
            pings_answered: 0,
            relayed: 0,
            acked: 0,
            unacked: 0,
            resent: 0,
            replayed: 0,
            redelivered: 0,
            gaps: 0,
            gaps_paged: 0,
            history_paged: 0,
            reconnects: 0,
            replies_dropped: 0,
            bot_answers: 0,
            follow_ups: 0,
            handoffs: 0,
            assignments: 0,
            handoffs_unplanned: 0,
            tickets: 0,
            errors: BTreeMap::new(),
        }
    }
}

impl Stats {
    /// Counts one error of `cause`.
    pub fn error(&mut self, cause: impl Into<String>) {
        *self.errors.entry(cause.into()).or_insert(0) += 1;
    }

    /// Total errors of every cause.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Correctness failures: anything that makes the run exit non-zero.
    pub fn correctness_failures(&self) -> u64 {
        self.error_count()
            + self.out_of_order
            + self.duplicated
            + self.lost
            + self.skipped_backlog
            + self.unacked
            + self.gaps
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &Stats) {
        for (mine, theirs) in [
            (&mut self.latency, &other.latency),
            (&mut self.send_lag, &other.send_lag),
            (&mut self.ack_latency, &other.ack_latency),
            (&mut self.deliver_latency, &other.deliver_latency),
            (&mut self.bot_answer_latency, &other.bot_answer_latency),
            (&mut self.handoff_latency, &other.handoff_latency),
            (&mut self.agent_reply_latency, &other.agent_reply_latency),
            (&mut self.connect, &other.connect),
            (&mut self.upgrade, &other.upgrade),
        ] {
            mine.add(theirs).expect("histograms share bounds");
        }
        self.connects_started += other.connects_started;
        self.connected += other.connected;
        self.upgraded += other.upgraded;
        self.open += other.open;
        self.open_at_end += other.open_at_end;
        self.sent += other.sent;
        self.received += other.received;
        self.bytes_sent += other.bytes_sent;
        self.bytes_received += other.bytes_received;
        self.out_of_order += other.out_of_order;
        self.duplicated += other.duplicated;
        self.lost += other.lost;
        self.skipped_backlog += other.skipped_backlog;
        self.pings_answered += other.pings_answered;
        self.relayed += other.relayed;
        self.acked += other.acked;
        self.unacked += other.unacked;
        self.resent += other.resent;
        self.replayed += other.replayed;
        self.redelivered += other.redelivered;
        self.gaps += other.gaps;
        self.gaps_paged += other.gaps_paged;
        self.history_paged += other.history_paged;
        self.reconnects += other.reconnects;
        self.replies_dropped += other.replies_dropped;
        self.bot_answers += other.bot_answers;
        self.follow_ups += other.follow_ups;
        self.handoffs += other.handoffs;
        self.assignments += other.assignments;
        self.handoffs_unplanned += other.handoffs_unplanned;
        self.tickets += other.tickets;
        for (cause, count) in &other.errors {
            *self.errors.entry(cause.clone()).or_insert(0) += count;
        }
    }
}
