//! Chat-mode metrics on `/metrics`, parsed with the strict Prometheus text parser: the conversation-layer
//! counters, the conversation gauge, the commit latency and stage latency histograms and the degradation mode
//! move with traffic.

mod admin_support;
mod chat_support;

use std::time::{Duration, Instant};

use admin_support::{http_get, prom};
use chat_support::{chat_config, data_dir, message_id, run, token, Client};
use switchboard_protocol::app::Message;
use switchboard_shards::admin::{self, AdminSource};
use switchboard_shards::auth::Role;
use switchboard_shards::server::Server;

fn scrape(addr: std::net::SocketAddr) -> prom::Exposition {
    let (status, body) = http_get(addr, "/metrics");
    assert_eq!(status, 200, "{body}");
    prom::parse(&body).unwrap_or_else(|error| panic!("{error}\n{body}"))
}

#[test]
fn chat_counters_move_with_traffic() {
    let dir = data_dir("metrics");
    let mut server = Server::start(&chat_config(2, &dir)).unwrap();
    let admin = admin::start(
        "127.0.0.1:0".parse().unwrap(),
        AdminSource::from_server(&server),
    )
    .unwrap();
    let admin_addr = admin.local_addr();
    let addr = server.local_addr();
    run(async move {
        let mut customer = Client::connect(addr, &token(5, 1, Role::Customer, &[])).await;
        customer
            .send(0, message_id(1), "my email is a@b.example")
            .await;
        let Message::Ack(ack) = customer.next().await.message else {
            panic!("ack")
        };
        customer
            .send(ack.conversation_id, message_id(1), "retry")
            .await;
        customer.next().await;
        // An admin follows the conversation; the next message is delivered to it live.
        let mut admin = Client::connect(addr, &token(5, 9, Role::Admin, &[])).await;
        admin.resume(&[(ack.conversation_id, 0)]).await;
        admin.next().await;
        admin.next().await;
        customer
            .send(ack.conversation_id, message_id(3), "second")
            .await;
        customer.next().await;
        assert!(matches!(admin.next().await.message, Message::Deliver(_)));
        let mut other = Client::connect(addr, &token(5, 2, Role::Customer, &[])).await;
        other
            .send(ack.conversation_id, message_id(2), "not mine")
            .await;
        other.next().await;
    });
    let events = |exposition: &prom::Exposition, event: &str| {
        exposition
            .get("switchboard_chat_events_total", &[("event", event)])
            .unwrap_or(0.0)
    };
    // Counters are published once per shard tick; poll briefly.
    let deadline = Instant::now() + Duration::from_secs(10);
    let exposition = loop {
        let exposition = scrape(admin_addr);
        if events(&exposition, "forbidden") >= 1.0 || Instant::now() > deadline {
            break exposition;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(events(&exposition, "messages_stored"), 2.0);
    assert_eq!(events(&exposition, "duplicates"), 1.0);
    assert_eq!(events(&exposition, "conversations_created"), 1.0);
    assert_eq!(events(&exposition, "forbidden"), 1.0);
    assert!(events(&exposition, "pii_changed") >= 1.0);
    assert_eq!(exposition.value("switchboard_conversations", &[]), 1.0);
    assert_eq!(exposition.value("switchboard_degradation_mode", &[]), 0.0);
    assert!(
        exposition
            .get("switchboard_log_commit_latency_seconds_count", &[])
            .unwrap_or(0.0)
            >= 1.0
    );
    // Stage latencies: both messages persisted, the second delivered live (replays are not measured).
    let stage_count = |stage: &str| {
        exposition
            .get(
                "switchboard_chat_stage_latency_seconds_count",
                &[("stage", stage)],
            )
            .unwrap_or(0.0)
    };
    assert_eq!(stage_count("persisted"), 2.0);
    assert_eq!(stage_count("delivered"), 1.0);
    // Messages by lane: sends arrive on the chat lane, hello and resume on the system lane; the refusal
    // went out on the urgent lane, acks and deliveries on the chat lane.
    let messages = |direction: &str, lane: &str| {
        exposition.value(
            "switchboard_messages_total",
            &[("direction", direction), ("lane", lane)],
        )
    };
    assert_eq!(messages("in", "chat"), 4.0);
    assert_eq!(messages("in", "system"), 4.0);
    assert!(messages("out", "urgent") >= 1.0);
    assert!(messages("out", "chat") >= 5.0);
    server.drain();
    server.join().unwrap();
    drop(admin);
    let _ = std::fs::remove_dir_all(dir);
}
