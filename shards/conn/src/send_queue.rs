//! [`SendQueue`]: one connection's outbound bytes — four priority lanes, fragmentation, a byte bound.
//!
//! - Messages are queued per [`Lane`] as `Bytes` (shared, so a fan-out to many connections does not copy),
//!   and framed lazily by [`SendQueue::poll_transmit`], which copies frames into the caller's write buffer,
//!   several small frames per call. [`SendQueue::poll_transmit_vectored`] copies only headers and small
//!   payloads: a payload chunk of at least [`GATHER_PAYLOAD_BYTES_MIN`] is handed out by reference, to be
//!   written right after the buffer (`Engine::send_vectored`), since copying it cost more than the kernel's
//!   own copy (issue 19: a quarter of the server's CPU at 500 × 16 KiB echo).
//! - A message above `fragment_bytes` is cut into fragments. With [`Fragmentation::App`] (switchboard.v1)
//!   every fragment is a complete WebSocket message carrying an app-level fragment prefix, so the lanes are
//!   re-examined after every fragment and an urgent message waits behind at most one fragment. With
//!   [`Fragmentation::WebSocket`] (plain clients) fragments are RFC 6455 continuation frames, which another
//!   data message may not interleave (RFC 6455 5.4): only control frames go between them.
//! - Our ping and close sit in fixed slots ahead of all lanes, so they cost no allocation; pongs answering
//!   the client's pings wait in a small ring ahead of them.
//! - Memory of an idle queue: the lanes, the pong ring and the fragment scratch live in one boxed
//!   `QueueBuffers` allocated at the first message or pong. [`SendQueue::release_idle_buffers`] frees it
//!   once everything is written; the connection calls it only after a heartbeat interval without traffic,
//!   so a busy connection keeps its rings (no allocation per message) and an idle one holds none.
//! - The queue is bounded by `send_queue_bytes_max`, counting payload bytes plus [`ENTRY_OVERHEAD_BYTES`]
//!   per message (so a flood of tiny messages is bounded too). Exceeding it is
//!   [`SendQueueError::Full`]: the client is not reading and is closed with 1013 (try again later).

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

use super::fragmentation::write_app_fragment;
pub use super::fragmentation::{FragmentInfo, Fragmentation, WritePrefix};
use super::lane::{lane_index, DataKind, Lane, LANE_COUNT};
use super::spare::Spare;
pub use super::spare::SPARE_PAYLOAD_BYTES_MAX;
use super::wire::{self, ControlFrame};

mod fragment;

/// Bytes charged per queued message on top of its payload: an upper bound of its bookkeeping.
pub const ENTRY_OVERHEAD_BYTES: usize = 64;
// The charge must cover what the queue really holds per message, or the bound would not bound memory.
const _: () = assert!(std::mem::size_of::<Outbound>() <= ENTRY_OVERHEAD_BYTES);

/// Payload bytes of our pings: the heartbeat token.
pub const PING_PAYLOAD_BYTES: usize = 8;

/// Unsent pongs kept beyond the first; a ping flood beyond this answers only the latest pings.
pub const PONGS_QUEUED_MAX: usize = 16;

/// Smallest payload chunk [`SendQueue::poll_transmit_vectored`] hands out by reference instead of copying.
/// Below it a copy costs less than the extra iovec, the reference count and the `sendmsg` (a 1 KiB copy is
/// tens of nanoseconds); above it the copy grows with the payload and the rest does not.
pub const GATHER_PAYLOAD_BYTES_MIN: usize = 2 << 10;

/// Why a message was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendQueueError {
    /// The client is not reading fast enough: queuing would exceed `send_queue_bytes_max`. The peer's fault;
    /// close it with 1013 (try again later).
    #[error(
        "send queue full: {queued_bytes} + {message_bytes} bytes exceeds {send_queue_bytes_max}"
    )]
    Full {
        /// Bytes already charged.
        queued_bytes: usize,
        /// Bytes the rejected message would charge.
        message_bytes: usize,
        /// The bound.
        send_queue_bytes_max: usize,
    },
    /// A Close frame is already queued; nothing may follow it. Not a fault: the message is dropped.
    #[error("connection is closing")]
    Closing,
}

