//! Chat mode over real sockets, end to end through the server: refusals (bad tokens closed 1008, frames
//! before `hello`, access, sizes), JSON clients and recovery after a real restart, and the epoll engine.
//! The conversation logic in a required order (send → ack → deliver, de-duplication, resume, history,
//! typing, PII, conversation updates, transfers) runs on the deterministic simulator without sleeps:
//! `shards/sim/tests/chat_scenarios.rs`; every flow over sockets in both subprotocols: the conformance
//! suite (`scripts/conformance-test.sh`).

mod chat_support;

use chat_support::{chat_config, data_dir, message_id, run, start, stop, token, Client};
use switchboard_protocol::app::{ErrorCode, Message};
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
