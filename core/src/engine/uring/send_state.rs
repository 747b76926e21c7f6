//! A connection's sends, queued and in flight, kept out of line: [`SendState`] lives in the engine's pool
//! ([`SendStates`]) and a connection holds one only while it has a send queued or in flight, so the
//! million idle connections of a C1M shard hold an index each instead of two send lists (issue 19).

use super::conn::SendIo;
use super::{Pending, UringEngine};
use crate::engine::event::{Errno, Event};
use crate::engine::ids::ConnId;
use crate::engine::send_list::SendList;

/// A connection's sends, queued and in flight, with what a batched send points the kernel at. Kept out of
/// line in [`SendStates`] and held only while the connection has a send queued or in flight: an idle
/// connection (the great majority at a million connections) holds an index, not two send lists.
#[derive(Default)]
pub(super) struct SendState {
    /// Sends waiting behind the one in flight.
    pub(super) sends: SendList,
    /// The buffers the kernel is sending from, in order (one op covers all of them).
    pub(super) in_flight: SendList,
    /// Bytes of `in_flight[0]` already sent (after a short send).
    pub(super) front_written: usize,
    /// The iovec array and msghdr a batched send points the kernel at; allocated on the first batched
    /// send through this state and kept for later holders.
    pub(super) send_io: Option<Box<SendIo>>,
}

impl SendState {
    /// Whether nothing is queued or in flight, so the state can go back to the pool.
    pub(super) fn is_empty(&self) -> bool {
        self.sends.is_empty() && self.in_flight.is_empty()
    }
}

/// Marks a connection without a send state.
pub(super) const NO_SEND_STATE: u32 = u32::MAX;

/// The pool of [`SendState`]s: grows to the most connections sending at once and keeps them (with their
/// iovec arrays), so a send allocates nothing once the pool is warm. A state's heap parts never move while
/// it is in use (the iovecs are boxed, the buffers are heap allocations owned by the lists), so the pool may
/// grow while the kernel reads from one.
#[derive(Default)]
pub(super) struct SendStates {
    states: Vec<SendState>,
    /// Indexes of unused states.
    free: Vec<u32>,
}

impl SendStates {
    /// An unused state's index (emptied by its last holder).
    pub(super) fn acquire(&mut self) -> u32 {
        if let Some(index) = self.free.pop() {
            return index;
        }
        self.states.push(SendState::default());
        u32::try_from(self.states.len() - 1).expect("fewer send states than connections")
    }

    /// Gives back the state at `index`, which must be empty.
    pub(super) fn release(&mut self, index: u32) {
        let state = &mut self.states[index as usize];
        assert!(state.is_empty(), "send state released while in use");
        state.front_written = 0;
        self.free.push(index);
    }

    pub(super) fn get(&self, index: u32) -> &SendState {
        &self.states[index as usize]
    }

    pub(super) fn get_mut(&mut self, index: u32) -> &mut SendState {
        &mut self.states[index as usize]
    }
}

impl UringEngine {
    /// `conn`'s send state, taken from the pool if it has none.
    pub(super) fn send_state_mut(&mut self, conn: ConnId) -> &mut SendState {
        let state = &mut self.conns[conn.index()];
        if state.send == NO_SEND_STATE {
            state.send = self.send_states.acquire();
        }
        self.send_states.get_mut(state.send)
    }

    /// Whether `conn` has no send in flight.
    pub(super) fn nothing_in_flight(&self, conn: ConnId) -> bool {
        let send = self.conns[conn.index()].send;
        send == NO_SEND_STATE || self.send_states.get(send).in_flight.is_empty()
    }

    /// Gives `conn`'s send state back to the pool once nothing is queued or in flight.
    pub(super) fn release_send_state_if_empty(&mut self, conn: ConnId) {
        let state = &mut self.conns[conn.index()];
        if state.send != NO_SEND_STATE && self.send_states.get(state.send).is_empty() {
            self.send_states.release(state.send);
            state.send = NO_SEND_STATE;
        }
    }

    /// Hands back `conn`'s queued (not in-flight) sends with `cause`, in order.
    pub(super) fn fail_queued_sends(&mut self, conn: ConnId, cause: Errno) {
        let send = self.conns[conn.index()].send;
        if send == NO_SEND_STATE {
            return;
        }
        for queued in self.send_states.get_mut(send).sends.drain_all() {
            self.queue.push_back(Pending::Ready(Event::SendComplete {
                conn,
                buf: queued.head,
                result: Err(cause),
            }));
        }
        self.release_send_state_if_empty(conn);
    }
}