/// Counters of one send queue, for metrics: compare two readings taken around one call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SendQueueCounters {
    /// Data messages accepted.
    pub messages_enqueued: u64,
    /// Data messages completely handed to the writer.
    pub messages_sent: u64,
    /// Data messages completely handed to the writer by lane (indexed by `lane_index`), counted since the
    /// queue's buffers were last allocated: they are released when the connection goes quiet (see
    /// [`SendQueue::release_idle_buffers`]), never inside `poll_transmit`, so the difference of two readings
    /// around one call is exact.
    pub sent_by_lane: [u64; LANE_COUNT],
}

/// A queued data message and how far it has been written.
#[derive(Debug)]
struct Outbound {
    payload: Bytes,
    /// The payload's memory may be kept for the next received message once written (`Spare`); false
    /// for a payload lent from the transport's receive buffer (`enqueue_lent`), which must go back.
    reusable: bool,
    /// Payload bytes already written.
    offset: usize,
    message_number: u64,
    next_index: u32,
    kind: DataKind,
}

/// A queued Close frame and whether the data lanes are flushed before it.
#[derive(Debug, Clone, Copy)]
struct PendingClose {
    code: u16,
    /// Our reasons are fixed texts, so only a reference is kept (the frame is built when written).
    reason: &'static str,
    after_data: bool,
}

/// The queue's growable parts and the state that goes with queued data, boxed together so an idle queue
/// holds one `None` instead of them. Everything here is empty, zero or `None` when the box is freed
/// (`release_idle_buffers` checks it), except the message numbers: they restart at 0 with the next box,
/// which the protocols allow (a switchboard.v1 `fragment_id` is unique among the sender's *unfinished*
/// messages, and every message was finished when the box was freed).
#[derive(Debug, Default)]
struct QueueBuffers {
    /// Our Close, once queued and until written.
    close: Option<PendingClose>,
    /// With [`Fragmentation::WebSocket`], the lane whose message is between continuation frames.
    continuing: Option<Lane>,
    /// Bytes charged against `send_queue_bytes_max`.
    queued_bytes: usize,
    /// Number of the next data message (see [`FragmentInfo::message_number`]); also the messages
    /// enqueued since the box was allocated.
    next_message_number: u64,
    /// Data messages completely handed to the writer since the box was allocated.
    messages_sent: u64,
    lanes: [VecDeque<Outbound>; LANE_COUNT],
    /// Pongs owed, oldest first: the first unsent one plus at most `PONGS_QUEUED_MAX` more.
    pongs: VecDeque<ControlFrame>,
    /// Where an app fragment prefix is written before its frame header is known.
    scratch: Vec<u8>,
    /// The allocation of the last completely written payload, for the next received message (echo), so a
    /// busy connection does not allocate and free one per message.
    spare: Spare,
    /// See [`SendQueueCounters::sent_by_lane`]: kept here, not inline, because only a queue holding data
    /// messages (and so these buffers) ever changes it.
    sent_by_lane: [u64; LANE_COUNT],
}

/// What [`SendQueue::write_next_frame`] did.
enum Step {
    /// Nothing pending fits.
    Idle,
    /// One frame was appended to `out`.
    Wrote,
    /// A frame's header was appended to `out`; its payload chunk goes right after `out`.
    Gathered(Bytes),
}

