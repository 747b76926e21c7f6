//! The per-shard I/O engine: completion-style, driven by one shard thread.
//!
//! The shard drives one loop:
//!
//! ```no_run
//! use std::time::Duration;
//! use switchboard_core::engine::{Engine, EngineConfig, EngineKind, Event};
//!
//! let (mut engine, choice) = Engine::new(&EngineConfig::default(), EngineKind::Auto)?;
//! println!("{choice}");
//! engine.listen("127.0.0.1:0".parse().unwrap())?;
//! loop {
//!     engine.poll(Some(Duration::from_millis(10)))?; // submit once, wait, reap
//!     while let Some(event) = engine.next_event() {
//!         match event {
//!             Event::Data { conn, bytes } => {
//!                 let reply = bytes.to_vec(); // the borrow of `bytes` ends here
//!                 engine.send(conn, reply);
//!             }
//!             Event::PeerClosed { conn, .. } => engine.close(conn)?,
//!             _ => {}
//!         }
//!     }
//!     # break;
//! }
//! # Ok::<(), switchboard_core::engine::EngineError>(())
//! ```
//!
//! Calls made while handling events (`send`, `close`, `connect`, …) are queued and submitted by
//! the next `poll`, so a tick costs one `io_uring_enter` however many operations it carries. The
//! sends a tick queues on one connection go out together (one `sendmsg`, up to 16 iovecs).
//!
//! Layout:
//! - `config`: [`EngineConfig`], [`EngineKind`] and their validation.
//! - `ids`: [`ConnId`], [`ListenerId`], [`WakeToken`].
//! - `event`: [`Event`] and the causes it carries.
//! - `received`: [`Received`], a `Data` event's bytes: writable in place, and lendable by reference.
//! - `error`: [`EngineError`].
//! - `choice`: which backend was chosen and why ([`EngineChoice`]).
//! - `slots`: connection index allocation with generations.
//! - `send_list`: a connection's ordered send buffers, the first one inline (no allocation per idle
//!   connection).
//! - `file_op`: file operations on plain descriptors (`write_file`, `sync_file`) and the
//!   bounded table that owns their buffers until completion.
//! - `sys`: the libc wrappers both backends use.
//! - `uring`: the io_uring backend (direct descriptors, provided buffer rings, several rings).
//! - `epoll`: the fallback backend.
//!
//! Buffers: a `send` moves its `Vec<u8>` into the engine until `Event::SendComplete` hands it
//! back (on success, error or cancel); `send_vectored` also lends a shared `Bytes` payload that
//! is written in place after the buffer, its reference dropped at that same completion. Received bytes are lent as `Event::Data { bytes }`
//! (a [`Received`]) and return to the engine when the next event is fetched, unless the shard lent a range
//! of them onwards by reference ([`Received::lend`], io_uring only): that receive buffer then stays out of
//! the kernel's hands until the last `Bytes` over it is dropped. A `write_file` likewise owns its
//! `Vec<u8>` until `Event::FileWritten` hands it back.
//!
//! File I/O (the shard's durable log): `write_file` and `sync_file` work on plain (not
//! registered) descriptors and are reported as `Event::FileWritten` / `Event::FileSynced` with
//! the caller's token. On io_uring they are `IORING_OP_WRITE` / `IORING_OP_FSYNC` submitted with
//! the tick's other entries (no extra `io_uring_enter`), and a short write is continued inside
//! the engine, so `Ok` means every byte. On epoll they run as blocking `pwrite` / `fdatasync` at
//! the start of the next `poll`, so callers see the same interface and the same ordering rule:
//! nothing happens before the next `poll`. Two operations in flight at once on one file are not
//! ordered with respect to each other on io_uring: a sync covers only writes whose completion
//! was seen before the sync was submitted.

mod choice;
mod config;
pub mod epoll;
mod error;
mod event;
mod file_op;
mod ids;
mod received;
mod send_list;
mod slots;
mod sys;
pub mod uring;

use std::{net::SocketAddr, os::fd::RawFd, time::Duration};

use bytes::Bytes;
use tracing::info;

