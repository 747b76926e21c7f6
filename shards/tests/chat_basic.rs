//! Chat mode over real sockets: hello and tokens, send → ack → deliver, de-duplicated retries, resume with
//! replay, history pages, PII masking, access refusals, JSON clients, recovery after a restart, and
//! conversation updates (resolve, transfer, re-open) without the routing shard.

mod chat_support;

use std::time::Duration;

use chat_support::{
    chat_config, data_dir, message_id, run, start, stop, token, update_request, Client,
};
use switchboard_protocol::app::{
    ConversationState, ConversationUpdate, ErrorCode, HistoryQuery, Message, Typing,
};
use switchboard_shards::auth::Role;

const TENANT: u64 = 7;
const CUSTOMER: u64 = 1001;
const ADMIN: u64 = 9;

/// Expects an `ack` and returns (conversation, sequence).
async fn ack(client: &mut Client) -> (u64, u64) {
    match client.next().await.message {
        Message::Ack(ack) => (ack.conversation_id, ack.sequence),
        other => panic!("expected ack, got {other:?}"),
    }
}

/// Expects a `deliver` and returns (sequence, text).
async fn deliver(client: &mut Client) -> (u64, String) {
    match client.next().await.message {
        Message::Deliver(deliver) => (deliver.sequence, deliver.text),
        other => panic!("expected deliver, got {other:?}"),
    }
}

async fn error_code(client: &mut Client) -> ErrorCode {
    match client.next().await.message {
        Message::Error(error) => error.code,
        other => panic!("expected error, got {other:?}"),
    }
}