/// One connection's outbound queue. See the module documentation.
///
/// Packed, as it exists once per connection (a million per node): an idle connection needs only the ping
/// slot, so everything that goes with queued data (lanes, pongs, a pending Close, the byte count, the
/// message numbers) is boxed in `QueueBuffers`, and the byte bounds are 32-bit (`Limits` caps them far
/// below 4 GiB).
#[derive(Debug)]
pub struct SendQueue {
    /// Lanes, pongs, scratch, Close and counts; `None` until the first message, pong or Close and after
    /// [`SendQueue::release_idle_buffers`].
    buffers: Option<Box<QueueBuffers>>,
    /// [`Fragmentation::App`]'s prefix writer, or `None` for [`Fragmentation::WebSocket`] (the enum is
    /// stored in two parts so its bound fits beside the other 32-bit fields).
    write_prefix: Option<WritePrefix>,
    /// Our heartbeat ping's 8-byte token; meaningful while `ping_pending`.
    ping: [u8; PING_PAYLOAD_BYTES],
    /// [`Fragmentation::App`]'s `prefix_bytes_max` (0 with `write_prefix` `None`).
    prefix_bytes_max: u32,
    fragment_bytes: u32,
    send_queue_bytes_max: u32,
    ping_pending: bool,
    close_written: bool,
}

impl SendQueue {
    /// An empty queue. `fragment_bytes` and `send_queue_bytes_max` come from validated `Limits`.
    pub fn new(
        fragmentation: Fragmentation,
        fragment_bytes: usize,
        send_queue_bytes_max: usize,
    ) -> Self {
        assert!(fragment_bytes > 0, "validated by Limits");
        let mut queue = Self {
            buffers: None,
            write_prefix: None,
            prefix_bytes_max: 0,
            ping: [0; PING_PAYLOAD_BYTES],
            fragment_bytes: u32::try_from(fragment_bytes).expect("validated by Limits"),
            send_queue_bytes_max: u32::try_from(send_queue_bytes_max).expect("validated by Limits"),
            ping_pending: false,
            close_written: false,
        };
        queue.set_fragmentation(fragmentation);
        queue
    }

    /// How large messages are cut.
    fn fragmentation(&self) -> Fragmentation {
        match self.write_prefix {
            None => Fragmentation::WebSocket,
            Some(write_prefix) => Fragmentation::App {
                prefix_bytes_max: self.prefix_bytes_max as usize,
                write_prefix,
            },
        }
    }

    /// The buffers, allocated on first use.
    fn buffers_mut(&mut self) -> &mut QueueBuffers {
        self.buffers.get_or_insert_with(Box::default)
    }

    /// Frees the lanes, the pong ring and the scratch buffer if nothing is queued in them; the next message
    /// or pong allocates them again. Call it when the connection has gone quiet, not after every write.
    pub fn release_idle_buffers(&mut self) {
        let idle = self.buffers.as_ref().is_some_and(|buffers| {
            buffers.pongs.is_empty()
                && buffers.lanes.iter().all(VecDeque::is_empty)
                && buffers.close.is_none()
        });
        if idle {
            debug_assert!(self.buffers.as_ref().is_some_and(|buffers| {
                buffers.continuing.is_none() && buffers.queued_bytes == 0
            }));
            self.buffers = None;
        }
    }

    /// An emptied buffer for the next received payload, if a written payload left one (see `spare`) and
    /// no one else still holds it.
    pub fn take_spare(&mut self) -> Option<BytesMut> {
        self.buffers.as_mut()?.spare.take()
    }

    /// Heap bytes held by the queue's buffers (their capacities, not counting the allocator's own
    /// overhead), for memory budgets and tests.
    pub fn buffer_bytes(&self) -> usize {
        self.buffers.as_ref().map_or(0, |buffers| {
            let lanes: usize = buffers
                .lanes
                .iter()
                .map(|lane| lane.capacity() * std::mem::size_of::<Outbound>())
                .sum();
            std::mem::size_of::<QueueBuffers>()
                + lanes
                + buffers.pongs.capacity() * std::mem::size_of::<ControlFrame>()
                + buffers.scratch.capacity()
                + buffers.spare.bytes()
        })
    }