pub use self::choice::{BackendKind, ChoiceReason, EngineChoice, UringFlags};
pub use self::config::{EngineConfig, EngineKind};
pub use self::error::EngineError;
pub use self::event::{Errno, Event, PeerClose};
pub use self::file_op::FILE_OPS_IN_FLIGHT_MAX;
pub use self::ids::{ConnId, ListenerId, WakeToken};
pub use self::received::{HeldBytes, Received};
use self::{epoll::EpollEngine, uring::UringEngine};

/// One shard's engine: io_uring or epoll behind one interface. Create it on the thread that
/// will run it (io_uring `SINGLE_ISSUER` ties the ring to its creating thread); it is not `Send`.
pub enum Engine {
    /// The io_uring backend.
    Uring(UringEngine),
    /// The epoll backend.
    Epoll(EpollEngine),
}

macro_rules! dispatch {
    ($self:expr, $engine:ident => $call:expr) => {
        match $self {
            Engine::Uring($engine) => $call,
            Engine::Epoll($engine) => $call,
        }
    };
}

impl Engine {
    /// Validates `config`, picks a backend per `kind` and says which one and why (log it).
    pub fn new(
        config: &EngineConfig,
        kind: EngineKind,
    ) -> Result<(Engine, EngineChoice), EngineError> {
        config.validate()?;
        let uring_failure = match kind {
            EngineKind::Epoll => None,
            EngineKind::IoUring | EngineKind::Auto => match UringEngine::new(config) {
                Ok((engine, choice)) => return Ok((Engine::Uring(engine), choice)),
                Err(EngineError::IoUringUnavailable(why)) if kind == EngineKind::Auto => Some(why),
                Err(err) => return Err(err),
            },
        };
        let engine = EpollEngine::new(config)?;
        let (connections_max, limited_by) = EpollEngine::capacity(config);
        let reason = match uring_failure {
            Some(why) => ChoiceReason::UringUnavailable(why),
            None => ChoiceReason::EpollRequested,
        };
        let choice = EngineChoice {
            backend: BackendKind::Epoll,
            reason,
            connections_max,
            limited_by,
            rings: 0,
        };
        info!(%choice, "engine chosen");
        Ok((Engine::Epoll(engine), choice))
    }

    /// Checks that no other socket listens on `addr` before shards bind it with `SO_REUSEPORT`: the
    /// kernel lets every `SO_REUSEPORT` socket of the same user share a port, so a second server
    /// started on a busy port would otherwise take a share of the first one's new connections instead
    /// of failing. `Err(EADDRINUSE)` (or another bind error) says why the address cannot be used.
    /// Port 0 always passes (each start gets a fresh port).
    pub fn probe_address(addr: SocketAddr) -> Result<(), Errno> {
        if addr.port() == 0 {
            return Ok(());
        }
        sys::probe_bind(addr)
    }

    /// Opens an `SO_REUSEPORT` listener on `addr` (one per shard on the same port lets the kernel
    /// spread connections). Returns its id and the bound address (useful with port 0).
    pub fn listen(&mut self, addr: SocketAddr) -> Result<(ListenerId, SocketAddr), EngineError> {
        dispatch!(self, e => e.listen(addr))
    }

    /// Starts a TCP connection to `dest` from `source` (any address/port, `SO_REUSEADDR`) or an
    /// ephemeral port. The id is usable at once (sends queue until connected); the outcome
    /// arrives as `Event::Connected` or `Event::ConnectFailed`.
    pub fn connect(
        &mut self,
        dest: SocketAddr,
        source: Option<SocketAddr>,
    ) -> Result<ConnId, EngineError> {
        dispatch!(self, e => e.connect(dest, source))
    }

    /// Queues `buf` for sending on `conn`, after earlier sends. The engine owns it until
    /// `Event::SendComplete` returns it; a stale or closing `conn` returns it with `EBADF`.
    pub fn send(&mut self, conn: ConnId, buf: Vec<u8>) {
        dispatch!(self, e => e.send(conn, buf))
    }

