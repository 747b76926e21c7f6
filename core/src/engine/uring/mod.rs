//! The io_uring backend: multishot accept into direct descriptors, multishot recv from a
//! provided-buffer ring, owned-buffer sends, one `io_uring_enter` per tick.
//!
//! Layout:
//! - `ring`: one io_uring with its file table and buffer ring; probing of setup flags.
//! - `buf_ring`: the provided-buffer ring.
//! - `recv_holds`: the ring's buffer memory and the lent values holding its buffers.
//! - `buffer_split`: how many provided buffers each ring gets, and how large.
//! - `conn`: per-connection state and the buffers its operations own.
//! - `send_state`: a connection's sends, pooled and held only while it has any.
//! - `user_data`: how a completion is matched to its operation.
//! - `complete`: what each completion does.
//! - `close`: closing a connection (cancel, close, release).
//! - `file`: writes and syncs on plain file descriptors (the shard's log).
//! - `submit`: building the submissions.
//!
//! A registered file table is capped at `RLIMIT_NOFILE`, so when `connections_max` exceeds one
//! table the engine opens more rings. Only the first ring is waited on: the others signal an
//! eventfd that the first ring reads, so the shard still blocks in one place.

mod buf_ring;
mod buffer_split;
mod close;
mod complete;
mod conn;
mod file;
mod recv_holds;
mod ring;
mod send_state;
mod submit;
mod user_data;

pub(crate) use self::recv_holds::{Hold, RecvHolds};

use std::{
    collections::VecDeque,
    marker::PhantomData,
    net::{SocketAddr, TcpListener},
    os::fd::{AsRawFd, OwnedFd, RawFd},
    sync::Arc,
    time::{Duration, Instant},
};

use bytes::Bytes;
use io_uring::types::CancelBuilder;
use tracing::{info, warn};

use self::{
    buf_ring::Slice,
    buffer_split::{buffer_bytes_for_ring, buffers_for_ring},
    conn::{Flags, Phase, UringConn},
    ring::{Ring, RingError},
    send_state::SendStates,
};
use super::{
    choice::{BackendKind, ChoiceReason, EngineChoice},
    config::EngineConfig,
    error::EngineError,
    event::{Errno, Event, PeerClose},
    file_op::FileOps,
    ids::{ConnId, ListenerId, WakeToken},
    received::{HeldBytes, Received},
    send_list::{Outgoing, Tail},
    slots::SlotAllocator,
    sys,
};

/// Single-shot accepts kept in flight per listener and ring when the table is nearly full.
const SINGLE_ACCEPTS_PER_LISTENER: u32 = 16;