    /// Changes how large messages are cut; only while nothing is queued (at the start of a connection,
    /// once the subprotocol is known).
    pub fn set_fragmentation(&mut self, fragmentation: Fragmentation) {
        assert!(
            !self.has_pending(),
            "fragmentation is chosen before anything is queued"
        );
        (self.write_prefix, self.prefix_bytes_max) = match fragmentation {
            Fragmentation::WebSocket => (None, 0),
            Fragmentation::App {
                prefix_bytes_max,
                write_prefix,
            } => (
                Some(write_prefix),
                u32::try_from(prefix_bytes_max).expect("a fragment prefix is a few bytes"),
            ),
        };
    }

    /// The largest frame [`SendQueue::poll_transmit`] ever writes: its `max_bytes` must be at least this.
    pub fn frame_bytes_max(&self) -> usize {
        let prefix = match self.fragmentation() {
            Fragmentation::WebSocket => 0,
            Fragmentation::App {
                prefix_bytes_max, ..
            } => prefix_bytes_max,
        };
        let data = wire::SERVER_FRAME_HEADER_BYTES_MAX + prefix + self.fragment_bytes as usize;
        data.max(2 + wire::CONTROL_PAYLOAD_BYTES_MAX)
    }

    /// Queues a data message in `lane`.
    ///
    /// # Errors
    ///
    /// [`SendQueueError::Full`] when the bound would be exceeded (nothing is queued),
    /// [`SendQueueError::Closing`] once a Close frame is queued.
    pub fn enqueue(
        &mut self,
        lane: Lane,
        kind: DataKind,
        payload: Bytes,
    ) -> Result<(), SendQueueError> {
        self.push(lane, kind, payload, true)
    }

    /// [`SendQueue::enqueue`] for a payload lent from the transport's receive buffer (see
    /// [`crate::lending`]): it is dropped once written, never kept for reuse, so the buffer goes back.
    ///
    /// # Errors
    ///
    /// As [`SendQueue::enqueue`].
    pub fn enqueue_lent(
        &mut self,
        lane: Lane,
        kind: DataKind,
        payload: Bytes,
    ) -> Result<(), SendQueueError> {
        self.push(lane, kind, payload, false)
    }

    fn push(
        &mut self,
        lane: Lane,
        kind: DataKind,
        payload: Bytes,
        reusable: bool,
    ) -> Result<(), SendQueueError> {
        if self.close_pending() || self.close_written {
            return Err(SendQueueError::Closing);
        }
        let charge = payload.len() + ENTRY_OVERHEAD_BYTES;
        let queued_bytes = self.queued_bytes();
        let send_queue_bytes_max = self.send_queue_bytes_max as usize;
        if queued_bytes + charge > send_queue_bytes_max {
            return Err(SendQueueError::Full {
                queued_bytes,
                message_bytes: charge,
                send_queue_bytes_max,
            });
        }
        let buffers = self.buffers_mut();
        buffers.queued_bytes = queued_bytes + charge;
        let message_number = buffers.next_message_number;
        buffers.lanes[lane_index(lane)].push_back(Outbound {
            payload,
            reusable,
            offset: 0,
            message_number,
            next_index: 0,
            kind,
        });
        buffers.next_message_number += 1;
        Ok(())
    }

    /// Queues a Pong answering a Ping. Up to `1 + PONGS_QUEUED_MAX` unsent pongs are kept, oldest dropped first.
    pub fn enqueue_pong(&mut self, payload: &[u8]) {
        if self.close_written {
            return;
        }
        let frame = ControlFrame::new(wire::OPCODE_PONG, payload);
        let pongs = &mut self.buffers_mut().pongs;
        // RFC 6455 5.5.3 allows answering only the latest ping; we answer the first unsent one and each of
        // the last few, which is what clients measuring RTT per ping expect, and drop the oldest of the
        // others beyond the bound.
        if pongs.len() == 1 + PONGS_QUEUED_MAX {
            pongs.remove(1);
        }
        pongs.push_back(frame);
    }

