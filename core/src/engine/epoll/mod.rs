//! The epoll backend: nonblocking sockets, level-triggered readiness, reads into one per-shard
//! scratch buffer (so an idle connection holds no read buffer), writes flushed once per tick.
//!
//! Layout:
//! - `accept`: listeners, accepting, pausing when descriptors or slots run out.
//! - `conn`: one connection's socket, send queue and interest set.
//!
//! File operations (`write_file`, `sync_file`) are queued and run with blocking `pwrite` /
//! `fdatasync` at the start of the next `poll`, their completions queued like any event, so the
//! shard sees the same interface as on io_uring (the syscalls block the shard thread meanwhile).
//!
//! Every connection costs a file descriptor, so this backend holds at most `RLIMIT_NOFILE`
//! (minus a reserve) connections; `EngineChoice::limited_by` says so.

mod accept;
mod conn;

use std::{
    collections::VecDeque,
    io::{ErrorKind, Read},
    marker::PhantomData,
    net::{SocketAddr, TcpStream},
    os::fd::{AsRawFd, RawFd},
    time::{Duration, Instant},
};

use bytes::Bytes;
use tracing::warn;

use self::{accept::EpollListener, conn::EpollConn};
use super::{
    config::EngineConfig,
    error::EngineError,
    event::{Errno, Event, PeerClose},
    file_op::{FileOp, FileOpKind, FILE_OPS_IN_FLIGHT_MAX},
    ids::{ConnId, ListenerId, WakeToken},
    received::{HeldBytes, Received},
    send_list::{Outgoing, Tail},
    slots::SlotAllocator,
    sys,
};

/// Descriptors kept free for listeners, eventfds, the epoll fd and the rest of the process.
pub const EPOLL_DESCRIPTORS_RESERVED: u64 = 64;
/// Connections accepted from one listener per tick, so one busy listener cannot starve others.
const ACCEPTS_PER_TICK_MAX: usize = 256;

const TOKEN_LISTENER: u64 = 1;
const TOKEN_CONN: u64 = 2;
const TOKEN_WAKE: u64 = 3;

fn token(kind: u64, index: u32, generation: u32) -> u64 {
    (kind << 56) | (u64::from(generation & 0x00ff_ffff) << 32) | u64::from(index)
}

enum Pending {
    Ready(Event<'static>),
    Readable(ConnId),
}

/// The epoll engine of one shard. Not `Send`: it belongs to the shard thread.
pub struct EpollEngine {
    epoll: sys::Epoll,
    slots: SlotAllocator,
    conns: Vec<Option<EpollConn>>,
    listeners: Vec<EpollListener>,
    wakes: Vec<RawFd>,
    ready: Vec<libc::epoll_event>,
    queue: VecDeque<Pending>,
    dirty: Vec<ConnId>,
    /// File operations waiting for the next `poll`, in call order (at most
    /// `FILE_OPS_IN_FLIGHT_MAX`); they own their buffers until then.
    file_ops: VecDeque<FileOp>,
    scratch: Box<[u8]>,
    listen_backlog: u32,
    _not_send: PhantomData<*const ()>,
}

impl EpollEngine {
    /// Connections this backend can hold given `config` and `RLIMIT_NOFILE`, and the limit
    /// that applied if lower than configured.
    pub fn capacity(config: &EngineConfig) -> (u32, Option<String>) {
        let soft = sys::nofile_soft_limit();
        let fit = soft.saturating_sub(EPOLL_DESCRIPTORS_RESERVED).max(1);
        if u64::from(config.connections_max) <= fit {
            (config.connections_max, None)
        } else {
            let why = format!(
                "RLIMIT_NOFILE soft limit {soft} (epoll holds one descriptor per connection)"
            );
            (fit as u32, Some(why))
        }
    }

    /// Creates the engine; `config` must already be valid.
    pub fn new(config: &EngineConfig) -> Result<Self, EngineError> {
        let (connections_max, _) = Self::capacity(config);
        let epoll = sys::Epoll::new().map_err(|errno| EngineError::Setup {
            step: "epoll_create1",
            errno,
        })?;
        Ok(Self {
            epoll,
            slots: SlotAllocator::new(connections_max),
            conns: (0..connections_max).map(|_| None).collect(),
            listeners: Vec::new(),
            wakes: Vec::new(),
            ready: Vec::with_capacity(config.epoll_events_max as usize),
            queue: VecDeque::new(),
            dirty: Vec::new(),
            file_ops: VecDeque::new(),
            scratch: vec![0; config.recv_buffer_bytes as usize].into_boxed_slice(),
            listen_backlog: config.listen_backlog,
            _not_send: PhantomData,
        })
    }

