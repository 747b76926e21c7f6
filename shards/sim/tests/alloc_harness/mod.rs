//! A node of chat cores driven the way the server's shard loop drives them, with a host and rings
//! that do not allocate once warmed up, so that what a counting allocator sees while a message goes
//! through is the chat path's own work: the session's decode, the owner (sequence, masking, log
//! append), the commit's release (the ack to the sender, the delivery to the agent) on one shard and
//! across shards over the rings.
//!
//! What is not the server's is left out of the count: the log's writes and syncs, which the engine
//! performs in the kernel (here [`MemoryStorage::perform`], whose in-memory files grow), and the
//! clients, which read and decode what was queued for them between two counted sends.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use switchboard_auth::{Claims, Keyring, Role};
use switchboard_chat::ids::{new_conversation_id, owner_of};
use switchboard_chat::messages::ShardMsg;
use switchboard_chat::shard::{Admitting, Host, Rings};
use switchboard_chat::{ChatConfig, ChatCore, Encoding, Owner, Session};
use switchboard_core::alloc_count::count_allocations;
use switchboard_core::engine::ConnId;
use switchboard_log::{LogConfig, MemoryStorage, ShardLog};
use switchboard_pii::PiiPolicy;
use switchboard_protocol::app::encode::Encoder;
use switchboard_protocol::app::{
    ConversationState, ConversationUpdate, Hello, Lane, Message, MessageId, OwnedFrame, SendMessage,
};
use switchboard_sim::host::WALL_EPOCH_MS;
use switchboard_sim::setup::sim_keyring;
use switchboard_sim::wire::decode;

/// The tenant of the conversation.
const TENANT: u64 = 7;
/// The customer's user id.
const CUSTOMER: u64 = 1_001;
/// The agent's user id.
const AGENT: u64 = 77;
/// Items a ring holds (reserved up front: a full ring would be a harness bug here).
const RING_CAPACITY: usize = 1_024;
/// Frames a connection's queue holds before the client reads them (reserved up front).
const CONN_QUEUE_CAPACITY: usize = 256;
/// `limits.send_queue_bytes_max` of the connections.
const SEND_QUEUE_BYTES_MAX: usize = 4 << 20;
/// Ticks a message may take to be acknowledged and delivered before the harness gives up.
const TICKS_PER_MESSAGE_MAX: usize = 16;

/// One connection: its session and what was queued for its client, not read yet.
struct Conn {
    id: ConnId,
    session: Session,
    queued: VecDeque<Bytes>,
    queued_bytes: usize,
}

/// One shard's connections.
struct TestHost {
    conns: Vec<Conn>,
    now_ms: u64,
}

impl TestHost {
    fn conn(&mut self, id: ConnId) -> Option<&mut Conn> {
        self.conns.iter_mut().find(|conn| conn.id == id)
    }
}

impl Host for TestHost {
    fn session(&mut self, conn: ConnId) -> Option<&mut Session> {
        self.conn(conn).map(|conn| &mut conn.session)
    }

    fn send(&mut self, conn: ConnId, _lane: Lane, _encoding: Encoding, bytes: Bytes) {
        let conn = self.conn(conn).expect("sends go to open connections");
        assert!(conn.queued.len() < CONN_QUEUE_CAPACITY, "the client reads");
        conn.queued_bytes += bytes.len();
        conn.queued.push_back(bytes);
    }

    fn close(&mut self, conn: ConnId, code: u16) {
        panic!("{conn:?} closed with {code}");
    }

    fn queued_bytes(&self, conn: ConnId) -> usize {
        self.conns
            .iter()
            .find(|c| c.id == conn)
            .map_or(0, |c| c.queued_bytes)
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

/// Every ring of the node, `from * peers + to`, FIFO, with room reserved up front.
struct TestRings {
    peers: usize,
    queues: Vec<VecDeque<ShardMsg>>,
}

/// The pushing side of one shard.
struct Sender<'a> {
    rings: &'a mut TestRings,
    from: usize,
}

impl Rings for Sender<'_> {
    fn push(&mut self, to: usize, message: ShardMsg) -> Result<(), ShardMsg> {
        let queue = &mut self.rings.queues[self.from * self.rings.peers + to];
        assert!(queue.len() < RING_CAPACITY, "rings are drained every tick");
        queue.push_back(message);
        Ok(())
    }
}

/// One shard: its core, connections and log storage.
struct Shard {
    core: ChatCore<MemoryStorage>,
    host: TestHost,
    storage: MemoryStorage,
}

/// Where a connection is.
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    shard: usize,
    conn: ConnId,
}