    /// Queues a Ping with our heartbeat token, replacing an unsent one.
    pub fn enqueue_ping(&mut self, payload: [u8; PING_PAYLOAD_BYTES]) {
        if !self.close_written {
            self.ping = payload;
            self.ping_pending = true;
        }
    }

    /// Queues our Close frame. With `after_data` the queued messages are sent first (a graceful close);
    /// otherwise they are discarded (an error close must not wait behind data). A second call is ignored.
    pub fn enqueue_close(&mut self, code: u16, reason: &'static str, after_data: bool) {
        if self.close_pending() || self.close_written {
            return;
        }
        self.buffers_mut().close = Some(PendingClose {
            code,
            reason,
            after_data,
        });
        if !after_data {
            self.discard_data();
        }
    }

    /// Drops every queued data message (the close path, or a connection being torn down).
    pub fn discard_data(&mut self) {
        if let Some(buffers) = self.buffers.as_mut() {
            for lane in &mut buffers.lanes {
                lane.clear();
            }
            buffers.continuing = None;
            buffers.queued_bytes = 0;
        }
    }

    /// Whether our Close is queued and not yet written.
    fn close_pending(&self) -> bool {
        self.buffers
            .as_ref()
            .is_some_and(|buffers| buffers.close.is_some())
    }

    /// Bytes currently charged against `send_queue_bytes_max`.
    pub fn queued_bytes(&self) -> usize {
        self.buffers
            .as_ref()
            .map_or(0, |buffers| buffers.queued_bytes)
    }

    /// Whether anything (data or control) waits to be written. Changed by `enqueue*` and `poll_transmit`.
    pub fn has_pending(&self) -> bool {
        self.ping_pending
            || self.buffers.as_ref().is_some_and(|buffers| {
                buffers.close.is_some()
                    || !buffers.pongs.is_empty()
                    || buffers.lanes.iter().any(|lane| !lane.is_empty())
            })
    }

    /// Whether our Close frame has been handed to the writer.
    pub fn close_written(&self) -> bool {
        self.close_written
    }

    /// The counters so far.
    pub fn counters(&self) -> SendQueueCounters {
        self.buffers
            .as_ref()
            .map_or_else(SendQueueCounters::default, |buffers| SendQueueCounters {
                messages_enqueued: buffers.next_message_number,
                messages_sent: buffers.messages_sent,
                sent_by_lane: buffers.sent_by_lane,
            })
    }

    /// Queued messages per lane, highest priority first.
    pub fn lane_lengths(&self) -> [usize; LANE_COUNT] {
        Lane::ALL.map(|lane| {
            self.buffers
                .as_ref()
                .map_or(0, |buffers| buffers.lanes[lane_index(lane)].len())
        })
    }

    /// Capacity of each lane's ring, to check that memory does not grow beyond the bound.
    pub fn lane_capacities(&self) -> [usize; LANE_COUNT] {
        Lane::ALL.map(|lane| {
            self.buffers
                .as_ref()
                .map_or(0, |buffers| buffers.lanes[lane_index(lane)].capacity())
        })
    }