    /// Opens an `SO_REUSEPORT` listener; accepted connections arrive as `Event::Accepted`.
    pub fn listen(&mut self, addr: SocketAddr) -> Result<(ListenerId, SocketAddr), EngineError> {
        let listen_err = |errno| EngineError::Listen { addr, errno };
        let socket = sys::listen_socket(addr, self.listen_backlog).map_err(listen_err)?;
        socket
            .set_nonblocking(true)
            .map_err(|e| listen_err(Errno::from_io(&e)))?;
        let local = socket
            .local_addr()
            .map_err(|e| listen_err(Errno::from_io(&e)))?;
        let index = self.listeners.len() as u32;
        let readable = libc::EPOLLIN as u32;
        self.epoll
            .add(
                socket.as_raw_fd(),
                token(TOKEN_LISTENER, index, 0),
                readable,
            )
            .map_err(listen_err)?;
        self.listeners.push(EpollListener {
            socket,
            paused: false,
        });
        Ok((ListenerId(index), local))
    }

    /// Starts a connection to `dest`, optionally from `source`; see `Engine::connect`.
    pub fn connect(
        &mut self,
        dest: SocketAddr,
        source: Option<SocketAddr>,
    ) -> Result<ConnId, EngineError> {
        let conn = self.slots.allocate().ok_or(EngineError::ConnectionsFull)?;
        let fd = match sys::client_socket(&dest, source) {
            Ok(fd) => fd,
            Err(errno) => {
                self.slots.free(conn);
                return Err(EngineError::Connect { addr: dest, errno });
            }
        };
        let stream = TcpStream::from(fd);
        match sys::connect_nonblocking(stream.as_raw_fd(), dest) {
            Ok(done) => {
                self.conns[conn.index()] = Some(EpollConn::new(stream, !done));
                if done {
                    self.queue
                        .push_back(Pending::Ready(Event::Connected { conn }));
                }
                if let Err(cause) = self.register(conn) {
                    self.drop_conn(conn);
                    self.queue
                        .push_back(Pending::Ready(Event::ConnectFailed { conn, cause }));
                }
            }
            Err(cause) => {
                self.slots.free(conn);
                self.queue
                    .push_back(Pending::Ready(Event::ConnectFailed { conn, cause }));
            }
        }
        Ok(conn)
    }

    /// Queues `buf` on `conn`; it comes back in `Event::SendComplete`.
    pub fn send(&mut self, conn: ConnId, buf: Vec<u8>) {
        self.send_outgoing(conn, buf.into());
    }

    /// Queues `head` then `payload` as one send; see `Engine::send_vectored`.
    pub fn send_vectored(&mut self, conn: ConnId, head: Vec<u8>, payload: Bytes) {
        let tail = Some(Tail::Shared(payload));
        self.send_outgoing(conn, Outgoing { head, tail });
    }

    /// Queues `held` as one send; see `Engine::send_held` (this backend never holds receive buffers, so a
    /// value from another engine is all it can get here).
    pub fn send_held(&mut self, conn: ConnId, held: HeldBytes) {
        let tail = Some(Tail::Held(held));
        self.send_outgoing(
            conn,
            Outgoing {
                head: Vec::new(),
                tail,
            },
        );
    }

    fn send_outgoing(&mut self, conn: ConnId, send: Outgoing) {
        let Some(state) = self.live_mut(conn) else {
            let result = Err(Errno(libc::EBADF));
            let buf = send.head;
            self.queue
                .push_back(Pending::Ready(Event::SendComplete { conn, buf, result }));
            return;
        };
        state.sends.push_back(send);
        if !state.dirty {
            state.dirty = true;
            self.dirty.push(conn);
        }
    }

    /// Shuts down the write side once queued sends are written.
    pub fn shutdown_write(&mut self, conn: ConnId) -> Result<(), EngineError> {
        let state = self.live_mut(conn).ok_or(EngineError::UnknownConn(conn))?;
        state.shutdown_pending = true;
        if !state.dirty {
            state.dirty = true;
            self.dirty.push(conn);
        }
        Ok(())
    }

    /// Closes `conn` now: queued sends come back cancelled, then `Event::Closed`.
    pub fn close(&mut self, conn: ConnId) -> Result<(), EngineError> {
        let mut state = self.take_conn(conn).ok_or(EngineError::UnknownConn(conn))?;
        let queue = &mut self.queue;
        state.fail_sends(conn, Errno::CANCELLED, &mut |ev| {
            queue.push_back(Pending::Ready(ev))
        });
        // Deregistration failing would mean the fd is already gone; dropping it closes it.
        let _ = self.epoll.delete(state.stream.as_raw_fd());
        drop(state);
        self.queue.push_back(Pending::Ready(Event::Closed { conn }));
        self.resume_listeners();
        Ok(())
    }