/// A node of `shards` chat cores without the routing shard (plain messaging: conversations wait in
/// the fallback queue until an agent takes them).
pub struct Node {
    shards: Vec<Shard>,
    rings: TestRings,
    keyring: Arc<Keyring>,
    encoder: Encoder,
    next_conn: u32,
}

/// A customer's conversation taken by an agent, on some shards.
pub struct Conversation {
    /// The node.
    pub node: Node,
    /// The conversation's id.
    pub id: u64,
    /// The customer's connection.
    pub customer: Peer,
    /// The agent's connection.
    pub agent: Peer,
    next_message: u64,
}

impl Node {
    /// `shards` shards over fresh in-memory logs.
    pub fn new(shards: usize) -> Node {
        let keyring = Arc::new(sim_keyring());
        let mut chat = ChatConfig {
            routing_enabled: false,
            ..ChatConfig::default()
        };
        chat.lift_client_quotas();
        let shards_vec = (0..shards)
            .map(|id| {
                let storage = MemoryStorage::new();
                let (log, _) =
                    ShardLog::open(LogConfig::default(), storage.clone()).expect("log opens");
                let owner = Owner::new(id, shards, chat.clone(), PiiPolicy::default(), log)
                    .expect("owner recovers");
                let core = ChatCore::new(
                    id,
                    shards,
                    Arc::clone(&keyring),
                    chat.clone(),
                    owner,
                    SEND_QUEUE_BYTES_MAX,
                );
                Shard {
                    core,
                    host: TestHost {
                        conns: Vec::new(),
                        now_ms: 0,
                    },
                    storage,
                }
            })
            .collect();
        let peers = shards + 1;
        Node {
            shards: shards_vec,
            rings: TestRings {
                peers,
                queues: (0..peers * peers)
                    .map(|_| VecDeque::with_capacity(RING_CAPACITY))
                    .collect(),
            },
            keyring,
            encoder: Encoder::new(),
            next_conn: 0,
        }
    }

    /// Connects `user` in `role` to `shard` and says `hello`.
    fn join(&mut self, shard: usize, user: u64, role: Role, groups: &[u32]) -> Peer {
        let issued = WALL_EPOCH_MS / 1_000 - 5;
        let token = self
            .keyring
            .mint(TENANT, user, role, groups, issued, 24 * 3_600)
            .expect("token");
        let conn = ConnId::new(self.next_conn, 0);
        self.next_conn += 1;
        self.shards[shard].host.conns.push(Conn {
            id: conn,
            session: Session::new(Encoding::Binary, None, 1 << 20),
            queued: VecDeque::with_capacity(CONN_QUEUE_CAPACITY),
            queued_bytes: 0,
        });
        let peer = Peer { shard, conn };
        let hello = self.payload(Message::Hello(Hello {
            protocol_version: 1,
            auth_token: token,
            resume_token: String::new(),
        }));
        self.message(peer, &hello);
        self.settle();
        let welcome = self.read(peer);
        assert!(
            matches!(welcome.first(), Some(Message::Welcome(_))),
            "{welcome:?}"
        );
        peer
    }

    /// `message` encoded as a client sends it.
    fn payload(&mut self, message: Message) -> Vec<u8> {
        let mut bytes = Vec::new();
        self.encoder.encode(&OwnedFrame::new(message), &mut bytes);
        bytes
    }

    /// One client message on `peer`'s connection, handled by its shard.
    fn message(&mut self, peer: Peer, payload: &[u8]) {
        let Node { shards, rings, .. } = self;
        let shard = &mut shards[peer.shard];
        let mut sender = Sender {
            rings,
            from: peer.shard,
        };
        shard
            .core
            .message((&mut shard.host, &mut sender), peer.conn, payload, 15_000);
    }

    /// One tick of every shard, as the server's loop: what the rings brought, the log's commit (its
    /// I/O performed at once), what the commit released. Returns the allocations the log's storage
    /// made, which are the kernel's, not the server's.
    fn tick(&mut self) -> u64 {
        let mut storage_allocations = 0;
        let peers = self.rings.peers;
        for id in 0..self.shards.len() {
            let Node { shards, rings, .. } = self;
            let shard = &mut shards[id];
            shard.host.now_ms += 1;
            for from in 0..peers {
                while let Some(message) = rings.queues[from * peers + id].pop_front() {
                    let mut sender = Sender { rings, from: id };
                    shard
                        .core
                        .ring_message(message, &mut shard.host, &mut sender);
                }
            }
            let mut sender = Sender { rings, from: id };
            shard.core.retry_overflow(&mut sender);
            let mut io = shard.core.owner_mut().begin_commit();
            while let Some(next) = io {
                let (completion, made) = count_allocations(|| shard.storage.perform(next));
                storage_allocations += made;
                io = shard.core.owner_mut().io_complete(completion);
            }
            shard.core.release(&mut shard.host, &mut sender);
            shard.core.take_stage_samples(|_, _| {});
        }
        storage_allocations
    }

