//! Building submissions. Each function pushes one entry whose memory is parked in engine
//! state (connection slot, box) until its completion is reaped.

use std::{net::SocketAddr, os::fd::AsRawFd, os::fd::OwnedFd};

use io_uring::{
    opcode,
    types::{CancelBuilder, DestinationSlot, Fd, Fixed},
};

use super::{
    conn::{ConnectParked, Flags, Phase, SendIo, SEND_IOVECS_MAX},
    ring::BUFFER_GROUP,
    send_state::{SendState, NO_SEND_STATE},
    user_data::{encode, Op},
    UringEngine,
};
use crate::engine::{ids::ConnId, sys::RawSockAddr};

/// `FILES_UPDATE` offset meaning "allocate a free slot and write its index back".
const FILE_INDEX_ALLOC: i32 = -1;
/// Read position meaning "current position" (for eventfds, which have none).
const POSITION_CURRENT: u64 = u64::MAX;

impl UringEngine {
    pub(super) fn ud(&self, op: Op, conn: ConnId) -> u64 {
        encode(op, conn.index() as u32, conn.generation())
    }

    /// The connection's ring and slot; only called once the slot is known.
    fn place(&self, conn: ConnId) -> (usize, Fixed) {
        let state = &self.conns[conn.index()];
        (
            state.ring as usize,
            Fixed(state.slot().expect("descriptor installed")),
        )
    }

    pub(super) fn arm_accept(&mut self, ring: u32, listener: u32) {
        let fd = Fd(self.listeners[listener as usize].as_raw_fd());
        let entry = opcode::AcceptMulti::new(fd)
            .allocate_file_index(true)
            .build();
        let entry = entry.user_data(encode(Op::Accept, listener, 0));
        let ring = &mut self.rings[ring as usize];
        // SAFETY: multishot accept into the file table references no user memory.
        unsafe { ring.push(&entry) };
        ring.accept_armed[listener as usize] = true;
    }

    /// One accept into a slot reserved for it (used when the table is nearly full).
    pub(super) fn arm_accept_one(&mut self, ring: u32, listener: u32) {
        let fd = Fd(self.listeners[listener as usize].as_raw_fd());
        let null = std::ptr::null_mut();
        let entry = opcode::Accept::new(fd, null, null.cast())
            .file_index(Some(DestinationSlot::auto_target()));
        let entry = entry.build().user_data(encode(Op::AcceptOne, listener, 0));
        let ring = &mut self.rings[ring as usize];
        // SAFETY: no peer address is asked for; the accept references no user memory.
        unsafe { ring.push(&entry) };
        ring.accepts_pending[listener as usize] += 1;
    }

    /// Stops the multishot accept of `listener` on a ring whose table is nearly full.
    pub(super) fn cancel_accept(&mut self, ring: u32, listener: u32) {
        let builder = CancelBuilder::user_data(encode(Op::Accept, listener, 0));
        let entry =
            opcode::AsyncCancel2::new(builder)
                .build()
                .user_data(encode(Op::Internal, 0, 0));
        let ring = &mut self.rings[ring as usize];
        // SAFETY: a cancel references no user memory.
        unsafe { ring.push(&entry) };
        ring.accept_cancelling[listener as usize] = true;
    }

    pub(super) fn arm_recv(&mut self, conn: ConnId) {
        let (ring, fd) = self.place(conn);
        let entry = opcode::RecvMulti::new(fd, BUFFER_GROUP)
            .build()
            .user_data(self.ud(Op::Recv, conn));
        // SAFETY: the kernel picks buffers from the ring's buffer group, which lives as long
        // as the ring.
        unsafe { self.rings[ring].push(&entry) };
        let state = &mut self.conns[conn.index()];
        state.flags.set(Flags::RECV_ARMED, true);
        state.ops += 1;
    }

