//! The routing/AI shard wired into chat mode, end to end over real sockets: a knowledge-base question gets
//! the bot's answer (AI lane), an out-of-scope question is handed to an online agent with the bot's summary
//! and the agent's reply reaches the customer, and an angry customer goes straight to a human.

mod chat_support;

use chat_support::{chat_config, data_dir, message_id, run, start, stop, token, Client};
use switchboard_protocol::app::{Lane, Message, SenderRole};
use switchboard_shards::auth::Role;
use switchboard_shards::routing::shard::{RoutingShard, RoutingShardConfig};

const TENANT: u64 = 21;
const AGENT: u64 = 4242;

/// Reads frames until a `handoff` naming an agent arrives; returns (conversation, agent, reason).
async fn assigned(client: &mut Client) -> (u64, u64, String) {
    for _ in 0..20 {
        if let Message::Handoff(handoff) = client.next().await.message {
            if handoff.agent_id != 0 {
                return (handoff.conversation_id, handoff.agent_id, handoff.reason);
            }
        }
    }
    panic!("no assignment");
}

#[test]
fn bot_answers_hands_off_and_agents_reply() {
    let dir = data_dir("routing");
    let mut config = chat_config(2, &dir);
    config.chat.routing_enabled = true;
    let server = start(&config);
    let addr = server.local_addr();
    let groups: Vec<u32> = RoutingShard::new(RoutingShardConfig::default())
        .unwrap()
        .groups()
        .iter()
        .map(|group| group.id)
        .collect();
    run(async move {
        let mut agent = Client::connect(addr, &token(TENANT, AGENT, Role::Agent, &groups)).await;

        // A knowledge-base question: the bot answers on the AI lane.
        let mut asker = Client::connect(addr, &token(TENANT, 1, Role::Customer, &[])).await;
        asker.send(0, message_id(1), "三连是什么意思").await;
        assert!(matches!(asker.next().await.message, Message::Ack(_)));
        let frame = asker.next().await;
        assert_eq!(frame.lane, Lane::AiAnswer);
        match frame.message {
            Message::Deliver(deliver) => {
                assert_eq!(deliver.sender_role, SenderRole::AI);
                assert_eq!(deliver.sequence, 2);
                assert!(deliver.text.contains("三连"), "{}", deliver.text);
            }
            other => panic!("expected the bot's answer, got {other:?}"),
        }

        // Out of scope: handed to the online agent with the summary; the agent's reply reaches the customer.
        let mut lost = Client::connect(addr, &token(TENANT, 2, Role::Customer, &[])).await;
        lost.send(0, message_id(2), "qwzx plorf").await;
        let Message::Ack(ack) = lost.next().await.message else {
            panic!("ack")
        };
        let (conversation, agent_id, reason) = assigned(&mut agent).await;
        assert_eq!((conversation, agent_id), (ack.conversation_id, AGENT));
        assert!(
            reason.contains("qwzx plorf"),
            "the summary carries the last message: {reason}"
        );
        assert_eq!(assigned(&mut lost).await.1, AGENT);
        agent
            .send(
                conversation,
                message_id(3),
                "Hi, I am a human. How can I help?",
            )
            .await;
        loop {
            match lost.next().await.message {
                Message::Deliver(deliver) if deliver.sender_role == SenderRole::AGENT => {
                    assert_eq!(deliver.sender_id, AGENT);
                    break;
                }
                Message::Deliver(deliver) => {
                    panic!("no bot answer in a human conversation: {deliver:?}")
                }
                _ => {}
            }
        }

        // Angry: straight to the human, no bot answer first.
        let mut angry = Client::connect(addr, &token(TENANT, 3, Role::Customer, &[])).await;
        angry
            .send(0, message_id(4), "你们这帮骗子,马上退钱!!!")
            .await;
        assert!(matches!(angry.next().await.message, Message::Ack(_)));
        loop {
            match angry.next().await.message {
                Message::Handoff(handoff) if handoff.agent_id == AGENT => break,
                Message::Handoff(_) => {}
                other => panic!("expected a handoff, got {other:?}"),
            }
        }
    });
    stop(server);
    let _ = std::fs::remove_dir_all(dir);
}
