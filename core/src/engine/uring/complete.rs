//! What each completion does to engine state, and which events it queues.

use io_uring::cqueue;
use tracing::warn;

use super::{
    conn::{Flags, Phase},
    user_data::{decode, same_generation, Op},
    Pending, UringEngine,
};
use crate::engine::{
    event::{Errno, Event, PeerClose},
    ids::{ConnId, ListenerId},
};

impl UringEngine {
    pub(super) fn complete(&mut self, ring: u32, user_data: u64, result: i32, flags: u32) {
        let (op, index, generation) = decode(user_data);
        match op {
            Op::Accept | Op::AcceptOne => self.accepted(ring, index, op, result, flags),
            Op::Wake => {
                if result > 0 {
                    self.queue.push_back(Pending::Ready(Event::Wake {
                        token: crate::engine::WakeToken(index),
                    }));
                } else {
                    warn!(errno = %Errno(-result), "reading a wake eventfd failed");
                }
                if result != -libc::EBADF {
                    self.arm_wake(index);
                }
            }
            Op::RingWake => {
                self.secondaries_woken = true;
                self.arm_ring_wake();
            }
            Op::CloseOrphan => self.rings[ring as usize].slots_used -= 1,
            Op::Internal => {}
            Op::FileWrite | Op::FileSync => self.file_complete(index, result),
            _ => {
                let conn = self
                    .slots
                    .live_at(index)
                    .expect("completion for a released connection");
                assert!(
                    same_generation(conn.generation(), generation),
                    "completion for an older {conn:?}"
                );
                self.conns[conn.index()].ops -= 1;
                match op {
                    Op::Recv => self.received(conn, ring, result, flags),
                    Op::Send => self.sent(conn, result),
                    Op::Register => self.registered(conn, result),
                    Op::Connect => self.connected(conn, result),
                    Op::Close => self.release(conn),
                    _ => self.closing_step(conn),
                }
            }
        }
    }

    /// Shutdown and cancel completions only matter to a closing connection.
    fn closing_step(&mut self, conn: ConnId) {
        if self.conns[conn.index()].phase == Phase::Closing {
            self.progress_close(conn);
        }
    }

    fn accepted(&mut self, ring: u32, listener: u32, op: Op, result: i32, flags: u32) {
        let r = &mut self.rings[ring as usize];
        if op == Op::AcceptOne {
            r.accepts_pending[listener as usize] -= 1;
        } else if !cqueue::more(flags) {
            r.accept_armed[listener as usize] = false;
            r.accept_cancelling[listener as usize] = false;
        }
        if result < 0 {
            if result != -libc::ECANCELED {
                warn!(errno = %Errno(-result), ring, "accept failed; re-arming next tick");
            }
            return;
        }
        let slot = result as u32;
        r.slots_used += 1;
        let Some(conn) = self.allocate_conn() else {
            warn!(
                ring,
                slot, "accepted with every connection id in use; closing it"
            );
            self.close_orphan(ring, slot);
            return;
        };
        self.conns[conn.index()].start(Phase::Open, ring, Some(slot));
        self.arm_recv(conn);
        let listener = ListenerId(listener);
        self.queue.push_back(Pending::Ready(Event::Accepted {
            listener,
            conn,
            peer: None,
        }));
    }

    fn received(&mut self, conn: ConnId, ring: u32, result: i32, flags: u32) {
        let more = cqueue::more(flags);
        if more {
            // Still armed: undo the decrement done for every completion.
            self.conns[conn.index()].ops += 1;
        } else {
            self.conns[conn.index()].flags.set(Flags::RECV_ARMED, false);
        }
        let closing = self.conns[conn.index()].phase == Phase::Closing;
        if result > 0 {
            let bid = cqueue::buffer_select(flags).expect("recv completion without a buffer");
            let bufs = &mut self.rings[ring as usize].bufs;
            let slice = bufs.slice(bid, result as u32, cqueue::buffer_more(flags));
            if closing {
                bufs.release(slice);
            } else {
                self.queue.push_back(Pending::Data { conn, ring, slice });
            }
        } else if result == 0 {
            if !closing {
                self.peer_closed(conn, PeerClose::Eof);
            }
        } else if result == -libc::ENOBUFS {
            // Every published buffer was used: the recv is simply re-armed below, after a top-up.
            self.rings[ring as usize].bufs.ran_dry();
        } else if !closing {
            self.peer_closed(conn, PeerClose::Error(Errno(-result)));
        }
        if more {
            return;
        }
        if closing {
            self.progress_close(conn);
        } else if !self.conns[conn.index()].flags.has(Flags::READ_CLOSED) {
            self.arm_recv(conn);
        }
    }

    fn sent(&mut self, conn: ConnId, result: i32) {
        let state = &self.conns[conn.index()];
        let closing = state.phase == Phase::Closing;
        let state = self.send_states.get_mut(state.send);
        // Hand back every buffer the kernel finished, in order.
        let mut sent = result.max(0) as usize;
        while let Some(front) = state.in_flight.front() {
            let rest = front.len() - state.front_written;
            if sent < rest {
                state.front_written += sent;
                break;
            }
            sent -= rest;
            state.front_written = 0;
            // The engine's reference to a shared payload is dropped here: the kernel is done with it.
            let send = state.in_flight.pop_front().expect("front exists");
            self.queue.push_back(Pending::Ready(Event::SendComplete {
                conn,
                buf: send.head,
                result: Ok(()),
            }));
        }
        if !state.in_flight.is_empty() {
            if result > 0 && !closing {
                self.submit_send(conn);
                return;
            }
            let cause = match result {
                r if r < 0 => Errno(-r),
                _ if closing => Errno::CANCELLED,
                _ => Errno(libc::EPIPE),
            };
            state.front_written = 0;
            for send in state.in_flight.drain_all() {
                self.queue.push_back(Pending::Ready(Event::SendComplete {
                    conn,
                    buf: send.head,
                    result: Err(cause),
                }));
            }
        }
        self.release_send_state_if_empty(conn);
        if closing {
            self.progress_close(conn);
        } else {
            self.start_send(conn);
        }
    }

    fn registered(&mut self, conn: ConnId, result: i32) {
        let state = &mut self.conns[conn.index()];
        let mut parked = state.connect.take().expect("registration parked");
        if std::mem::take(&mut parked.slot_reserved) {
            self.rings[state.ring as usize].slots_reserved -= 1;
        }
        if result != 1 {
            let cause = if result < 0 {
                Errno(-result)
            } else {
                Errno(libc::EBADF)
            };
            if state.phase == Phase::Closing {
                self.release(conn);
            } else {
                self.fail_connect(conn, cause);
            }
            return;
        }
        // The table holds its own reference now; the plain descriptor can go.
        parked.socket = None;
        state.slot = parked.fd_cell as u32;
        state.connect = Some(parked);
        self.rings[state.ring as usize].slots_used += 1;
        if state.phase == Phase::Closing {
            self.progress_close(conn);
        } else {
            self.submit_connect(conn);
        }
    }

    fn connected(&mut self, conn: ConnId, result: i32) {
        let state = &mut self.conns[conn.index()];
        state.connect = None;
        if state.phase == Phase::Closing {
            self.progress_close(conn);
        } else if result < 0 {
            self.fail_connect(conn, Errno(-result));
        } else {
            state.phase = Phase::Open;
            self.arm_recv(conn);
            self.queue
                .push_back(Pending::Ready(Event::Connected { conn }));
            self.start_send(conn);
        }
    }
}
