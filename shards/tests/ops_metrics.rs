//! Operations metrics on `/metrics` and `/readyz` of a chat server with routing on, parsed with the strict
//! Prometheus text parser: per-shard cross-core ring occupancy and queue depth are exported in range, the
//! chat counters move when the bot answers a knowledge-base question, and `/readyz` is ready once every
//! shard recovered and listens.

mod admin_support;
mod chat_support;

use std::time::{Duration, Instant};

use admin_support::{http_get, prom};
use chat_support::{chat_config, data_dir, message_id, run, stop, token, Client};
use switchboard_protocol::app::{Lane, Message};
use switchboard_shards::admin::{self, AdminSource};
use switchboard_shards::auth::Role;
use switchboard_shards::server::Server;

/// Longest wait for a per-tick publication to show on `/metrics`.
const PUBLISH_WAIT_MS_MAX: u64 = 10_000;

fn scrape(addr: std::net::SocketAddr) -> prom::Exposition {
    let (status, body) = http_get(addr, "/metrics");
    assert_eq!(status, 200, "{body}");
    prom::parse(&body).unwrap_or_else(|error| panic!("{error}\n{body}"))
}

#[test]
fn ring_occupancy_queue_depth_and_readiness_are_exported() {
    let dir = data_dir("ops-metrics");
    let mut config = chat_config(2, &dir);
    config.chat.routing_enabled = true;
    let server = Server::start(&config).unwrap();
    let admin = admin::start(
        "127.0.0.1:0".parse().unwrap(),
        AdminSource::from_server(&server),
    )
    .unwrap();
    let admin_addr = admin.local_addr();
    assert_eq!(http_get(admin_addr, "/readyz"), (200, "ready\n".to_owned()));
    let addr = server.local_addr();
    run(async move {
        let mut asker = Client::connect(addr, &token(31, 1, Role::Customer, &[])).await;
        asker.send(0, message_id(1), "三连是什么意思").await;
        // The bot's answer (AI lane) may overtake the ack (chat lane) queued with it: a CI run under
        // load saw the answer first.
        asker.take(|m| matches!(m, Message::Ack(_))).await;
        let answer = asker.next().await;
        assert_eq!(answer.lane, Lane::AiAnswer, "the bot answered");
    });
    let stored = |exposition: &prom::Exposition| {
        exposition
            .get(
                "switchboard_chat_events_total",
                &[("event", "messages_stored")],
            )
            .unwrap_or(0.0)
    };
    let deadline = Instant::now() + Duration::from_millis(PUBLISH_WAIT_MS_MAX);
    let exposition = loop {
        let exposition = scrape(admin_addr);
        // The question and the bot's answer are both stored in the conversation.
        let answered = exposition
            .get(
                "switchboard_routing_decisions_total",
                &[("decision", "bot_answer")],
            )
            .unwrap_or(0.0);
        if (stored(&exposition) >= 2.0 && answered >= 1.0) || Instant::now() > deadline {
            break exposition;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(stored(&exposition), 2.0);
    // The routing shard's own view of the same exchange.
    assert_eq!(
        exposition.value(
            "switchboard_routing_decisions_total",
            &[("decision", "bot_answer")]
        ),
        1.0
    );
    assert!(exposition.value("switchboard_routing_customer_messages_total", &[]) >= 1.0);
    assert!(exposition
        .get("switchboard_routing_queue_depth", &[])
        .is_some());
    let occupancy = exposition.series("switchboard_ring_occupancy_ratio");
    assert_eq!(occupancy.len(), 2, "one series per shard");
    for (labels, ratio) in occupancy {
        assert!(labels.contains_key("shard"), "{labels:?}");
        assert!((0.0..=1.0).contains(&ratio), "{labels:?} {ratio}");
    }
    assert_eq!(exposition.series("switchboard_shard_queue_depth").len(), 2);
    assert_eq!(http_get(admin_addr, "/readyz"), (200, "ready\n".to_owned()));
    server.drain();
    let (status, body) = http_get(admin_addr, "/readyz");
    assert_eq!((status, body.as_str()), (503, "not ready: draining\n"));
    stop(server);
    drop(admin);
}
