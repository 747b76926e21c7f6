//! One io_uring connection's state: where its direct descriptor lives, which operations are in
//! flight and the buffers they own.

use std::os::fd::OwnedFd;

use crate::engine::{send_list::SendList, sys::RawSockAddr};

/// Lifecycle of a connection slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    /// Not in use.
    Free,
    /// Client socket being installed in the file table (`FILES_UPDATE` in flight).
    Registering,
    /// `connect` in flight on the direct descriptor.
    Connecting,
    /// Established; recv armed unless the read side ended.
    Open,
    /// `close` was called (or a connect failed): waiting for operations, then `Close`.
    Closing,
}

/// What an outgoing connection parks until its setup operations complete: the kernel reads the
/// fd array and the address asynchronously, so they are boxed and never move.
pub(super) struct ConnectParked {
    /// The plain socket, closed once its direct-descriptor copy exists.
    pub(super) socket: Option<OwnedFd>,
    /// `FILES_UPDATE` input (the fd) and output (the allocated slot).
    pub(super) fd_cell: i32,
    pub(super) addr: RawSockAddr,
}

/// iovecs one send operation may cover (one `sendmsg`): a queued send takes one, or two when it
/// carries a shared payload, so this many small sends or half as many frames with payloads go at once.
pub(super) const SEND_IOVECS_MAX: usize = 16;

/// What a batched send (`IORING_OP_SENDMSG`) points the kernel at; boxed so it never moves
/// while the operation is in flight.
pub(super) struct SendIo {
    pub(super) iovecs: [libc::iovec; SEND_IOVECS_MAX],
    pub(super) header: libc::msghdr,
}

impl SendIo {
    pub(super) fn new() -> Box<Self> {
        let empty = libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        };
        // SAFETY: msghdr is plain old data; all-zero is "no name, no control, no iovecs".
        let header: libc::msghdr = unsafe { std::mem::zeroed() };
        Box::new(Self {
            iovecs: [empty; SEND_IOVECS_MAX],
            header,
        })
    }
}

/// Per-connection state of the io_uring backend.
pub(super) struct UringConn {
    pub(super) phase: Phase,
    /// Which ring's file table holds the descriptor.
    pub(super) ring: u32,
    /// The direct-descriptor slot, once known.
    pub(super) slot: Option<u32>,
    /// Operations submitted and not yet fully completed (a multishot recv counts once).
    pub(super) ops: u32,
    pub(super) recv_armed: bool,
    /// Reading ended (EOF or error); recv is not re-armed.
    pub(super) read_closed: bool,
    /// Sends waiting behind the one in flight.
    pub(super) sends: SendList,
    /// The buffers the kernel is sending from, in order (one op covers all of them).
    pub(super) in_flight: SendList,
    /// Bytes of `in_flight[0]` already sent (after a short send).
    pub(super) front_written: usize,
    /// Listed in the engine's `send_starts`: its queued sends start when the tick is submitted.
    pub(super) start_queued: bool,
    /// The iovec array and msghdr a batched send points the kernel at; allocated on the first
    /// batched send of this slot and kept for later holders.
    pub(super) send_io: Option<Box<SendIo>>,
    pub(super) shutdown_pending: bool,
    /// A cancel-all for this descriptor was submitted.
    pub(super) cancel_sent: bool,
    /// `Close` was submitted.
    pub(super) close_sent: bool,
    /// Report no `Closed` at the end (the shard already got `ConnectFailed`).
    pub(super) silent_close: bool,
    pub(super) connect: Option<Box<ConnectParked>>,
    /// A table slot is reserved for this connection's `FILES_UPDATE`.
    pub(super) slot_reserved: bool,
}

impl UringConn {
    pub(super) fn free() -> Self {
        Self {
            phase: Phase::Free,
            ring: 0,
            slot: None,
            ops: 0,
            recv_armed: false,
            read_closed: false,
            sends: SendList::new(),
            in_flight: SendList::new(),
            front_written: 0,
            start_queued: false,
            send_io: None,
            shutdown_pending: false,
            cancel_sent: false,
            close_sent: false,
            silent_close: false,
            connect: None,
            slot_reserved: false,
        }
    }

    /// Resets to `phase` for a new holder, keeping the send queue's allocation.
    pub(super) fn start(&mut self, phase: Phase, ring: u32, slot: Option<u32>) {
        assert!(
            self.phase == Phase::Free && self.ops == 0 && self.in_flight.is_empty(),
            "slot reused while busy"
        );
        let sends = std::mem::take(&mut self.sends);
        let in_flight = std::mem::take(&mut self.in_flight);
        let send_io = self.send_io.take();
        *self = Self {
            phase,
            ring,
            slot,
            sends,
            in_flight,
            send_io,
            ..Self::free()
        };
    }
}