/// A queued event; `Data` refers to a slice of a provided buffer still owned by its ring.
enum Pending {
    Ready(Event<'static>),
    Data {
        conn: ConnId,
        ring: u32,
        slice: Slice,
    },
}

/// The io_uring engine of one shard. Not `Send`: its rings are tied to the creating thread.
pub struct UringEngine {
    rings: Vec<Ring>,
    slots: SlotAllocator,
    conns: Vec<UringConn>,
    /// The sends of connections that have any queued or in flight (see [`SendStates`]).
    send_states: SendStates,
    listeners: Vec<TcpListener>,
    /// Watched external eventfds and the 8-byte buffers their reads fill.
    wakes: Vec<(RawFd, Box<u64>)>,
    /// The eventfd the extra rings signal, and the primary ring's read buffer for it.
    ring_wake: Option<(OwnedFd, Box<u64>)>,
    secondaries_woken: bool,
    queue: VecDeque<Pending>,
    /// Connections whose queued sends start at the next submission (see `queue_start`); at most
    /// one entry per open connection, so it grows to the busiest tick's size and stays there.
    send_starts: Vec<ConnId>,
    /// File writes and syncs in flight, owning their buffers until their completions.
    files: FileOps,
    /// The buffer slice lent out by the last `Data` event, with its ring.
    lent: Option<(u32, Slice)>,
    /// Each ring's receive-buffer holds (`Ring::bufs.holds()`), apart so a `Data` event can borrow both.
    holds: Vec<Arc<RecvHolds>>,
    completions: Vec<(u64, i32, u32)>,
    listen_backlog: u32,
    _not_send: PhantomData<*const ()>,
}

fn ring_error(err: RingError) -> EngineError {
    match err {
        RingError::Unavailable(why) => EngineError::IoUringUnavailable(why),
        RingError::Setup(step, errno) => EngineError::Setup { step, errno },
    }
}

/// Setup flags for the extra rings. The shard sleeps in the primary ring only; with `DEFER_TASKRUN` an
/// extra ring's completions are posted only when the shard enters that very ring, so every wake-up would
/// have to enter every extra ring (one syscall each). `COOP_TASKRUN | TASKRUN_FLAG` rings post completions
/// themselves (their registered eventfd wakes the primary) and flag the rare task work that needs an entry.
fn secondary_flags(primary: crate::engine::UringFlags) -> crate::engine::UringFlags {
    use crate::engine::UringFlags;
    match primary {
        UringFlags::SingleIssuerDeferTaskrun => UringFlags::CoopTaskrun,
        other => other,
    }
}

impl UringEngine {
    /// Probes io_uring and builds as many rings as `connections_max` needs.
    /// `EngineError::IoUringUnavailable` means "use epoll instead".
    pub fn new(config: &EngineConfig) -> Result<(Self, EngineChoice), EngineError> {
        let (primary, flags) = ring::probe(config.ring_entries).map_err(ring_error)?;
        let soft = sys::nofile_soft_limit().min(u64::from(u32::MAX)) as u32;
        let table_max = match config.file_table_slots_max {
            0 => soft,
            n => n.min(soft),
        };
        let ring_count = config.connections_max.div_ceil(table_max);
        let mut rings = Vec::new();
        let mut remaining = config.connections_max;
        let mut next = Some(primary);
        while remaining > 0 {
            let uring = match next.take() {
                Some(uring) => uring,
                None => Ring::build_more(config.ring_entries, secondary_flags(flags))
                    .map_err(ring_error)?,
            };
            let table = remaining.min(table_max);
            let index = rings.len() as u32;
            let buffers = buffers_for_ring(config.recv_buffer_count, ring_count, index);
            let ring = Ring::new(uring, table, buffers, buffer_bytes_for_ring(config, index));
            rings.push(ring.map_err(ring_error)?);
            remaining -= table;
        }
        let mut engine = Self {
            // Reserved, written as the slot allocator first hands out each index (see `allocate_conn`).
            conns: Vec::with_capacity(config.connections_max as usize),
            slots: SlotAllocator::new(config.connections_max),
            send_states: SendStates::default(),
            rings,
            listeners: Vec::new(),
            wakes: Vec::new(),
            ring_wake: None,
            secondaries_woken: false,
            queue: VecDeque::new(),
            send_starts: Vec::new(),
            files: FileOps::default(),
            lent: None,
            holds: Vec::new(),
            completions: Vec::with_capacity(config.ring_entries as usize * 4),
            listen_backlog: config.listen_backlog,
            _not_send: PhantomData,
        };
        engine.holds = engine
            .rings
            .iter()
            .map(|ring| Arc::clone(ring.bufs.holds()))
            .collect();
        engine.link_secondaries()?;
        let bufs = &engine.rings[0].bufs;
        info!(
            rings = engine.rings.len(),
            primary_ring_buffers = buffers_for_ring(config.recv_buffer_count, ring_count, 0),
            extra_ring_buffers = buffers_for_ring(config.recv_buffer_count, ring_count, 1),
            buffer_bytes = bufs.buffer_bytes(),
            incremental = bufs.is_incremental(),
            "io_uring rings built"
        );
        let choice = EngineChoice {
            backend: BackendKind::IoUring,
            reason: ChoiceReason::UringWorks(flags),
            connections_max: config.connections_max,
            limited_by: None,
            rings: engine.rings.len() as u32,
        };
        info!(%choice, table_slots_max = table_max, "engine chosen");
        Ok((engine, choice))
    }

    /// Makes every extra ring signal one eventfd that the primary ring reads.
    fn link_secondaries(&mut self) -> Result<(), EngineError> {
        if self.rings.len() < 2 {
            return Ok(());
        }
        let eventfd = sys::new_eventfd().map_err(|errno| EngineError::Setup {
            step: "eventfd",
            errno,
        })?;
        for ring in &self.rings[1..] {
            let registered = ring.uring.submitter().register_eventfd(eventfd.as_raw_fd());
            registered.map_err(|e| EngineError::Setup {
                step: "register_eventfd",
                errno: Errno::from_io(&e),
            })?;
        }
        self.ring_wake = Some((eventfd, Box::new(0)));
        self.arm_ring_wake();
        Ok(())
    }

