//! [`Script`]: a simulated node driven step by step by a test, for scenarios that must happen in a
//! given order (the chat tests that used to wait on real sockets with sleeps). The same chat cores,
//! rings and in-memory logs as the randomised [`World`](crate::World), with rings that deliver at
//! once; [`Script::settle`] runs the node until nothing moves, so "the owner answered before X" is a
//! fact, not a timing.

use std::collections::VecDeque;
use std::sync::Arc;

use switchboard_auth::Role;
use switchboard_chat::messages::ShardMsg;
use switchboard_chat::shard::{route_output, Rings};
use switchboard_chat::{ChatConfig, Encoding};
use switchboard_core::engine::ConnId;
use switchboard_log::{LogConfig, MemoryStorage};
use switchboard_protocol::app::encode::Encoder;
use switchboard_protocol::app::json::encode_json;
use switchboard_protocol::app::{Lane, Message, MessageId, OwnedFrame, SendMessage};
use switchboard_routing::ngram::NgramBrain;
use switchboard_routing::shard::{RoutingShard, RoutingShardConfig};

use crate::host::WALL_EPOCH_MS;
use crate::net::Net;
use crate::node::{Node, NodeSetup};
use crate::rng::Rng;
use crate::setup::{sim_keyring, trained_brain};
use crate::wire::decode;

/// Steps [`Script::settle`] runs at most before it reports the node as stuck.
const SETTLE_STEPS_MAX: u64 = 10_000;
/// Steps without any change that count as settled.
const STILL_STEPS: u64 = 3;
/// Ring capacity of a scripted node: large, scenarios are small.
const RING_CAPACITY: usize = 4_096;
/// Virtual milliseconds per step.
const STEP_MS: u64 = 5;

/// A connection of a scripted client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer(usize);

#[derive(Debug)]
struct PeerState {
    shard: usize,
    conn: ConnId,
    json: bool,
    /// Frames read from the connection and not yet taken by the test.
    inbox: VecDeque<OwnedFrame>,
}

/// A simulated node a test drives.
pub struct Script {
    setup: NodeSetup,
    storages: Vec<MemoryStorage>,
    nodes: Vec<Node>,
    routing: Option<RoutingShard<NgramBrain>>,
    net: Net,
    rng: Rng,
    step: u64,
    peers: Vec<PeerState>,
    encoder: Encoder,
}

impl std::fmt::Debug for Script {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Script")
            .field("step", &self.step)
            .finish_non_exhaustive()
    }
}

impl Script {
    /// A node of `shards` shards, with the routing shard when `routing`, configured by `chat` (quotas
    /// lifted, as the tests drive a few connections fast).
    ///
    /// # Panics
    ///
    /// When the configuration is refused (a test bug).
    pub fn new(shards: usize, routing: bool, chat: impl FnOnce(&mut ChatConfig)) -> Script {
        let keyring = sim_keyring();
        let mut config = ChatConfig {
            routing_enabled: routing,
            ..ChatConfig::default()
        };
        config.lift_client_quotas();
        chat(&mut config);
        let setup = NodeSetup {
            shards,
            keyring: Arc::new(keyring),
            chat: config,
            log: LogConfig::default(),
        };
        let storages: Vec<MemoryStorage> = (0..shards).map(|_| MemoryStorage::new()).collect();
        let mut script = Script {
            nodes: Vec::new(),
            routing: None,
            net: Net::new(shards + 1, RING_CAPACITY, 0),
            rng: Rng::new(0),
            step: 0,
            peers: Vec::new(),
            encoder: Encoder::new(),
            setup,
            storages,
        };
        script.boot();
        script
    }

    /// (Re)builds every shard from its log, and the routing shard.
    fn boot(&mut self) {
        let shards = self.setup.shards;
        self.nodes = (0..shards)
            .map(|id| Node::open(id, &self.setup, self.storages[id].clone()).expect("recovers"))
            .collect();
        self.routing = self.setup.chat.routing_enabled.then(|| {
            let (kb, brain) = trained_brain().clone();
            RoutingShard::with_brain(RoutingShardConfig::default(), kb, brain)
                .expect("routing shard")
        });
        for node in &mut self.nodes {
            let mut rings = self.net.sender(node.core.id(), self.step, &mut self.rng);
            node.core.announce_recovered(&mut rings);
        }
    }

