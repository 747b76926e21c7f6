//! What the engine reports to the shard, one event at a time from `Engine::next_event`.

use std::{fmt, io, net::SocketAddr};

use super::{
    ids::{ConnId, ListenerId, WakeToken},
    received::Received,
};

/// An operating-system error number from a failed operation (the kernel's `-res` or `errno`).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Errno(pub i32);

impl Errno {
    /// The operation was cancelled because the shard closed the connection.
    pub const CANCELLED: Errno = Errno(libc::ECANCELED);

    /// This error as a `std::io::Error` (for messages and `ErrorKind`).
    pub fn to_io_error(self) -> io::Error {
        io::Error::from_raw_os_error(self.0)
    }

    pub(crate) fn from_io(err: &io::Error) -> Self {
        Errno(err.raw_os_error().unwrap_or(libc::EIO))
    }
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Errno({}: {})", self.0, self.to_io_error())
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.to_io_error(), f)
    }
}

/// Why the peer side of a connection ended. The connection stays allocated until the shard
/// calls `close` and receives `Event::Closed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerClose {
    /// The peer shut down its write side (read returned 0): an orderly end.
    Eof,
    /// Reading failed (e.g. `ECONNRESET`): the peer or the network is at fault.
    Error(Errno),
}

/// One thing that happened. `Data` borrows a receive buffer that goes back to the engine when
/// the next event is fetched (or at the next `poll`).
#[derive(Debug)]
pub enum Event<'a> {
    /// A listener accepted `conn`. `peer` is known on epoll; io_uring multishot accept into a
    /// direct descriptor does not report it (fetching it would cost a syscall per accept).
    Accepted {
        /// The listener that accepted.
        listener: ListenerId,
        /// The new connection; reading starts immediately.
        conn: ConnId,
        /// The peer's address, when cheap to know.
        peer: Option<SocketAddr>,
    },
    /// An outgoing `connect` succeeded; reading has started.
    Connected {
        /// The connection returned by `connect`.
        conn: ConnId,
    },
    /// An outgoing `connect` failed; `conn` is already released (no `Closed` follows).
    ConnectFailed {
        /// The connection returned by `connect`, now stale.
        conn: ConnId,
        /// Why (e.g. `ECONNREFUSED`).
        cause: Errno,
    },
    /// Bytes arrived on `conn`.
    Data {
        /// The connection.
        conn: ConnId,
        /// The bytes, borrowed from an engine-owned receive buffer: read them through `Deref`, modify
        /// them in place, or lend a range by reference (see [`Received`]).
        bytes: Received<'a>,
    },
    /// A `send` (or `send_vectored`) finished: the whole buffer (and payload) was written (`Ok`)
    /// or it failed (`Err`, including `Errno::CANCELLED` after `close`). The buffer is handed back
    /// either way; a `send_vectored` payload's reference is dropped by then.
    SendComplete {
        /// The connection.
        conn: ConnId,
        /// The buffer given to `send` (the head given to `send_vectored`), returned for reuse.
        buf: Vec<u8>,
        /// Whether every byte was written.
        result: Result<(), Errno>,
    },
    /// The peer stopped sending; no more `Data` for `conn`. Sends may still work (half-close).
    PeerClosed {
        /// The connection.
        conn: ConnId,
        /// Orderly end or error.
        cause: PeerClose,
    },
    /// `close(conn)` finished: every operation on it has completed, its descriptor is released
    /// and the id is stale from now on.
    Closed {
        /// The now-stale connection.
        conn: ConnId,
    },
    /// A watched eventfd fired (its counter has been read and reset by the engine).
    Wake {
        /// Which watched fd.
        token: WakeToken,
    },
    /// A `write_file` finished: every byte of `buf` was written at its offset (`Ok`), or it
    /// failed (`Err`: the OS error, `EIO` if the file stopped taking bytes, `EBUSY` if
    /// `FILE_OPS_IN_FLIGHT_MAX` operations were already in flight). Short writes are continued
    /// inside the engine, so `Ok` always means the whole buffer. The buffer is handed back either way.
    FileWritten {
        /// The caller's token given to `write_file`.
        token: u64,
        /// The buffer given to `write_file`, returned for reuse.
        buf: Vec<u8>,
        /// Whether every byte was written.
        result: Result<(), Errno>,
    },
    /// A `sync_file` finished: every write to the file completed before the sync was submitted
    /// is durable (`Ok`), or the sync failed (`Err`; after a failed `fdatasync` the kernel may
    /// have dropped the dirty pages, so the caller must not trust those writes).
    FileSynced {
        /// The caller's token given to `sync_file`.
        token: u64,
        /// Whether the sync succeeded.
        result: Result<(), Errno>,
    },
    /// `poll` waited the whole timeout and nothing happened.
    Timeout,
}