    /// Opens an `SO_REUSEPORT` listener; every ring with free slots accepts on it.
    pub fn listen(&mut self, addr: SocketAddr) -> Result<(ListenerId, SocketAddr), EngineError> {
        let socket = sys::listen_socket(addr, self.listen_backlog)
            .map_err(|errno| EngineError::Listen { addr, errno })?;
        let local = socket.local_addr().map_err(|e| EngineError::Listen {
            addr,
            errno: Errno::from_io(&e),
        })?;
        self.listeners.push(socket);
        for ring in &mut self.rings {
            ring.add_listener();
        }
        self.rearm_accepts();
        Ok((ListenerId(self.listeners.len() as u32 - 1), local))
    }

    /// Starts a connection from a plain socket installed as a direct descriptor.
    pub fn connect(
        &mut self,
        dest: SocketAddr,
        source: Option<SocketAddr>,
    ) -> Result<ConnId, EngineError> {
        let conn = self.allocate_conn().ok_or(EngineError::ConnectionsFull)?;
        match sys::client_socket(&dest, source) {
            Ok(socket) => {
                self.submit_register(conn, socket, dest);
                Ok(conn)
            }
            Err(errno) => {
                self.slots.free(conn);
                Err(EngineError::Connect { addr: dest, errno })
            }
        }
    }

    /// Queues `buf` after earlier sends on `conn`; see `Engine::send`.
    pub fn send(&mut self, conn: ConnId, buf: Vec<u8>) {
        self.send_outgoing(conn, buf.into());
    }

    /// Queues `head` then `payload` as one send; see `Engine::send_vectored`.
    pub fn send_vectored(&mut self, conn: ConnId, head: Vec<u8>, payload: Bytes) {
        self.send_outgoing(
            conn,
            Outgoing {
                head,
                tail: Some(Tail::Shared(payload)),
            },
        );
    }

    /// Queues `held` as one send; see `Engine::send_held`.
    pub fn send_held(&mut self, conn: ConnId, held: HeldBytes) {
        self.send_outgoing(
            conn,
            Outgoing {
                head: Vec::new(),
                tail: Some(Tail::Held(held)),
            },
        );
    }

    fn send_outgoing(&mut self, conn: ConnId, send: Outgoing) {
        if !self.is_open(conn) {
            let result = Err(Errno(libc::EBADF));
            let buf = send.head;
            self.queue
                .push_back(Pending::Ready(Event::SendComplete { conn, buf, result }));
            return;
        }
        self.send_state_mut(conn).sends.push_back(send);
        self.queue_start(conn);
    }

    /// Shuts down the write side after queued sends.
    pub fn shutdown_write(&mut self, conn: ConnId) -> Result<(), EngineError> {
        if !self.is_open(conn) {
            return Err(EngineError::UnknownConn(conn));
        }
        self.conns[conn.index()]
            .flags
            .set(Flags::SHUTDOWN_PENDING, true);
        self.queue_start(conn);
        Ok(())
    }

    /// Lists an open connection with nothing in flight so its sends start when the tick is
    /// submitted: every send the shard queues on it this tick then goes out in one operation (a
    /// frame's header and payload, several frames) instead of the first alone and the rest after
    /// its completion. Nothing is lost by waiting: entries reach the kernel only at submission.
    fn queue_start(&mut self, conn: ConnId) {
        let idle = self.nothing_in_flight(conn);
        let state = &mut self.conns[conn.index()];
        if state.phase == Phase::Open && idle && !state.flags.has(Flags::START_QUEUED) {
            state.flags.set(Flags::START_QUEUED, true);
            self.send_starts.push(conn);
        }
    }

    /// Starts the sends listed by `queue_start` (before the tick's submission).
    fn start_queued_sends(&mut self) {
        let mut starts = std::mem::take(&mut self.send_starts);
        for conn in starts.drain(..) {
            // A listed connection may have closed since (its sends were cancelled) or, once its slot
            // was released, belong to a newer holder (whose own listing covers it).
            if !self.is_open(conn) || !self.conns[conn.index()].flags.has(Flags::START_QUEUED) {
                continue;
            }
            self.conns[conn.index()]
                .flags
                .set(Flags::START_QUEUED, false);
            self.start_send(conn);
        }
        self.send_starts = starts;
    }

