//! [`ReadGate`]: how many of one connection's reads (`history_query` pages and resume positions) are being
//! served at once, and the ones waiting their turn.
//!
//! A read is cheap to ask and expensive to answer: one `history_query` of a few bytes makes its owner read
//! and encode a whole page. Before this gate a client could send 2,500 queries in one message and never
//! read; every page was built before the send-queue bound could act, and the node ran out of memory in
//! seconds. Now a read goes to its owner only when the connection's send queue has room for the largest
//! answer it can cause (pages and replays are capped in bytes) on top of the answers already in flight;
//! the others wait here, in order, and go out as the client reads. Past
//! `reads_pending_per_connection_max` waiting reads the client gets `rate_limited`.
//!
//! Every read request is answered by its owner with exactly one [`super::messages::Reply`] marked
//! `completes_read`, which is what [`ReadGate::completed`] counts.

use std::collections::VecDeque;

use super::messages::Request;

/// Encoding overhead assumed per message of a page or replay on top of its text (ids, sequence, sender,
/// timestamps, frame header; JSON field names), bytes.
pub const READ_MESSAGE_OVERHEAD_BYTES: u64 = 256;

/// The limits a [`ReadGate`] applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    /// Reads being served at once.
    pub in_flight_max: u32,
    /// Reads waiting.
    pub pending_max: usize,
    /// The most bytes one read's answer can queue for the client.
    pub answer_bytes_max: usize,
    /// The connection's send queue bound.
    pub send_queue_bytes_max: usize,
}

/// One connection's reads in flight and waiting.
#[derive(Debug, Default)]
pub struct ReadGate {
    in_flight: u32,
    pending: VecDeque<Request>,
    /// On the shard's list of connections whose reads wait for room (so it is listed once).
    listed: bool,
}

impl ReadGate {
    /// Queues `read` behind the others. Returns it when the queue is full (the client is refused).
    pub fn push(&mut self, read: Request, limits: &ReadLimits) -> Result<(), Request> {
        debug_assert!(read.is_read(), "only reads wait at the gate");
        if self.pending.len() >= limits.pending_max {
            return Err(read);
        }
        self.pending.push_back(read);
        Ok(())
    }

    /// The next waiting read that may go to its owner now, given the bytes already queued for the
    /// client; it counts as in flight from here. A connection with nothing queued and nothing in flight
    /// always gets one, so a configuration whose answers exceed the send queue still makes progress.
    pub fn next_ready(&mut self, queued_bytes: usize, limits: &ReadLimits) -> Option<Request> {
        if self.pending.is_empty() || self.in_flight >= limits.in_flight_max {
            return None;
        }
        let reserved = (self.in_flight as usize + 1).saturating_mul(limits.answer_bytes_max);
        let idle = self.in_flight == 0 && queued_bytes == 0;
        if !idle && queued_bytes.saturating_add(reserved) > limits.send_queue_bytes_max {
            return None;
        }
        self.in_flight += 1;
        self.pending.pop_front()
    }

    /// A read handed out by [`ReadGate::next_ready`] was answered (or could not be sent to its owner).
    pub fn completed(&mut self) {
        debug_assert!(
            self.in_flight > 0,
            "a read completed that was not in flight"
        );
        self.in_flight = self.in_flight.saturating_sub(1);
    }

    /// Whether reads are waiting.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Whether the connection must be put on the shard's waiting list: reads are waiting and it is not
    /// listed yet (it counts as listed from here).
    pub fn list_if_waiting(&mut self) -> bool {
        let list = self.has_pending() && !self.listed;
        self.listed |= list;
        list
    }

    /// The shard took the connection off its waiting list.
    pub fn unlist(&mut self) {
        self.listed = false;
    }

    /// Reads being served.
    pub fn in_flight(&self) -> u32 {
        self.in_flight
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(query_id: u32) -> Request {
        Request::History {
            query_id,
            conversation: 1,
            before_sequence: 0,
            limit: 100,
        }
    }

    const LIMITS: ReadLimits = ReadLimits {
        in_flight_max: 2,
        pending_max: 3,
        answer_bytes_max: 100,
        send_queue_bytes_max: 1_000,
    };

    #[test]
    fn reads_go_out_in_order_up_to_the_in_flight_bound() {
        let mut gate = ReadGate::default();
        for id in 0..3 {
            gate.push(history(id), &LIMITS).unwrap();
        }
        assert_eq!(gate.push(history(9), &LIMITS), Err(history(9)));
        assert_eq!(gate.next_ready(0, &LIMITS), Some(history(0)));
        assert_eq!(gate.next_ready(0, &LIMITS), Some(history(1)));
        assert_eq!(gate.next_ready(0, &LIMITS), None, "two in flight");
        gate.completed();
        assert_eq!(gate.next_ready(0, &LIMITS), Some(history(2)));
        assert!(!gate.has_pending());
    }

    #[test]
    fn a_full_send_queue_holds_reads_back_until_it_drains() {
        let mut gate = ReadGate::default();
        gate.push(history(0), &LIMITS).unwrap();
        // 950 queued + one answer of 100 would pass the 1,000-byte bound.
        assert_eq!(gate.next_ready(950, &LIMITS), None);
        assert_eq!(gate.next_ready(900, &LIMITS), Some(history(0)));
    }

    #[test]
    fn an_idle_connection_always_gets_one_read_even_if_answers_exceed_its_queue() {
        let limits = ReadLimits {
            answer_bytes_max: 5_000,
            ..LIMITS
        };
        let mut gate = ReadGate::default();
        gate.push(history(0), &limits).unwrap();
        gate.push(history(1), &limits).unwrap();
        assert_eq!(gate.next_ready(0, &limits), Some(history(0)));
        assert_eq!(gate.next_ready(0, &limits), None);
    }
}