    /// A token of `user` of `tenant` in `role` (agents in `groups`).
    ///
    /// # Panics
    ///
    /// On a claim the minter refuses (a test bug).
    pub fn token(&self, tenant: u64, user: u64, role: Role, groups: &[u32]) -> String {
        let issued = WALL_EPOCH_MS / 1_000 - 5;
        self.setup
            .keyring
            .mint(tenant, user, role, groups, issued, 24 * 3_600)
            .expect("token")
    }

    /// Connects to `shard`, says `hello` with `token` and settles; the `welcome` (and whatever follows
    /// it) waits in the peer's inbox.
    pub fn connect(&mut self, shard: usize, token: &str, json: bool) -> Peer {
        let encoding = if json {
            Encoding::Json
        } else {
            Encoding::Binary
        };
        let conn = self.nodes[shard].connect(encoding);
        self.peers.push(PeerState {
            shard,
            conn,
            json,
            inbox: VecDeque::new(),
        });
        let peer = Peer(self.peers.len() - 1);
        self.send(
            peer,
            Message::Hello(switchboard_protocol::app::Hello {
                protocol_version: 1,
                auth_token: token.to_owned(),
                resume_token: String::new(),
            }),
        );
        peer
    }

    /// As [`Script::connect`], then takes the `welcome`.
    ///
    /// # Panics
    ///
    /// When the first frame is not a `welcome`.
    pub fn join(&mut self, shard: usize, token: &str, json: bool) -> Peer {
        let peer = self.connect(shard, token, json);
        match self.next(peer) {
            Some(Message::Welcome(_)) => peer,
            other => panic!("expected welcome, got {other:?}"),
        }
    }

    /// Sends `message` on its kind's default lane (one WebSocket message), without settling.
    pub fn send(&mut self, peer: Peer, message: Message) {
        let bytes = self.encode(peer, &OwnedFrame::new(message));
        self.send_bytes(peer, &bytes);
    }

    /// Encodes `frame` the peer's way.
    pub fn encode(&mut self, peer: Peer, frame: &OwnedFrame) -> Vec<u8> {
        let mut bytes = Vec::new();
        if self.peers[peer.0].json {
            encode_json(frame, &mut bytes);
        } else {
            self.encoder.encode(frame, &mut bytes);
        }
        bytes
    }

    /// Hands `bytes` to the peer's shard as one WebSocket message.
    pub fn send_bytes(&mut self, peer: Peer, bytes: &[u8]) {
        let state = &self.peers[peer.0];
        let (shard, conn) = (state.shard, state.conn);
        self.nodes[shard].client_message(conn, bytes, &mut self.net, &mut self.rng);
        // The server flushes a connection right after handling its message: what that queued (a
        // `welcome`, an error) is on the wire before anything the rest of the node does later.
        self.read(peer);
    }

    /// A `send` of `text` to `conversation` with message id `id`.
    pub fn say(&mut self, peer: Peer, conversation: u64, id: u64, text: &str) {
        self.send(
            peer,
            Message::Send(SendMessage {
                message_id: message_id(id),
                conversation_id: conversation,
                text: text.to_owned(),
            }),
        );
    }

    /// The next frame the peer reads, after the node settled (highest-priority lane first, as the
    /// server's send queue writes them); `None` when nothing is queued for it.
    pub fn next(&mut self, peer: Peer) -> Option<Message> {
        self.next_frame(peer).map(|frame| frame.message)
    }

    /// As [`Script::next`], with the frame's lane.
    pub fn next_frame(&mut self, peer: Peer) -> Option<OwnedFrame> {
        if self.peers[peer.0].inbox.is_empty() {
            self.settle();
            self.read(peer);
        }
        self.peers[peer.0].inbox.pop_front()
    }

