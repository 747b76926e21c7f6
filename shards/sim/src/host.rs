//! [`SimHost`]: one simulated shard's connections, as its chat core's [`Host`]. What the core queues for
//! a connection waits in one FIFO per lane until the client model reads it; the client reads the lanes
//! in a seeded order, so every interleaving the real send queue may produce across lanes (and more) is
//! tried, while each lane stays in order as on the wire.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;
use switchboard_auth::Claims;
use switchboard_chat::shard::{Admitting, Host};
use switchboard_chat::{Encoding, Session};
use switchboard_core::engine::ConnId;
use switchboard_protocol::app::{Lane, OwnedFrame};

use crate::rng::Rng;

/// Unix milliseconds at the simulation's step 0 (tokens are minted for it).
pub const WALL_EPOCH_MS: u64 = 1_800_000_000_000;

/// One connection on a simulated shard.
#[derive(Debug)]
pub struct SimConn {
    /// Its switchboard.v1 session.
    pub session: Session,
    /// Bytes queued for the client, per lane (indexed by the lane's discriminant).
    lanes: Vec<VecDeque<Bytes>>,
    /// Bytes queued in all lanes.
    queued: usize,
    /// The server closed it with this code (after what is queued).
    pub closing: Option<u16>,
}

/// The connections of one simulated shard and its clock.
#[derive(Debug, Default)]
pub struct SimHost {
    /// Ordered by id, so iteration is deterministic.
    pub conns: BTreeMap<ConnId, SimConn>,
    /// The shard's time, milliseconds.
    pub now_ms: u64,
}

impl SimConn {
    /// A new connection speaking `encoding`.
    pub fn new(encoding: Encoding) -> Self {
        SimConn {
            session: Session::new(encoding, None, 1 << 20),
            lanes: (0..Lane::ALL.len()).map(|_| VecDeque::new()).collect(),
            queued: 0,
            closing: None,
        }
    }

    /// Takes the next message queued for the client from a lane chosen by `rng` among those with
    /// something queued (each lane in order), with the lane it was queued on.
    pub fn take(&mut self, rng: &mut Rng) -> Option<(Lane, Bytes)> {
        let ready: Vec<usize> = (0..self.lanes.len())
            .filter(|&lane| !self.lanes[lane].is_empty())
            .collect();
        if ready.is_empty() {
            return None;
        }
        let lane = *rng.pick(&ready);
        let bytes = self.lanes[lane].pop_front()?;
        self.queued -= bytes.len();
        Some((Lane::ALL[lane], bytes))
    }

    /// Takes the next message as the server's send queue writes it: the highest-priority lane first
    /// (`Lane::ALL` order: urgent, ai_answer, chat, system).
    pub fn take_by_priority(&mut self) -> Option<(Lane, Bytes)> {
        let lane = (0..self.lanes.len()).find(|&lane| !self.lanes[lane].is_empty())?;
        let bytes = self.lanes[lane].pop_front()?;
        self.queued -= bytes.len();
        Some((Lane::ALL[lane], bytes))
    }

    /// Whether nothing is queued for the client.
    pub fn drained(&self) -> bool {
        self.queued == 0
    }
}

impl Host for SimHost {
    fn session(&mut self, conn: ConnId) -> Option<&mut Session> {
        self.conns
            .get_mut(&conn)
            .filter(|c| c.closing.is_none())
            .map(|c| &mut c.session)
    }

    fn send(&mut self, conn: ConnId, lane: Lane, _encoding: Encoding, bytes: Bytes) {
        if let Some(c) = self.conns.get_mut(&conn).filter(|c| c.closing.is_none()) {
            c.queued += bytes.len();
            c.lanes[lane as usize].push_back(bytes);
        }
    }

    fn close(&mut self, conn: ConnId, code: u16) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.closing.get_or_insert(code);
        }
    }

    fn queued_bytes(&self, conn: ConnId) -> usize {
        self.conns.get(&conn).map_or(0, |c| c.queued)
    }

    fn admit(&mut self, _what: Admitting<'_>, _principal: &Claims) -> Result<(), OwnedFrame> {
        Ok(())
    }

    fn now_ms(&self) -> u64 {
        self.now_ms
    }

    fn wall_ms(&self) -> u64 {
        WALL_EPOCH_MS + self.now_ms
    }

    fn clock_us(&self) -> u64 {
        self.now_ms * 1_000 + 1
    }
}
