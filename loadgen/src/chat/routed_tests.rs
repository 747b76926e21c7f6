//! Routed [`ChatWorld`] against a scripted server: an AI answer that overtakes the opening `ack` is no
//! error, each AI message answers the oldest open question, follow-up questions are told apart, and a
//! `handoff` naming the agent makes it resume the conversation.

use clap::Parser;
use switchboard_protocol::app::{Ack, Deliver, Encoder, Handoff, Message, MessageId, SenderRole};
use switchboard_shards::routing::kb::KnowledgeBase;

use super::actor::ROUTED_AGENT_USER_BASE;
use super::wire::IdParts;
use super::{ChatContext, ChatWorld};
use crate::cli::Args;
use crate::config::RunConfig;
use crate::rng::Rng;
use crate::stats::Stats;

const KEY_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/// Two connections on one thread: agent 0 and bot-question customer 1, routed.
fn config() -> RunConfig {
    let dir = std::env::temp_dir().join(format!("loadgen-routed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("chat.toml");
    let text = format!(
        "scenario = \"chat\"\nconnections = 2\nthreads = 1\n[chat]\ncustomers_per_agent = 1\n\
         routing = true\nbot_question_share = 1.0\nout_of_scope_share = 0.0\nangry_share = 0.0\n\
         [auth]\nactive_key_id = \"k\"\nkeys = [{{ id = \"k\", secret_hex = \"{KEY_HEX}\" }}]\n"
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

fn ai(sequence: u64, text: &str) -> Vec<u8> {
    payload(Message::Deliver(Deliver {
        conversation_id: 77,
        sequence,
        message_id: MessageId([0xA1; 16]),
        sender_id: 0,
        sender_role: SenderRole::AI,
        sent_at_ms: 0,
        text: text.into(),
    }))
}

#[test]
fn bot_answers_follow_ups_and_assignment() {
    let config = config();
    let mut world = ChatWorld::new(&config, config.chat.as_ref().unwrap(), 0).unwrap();
    let (mut stats, mut rng, mut out) = (Stats::default(), Rng::new(1), Vec::new());
    let mut ctx = ChatContext {
        stats: &mut stats,
        rng: &mut rng,
        now_ns: 5_000,
    };
    for intended in [1_000, 2_000] {
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
    // The answer to the first question (AI lane) overtakes its ack (chat lane).
    world
        .on_payload(1, &ai(2, "an answer"), &mut ctx, &mut out)
        .unwrap();
    world
        .on_payload(1, &ack(id(1_000), 1), &mut ctx, &mut out)
        .unwrap();
    world
        .on_payload(1, &ack(id(2_000), 3), &mut ctx, &mut out)
        .unwrap();
    let kb = KnowledgeBase::builtin().unwrap();
    let question = kb.slots[0].question_en.clone();
    world
        .on_payload(1, &ai(4, &question), &mut ctx, &mut out)
        .unwrap();
    // Handed over: the customer and the agent both hear of it; the agent resumes from 0.
    let handoff = payload(Message::Handoff(Handoff {
        conversation_id: 77,
        agent_id: ROUTED_AGENT_USER_BASE,
        agent_group: "1".into(),
        reason: String::new(),
    }));
    world.on_payload(1, &handoff, &mut ctx, &mut out).unwrap();
    let mut agent_out = Vec::new();
    world
        .on_payload(0, &handoff, &mut ctx, &mut agent_out)
        .unwrap();
    assert!(!agent_out.is_empty(), "the assigned agent resumes");
    assert_eq!(
        world.next_reply_ns(),
        Some(5_000 + 200_000_000),
        "and greets"
    );
    world.settle(ctx.stats);
    assert!(stats.errors.is_empty(), "{:?}", stats.errors);
    assert_eq!((stats.bot_answers, stats.follow_ups), (1, 1));
    assert_eq!(
        (stats.handoffs, stats.handoffs_unplanned, stats.assignments),
        (1, 1, 1)
    );
    assert_eq!(stats.bot_answer_latency.len(), 2);
    let first = stats.bot_answer_latency.max();
    assert!(
        (3_990..=4_010).contains(&first),
        "from the first question: {first}"
    );
    assert_eq!((stats.lost, stats.unacked), (0, 0));
}
