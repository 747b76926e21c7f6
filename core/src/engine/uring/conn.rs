//! One io_uring connection's state: where its direct descriptor lives, which operations are in
//! flight and the buffers they own.

use std::os::fd::OwnedFd;

use super::send_state::NO_SEND_STATE;
use crate::engine::sys::RawSockAddr;

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
    /// A table slot is reserved for this connection's `FILES_UPDATE`.
    pub(super) slot_reserved: bool,
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

/// Per-connection state of the io_uring backend, one per connection slot, so packed: the sends live in
/// [`SendStates`] while there are any, an outgoing connection's setup in its parked box, the yes/no
/// state in one byte of [`Flags`].
pub(super) struct UringConn {
    pub(super) connect: Option<Box<ConnectParked>>,
    /// The direct-descriptor slot, or `NO_SLOT` until known (see [`UringConn::slot`]).
    pub(super) slot: u32,
    /// Index in the engine's [`SendStates`], or [`NO_SEND_STATE`] while nothing is queued or in flight.
    pub(super) send: u32,
    /// Which ring's file table holds the descriptor (rings are few).
    pub(super) ring: u16,
    /// Operations submitted and not yet fully completed (a multishot recv counts once; a connection has
    /// at most one of each kind in flight).
    pub(super) ops: u16,
    pub(super) phase: Phase,
    pub(super) flags: Flags,
}

/// No direct-descriptor slot yet (slots are below the table size, itself below `u32::MAX`).
const NO_SLOT: u32 = u32::MAX;

/// A connection's yes/no state, one bit each (see the constants).
#[derive(Clone, Copy, Default)]
pub(super) struct Flags(u8);

impl Flags {
    /// The multishot recv is armed.
    pub(super) const RECV_ARMED: u8 = 1 << 0;
    /// Reading ended (EOF or error); recv is not re-armed.
    pub(super) const READ_CLOSED: u8 = 1 << 1;
    /// Listed in the engine's `send_starts`: its queued sends start when the tick is submitted.
    pub(super) const START_QUEUED: u8 = 1 << 2;
    /// A write shutdown waits behind the queued sends.
    pub(super) const SHUTDOWN_PENDING: u8 = 1 << 3;
    /// The cancels of what was in flight were submitted.
    pub(super) const CANCEL_SENT: u8 = 1 << 4;
    /// `Close` was submitted.
    pub(super) const CLOSE_SENT: u8 = 1 << 5;
    /// Report no `Closed` at the end (the shard already got `ConnectFailed`).
    pub(super) const SILENT_CLOSE: u8 = 1 << 6;

    pub(super) fn has(self, flag: u8) -> bool {
        self.0 & flag != 0
    }

    pub(super) fn set(&mut self, flag: u8, on: bool) {
        if on {
            self.0 |= flag;
        } else {
            self.0 &= !flag;
        }
    }
}

/// Budget of one connection slot's engine state: it exists for every connection (issue 19's C1M).
pub(super) const URING_CONN_BYTES_MAX: usize = 24;
const _: () = assert!(std::mem::size_of::<UringConn>() <= URING_CONN_BYTES_MAX);

impl UringConn {
    pub(super) fn free() -> Self {
        Self {
            connect: None,
            slot: NO_SLOT,
            send: NO_SEND_STATE,
            ring: 0,
            ops: 0,
            phase: Phase::Free,
            flags: Flags::default(),
        }
    }

    /// The direct-descriptor slot, once known.
    pub(super) fn slot(&self) -> Option<u32> {
        (self.slot != NO_SLOT).then_some(self.slot)
    }

    /// Resets to `phase` for a new holder.
    pub(super) fn start(&mut self, phase: Phase, ring: u32, slot: Option<u32>) {
        assert!(
            self.phase == Phase::Free && self.ops == 0 && self.send == NO_SEND_STATE,
            "slot reused while busy"
        );
        *self = Self {
            phase,
            ring: u16::try_from(ring).expect("fewer rings than 2^16"),
            slot: slot.unwrap_or(NO_SLOT),
            ..Self::free()
        };
    }
}