    /// Watches an eventfd (made nonblocking here); each time it fires, `Event::Wake` is
    /// reported and its counter is reset. The caller keeps the fd open while the engine lives.
    pub fn watch_eventfd(&mut self, fd: RawFd) -> Result<WakeToken, EngineError> {
        sys::set_nonblocking(fd).map_err(EngineError::Watch)?;
        let index = self.wakes.len() as u32;
        self.epoll
            .add(fd, token(TOKEN_WAKE, index, 0), libc::EPOLLIN as u32)
            .map_err(EngineError::Watch)?;
        self.wakes.push(fd);
        Ok(WakeToken(index))
    }

    /// Queues a write of `buf` at `offset` of `fd`, run at the next `poll`; see
    /// `Engine::write_file`.
    pub fn write_file(&mut self, fd: RawFd, offset: u64, buf: Vec<u8>, token: u64) {
        let kind = FileOpKind::Write {
            offset,
            buf,
            written: 0,
        };
        self.queue_file_op(FileOp { token, fd, kind });
    }

    /// Queues an `fdatasync`/`fsync` of `fd`, run at the next `poll`; see `Engine::sync_file`.
    pub fn sync_file(&mut self, fd: RawFd, token: u64, data_only: bool) {
        let kind = FileOpKind::Sync { data_only };
        self.queue_file_op(FileOp { token, fd, kind });
    }

    fn queue_file_op(&mut self, op: FileOp) {
        if self.file_ops.len() == FILE_OPS_IN_FLIGHT_MAX {
            let event = op.into_event(Err(Errno(libc::EBUSY)));
            self.queue.push_back(Pending::Ready(event));
        } else {
            self.file_ops.push_back(op);
        }
    }

    /// Runs the queued file operations in order with blocking syscalls.
    fn run_file_ops(&mut self) {
        while let Some(mut op) = self.file_ops.pop_front() {
            let result = op.run_blocking();
            self.queue.push_back(Pending::Ready(op.into_event(result)));
        }
    }

    /// Flushes sends, waits up to `timeout` (`None`: until something happens) and queues what
    /// happened; fetch it with `next_event`. Returns whether any event is queued.
    pub fn poll(&mut self, timeout: Option<Duration>) -> Result<bool, EngineError> {
        self.flush_dirty();
        self.run_file_ops();
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let timeout_ms = match deadline {
                _ if !self.queue.is_empty() => 0,
                None => -1,
                Some(d) => d
                    .saturating_duration_since(Instant::now())
                    .as_millis()
                    .min(i32::MAX as u128) as i32,
            };
            self.epoll
                .wait(&mut self.ready, timeout_ms)
                .map_err(EngineError::Wait)?;
            for i in 0..self.ready.len() {
                let ready = self.ready[i];
                self.dispatch(ready.u64, ready.events);
            }
            // An empty wake-up (EINTR, e.g. from io_uring task work on this thread) is retried.
            if !self.queue.is_empty() || deadline.is_some_and(|d| Instant::now() >= d) {
                break;
            }
        }
        if self.queue.is_empty() {
            self.queue.push_back(Pending::Ready(Event::Timeout));
        }
        Ok(true)
    }