    /// Starts the next queued sends (up to `SEND_IOVECS_MAX` pieces) or the pending shutdown, if no
    /// send is in flight.
    pub(super) fn start_send(&mut self, conn: ConnId) {
        let state = &mut self.conns[conn.index()];
        debug_assert_eq!(state.phase, Phase::Open);
        if state.send != NO_SEND_STATE {
            let SendState {
                sends,
                in_flight,
                front_written,
                ..
            } = self.send_states.get_mut(state.send);
            if !in_flight.is_empty() {
                return;
            }
            if !sends.is_empty() {
                sends.move_front_to(in_flight, SEND_IOVECS_MAX);
                *front_written = 0;
                self.submit_send(conn);
                return;
            }
        }
        let state = &mut self.conns[conn.index()];
        if state.flags.has(Flags::SHUTDOWN_PENDING) {
            state.flags.set(Flags::SHUTDOWN_PENDING, false);
            let (ring, fd) = self.place(conn);
            let entry = opcode::Shutdown::new(fd, libc::SHUT_WR)
                .build()
                .user_data(self.ud(Op::Shutdown, conn));
            // SAFETY: shutdown references no user memory.
            unsafe { self.rings[ring].push(&entry) };
            self.conns[conn.index()].ops += 1;
        }
    }

    /// Sends the unsent rest of the in-flight sends: a plain send for one piece, a `sendmsg` over
    /// an iovec per piece (a buffer, or a buffer and its shared payload) for several.
    pub(super) fn submit_send(&mut self, conn: ConnId) {
        let (ring, fd) = self.place(conn);
        let user_data = self.ud(Op::Send, conn);
        let state = &mut self.conns[conn.index()];
        let sending = self.send_states.get_mut(state.send);
        debug_assert!(!sending.in_flight.is_empty());
        let front = sending.in_flight.front().expect("a send in flight");
        let single =
            sending.in_flight.len() == 1 && front.unsent(sending.front_written).nth(1).is_none();
        let entry = if single {
            // An empty send (no piece left) is a zero-length send, as before payloads existed.
            let rest = front
                .unsent(sending.front_written)
                .next()
                .unwrap_or_default();
            let len = rest.len().min(u32::MAX as usize) as u32;
            opcode::Send::new(fd, rest.as_ptr(), len)
                .flags(libc::MSG_NOSIGNAL)
                .build()
        } else {
            let io = sending.send_io.get_or_insert_with(SendIo::new);
            let mut count = 0;
            for (i, send) in sending.in_flight.iter().enumerate() {
                let skip = if i == 0 { sending.front_written } else { 0 };
                for piece in send.unsent(skip) {
                    io.iovecs[count] = libc::iovec {
                        iov_base: piece.as_ptr().cast_mut().cast(),
                        iov_len: piece.len(),
                    };
                    count += 1;
                }
            }
            io.header.msg_iov = io.iovecs.as_mut_ptr();
            io.header.msg_iovlen = count;
            let header = std::ptr::from_ref(&io.header);
            opcode::SendMsg::new(fd, header)
                .flags(libc::MSG_NOSIGNAL as u32)
                .build()
        };
        state.ops += 1;
        // SAFETY: the buffers' heap memory stays put in `in_flight` (a `Vec` owned there, a shared
        // payload whose reference is owned there), and the iovecs and header in the boxed
        // `send_io`, until this send's completion (close cancels the send and waits for that
        // completion before releasing the slot; the send state goes back to its pool only once
        // `in_flight` is empty, and a pool growing moves the state, not these heap parts). The kernel
        // only reads them.
        unsafe { self.rings[ring].push(&entry.user_data(user_data)) };
    }