    /// Queues `head` followed by `payload` for sending on `conn` as one send, after earlier sends:
    /// the kernel reads both in place (a `sendmsg` with one iovec each, batched with the tick's other
    /// sends on `conn`), so a large payload costs no copy behind its frame header. The engine keeps
    /// a reference to `payload` until `Event::SendComplete` returns `head` (both written, failed or
    /// cancelled), and drops it then; holding another reference is how a caller learns the kernel is
    /// done with the memory (`Bytes::try_into_mut` succeeds again).
    pub fn send_vectored(&mut self, conn: ConnId, head: Vec<u8>, payload: Bytes) {
        dispatch!(self, e => e.send_vectored(conn, head, payload))
    }

    /// Queues bytes held in their receive buffer ([`Received::hold`]) for sending on `conn`, after earlier
    /// sends: one plain send straight from the receive buffer (no copy, no allocation), which echo uses for a
    /// message whose reply it wrote over the request in place. `Event::SendComplete` hands back an empty
    /// buffer; the hold is dropped then, and the receive buffer may go back to the kernel.
    pub fn send_held(&mut self, conn: ConnId, held: HeldBytes) {
        dispatch!(self, e => e.send_held(conn, held))
    }

    /// Shuts down the sending side of `conn` after the queued sends (the peer reads EOF).
    pub fn shutdown_write(&mut self, conn: ConnId) -> Result<(), EngineError> {
        dispatch!(self, e => e.shutdown_write(conn))
    }

    /// Closes `conn`: reading stops, unsent and in-flight sends come back with
    /// `Errno::CANCELLED`, then `Event::Closed` reports the id free. To close after a final
    /// message, wait for its `SendComplete` first.
    pub fn close(&mut self, conn: ConnId) -> Result<(), EngineError> {
        dispatch!(self, e => e.close(conn))
    }

    /// Watches an external eventfd (cross-core wake-ups): each time it is signalled the engine
    /// reads it (resetting the counter) and reports `Event::Wake { token }`. The caller keeps
    /// the fd open for the engine's lifetime.
    pub fn watch_eventfd(&mut self, fd: RawFd) -> Result<WakeToken, EngineError> {
        dispatch!(self, e => e.watch_eventfd(fd))
    }

    /// Queues a write of all of `buf` at `offset` of the plain descriptor `fd` (a regular
    /// file: `pwrite` semantics, the file position is not used). The engine owns `buf` until
    /// `Event::FileWritten { token, buf, result }` hands it back, on success or error; a short
    /// write is continued inside the engine. Submitted by the next `poll`. The caller keeps `fd`
    /// open until the completion.
    pub fn write_file(&mut self, fd: RawFd, offset: u64, buf: Vec<u8>, token: u64) {
        dispatch!(self, e => e.write_file(fd, offset, buf, token))
    }

    /// Queues an `fdatasync` (`data_only`) or `fsync` of the plain descriptor `fd`, reported as
    /// `Event::FileSynced { token, result }`. It covers the writes whose `FileWritten` was seen
    /// before this call; submit it after those completions, not alongside the writes.
    pub fn sync_file(&mut self, fd: RawFd, token: u64, data_only: bool) {
        dispatch!(self, e => e.sync_file(fd, token, data_only))
    }

    /// One tick: submits everything queued since the last tick, waits up to `timeout` (`None`:
    /// until something happens; `Some(ZERO)`: don't wait) and gathers what completed. Then
    /// drain [`Engine::next_event`]. If nothing happened the only event is `Event::Timeout`.
    pub fn poll(&mut self, timeout: Option<Duration>) -> Result<bool, EngineError> {
        dispatch!(self, e => e.poll(timeout))
    }

    /// The next event of this tick, or `None`. A `Data` event's bytes are valid until the next
    /// call; the borrow checker lets the shard call `send` etc. once it stops using them.
    pub fn next_event(&mut self) -> Option<Event<'_>> {
        dispatch!(self, e => e.next_event())
    }

    /// Connections allocated now (open, connecting or closing).
    pub fn connections(&self) -> usize {
        dispatch!(self, e => e.connections())
    }

    /// Which backend this is.
    pub fn backend(&self) -> BackendKind {
        match self {
            Engine::Uring(_) => BackendKind::IoUring,
            Engine::Epoll(_) => BackendKind::Epoll,
        }
    }
}