    /// Ticks until the rings are empty and no log has anything to commit.
    fn settle(&mut self) {
        for _ in 0..TICKS_PER_MESSAGE_MAX {
            self.tick();
        }
    }

    /// What `peer`'s client reads now, decoded.
    fn read(&mut self, peer: Peer) -> Vec<Message> {
        let conn = self.shards[peer.shard]
            .host
            .conn(peer.conn)
            .expect("open connection");
        conn.queued_bytes = 0;
        conn.queued
            .drain(..)
            .flat_map(|bytes| decode(&bytes, false).expect("the server's frames parse"))
            .map(|frame| frame.message)
            .collect()
    }
}

/// The 16-byte message id of message `n`.
fn message_id(n: u64) -> MessageId {
    MessageId(u128::from(n).to_be_bytes())
}

impl Conversation {
    /// A node of `shards` shards where a customer opens a conversation and an agent takes it; the
    /// customer's and the agent's connections are on the conversation's owner shard or not, as asked.
    pub fn assigned(shards: usize, customer_on_owner: bool, agent_on_owner: bool) -> Conversation {
        let mut node = Node::new(shards);
        let id = new_conversation_id(TENANT, CUSTOMER, message_id(1));
        let owner = owner_of(id, shards);
        let elsewhere = (owner + 1) % shards;
        let place = |on_owner: bool| if on_owner { owner } else { elsewhere };
        let customer = node.join(place(customer_on_owner), CUSTOMER, Role::Customer, &[]);
        let agent = node.join(place(agent_on_owner), AGENT, Role::Agent, &[1]);
        let mut conversation = Conversation {
            node,
            id,
            customer,
            agent,
            next_message: 1,
        };
        // Opens the conversation (it waits in the fallback queue, group 1).
        let opening = conversation.send_payload(0);
        conversation.node.message(customer, &opening);
        conversation.node.settle();
        let _ = conversation.node.read(customer);
        let take = conversation
            .node
            .payload(Message::ConversationUpdate(ConversationUpdate {
                conversation_id: id,
                state: ConversationState::ASSIGNED,
                agent_id: AGENT,
                agent_group: String::new(),
                reason: "mine".into(),
            }));
        conversation.node.message(agent, &take);
        conversation.node.settle();
        let taken = conversation.node.read(agent);
        assert!(
            taken.iter().any(|m| matches!(
                m,
                Message::ConversationUpdate(u) if u.state == ConversationState::ASSIGNED
            )),
            "{taken:?}"
        );
        let _ = conversation.node.read(customer);
        conversation
    }

    /// The next `send` of the customer to conversation `to` (0 opens it), encoded.
    pub fn send_payload(&mut self, to: u64) -> Vec<u8> {
        let n = self.next_message;
        self.next_message += 1;
        self.node.payload(Message::Send(SendMessage {
            message_id: message_id(n),
            conversation_id: to,
            text: format!("where is my parcel? it has been a while now (message {n:04})"),
        }))
    }

    /// The customer sends `payload`; the node ticks until the customer has its `ack` and the agent its
    /// `deliver`. Returns the allocations the server made on the way (the log's storage left out),
    /// then checks (uncounted) what the clients read.
    pub fn send_counted(&mut self, payload: &[u8]) -> u64 {
        let customer = self.customer;
        let agent = self.agent;
        let (storage, total) = count_allocations(|| {
            self.node.message(customer, payload);
            let mut storage = 0;
            for _ in 0..TICKS_PER_MESSAGE_MAX {
                storage += self.node.tick();
                if self.delivered(customer) && self.delivered(agent) {
                    break;
                }
            }
            storage
        });
        let acked = self.node.read(customer);
        let delivered = self.node.read(agent);
        assert!(
            matches!(acked.as_slice(), [Message::Ack(ack)] if ack.conversation_id == self.id),
            "{acked:?}"
        );
        assert!(
            matches!(delivered.as_slice(), [Message::Deliver(d)] if d.conversation_id == self.id),
            "{delivered:?}"
        );
        total - storage
    }

    /// Whether something is queued for `peer`'s client.
    fn delivered(&mut self, peer: Peer) -> bool {
        let shard = &mut self.node.shards[peer.shard];
        shard
            .host
            .conn(peer.conn)
            .is_some_and(|conn| !conn.queued.is_empty())
    }
}
