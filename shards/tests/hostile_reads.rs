//! Read amplification (issue 15, finding 2): a customer filled a conversation with 100 × 16 KB messages,
//! then sent 2,500 `history_query` frames in one WebSocket message and never read. Every 1.6 MB page was
//! built before the send-queue bound could act; RSS grew ~300 MB/s and the process was OOM-killed in 6 s.
//! Now each connection's reads wait at its read gate and pages are capped in bytes, so what one client
//! asks is bounded by its configuration, whatever it asks.

mod chat_support;

use std::time::Duration;

use chat_support::{data_dir, hostile_config, message_id, rss_bytes, run, start, stop, token};
use chat_support::{Canary, Client};
use switchboard_protocol::app::{ErrorCode, HistoryQuery, Message};
use switchboard_shards::auth::Role;

/// Messages and bytes of text the attacker stores before the flood.
const FILL_MESSAGES: u64 = 100;
const FILL_TEXT_BYTES: usize = 16_000;
/// Queries in the flood's one WebSocket message (105 KB).
const FLOOD_QUERIES: u32 = 2_500;

#[test]
fn a_history_flood_from_a_client_that_never_reads_stays_bounded() {
    let dir = data_dir("hostile-history");
    let config = hostile_config(1, &dir);
    let chat = config.chat.clone();
    let send_queue_bytes_max = config.limits.send_queue_bytes_max;
    let server = start(&config);
    let addr = server.local_addr();
    run(async move {
        let mut canary = Canary::open(addr, 7).await;
        let attacker_token = token(1, 66, Role::Customer, &[]);
        let mut filler = Client::connect(addr, &attacker_token).await;
        let text = "x".repeat(FILL_TEXT_BYTES);
        let mut conversation = 0;
        for n in 1..=FILL_MESSAGES {
            filler.send(conversation, message_id(n), &text).await;
            let Message::Ack(ack) = filler.next().await.message else {
                panic!("expected an ack");
            };
            conversation = ack.conversation_id;
        }
        let mut attacker = Client::connect(addr, &attacker_token).await;
        let before = rss_bytes();
        attacker
            .send_batch((0..FLOOD_QUERIES).map(|query_id| {
                Message::HistoryQuery(HistoryQuery {
                    query_id,
                    conversation_id: conversation,
                    before_sequence: 0,
                    limit: 100,
                })
            }))
            .await;
        // The shard has handled the flood by the time the canary's messages are acked (one shard).
        for _ in 0..10 {
            canary.check().await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        canary.check().await;
        let grown = rss_bytes().saturating_sub(before);
        // What config allows one connection to hold: its send queue, plus the gate's waiting reads, plus
        // slack for the allocator and the test's own buffers. Before the fix this was gigabytes.
        let bound = send_queue_bytes_max + 64 * 1_048_576;
        assert!(
            grown <= bound,
            "RSS grew {grown} B under a history flood; bound {bound} B"
        );

        // Now the attacker reads: 2 queries in flight + the gate's 512 waiting are answered, the rest
        // was refused with one `rate_limited`, and the connection is still open.
        let answered_max =
            chat.reads_in_flight_per_connection_max + chat.reads_pending_per_connection_max;
        let frames = attacker.drain(Duration::from_secs(3), 10_000).await;
        let mut pages = 0u64;
        let mut errors = Vec::new();
        for frame in &frames {
            match &frame.message {
                Message::HistoryResult(page) => {
                    pages += 1;
                    let bytes: usize = page.messages.iter().map(|m| m.text.len()).sum();
                    assert!(
                        bytes as u64 <= chat.history_page_bytes_max,
                        "page of {bytes} B"
                    );
                    assert!(page.has_more, "a capped page says there is more");
                }
                Message::Error(error) => errors.push(error.clone()),
                other => panic!("unexpected {:.200}", format!("{other:?}")),
            }
        }
        assert_eq!(pages, answered_max, "every admitted read is answered");
        assert_eq!(
            errors.len(),
            1,
            "one refusal for the whole message: {errors:?}"
        );
        assert_eq!(errors[0].code, ErrorCode::RATE_LIMITED);
        assert!(errors[0].retry_after_ms.is_some());
        canary.check().await;
    });
    stop(server);
}

/// 20 connections × 40 queries used to push the shard into survival, so every customer on it got
/// `overloaded`; with the overload detector on (queue-driven), the canary sees no `status` and no error.
#[test]
fn many_flooding_connections_do_not_degrade_the_shard_for_others() {
    let dir = data_dir("hostile-history-many");
    let mut config = hostile_config(1, &dir);
    config.overload.enabled = true;
    // Only the queued bytes should drive the mode: a debug build on a busy machine has slow ticks.
    config.overload.brownout_latency_ms = 600_000;
    config.overload.survival_latency_ms = 600_000;
    config.overload.brownout_ring_percent = 100;
    config.overload.survival_ring_percent = 100;
    config.validate().unwrap();
    let server = start(&config);
    let addr = server.local_addr();
    run(async move {
        let mut canary = Canary::open(addr, 7).await;
        let attacker_token = token(1, 66, Role::Customer, &[]);
        let mut filler = Client::connect(addr, &attacker_token).await;
        let text = "y".repeat(FILL_TEXT_BYTES);
        let mut conversation = 0;
        for n in 1..=FILL_MESSAGES {
            filler.send(conversation, message_id(n), &text).await;
            let Message::Ack(ack) = filler.next().await.message else {
                panic!("expected an ack");
            };
            conversation = ack.conversation_id;
        }
        let mut attackers = Vec::new();
        for _ in 0..20 {
            let mut attacker = Client::connect(addr, &attacker_token).await;
            attacker
                .send_batch((0..40).map(|query_id| {
                    Message::HistoryQuery(HistoryQuery {
                        query_id,
                        conversation_id: conversation,
                        before_sequence: 0,
                        limit: 100,
                    })
                }))
                .await;
            attackers.push(attacker);
        }
        // Several overload windows pass while the attackers hold their queues full.
        for _ in 0..30 {
            canary.check().await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        drop(attackers);
    });
    stop(server);
}