#[test]
fn send_ack_deliver_dedup_and_resume() {
    let dir = data_dir("basic");
    let server = start(&chat_config(2, &dir));
    let addr = server.local_addr();
    run(async move {
        let mut customer =
            Client::connect(addr, &token(TENANT, CUSTOMER, Role::Customer, &[])).await;
        customer
            .send(0, message_id(1), "hello, my video will not play")
            .await;
        let (conversation, sequence) = ack(&mut customer).await;
        assert!(conversation > 0);
        assert_eq!(sequence, 1);

        // A retry of the opening send (same id) gets the same ack, not a second conversation.
        customer
            .send(0, message_id(1), "hello, my video will not play")
            .await;
        assert_eq!(ack(&mut customer).await, (conversation, 1));

        // An admin of the tenant resumes from 0: replay announcement, then the one message.
        let mut admin = Client::connect(addr, &token(TENANT, ADMIN, Role::Admin, &[])).await;
        admin.resume(&[(conversation, 0)]).await;
        let frame = admin.next().await;
        assert!(
            matches!(frame.message, Message::Replay(ref r) if r.from_sequence == 1 && r.to_sequence == 1),
            "{frame:?}"
        );
        assert_eq!(
            deliver(&mut admin).await,
            (1, "hello, my video will not play".into())
        );

        // Live traffic now reaches the admin, in order, and the customer's retries are not duplicated.
        for n in 2..=20u64 {
            customer
                .send(conversation, message_id(n), &format!("message {n}"))
                .await;
            assert_eq!(ack(&mut customer).await, (conversation, n));
        }
        customer
            .send(conversation, message_id(5), "message 5")
            .await;
        assert_eq!(ack(&mut customer).await, (conversation, 5));
        for n in 2..=20u64 {
            assert_eq!(deliver(&mut admin).await, (n, format!("message {n}")));
        }
        assert!(
            admin.try_next(Duration::from_millis(300)).await.is_none(),
            "no duplicate delivery"
        );

        // The admin answers; the customer gets it.
        admin
            .send(conversation, message_id(100), "we are looking into it")
            .await;
        assert_eq!(ack(&mut admin).await, (conversation, 21));
        assert_eq!(
            deliver(&mut customer).await,
            (21, "we are looking into it".into())
        );

        // A second device of the customer resumes from 18 and gets 19..=21 only.
        let mut device = Client::connect(addr, &token(TENANT, CUSTOMER, Role::Customer, &[])).await;
        device.resume(&[(conversation, 18)]).await;
        assert!(matches!(device.next().await.message, Message::Replay(_)));
        for n in 19..=21 {
            assert_eq!(deliver(&mut device).await.0, n);
        }
        // Up to date: a resume at the head gets nothing back.
        device.resume(&[(conversation, 21)]).await;
        assert!(device.try_next(Duration::from_millis(300)).await.is_none());
    });
    stop(server);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn refusals_are_error_frames() {
    let dir = data_dir("refusals");
    let server = start(&chat_config(1, &dir));
    let addr = server.local_addr();
    run(async move {
        // A bad token: unauthorized, then a 1008 close.
        let mut stranger = Client::connect_raw(addr, false).await;
        stranger
            .send_frame(Message::Hello(switchboard_protocol::app::Hello {
                protocol_version: 1,
                auth_token: "not-a-token".into(),
                resume_token: String::new(),
            }))
            .await;
        assert_eq!(error_code(&mut stranger).await, ErrorCode::UNAUTHORIZED);
        assert_eq!(stranger.expect_close().await, Some(1008));

        // Anything before hello: invalid_state, connection stays.
        let mut early = Client::connect_raw(addr, false).await;
        early.send(0, message_id(1), "too early").await;
        assert_eq!(error_code(&mut early).await, ErrorCode::INVALID_STATE);
        early.hello(&token(TENANT, 55, Role::Customer, &[])).await;

        let mut customer =
            Client::connect(addr, &token(TENANT, CUSTOMER, Role::Customer, &[])).await;
        customer.send(0, message_id(10), "mine").await;
        let (conversation, _) = ack(&mut customer).await;

        // Another customer of the same tenant, and an admin of another tenant: forbidden.
        let mut other = Client::connect(addr, &token(TENANT, 2002, Role::Customer, &[])).await;
        other.send(conversation, message_id(11), "let me in").await;
        assert_eq!(error_code(&mut other).await, ErrorCode::FORBIDDEN);
        let mut foreign = Client::connect(addr, &token(TENANT + 1, ADMIN, Role::Admin, &[])).await;
        foreign.resume(&[(conversation, 0)]).await;
        assert_eq!(error_code(&mut foreign).await, ErrorCode::FORBIDDEN);
        // An agent not assigned and not in the conversation's group.
        let mut agent = Client::connect(addr, &token(TENANT, 3003, Role::Agent, &[42])).await;
        agent.resume(&[(conversation, 0)]).await;
        assert_eq!(error_code(&mut agent).await, ErrorCode::FORBIDDEN);
        // Unknown conversation; agents cannot open conversations.
        customer.send(123_456, message_id(12), "where?").await;
        assert_eq!(error_code(&mut customer).await, ErrorCode::NOT_FOUND);
        agent.send(0, message_id(13), "new").await;
        assert_eq!(error_code(&mut agent).await, ErrorCode::FORBIDDEN);
        // Too long.
        customer
            .send(conversation, message_id(14), &"x".repeat(20_000))
            .await;
        assert_eq!(
            error_code(&mut customer).await,
            ErrorCode::MESSAGE_TOO_LARGE
        );
        // Message ids are scoped to their conversation (docs/protocol.md §4): the first conversation's
        // id reused in another one is another message there, whichever shard owns either, and a
        // retry of it in that conversation is de-duplicated as usual.
        customer
            .send(0, message_id(15), "second conversation")
            .await;
        let (second, _) = ack(&mut customer).await;
        customer
            .send(second, message_id(10), "id of the first")
            .await;
        assert_eq!(ack(&mut customer).await, (second, 2));
        customer
            .send(second, message_id(10), "id of the first")
            .await;
        assert_eq!(ack(&mut customer).await, (second, 2));
        // The connection is still fine after all of that.
        customer
            .send(conversation, message_id(16), "still here")
            .await;
        assert_eq!(ack(&mut customer).await, (conversation, 2));
    });
    stop(server);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn pii_is_masked_before_storage_and_delivery() {
    let dir = data_dir("pii");
    let server = start(&chat_config(1, &dir));
    let addr = server.local_addr();
    run(async move {
        let mut customer =
            Client::connect(addr, &token(TENANT, CUSTOMER, Role::Customer, &[])).await;
        customer
            .send(
                0,
                message_id(1),
                "call me on 13812345678 or mail a.b@example.com",
            )
            .await;
        let (conversation, _) = ack(&mut customer).await;
        let mut admin = Client::connect(addr, &token(TENANT, ADMIN, Role::Admin, &[])).await;
        admin.resume(&[(conversation, 0)]).await;
        let _replay = admin.next().await;
        let (_, text) = deliver(&mut admin).await;
        assert!(!text.contains("13812345678"), "{text}");
        assert!(!text.contains("a.b@example.com"), "{text}");
        // What is stored is what history returns.
        admin
            .send_frame(Message::HistoryQuery(HistoryQuery {
                query_id: 1,
                conversation_id: conversation,
                before_sequence: 0,
                limit: 10,
            }))
            .await;
        match admin.next().await.message {
            Message::HistoryResult(result) => {
                assert_eq!(result.messages.len(), 1);
                assert_eq!(result.messages[0].text, text);
            }
            other => panic!("expected history, got {other:?}"),
        }
    });
    stop(server);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn history_pages_and_typing() {
    let dir = data_dir("history");
    let server = start(&chat_config(2, &dir));
    let addr = server.local_addr();
    run(async move {
        let mut customer =
            Client::connect(addr, &token(TENANT, CUSTOMER, Role::Customer, &[])).await;
        customer.send(0, message_id(1), "m1").await;
        let (conversation, _) = ack(&mut customer).await;
        for n in 2..=25u64 {
            customer
                .send(conversation, message_id(n), &format!("m{n}"))
                .await;
            ack(&mut customer).await;
        }
        let mut before = 0;
        let mut seen = Vec::new();
        for page in 0..10u32 {
            customer
                .send_frame(Message::HistoryQuery(HistoryQuery {
                    query_id: page,
                    conversation_id: conversation,
                    before_sequence: before,
                    limit: 10,
                }))
                .await;
            let Message::HistoryResult(result) = customer.next().await.message else {
                panic!("expected history");
            };
            assert_eq!(result.query_id, page);
            let sequences: Vec<u64> = result.messages.iter().map(|m| m.sequence).collect();
            seen.splice(0..0, sequences.iter().copied());
            before = sequences[0];
            if !result.has_more {
                break;
            }
        }
        assert_eq!(seen, (1..=25).collect::<Vec<_>>());

        // Typing reaches the other side.
        let mut admin = Client::connect(addr, &token(TENANT, ADMIN, Role::Admin, &[])).await;
        admin.resume(&[(conversation, 25)]).await;
        // The resume is answered (empty) before the typing below is fanned out; wait for the owner.
        tokio::time::sleep(Duration::from_millis(200)).await;
        customer
            .send_frame(Message::Typing(Typing {
                conversation_id: conversation,
                user_id: 0,
                active: true,
            }))
            .await;
        match admin.next().await.message {
            Message::Typing(typing) => {
                assert_eq!(typing.user_id, CUSTOMER);
                assert!(typing.active);
            }
            other => panic!("expected typing, got {other:?}"),
        }
    });
    stop(server);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn json_clients_and_restart_recovery() {
    let dir = data_dir("restart");
    let config = chat_config(2, &dir);
    let server = start(&config);
    let addr = server.local_addr();
    let conversation = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let shared = conversation.clone();
    run(async move {
        let mut customer = Client::connect_raw(addr, true).await;
        customer
            .hello(&token(TENANT, CUSTOMER, Role::Customer, &[]))
            .await;
        customer.send(0, message_id(1), "json one").await;
        let (id, _) = ack(&mut customer).await;
        customer.send(id, message_id(2), "json two").await;
        assert_eq!(ack(&mut customer).await, (id, 2));
        shared.store(id, std::sync::atomic::Ordering::SeqCst);
    });
    stop(server);
    let conversation = conversation.load(std::sync::atomic::Ordering::SeqCst);
    let server = start(&config);
    let addr = server.local_addr();
    run(async move {
        let mut customer =
            Client::connect(addr, &token(TENANT, CUSTOMER, Role::Customer, &[])).await;
        customer.resume(&[(conversation, 0)]).await;
        assert!(matches!(customer.next().await.message, Message::Replay(_)));
        assert_eq!(deliver(&mut customer).await, (1, "json one".into()));
        assert_eq!(deliver(&mut customer).await, (2, "json two".into()));
        // Sequences continue, and a retry from before the restart is still de-duplicated.
        customer.send(conversation, message_id(2), "json two").await;
        assert_eq!(ack(&mut customer).await, (conversation, 2));
        customer
            .send(conversation, message_id(3), "after restart")
            .await;
        assert_eq!(ack(&mut customer).await, (conversation, 3));
    });
    stop(server);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn epoll_engine_commits_and_delivers_too() {
    let dir = data_dir("epoll");
    let mut config = chat_config(2, &dir);
    config.engine = switchboard_shards::config::Engine::Epoll;
    let server = start(&config);
    let addr = server.local_addr();
    run(async move {
        let mut customer =
            Client::connect(addr, &token(TENANT, CUSTOMER, Role::Customer, &[])).await;
        customer.send(0, message_id(1), "over epoll").await;
        let (conversation, _) = ack(&mut customer).await;
        let mut admin = Client::connect(addr, &token(TENANT, ADMIN, Role::Admin, &[])).await;
        admin.resume(&[(conversation, 0)]).await;
        let _replay = admin.next().await;
        assert_eq!(deliver(&mut admin).await, (1, "over epoll".into()));
        for n in 2..=50u64 {
            customer.send(conversation, message_id(n), "more").await;
        }
        for n in 2..=50u64 {
            assert_eq!(ack(&mut customer).await, (conversation, n));
            assert_eq!(deliver(&mut admin).await.0, n);
        }
    });
    stop(server);
    let _ = std::fs::remove_dir_all(dir);
}

/// The next `conversation_update` or `error`, skipping other frames.
async fn update_answer(client: &mut Client) -> Result<ConversationUpdate, ErrorCode> {
    for _ in 0..20 {
        match client.next().await.message {
            Message::ConversationUpdate(update) => return Ok(update),
            Message::Error(error) => return Err(error.code),
            _ => {}
        }
    }
    panic!("no answer to conversation_update");
}

#[test]
fn conversation_updates_without_routing() {
    let dir = data_dir("updates");
    let server = start(&chat_config(2, &dir));
    let addr = server.local_addr();
    run(async move {
        let mut customer =
            Client::connect(addr, &token(TENANT, CUSTOMER, Role::Customer, &[])).await;
        customer.send(0, message_id(1), "my refund?").await;
        let (conversation, _) = ack(&mut customer).await;
        let mut agent = Client::connect(addr, &token(TENANT, 77, Role::Agent, &[1, 5])).await;

        // Malformed and forbidden requests.
        customer
            .send_frame(update_request(conversation, ConversationState::BOT, 0, ""))
            .await;
        assert_eq!(
            update_answer(&mut customer).await.unwrap_err(),
            ErrorCode::INVALID_STATE
        );
        customer
            .send_frame(update_request(
                conversation,
                ConversationState::QUEUED,
                0,
                "5",
            ))
            .await;
        assert_eq!(
            update_answer(&mut customer).await.unwrap_err(),
            ErrorCode::FORBIDDEN
        );
        agent
            .send_frame(update_request(
                conversation,
                ConversationState::QUEUED,
                0,
                "five",
            ))
            .await;
        assert_eq!(
            update_answer(&mut agent).await.unwrap_err(),
            ErrorCode::INVALID_STATE
        );
        let stranger = token(TENANT + 1, 78, Role::Agent, &[1]);
        let mut stranger = Client::connect(addr, &stranger).await;
        stranger
            .send_frame(update_request(
                conversation,
                ConversationState::RESOLVED,
                0,
                "",
            ))
            .await;
        assert_eq!(
            update_answer(&mut stranger).await.unwrap_err(),
            ErrorCode::FORBIDDEN
        );

        // The agent (group 1 is the fallback queue) moves it to group 5, then takes it.
        agent
            .send_frame(update_request(
                conversation,
                ConversationState::QUEUED,
                0,
                "5",
            ))
            .await;
        let moved = update_answer(&mut agent).await.unwrap();
        assert_eq!(
            (moved.state, moved.agent_group.as_str()),
            (ConversationState::QUEUED, "5")
        );
        agent
            .send_frame(update_request(
                conversation,
                ConversationState::ASSIGNED,
                77,
                "",
            ))
            .await;
        let taken = update_answer(&mut agent).await.unwrap();
        assert_eq!(
            (taken.state, taken.agent_id),
            (ConversationState::ASSIGNED, 77)
        );
        let seen = update_answer(&mut customer).await.unwrap();
        assert_eq!(seen.state, ConversationState::QUEUED);
        let seen = update_answer(&mut customer).await.unwrap();
        assert_eq!(
            (seen.state, seen.agent_id),
            (ConversationState::ASSIGNED, 77)
        );

        // The customer says it is done; resolving again is idempotent.
        customer
            .send_frame(update_request(
                conversation,
                ConversationState::RESOLVED,
                0,
                "",
            ))
            .await;
        let done = update_answer(&mut customer).await.unwrap();
        assert_eq!(done.state, ConversationState::RESOLVED);
        customer
            .send_frame(update_request(
                conversation,
                ConversationState::RESOLVED,
                0,
                "",
            ))
            .await;
        assert_eq!(
            update_answer(&mut customer).await.unwrap().state,
            ConversationState::RESOLVED
        );
        assert_eq!(
            update_answer(&mut agent).await.unwrap().state,
            ConversationState::RESOLVED
        );

        // Writing again re-opens it in the fallback queue (no routing shard here).
        customer
            .send(conversation, message_id(2), "one more thing")
            .await;
        let reopened = update_answer(&mut customer).await.unwrap();
        assert_eq!(
            (reopened.state, reopened.agent_group.as_str()),
            (ConversationState::QUEUED, "1")
        );
    });
    stop(server);
    let _ = std::fs::remove_dir_all(dir);
}

/// Frames of `client` up to and including the first that `last` picks (bounded).
async fn frames_until(client: &mut Client, last: impl Fn(&Message) -> bool) -> Vec<Message> {
    let mut seen = Vec::new();
    for _ in 0..50 {
        let message = client.next().await.message;
        let done = last(&message);
        seen.push(message);
        if done {
            return seen;
        }
    }
    panic!("the awaited frame never came; got {seen:?}");
}

#[test]
fn an_agent_a_transfer_takes_the_conversation_from_stops_receiving_it() {
    // Found in review: followers were never re-checked after a state change, so an agent who
    // transferred a conversation to a group they are not in kept receiving its live messages.
    let dir = data_dir("revoke");
    let server = start(&chat_config(2, &dir));
    let addr = server.local_addr();
    run(async move {
        let mut customer =
            Client::connect(addr, &token(TENANT, CUSTOMER, Role::Customer, &[])).await;
        customer.send(0, message_id(1), "my refund?").await;
        let (conversation, _) = ack(&mut customer).await;
        // Queued to the fallback group 1: both agents may follow it; only `keeper` is in group 5.
        let mut leaver = Client::connect(addr, &token(TENANT, 77, Role::Agent, &[1])).await;
        let mut keeper = Client::connect(addr, &token(TENANT, 88, Role::Agent, &[1, 5])).await;
        for agent in [&mut leaver, &mut keeper] {
            agent.resume(&[(conversation, 0)]).await;
            let replayed = frames_until(agent, |m| matches!(m, Message::Deliver(_))).await;
            assert!(replayed.iter().any(|m| matches!(m, Message::Replay(_))));
        }

        leaver
            .send_frame(update_request(
                conversation,
                ConversationState::QUEUED,
                0,
                "5",
            ))
            .await;
        // The leaver learns where it went (its answer, and the handoff every follower gets).
        let told = frames_until(
            &mut leaver,
            |m| matches!(m, Message::ConversationUpdate(u) if u.agent_group == "5"),
        )
        .await;
        assert!(
            told.iter()
                .any(|m| matches!(m, Message::Handoff(h) if h.agent_group == "5")),
            "{told:?}"
        );
        assert_eq!(
            update_answer(&mut keeper).await.unwrap().agent_group,
            "5",
            "the keeper sees the move"
        );

        customer
            .send(conversation, message_id(2), "still there?")
            .await;
        frames_until(&mut customer, |m| matches!(m, Message::Ack(_))).await;
        let kept = frames_until(&mut keeper, |m| matches!(m, Message::Deliver(_))).await;
        assert!(kept
            .iter()
            .any(|m| matches!(m, Message::Deliver(d) if d.text == "still there?")));
        // The leaver's next read is refused, and nothing of the conversation came before it.
        leaver.resume(&[(conversation, 0)]).await;
        let after = frames_until(&mut leaver, |m| matches!(m, Message::Error(_))).await;
        assert!(
            matches!(after.last(), Some(Message::Error(e)) if e.code == ErrorCode::FORBIDDEN),
            "{after:?}"
        );
        assert!(
            !after.iter().any(|m| matches!(m, Message::Deliver(_))),
            "the leaver still got deliveries: {after:?}"
        );
    });
    stop(server);
    let _ = std::fs::remove_dir_all(dir);
}
