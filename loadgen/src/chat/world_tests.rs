//! [`ChatWorld`] against a scripted server: the checks must catch a duplicate and a lost delivery, and an
//! unacked send.

use clap::Parser;
use switchboard_protocol::app::{Ack, Deliver, Encoder, Message, MessageId, SenderRole, Welcome};

use super::wire::IdParts;
use super::{ChatContext, ChatWorld};
use crate::cli::Args;
use crate::config::RunConfig;
use crate::rng::Rng;
use crate::stats::Stats;

const KEY_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/// Two connections on one thread: agent 0 and customer 1.
fn config() -> RunConfig {
    let dir = std::env::temp_dir().join(format!("loadgen-world-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("chat.toml");
    let text = format!(
        "scenario = \"chat\"\nconnections = 2\nthreads = 1\n[auth]\nactive_key_id = \"k\"\n\
         keys = [{{ id = \"k\", secret_hex = \"{KEY_HEX}\" }}]\n"
    );
    std::fs::write(&path, text).unwrap();
    let args = Args::parse_from([
        "switchboard-loadgen",
        "--scenario-file",
        path.to_str().unwrap(),
    ]);
    let config = args.to_config().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    config
}

fn payload(message: Message) -> Vec<u8> {
    let mut out = Vec::new();
    Encoder::new().encode_message(message.kind().default_lane(), &message, &mut out);
    out
}

fn deliver(sequence: u64, id: MessageId) -> Vec<u8> {
    payload(Message::Deliver(Deliver {
        conversation_id: 77,
        sequence,
        message_id: id,
        sender_id: 2,
        sender_role: SenderRole::CUSTOMER,
        sent_at_ms: 0,
        text: "x".into(),
    }))
}

#[test]
fn catches_duplicates_losses_and_unacked_sends() {
    let config = config();
    let mut world = ChatWorld::new(&config, config.chat.as_ref().unwrap(), 0).unwrap();
    let (mut stats, mut rng, mut out) = (Stats::default(), Rng::new(1), Vec::new());
    let mut ctx = ChatContext {
        stats: &mut stats,
        rng: &mut rng,
        now_ns: 5_000,
    };
    // The customer sends three messages; the 2nd and 3rd wait for the opening ack.
    for intended in [1_000, 2_000, 3_000] {
        world.write_scheduled(1, intended, 100, &mut ctx, &mut out);
    }
    let id = |intended_ns| {
        IdParts {
            run_id: config.run_id,
            connection: 1,
            intended_ns,
        }
        .to_id()
    };
    let ack = |id, sequence| {
        payload(Message::Ack(Ack {
            message_id: id,
            conversation_id: 77,
            sequence,
        }))
    };
    let welcome = payload(Message::Welcome(Welcome::default()));
    assert!(world.on_payload(0, &welcome, &mut ctx, &mut out).unwrap());
    out.clear();
    world
        .on_payload(1, &ack(id(1_000), 1), &mut ctx, &mut out)
        .unwrap();
    assert!(
        !out.is_empty(),
        "the waiting sends go out with the conversation id"
    );
    assert_eq!(
        world.outbox.len(),
        1,
        "the agent resumes the new conversation"
    );
    world
        .on_payload(1, &ack(id(2_000), 2), &mut ctx, &mut out)
        .unwrap();
    // The agent gets 1 twice and never 2.
    world
        .on_payload(0, &deliver(1, id(1_000)), &mut ctx, &mut out)
        .unwrap();
    world
        .on_payload(0, &deliver(1, id(1_000)), &mut ctx, &mut out)
        .unwrap();
    world.settle(ctx.stats);
    assert_eq!(stats.duplicated, 1);
    assert_eq!(stats.lost, 1, "sequence 2 was acked and never delivered");
    assert_eq!(stats.unacked, 1, "the third send was never acked");
    assert_eq!((stats.sent, stats.acked, stats.received), (3, 2, 1));
    assert_eq!(stats.ack_latency.len(), 2);
}

#[test]
fn an_unavailable_gap_is_paged_in_with_history_and_an_expired_one_is_an_error() {
    use switchboard_protocol::app::{Gap, GapReason, HistoryResult};
    let config = config();
    let mut world = ChatWorld::new(&config, config.chat.as_ref().unwrap(), 0).unwrap();
    let (mut stats, mut rng, mut out) = (Stats::default(), Rng::new(1), Vec::new());
    let mut ctx = ChatContext {
        stats: &mut stats,
        rng: &mut rng,
        now_ns: 5_000,
    };
    let welcome = payload(Message::Welcome(Welcome::default()));
    assert!(world.on_payload(0, &welcome, &mut ctx, &mut out).unwrap());
    // The agent resumed from 0 and the server replays only 3..=3: 1..=2 is unavailable.
    let gap = |reason| {
        payload(Message::Gap(Gap {
            conversation_id: 77,
            from_sequence: 1,
            to_sequence: 2,
            reason,
        }))
    };
    out.clear();
    world
        .on_payload(0, &gap(GapReason::UNAVAILABLE), &mut ctx, &mut out)
        .unwrap();
    // The client's frame is a masked WebSocket message: unmask it and read the query.
    let (header, header_len) =
        switchboard_protocol::ws::FrameHeader::parse(&out, switchboard_protocol::ws::Role::Server)
            .unwrap()
            .unwrap();
    let mut body = out[header_len..].to_vec();
    switchboard_protocol::ws::apply_mask(&mut body, header.mask.unwrap(), 0);
    let mut sent = super::wire::frames(&body, &mut None).unwrap();
    let Some((_, Message::HistoryQuery(query))) = sent.pop() else {
        panic!("expected a history_query");
    };
    assert_eq!((query.conversation_id, query.before_sequence), (77, 3));
    let id = IdParts {
        run_id: config.run_id,
        connection: 1,
        intended_ns: 1_000,
    }
    .to_id();
    world
        .on_payload(0, &deliver(3, id), &mut ctx, &mut out)
        .unwrap();
    let page = |sequences: &[u64]| {
        payload(Message::HistoryResult(HistoryResult {
            query_id: query.query_id,
            conversation_id: 77,
            messages: sequences
                .iter()
                .map(|&sequence| Deliver {
                    conversation_id: 77,
                    sequence,
                    message_id: id,
                    sender_id: 2,
                    sender_role: SenderRole::CUSTOMER,
                    sent_at_ms: 0,
                    text: "x".into(),
                })
                .collect(),
            has_more: false,
        }))
    };
    out.clear();
    world
        .on_payload(0, &page(&[1, 2]), &mut ctx, &mut out)
        .unwrap();
    assert!(out.is_empty(), "the gap is filled: no further page");
    // An expired gap cannot be paged in: an error.
    world
        .on_payload(0, &gap(GapReason::EXPIRED), &mut ctx, &mut out)
        .unwrap();
    world.settle(ctx.stats);
    assert_eq!((stats.gaps_paged, stats.history_paged), (2, 2));
    assert_eq!(stats.gaps, 2, "the expired gap");
    assert_eq!(stats.lost, 0);
}