    /// Appends the next frames to `out`, at most `max_bytes` bytes, in priority order: pong, ping, then the
    /// highest non-empty lane one frame (fragment) at a time, then a pending Close. Returns the bytes written;
    /// 0 means nothing is pending. `max_bytes` must be at least [`SendQueue::frame_bytes_max`].
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>, max_bytes: usize) -> usize {
        self.transmit(out, max_bytes, false).0
    }

    /// [`SendQueue::poll_transmit`] without copying large payloads: a frame whose payload chunk has at least
    /// [`GATHER_PAYLOAD_BYTES_MIN`] bytes ends `out` with its header, and the chunk is returned; write it
    /// right after `out` (both count in the bytes returned and in `max_bytes`). After such a frame, call
    /// again with a new buffer for the frames behind it.
    pub fn poll_transmit_vectored(
        &mut self,
        out: &mut Vec<u8>,
        max_bytes: usize,
    ) -> (usize, Option<Bytes>) {
        self.transmit(out, max_bytes, true)
    }

    fn transmit(
        &mut self,
        out: &mut Vec<u8>,
        max_bytes: usize,
        gather: bool,
    ) -> (usize, Option<Bytes>) {
        assert!(
            max_bytes >= self.frame_bytes_max(),
            "write buffer smaller than one frame"
        );
        let start = out.len();
        let mut payload = None;
        loop {
            let budget = max_bytes - (out.len() - start);
            match self.write_next_frame(out, budget, gather) {
                Step::Idle => break,
                Step::Wrote => {}
                Step::Gathered(chunk) => {
                    payload = Some(chunk);
                    break;
                }
            }
        }
        let written = out.len() - start + payload.as_ref().map_or(0, Bytes::len);
        self.invariants();
        (written, payload)
    }

    /// Writes one frame if one is pending and fits in `budget` (with `gather`, a large payload chunk is
    /// returned instead of copied); says what it did.
    fn write_next_frame(&mut self, out: &mut Vec<u8>, budget: usize, gather: bool) -> Step {
        if self.close_written {
            return Step::Idle;
        }
        let pong = self
            .buffers
            .as_ref()
            .and_then(|buffers| buffers.pongs.front().copied());
        let control = match (pong, self.ping_pending) {
            (Some(pong), _) => Some(pong),
            (None, true) => Some(ControlFrame::new(wire::OPCODE_PING, &self.ping)),
            (None, false) => None,
        };
        if let Some(frame) = control {
            if frame.encoded_len() > budget {
                return Step::Idle;
            }
            frame.write(out);
            match self.buffers.as_mut() {
                Some(buffers) if pong.is_some() => {
                    buffers.pongs.pop_front();
                }
                _ => self.ping_pending = false,
            }
            return Step::Wrote;
        }
        if let Some(lane) = self.next_lane() {
            return self.write_fragment(lane, out, budget, gather);
        }
        let close = self.buffers.as_mut().and_then(|buffers| {
            buffers.close.take_if(|close| {
                ControlFrame::close(close.code, close.reason).encoded_len() <= budget
            })
        });
        match close {
            Some(PendingClose { code, reason, .. }) => {
                ControlFrame::close(code, reason).write(out);
                self.close_written = true;
                Step::Wrote
            }
            None => Step::Idle,
        }
    }

    /// The lane to write from next, if any data is pending and allowed before the Close.
    fn next_lane(&self) -> Option<Lane> {
        let buffers = self.buffers.as_ref()?;
        if matches!(
            buffers.close,
            Some(PendingClose {
                after_data: false,
                ..
            })
        ) {
            return None;
        }
        if let Some(lane) = buffers.continuing {
            return Some(lane);
        }
        Lane::ALL
            .into_iter()
            .find(|&lane| !buffers.lanes[lane_index(lane)].is_empty())
    }

    /// Checks the queue's accounting. Cheap enough for every `poll_transmit` in debug builds.
    pub fn invariants(&self) {
        if cfg!(debug_assertions) {
            let charged: usize = self
                .buffers
                .iter()
                .flat_map(|buffers| buffers.lanes.iter().flatten())
                .map(|m| m.payload.len() - m.offset + ENTRY_OVERHEAD_BYTES)
                .sum();
            assert_eq!(
                charged,
                self.queued_bytes(),
                "queued_bytes matches the lanes"
            );
            assert!(
                self.queued_bytes() <= self.send_queue_bytes_max as usize,
                "bound respected"
            );
            assert!(
                !(self.close_written && self.close_pending()),
                "close written once"
            );
        }
    }
}