    /// Runs the node one step (a tick of every shard), without settling: for scenarios about what is
    /// visible in between (e.g. before a commit completes).
    pub fn step(&mut self) {
        self.step_once();
    }

    /// What the peer has read so far and what is queued for it now, without running the node.
    pub fn queued(&mut self, peer: Peer) -> Vec<Message> {
        self.read(peer);
        self.peers[peer.0]
            .inbox
            .drain(..)
            .map(|frame| frame.message)
            .collect()
    }

    /// Every frame queued for the peer now, after the node settled.
    pub fn drain(&mut self, peer: Peer) -> Vec<Message> {
        std::iter::from_fn(|| self.next(peer)).collect()
    }

    fn read(&mut self, peer: Peer) {
        let state = &mut self.peers[peer.0];
        let Some(conn) = self.nodes[state.shard].host.conns.get_mut(&state.conn) else {
            return;
        };
        while let Some((_, bytes)) = conn.take_by_priority() {
            let frames = decode(&bytes, state.json).expect("the server's frames parse");
            state.inbox.extend(frames);
        }
    }

    /// The close code the server closed the peer's connection with, if it did.
    pub fn closed_with(&self, peer: Peer) -> Option<u16> {
        let state = &self.peers[peer.0];
        self.nodes[state.shard]
            .host
            .conns
            .get(&state.conn)
            .and_then(|c| c.closing)
    }

    /// The client closes its connection.
    pub fn close(&mut self, peer: Peer) {
        let state = &self.peers[peer.0];
        let (shard, conn) = (state.shard, state.conn);
        self.nodes[shard].disconnect(conn, &mut self.net, &mut self.rng);
    }

    /// The process restarts: what the logs synced survives, every connection is gone.
    pub fn restart(&mut self) {
        for storage in &self.storages {
            storage.crash(|_, synced, _| synced);
        }
        self.net.clear();
        self.peers.clear();
        self.boot();
    }

    /// Runs the node until nothing moves: rings empty, commits done, the routing shard quiet.
    ///
    /// # Panics
    ///
    /// When the node does not settle within 10,000 steps (a livelock).
    pub fn settle(&mut self) {
        let mut still = 0;
        for _ in 0..SETTLE_STEPS_MAX {
            let moved = self.step_once();
            still = if moved { 0 } else { still + 1 };
            if still >= STILL_STEPS {
                return;
            }
        }
        panic!("the scripted node did not settle in {SETTLE_STEPS_MAX} steps");
    }

    /// One step of every shard and the routing shard; whether anything moved.
    fn step_once(&mut self) -> bool {
        let step = self.step;
        let busy = self.net.in_flight() > 0 || self.nodes.iter().any(|n| !n.settled());
        for node in &mut self.nodes {
            node.begin_step(step, STEP_MS, &mut self.net, &mut self.rng);
        }
        let shards = self.setup.shards;
        let inputs = self.net.receive(shards, step, usize::MAX, &mut self.rng);
        let mut decided = false;
        if let Some(routing) = self.routing.as_mut() {
            for message in inputs {
                if let ShardMsg::ToRouting(input) = message {
                    let _ = routing.handle(step * STEP_MS, input);
                }
            }
            let mut out = Vec::new();
            while let Some(output) = routing.poll_output() {
                decided = true;
                route_output(output, shards, |to, m| out.push((to, m)));
            }
            let mut rings = self.net.sender(shards, step, &mut self.rng);
            for (to, message) in out {
                if rings.push(to, message).is_err() {
                    panic!("a scripted node's ring is full");
                }
            }
        }
        for node in &mut self.nodes {
            node.end_step(step, (&mut self.net, &mut self.rng), 0)
                .expect("the in-memory log works");
        }
        self.step += 1;
        busy || decided
    }

    /// The lane a frame kind is sent on by default (for assertions on lanes).
    pub fn default_lane(message: &Message) -> Lane {
        message.kind().default_lane()
    }
}

/// The 16-byte message id of test message `n`.
pub fn message_id(n: u64) -> MessageId {
    MessageId(u128::from(n).to_be_bytes())
}