    /// Installs a client socket in the first ring's table with room (`FILES_UPDATE` with slot
    /// allocation); the completion continues with `submit_connect`.
    pub(super) fn submit_register(&mut self, conn: ConnId, socket: OwnedFd, dest: SocketAddr) {
        // The first ring with room: rings fill in order, as with accepts (one ring entered per tick
        // while the connections fit in its table).
        let ring = (0..self.rings.len())
            .find(|&r| self.rings[r].slots_free() > 0)
            .unwrap_or(0);
        // Reserve the slot so accepts leave it alone; a full table still fails cleanly (ENFILE).
        let reserve = self.rings[ring].slots_free() > 0;
        self.rings[ring].slots_reserved += u32::from(reserve);
        let fd_cell = socket.as_raw_fd();
        let mut parked = Box::new(ConnectParked {
            socket: Some(socket),
            fd_cell,
            addr: RawSockAddr::new(dest),
            slot_reserved: reserve,
        });
        let user_data = self.ud(Op::Register, conn);
        let state = &mut self.conns[conn.index()];
        state.start(Phase::Registering, ring as u32, None);
        let cell = std::ptr::addr_of_mut!(parked.fd_cell).cast_const();
        state.connect = Some(parked);
        state.ops += 1;
        let entry = opcode::FilesUpdate::new(cell, 1)
            .offset(FILE_INDEX_ALLOC)
            .build()
            .user_data(user_data);
        // SAFETY: `fd_cell` is inside a Box parked in the connection until this completion; the
        // kernel reads the fd from it and writes the allocated slot back.
        unsafe { self.rings[ring].push(&entry) };
    }

    pub(super) fn submit_connect(&mut self, conn: ConnId) {
        let (ring, fd) = self.place(conn);
        let user_data = self.ud(Op::Connect, conn);
        let state = &mut self.conns[conn.index()];
        let parked = state.connect.as_ref().expect("connect parked");
        let entry = opcode::Connect::new(fd, parked.addr.as_ptr(), parked.addr.len)
            .build()
            .user_data(user_data);
        state.phase = Phase::Connecting;
        state.ops += 1;
        // SAFETY: the address lives in the parked Box until the connect completion.
        unsafe { self.rings[ring].push(&entry) };
    }

    pub(super) fn submit_cancel(&mut self, conn: ConnId, builder: CancelBuilder) {
        let ring = self.conns[conn.index()].ring as usize;
        let entry = opcode::AsyncCancel2::new(builder)
            .build()
            .user_data(self.ud(Op::Cancel, conn));
        // SAFETY: a cancel references no user memory.
        unsafe { self.rings[ring].push(&entry) };
        let state = &mut self.conns[conn.index()];
        state.flags.set(Flags::CANCEL_SENT, true);
        state.ops += 1;
    }

    pub(super) fn submit_close(&mut self, conn: ConnId) {
        let (ring, fd) = self.place(conn);
        let entry = opcode::Close::new(fd)
            .build()
            .user_data(self.ud(Op::Close, conn));
        // SAFETY: closing a direct descriptor references no user memory.
        unsafe { self.rings[ring].push(&entry) };
        let state = &mut self.conns[conn.index()];
        state.flags.set(Flags::CLOSE_SENT, true);
        state.ops += 1;
    }

    /// Closes a descriptor that was accepted when no connection id was free.
    pub(super) fn close_orphan(&mut self, ring: u32, slot: u32) {
        let entry =
            opcode::Close::new(Fixed(slot))
                .build()
                .user_data(encode(Op::CloseOrphan, slot, 0));
        // SAFETY: closing a direct descriptor references no user memory.
        unsafe { self.rings[ring as usize].push(&entry) };
    }

    pub(super) fn arm_wake(&mut self, index: u32) {
        let (fd, buf) = &mut self.wakes[index as usize];
        let ptr = std::ptr::from_mut(&mut **buf).cast::<u8>();
        let entry = opcode::Read::new(Fd(*fd), ptr, 8)
            .offset(POSITION_CURRENT)
            .build();
        let entry = entry.user_data(encode(Op::Wake, index, 0));
        // SAFETY: the 8-byte target is boxed in `wakes`, which only grows while the engine
        // lives; Drop cancels reads before freeing it.
        unsafe { self.rings[0].push(&entry) };
    }

    pub(super) fn arm_ring_wake(&mut self) {
        let Some((fd, buf)) = self.ring_wake.as_mut() else {
            return;
        };
        let ptr = std::ptr::from_mut(&mut **buf).cast::<u8>();
        let entry = opcode::Read::new(Fd(fd.as_raw_fd()), ptr, 8)
            .offset(POSITION_CURRENT)
            .build();
        let entry = entry.user_data(encode(Op::RingWake, 0, 0));
        // SAFETY: as in `arm_wake`: the box lives in the engine until Drop cancels the read.
        unsafe { self.rings[0].push(&entry) };
    }
}
