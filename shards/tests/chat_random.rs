//! Randomized delivery test over real sockets: customers with several devices, admin observers, random
//! sends, random duplicate sends and random reconnects with resume. Every connection must see each
//! conversation's sequences exactly once and in order; and the resume race (live messages arriving while a
//! replay is in progress) loses and duplicates nothing.

mod chat_support;

use std::collections::HashMap;
use std::time::Duration;

use chat_support::{chat_config, data_dir, message_id, run, start, stop, token, Client};
use switchboard_protocol::app::{Message, MessageId, SendMessage};
use switchboard_shards::auth::Role;

const TENANT: u64 = 11;
const CUSTOMERS: usize = 6;
const DEVICES: usize = 2;
const OBSERVERS: usize = 2;
const STEPS: usize = 400;

/// A small deterministic generator (xorshift64*), so a failure replays with the same seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n as u64) as usize
    }
}

/// One connection and what it has seen: per conversation, the highest sequence (gapless).
struct Peer {
    client: Client,
    user: u64,
    role: Role,
    seen: HashMap<u64, u64>,
}

impl Peer {
    async fn open(addr: std::net::SocketAddr, user: u64, role: Role) -> Peer {
        Peer {
            client: Client::connect(addr, &token(TENANT, user, role, &[])).await,
            user,
            role,
            seen: HashMap::new(),
        }
    }

    /// Takes one frame and checks it extends a conversation by exactly one (or is a retry's ack).
    async fn expect_next(&mut self, conversation: u64, sequence: u64) {
        loop {
            // Frames of several conversations interleave; an earlier call may have read this one already.
            if self
                .seen
                .get(&conversation)
                .is_some_and(|&last| last >= sequence)
            {
                return;
            }
            let Some(frame) = self.client.try_next(chat_support::READ_TIMEOUT).await else {
                panic!(
                    "user {} ({:?}) waited for conversation {conversation} sequence {sequence}; has {:?}",
                    self.user, self.role, self.seen
                );
            };
            let is_ack = matches!(frame.message, Message::Ack(_));
            let (got_conversation, got) = match frame.message {
                Message::Deliver(d) => (d.conversation_id, d.sequence),
                Message::Ack(a) => (a.conversation_id, a.sequence),
                Message::Replay(_) => continue,
                other => panic!("user {} got {other:?}", self.user),
            };
            let last = self.seen.entry(got_conversation).or_insert(0);
            if got <= *last {
                // Only a retry's ack may repeat a sequence.
                assert!(is_ack, "duplicate delivery {got} to user {}", self.user);
                continue;
            }
            assert_eq!(
                got,
                *last + 1,
                "user {} conversation {got_conversation}: out of order",
                self.user
            );
            *last = got;
        }
    }
}

