//! Closing a connection: fail its queued sends, cancel what may wait forever, close the descriptor once
//! nothing is in flight, then free the slot and report `Event::Closed`.

use io_uring::types::CancelBuilder;

use super::{
    conn::{Flags, Phase},
    send_state::NO_SEND_STATE,
    user_data::Op,
    Pending, UringEngine,
};
use crate::engine::{
    error::EngineError,
    event::{Errno, Event},
    ids::ConnId,
};

impl UringEngine {
    /// Cancels everything on `conn`, then closes its descriptor; `Event::Closed` follows.
    pub fn close(&mut self, conn: ConnId) -> Result<(), EngineError> {
        if !self.is_open(conn) {
            return Err(EngineError::UnknownConn(conn));
        }
        self.conns[conn.index()].phase = Phase::Closing;
        self.fail_queued_sends(conn, Errno::CANCELLED);
        self.progress_close(conn);
        Ok(())
    }

    /// Advances a closing connection: cancel what is in flight, then close, then release.
    pub(super) fn progress_close(&mut self, conn: ConnId) {
        let state = &self.conns[conn.index()];
        debug_assert_eq!(state.phase, Phase::Closing);
        match (state.ops, state.slot()) {
            (0, Some(_)) if !state.flags.has(Flags::CLOSE_SENT) => self.submit_close(conn),
            (0, Some(_)) => {}
            (0, None) => self.release(conn),
            (_, Some(_)) if !state.flags.has(Flags::CANCEL_SENT) => self.cancel_in_flight(conn),
            _ => {}
        }
    }

    /// Cancels the operations of `conn` that may wait indefinitely (its multishot recv, a send to a peer
    /// that does not read, a connect), each by its `user_data`; the others (shutdown, close) complete on
    /// their own. By `user_data`, not by descriptor: the kernel finds a request by `user_data` in one
    /// hash bucket, but by descriptor only by scanning every pending poll request of the ring, which
    /// with 20,000 idle connections per ring took two thirds of a shard's CPU while connections closed
    /// (issue 19, C1M).
    fn cancel_in_flight(&mut self, conn: ConnId) {
        let state = &self.conns[conn.index()];
        let recv = state.flags.has(Flags::RECV_ARMED);
        let connect = state.connect.is_some();
        let send = !self.nothing_in_flight(conn);
        for (op, in_flight) in [(Op::Recv, recv), (Op::Send, send), (Op::Connect, connect)] {
            if in_flight {
                self.submit_cancel(conn, CancelBuilder::user_data(self.ud(op, conn)));
            }
        }
        // Nothing cancellable (a shutdown in flight): its completion moves the close on.
        self.conns[conn.index()].flags.set(Flags::CANCEL_SENT, true);
    }

    /// Frees `conn`'s slot after its descriptor is closed (or was never installed).
    pub(super) fn release(&mut self, conn: ConnId) {
        self.fail_queued_sends(conn, Errno::CANCELLED);
        let state = &mut self.conns[conn.index()];
        assert!(
            state.ops == 0 && state.send == NO_SEND_STATE,
            "{conn:?} released with operations in flight"
        );
        if state.slot().is_some() {
            self.rings[state.ring as usize].slots_used -= 1;
        }
        let silent = state.flags.has(Flags::SILENT_CLOSE);
        state.phase = Phase::Free;
        state.connect = None;
        self.slots.free(conn);
        if !silent {
            self.queue.push_back(Pending::Ready(Event::Closed { conn }));
        }
    }

    /// Reports a failed connect: queued sends come back with `cause`, then `ConnectFailed`,
    /// then the descriptor (if any) is closed silently.
    pub(super) fn fail_connect(&mut self, conn: ConnId, cause: Errno) {
        self.fail_queued_sends(conn, cause);
        let state = &mut self.conns[conn.index()];
        state.phase = Phase::Closing;
        state.flags.set(Flags::SILENT_CLOSE, true);
        self.queue
            .push_back(Pending::Ready(Event::ConnectFailed { conn, cause }));
        self.progress_close(conn);
    }
}