    /// Watches an external eventfd with a read on the primary ring; see `Engine::watch_eventfd`.
    pub fn watch_eventfd(&mut self, fd: RawFd) -> Result<WakeToken, EngineError> {
        self.wakes.push((fd, Box::new(0)));
        let index = self.wakes.len() as u32 - 1;
        self.arm_wake(index);
        Ok(WakeToken(index))
    }

    /// One tick: submit, wait up to `timeout`, reap every ring; see `Engine::poll`.
    pub fn poll(&mut self, timeout: Option<Duration>) -> Result<bool, EngineError> {
        self.recycle_lent();
        self.start_queued_sends();
        self.rearm_accepts();
        self.top_up_buffers();
        self.enter_secondaries()?;
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let wait = match deadline {
                _ if !self.queue.is_empty() => Some(Duration::ZERO),
                None => None,
                Some(d) => Some(d.saturating_duration_since(Instant::now())),
            };
            self.rings[0]
                .submit_and_wait(wait)
                .map_err(EngineError::Wait)?;
            self.reap(0);
            if self.secondaries_woken {
                self.enter_secondaries()?;
            }
            for ring in 1..self.rings.len() {
                self.reap(ring as u32);
            }
            // Reaping can queue follow-up operations on a secondary ring (a close after its cancel
            // completes). Only the primary ring is entered by the wait above, so submit them now or
            // they would sit until some unrelated wake-up.
            self.enter_secondaries()?;
            // An empty wake-up (EINTR, task work for bookkeeping ops) is retried.
            if !self.queue.is_empty() || deadline.is_some_and(|d| Instant::now() >= d) {
                break;
            }
            // A ring that ran dry during this wait has recvs re-armed (nothing queued for the shard,
            // so nothing was returned): publish the parked buffers before they go in again.
            self.top_up_buffers();
        }
        if self.queue.is_empty() {
            self.queue.push_back(Pending::Ready(Event::Timeout));
        }
        Ok(true)
    }