    /// The next queued event; `None` when the tick's events are all delivered.
    pub fn next_event(&mut self) -> Option<Event<'_>> {
        loop {
            match self.queue.pop_front()? {
                Pending::Ready(event) => return Some(event),
                Pending::Readable(conn) => {
                    let Some(state) = self.conns[conn.index()]
                        .as_mut()
                        .filter(|_| self.slots.is_live(conn))
                    else {
                        continue;
                    };
                    match state.stream.read(&mut self.scratch) {
                        Ok(0) => return Some(self.read_ended(conn, PeerClose::Eof)),
                        Ok(n) => {
                            return Some(Event::Data {
                                conn,
                                bytes: Received::plain(&mut self.scratch[..n]),
                            })
                        }
                        Err(e)
                            if matches!(
                                e.kind(),
                                ErrorKind::WouldBlock | ErrorKind::Interrupted
                            ) => {}
                        Err(e) => {
                            return Some(
                                self.read_ended(conn, PeerClose::Error(Errno::from_io(&e))),
                            )
                        }
                    }
                }
            }
        }
    }

    /// Connections currently allocated (open, connecting or closing).
    pub fn connections(&self) -> usize {
        self.slots.live_count()
    }

    fn read_ended(&mut self, conn: ConnId, cause: PeerClose) -> Event<'static> {
        if let Some(state) = self.conns[conn.index()].as_mut() {
            state.read_closed = true;
        }
        if let Err(errno) = self.register(conn) {
            warn!(?conn, %errno, "epoll interest update failed");
        }
        Event::PeerClosed { conn, cause }
    }

    fn live_mut(&mut self, conn: ConnId) -> Option<&mut EpollConn> {
        if self.slots.is_live(conn) {
            self.conns[conn.index()].as_mut()
        } else {
            None
        }
    }

    fn take_conn(&mut self, conn: ConnId) -> Option<EpollConn> {
        let state = self
            .live_mut(conn)
            .is_some()
            .then(|| self.conns[conn.index()].take())??;
        self.slots.free(conn);
        Some(state)
    }

    fn drop_conn(&mut self, conn: ConnId) {
        if let Some(state) = self.take_conn(conn) {
            let _ = self.epoll.delete(state.stream.as_raw_fd());
        }
    }

    /// Brings epoll's interest set for `conn` in line with its state.
    fn register(&mut self, conn: ConnId) -> Result<(), Errno> {
        let Some(state) = self.conns[conn.index()].as_mut() else {
            return Ok(());
        };
        let wanted = state.wanted_interest();
        if wanted == state.interest {
            return Ok(());
        }
        let fd = state.stream.as_raw_fd();
        let tok = token(TOKEN_CONN, conn.index() as u32, conn.generation());
        let was = state.interest;
        state.interest = wanted;
        if was == 0 && wanted != 0 {
            self.epoll.add(fd, tok, wanted)
        } else if wanted == 0 {
            self.epoll.delete(fd)
        } else {
            self.epoll.modify(fd, tok, wanted)
        }
    }

    fn flush_dirty(&mut self) {
        let dirty = std::mem::take(&mut self.dirty);
        for &conn in &dirty {
            self.flush(conn);
        }
        self.dirty = dirty;
        self.dirty.clear();
    }

    fn flush(&mut self, conn: ConnId) {
        let queue = &mut self.queue;
        let Some(state) = self.conns[conn.index()]
            .as_mut()
            .filter(|_| self.slots.is_live(conn))
        else {
            return;
        };
        state.dirty = false;
        if !state.connecting {
            state.flush(conn, &mut |ev| queue.push_back(Pending::Ready(ev)));
        }
        if let Err(errno) = self.register(conn) {
            warn!(?conn, %errno, "epoll interest update failed");
        }
    }

    fn dispatch(&mut self, data: u64, events: u32) {
        let index = data as u32;
        let generation = ((data >> 32) & 0x00ff_ffff) as u32;
        match data >> 56 {
            TOKEN_LISTENER => self.accept_some(index),
            TOKEN_WAKE => self.wake(index),
            TOKEN_CONN => {
                let Some(conn) = self
                    .slots
                    .live_at(index)
                    .filter(|c| c.generation() & 0x00ff_ffff == generation)
                else {
                    return;
                };
                self.conn_ready(conn, events);
            }
            kind => unreachable!("unknown epoll token kind {kind}"),
        }
    }

    fn conn_ready(&mut self, conn: ConnId, events: u32) {
        let Some(state) = self.conns[conn.index()].as_mut() else {
            return;
        };
        let failed = events & (libc::EPOLLERR | libc::EPOLLHUP) as u32 != 0;
        if state.connecting {
            if events & libc::EPOLLOUT as u32 == 0 && !failed {
                return;
            }
            match state.stream.take_error() {
                Ok(None) => {
                    state.connecting = false;
                    self.queue
                        .push_back(Pending::Ready(Event::Connected { conn }));
                    self.flush(conn);
                }
                Ok(Some(err)) | Err(err) => {
                    let cause = Errno::from_io(&err);
                    let mut state = self.take_conn(conn).expect("live");
                    let _ = self.epoll.delete(state.stream.as_raw_fd());
                    let queue = &mut self.queue;
                    state.fail_sends(conn, cause, &mut |ev| queue.push_back(Pending::Ready(ev)));
                    self.queue
                        .push_back(Pending::Ready(Event::ConnectFailed { conn, cause }));
                    self.resume_listeners();
                }
            }
            return;
        }
        if events & libc::EPOLLOUT as u32 != 0 {
            self.flush(conn);
        }
        let readable = events & libc::EPOLLIN as u32 != 0 || failed;
        if readable
            && self.conns[conn.index()]
                .as_ref()
                .is_some_and(|s| !s.read_closed)
        {
            self.queue.push_back(Pending::Readable(conn));
        }
    }

    fn wake(&mut self, index: u32) {
        match sys::read_eventfd(self.wakes[index as usize]) {
            Ok(Some(_)) => self.queue.push_back(Pending::Ready(Event::Wake {
                token: WakeToken(index),
            })),
            Ok(None) => {}
            Err(errno) => warn!(%errno, "reading a wake eventfd failed"),
        }
    }
}