#[test]
fn random_sends_duplicates_and_reconnects_keep_every_stream_exact() {
    let dir = data_dir("random");
    let server = start(&chat_config(2, &dir));
    let addr = server.local_addr();
    run(async move {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut devices: Vec<Vec<Peer>> = Vec::new();
        let mut conversations = Vec::new();
        let mut heads = Vec::new();
        let mut sent: Vec<Vec<(MessageId, u64)>> = Vec::new();
        let mut next_id = 1u64;
        for customer in 0..CUSTOMERS {
            let user = 100 + customer as u64;
            let mut peers = Vec::new();
            for _ in 0..DEVICES {
                peers.push(Peer::open(addr, user, Role::Customer).await);
            }
            let id = message_id(next_id);
            next_id += 1;
            peers[0].client.send(0, id, "open").await;
            let Message::Ack(ack) = peers[0].client.next().await.message else {
                panic!("ack")
            };
            peers[0].seen.insert(ack.conversation_id, 1);
            for peer in &mut peers[1..] {
                peer.expect_next(ack.conversation_id, 1).await;
            }
            conversations.push(ack.conversation_id);
            heads.push(1u64);
            sent.push(vec![(id, 1)]);
            devices.push(peers);
        }
        let mut observers = Vec::new();
        for n in 0..OBSERVERS {
            let mut peer = Peer::open(addr, 900 + n as u64, Role::Admin).await;
            let positions: Vec<(u64, u64)> = conversations.iter().map(|&c| (c, 0)).collect();
            peer.client.resume(&positions).await;
            for (c, &conversation) in conversations.iter().enumerate() {
                peer.expect_next(conversation, heads[c]).await;
            }
            observers.push(peer);
        }
        for _ in 0..STEPS {
            let c = rng.below(CUSTOMERS);
            let conversation = conversations[c];
            match rng.below(10) {
                // A new message from a random device: ack to it, deliver to every other follower.
                0..=5 => {
                    let d = rng.below(DEVICES);
                    let id = message_id(next_id);
                    next_id += 1;
                    devices[c][d].client.send(conversation, id, "hi").await;
                    heads[c] += 1;
                    sent[c].push((id, heads[c]));
                    for (i, peer) in devices[c].iter_mut().enumerate() {
                        let _ = i;
                        peer.expect_next(conversation, heads[c]).await;
                    }
                    for peer in &mut observers {
                        peer.expect_next(conversation, heads[c]).await;
                    }
                }
                // A duplicate of an earlier message: the original ack, nothing delivered.
                6..=7 => {
                    let (id, sequence) = sent[c][rng.below(sent[c].len())];
                    let d = rng.below(DEVICES);
                    let peer = &mut devices[c][d];
                    peer.client
                        .send_frame(Message::Send(SendMessage {
                            message_id: id,
                            conversation_id: conversation,
                            text: "again".into(),
                        }))
                        .await;
                    match peer.client.next().await.message {
                        Message::Ack(ack) => {
                            assert_eq!(ack.sequence, sequence, "retry gets the original sequence")
                        }
                        other => panic!("expected the original ack, got {other:?}"),
                    }
                }
                // A device reconnects and resumes from what it had.
                8 => {
                    let d = rng.below(DEVICES);
                    let old = std::mem::replace(
                        &mut devices[c][d],
                        Peer::open(addr, 100 + c as u64, Role::Customer).await,
                    );
                    let last = old.seen.get(&conversation).copied().unwrap_or(0);
                    drop(old);
                    let peer = &mut devices[c][d];
                    peer.seen.insert(conversation, last);
                    peer.client.resume(&[(conversation, last)]).await;
                    if last < heads[c] {
                        peer.expect_next(conversation, heads[c]).await;
                    }
                }
                // An observer reconnects and resumes everything.
                _ => {
                    let o = rng.below(OBSERVERS);
                    let user = observers[o].user;
                    let old = std::mem::replace(
                        &mut observers[o],
                        Peer::open(addr, user, Role::Admin).await,
                    );
                    let peer = &mut observers[o];
                    peer.seen = old.seen;
                    drop(old.client);
                    let positions: Vec<(u64, u64)> = conversations
                        .iter()
                        .map(|&conv| (conv, peer.seen.get(&conv).copied().unwrap_or(0)))
                        .collect();
                    peer.client.resume(&positions).await;
                    for (i, &conv) in conversations.iter().enumerate() {
                        if peer.seen.get(&conv).copied().unwrap_or(0) < heads[i] {
                            peer.expect_next(conv, heads[i]).await;
                        }
                    }
                }
            }
        }
        // Nothing extra anywhere: every frame still queued would be a duplicate or a stray.
        for peer in devices.iter_mut().flatten().chain(observers.iter_mut()) {
            assert!(peer.role == Role::Admin || peer.role == Role::Customer);
            if let Some(frame) = peer.client.try_next(Duration::from_millis(100)).await {
                assert!(
                    matches!(frame.message, Message::Ack(_)),
                    "stray frame {frame:?}"
                );
            }
        }
    });
    stop(server);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn resume_racing_live_messages_loses_and_duplicates_nothing() {
    const MESSAGES: u64 = 400;
    let dir = data_dir("race");
    let server = start(&chat_config(2, &dir));
    let addr = server.local_addr();
    run(async move {
        let customer_token = token(TENANT, 1, Role::Customer, &[]);
        let mut sender = Client::connect(addr, &customer_token).await;
        sender.send(0, message_id(0), "open").await;
        let Message::Ack(ack) = sender.next().await.message else {
            panic!("ack")
        };
        let conversation = ack.conversation_id;
        for round in 0..4u64 {
            // Half the messages are stored before the resume, the rest race it.
            let first = round * MESSAGES + 1;
            let pipeline = tokio::spawn(async move {
                for n in first..first + MESSAGES {
                    sender.send(conversation, message_id(n), "race").await;
                }
                let mut acks = 0;
                while acks < MESSAGES {
                    if let Message::Ack(_) = sender.next().await.message {
                        acks += 1;
                    }
                }
                sender
            });
            tokio::time::sleep(Duration::from_millis(5)).await;
            let mut reader =
                Client::connect(addr, &token(TENANT, 500 + round, Role::Admin, &[])).await;
            // The reader held everything up to the previous round's first half.
            let mut last = round * MESSAGES;
            reader.resume(&[(conversation, last)]).await;
            sender = pipeline.await.unwrap();
            let head = 1 + (round + 1) * MESSAGES;
            while last < head {
                match reader.next().await.message {
                    Message::Deliver(deliver) => {
                        assert_eq!(
                            deliver.sequence,
                            last + 1,
                            "round {round}: exactly once, in order"
                        );
                        last = deliver.sequence;
                    }
                    Message::Replay(_) => {}
                    other => panic!("unexpected {other:?}"),
                }
            }
            assert!(
                reader.try_next(Duration::from_millis(200)).await.is_none(),
                "nothing after the head"
            );
        }
    });
    stop(server);
    let _ = std::fs::remove_dir_all(dir);
}