    /// The next event of this tick; see `Engine::next_event`.
    pub fn next_event(&mut self) -> Option<Event<'_>> {
        self.recycle_lent();
        loop {
            match self.queue.pop_front()? {
                Pending::Ready(Event::PeerClosed { conn, .. }) if !self.is_open(conn) => {}
                Pending::Ready(event) => return Some(event),
                Pending::Data { conn, ring, slice } => {
                    if !self.is_open(conn) {
                        self.rings[ring as usize].bufs.release(slice);
                        continue;
                    }
                    self.lent = Some((ring, slice));
                    // SAFETY: `slice` was reported by a recv completion on this ring and its
                    // buffer is not released until the next call (`lent`), so the kernel is not
                    // writing these bytes.
                    let bytes = unsafe { self.rings[ring as usize].bufs.bytes(slice) };
                    let bytes = Received::lendable(bytes, &self.holds[ring as usize], slice.bid);
                    return Some(Event::Data { conn, bytes });
                }
            }
        }
    }

    /// Connections allocated now (open, connecting or closing).
    pub fn connections(&self) -> usize {
        self.slots.live_count()
    }

    /// io_uring rings in use.
    pub fn rings(&self) -> usize {
        self.rings.len()
    }

    /// Direct descriptors held per ring (for tests and metrics).
    pub fn slots_used_per_ring(&self) -> Vec<u32> {
        self.rings.iter().map(|ring| ring.slots_used).collect()
    }

    /// Live and not closing.
    fn is_open(&self, conn: ConnId) -> bool {
        self.slots.is_live(conn) && self.conns[conn.index()].phase != Phase::Closing
    }

    fn recycle_lent(&mut self) {
        if let Some((ring, slice)) = self.lent.take() {
            self.rings[ring as usize].bufs.release(slice);
        }
    }

    /// Publishes each ring's parked receive buffers up to its target (see `buf_ring`).
    fn top_up_buffers(&mut self) {
        for ring in &mut self.rings {
            ring.bufs.top_up();
        }
    }

    /// Runs the extra rings' submissions and deferred work without waiting.
    fn enter_secondaries(&mut self) -> Result<(), EngineError> {
        // Extra rings never use DEFER_TASKRUN (see `secondary_flags`), so their completions are posted
        // without our help and reaped from memory; a ring is entered only when that would do something.
        // Entering every extra ring on each wake-up cost ~1/3 of the throughput with 11 rings.
        self.secondaries_woken = false;
        for ring in &mut self.rings[1..] {
            if ring.needs_enter() {
                ring.submit_and_wait(Some(Duration::ZERO))
                    .map_err(EngineError::Wait)?;
            }
        }
        Ok(())
    }

    fn reap(&mut self, ring: u32) {
        let mut completions = std::mem::take(&mut self.completions);
        self.rings[ring as usize].reap(&mut completions);
        for &(user_data, result, flags) in &completions {
            self.complete(ring, user_data, result, flags);
        }
        completions.clear();
        self.completions = completions;
    }

    /// Keeps the rings accepting on every listener within their free table slots, filling them in
    /// order.
    ///
    /// A ring starts accepting once the ring before it is nearly full (at most a backlog of free
    /// slots), and keeps accepting after that. So a shard below one table's worth of connections
    /// has them all on the primary ring: one `DEFER_TASKRUN` ring entered once per tick. Spread
    /// over every ring, each tick entered every ring that had a send queued, one syscall each,
    /// and the extra rings run without `DEFER_TASKRUN`.
    ///
    /// A multishot accept can take a whole listen queue in one burst before its completions
    /// are seen, so it only runs while the ring has more free slots than the backlog. Below
    /// that, single-shot accepts each hold a reserved slot, so a full table never makes the
    /// kernel accept a connection it cannot install (it would drop it with `ENFILE`).
    fn rearm_accepts(&mut self) {
        for ring in 0..self.rings.len() {
            let previous_nearly_full =
                ring == 0 || self.rings[ring - 1].slots_free() <= self.listen_backlog;
            for listener in 0..self.listeners.len() {
                let r = &self.rings[ring];
                let started = r.accept_armed[listener] || r.accepts_pending[listener] > 0;
                if !started && !previous_nearly_full {
                    continue;
                }
                let multishot_ok = r.slots_free() > self.listen_backlog;
                if r.accept_armed[listener] {
                    if !multishot_ok && !r.accept_cancelling[listener] {
                        self.cancel_accept(ring as u32, listener as u32);
                    }
                } else if multishot_ok {
                    if r.accepts_pending[listener] == 0 {
                        self.arm_accept(ring as u32, listener as u32);
                    }
                } else {
                    while self.rings[ring].accepts_pending[listener] < SINGLE_ACCEPTS_PER_LISTENER
                        && self.rings[ring].slots_free() > 0
                    {
                        self.arm_accept_one(ring as u32, listener as u32);
                    }
                }
            }
        }
    }

    /// A free connection id, its state slot written if the id is new (the table is reserved at start
    /// and made resident as it fills, like the slot allocator's).
    pub(super) fn allocate_conn(&mut self) -> Option<ConnId> {
        let conn = self.slots.allocate()?;
        if conn.index() == self.conns.len() {
            self.conns.push(UringConn::free());
        }
        Some(conn)
    }

    fn peer_closed(&mut self, conn: ConnId, cause: PeerClose) {
        self.conns[conn.index()].flags.set(Flags::READ_CLOSED, true);
        self.queue
            .push_back(Pending::Ready(Event::PeerClosed { conn, cause }));
    }
}

impl Drop for UringEngine {
    fn drop(&mut self) {
        // Rule: a buffer stays alive until the kernel is done with it. Cancel every request
        // synchronously; if that fails, leak the buffers instead of freeing memory in use.
        let mut all_done = true;
        for ring in &self.rings {
            let timeout = io_uring::types::Timespec::new().sec(1);
            match ring
                .uring
                .submitter()
                .register_sync_cancel(Some(timeout), CancelBuilder::any())
            {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
                Err(e) => {
                    warn!(error = %e, "io_uring sync cancel failed at shutdown; leaking buffers");
                    all_done = false;
                }
            }
        }
        if !all_done {
            std::mem::forget(std::mem::take(&mut self.rings));
            std::mem::forget(std::mem::take(&mut self.conns));
            std::mem::forget(std::mem::take(&mut self.send_states));
            std::mem::forget(std::mem::take(&mut self.wakes));
            std::mem::forget(self.ring_wake.take());
            std::mem::forget(std::mem::take(&mut self.files));
        }
    }
}
