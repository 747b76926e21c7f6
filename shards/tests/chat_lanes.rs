//! Priority lanes and overload over real sockets: a client that stops reading makes the server queue its
//! chat deliveries; an urgent frame queued after them reaches the client first, and the queued bytes drive
//! the shard into brownout, where history queries and typing are refused with `overloaded` + retry-after
//! while sends are still served, until the client drains its queue and the shard recovers. Clients are
//! told each mode change with a `status` frame, and a client connecting during brownout gets one after its
//! `welcome`.

mod chat_support;

use std::time::Duration;

use chat_support::{chat_config, data_dir, message_id, run, start, stop, token, Client};
use switchboard_protocol::app::{ErrorCode, HistoryQuery, Message, StatusMode, Typing};
use switchboard_shards::auth::Role;
use switchboard_shards::config::ServeConfig;
use switchboard_shards::server::chat_stats::CHAT_COUNTERS;

const TENANT: u64 = 3;
const CUSTOMER: u64 = 31;
const OBSERVER: u64 = 32;
/// Text bytes of every bulk message (below `chat.text_bytes_max`).
const TEXT_BYTES: usize = 12_000;
/// Bulk messages: 12 MB in all, far more than the kernel's socket buffers hold for a client that does not
/// read (its receive buffer is pinned at `RECV_BUFFER_BYTES`; the server's send buffer grows to a few MB).
const MESSAGES: u64 = 1_000;
/// Sends in flight before waiting for their answers.
const SEND_WINDOW: usize = 16;
/// The observer's receive buffer.
const RECV_BUFFER_BYTES: u32 = 4_096;
/// Bound of the polling loops below (each step waits `POLL_STEP`).
const POLLS_MAX: u32 = 300;
const POLL_STEP: Duration = Duration::from_millis(100);

/// One shard, a send queue deep enough for the whole bulk, overload as `overload` says.
fn config(dir: &std::path::Path, overload: bool) -> ServeConfig {
    let mut config = chat_config(1, dir);
    config.limits.send_queue_bytes_max = 64 << 20;
    config.overload.enabled = overload;
    config.overload.window_ms = 100;
    config.overload.brownout_queue_bytes = 1 << 20;
    config.overload.survival_queue_bytes = 1 << 40;
    // A debug build under a bulk load has slow ticks; only the queue should drive these tests.
    config.overload.brownout_latency_ms = 600_000;
    config.overload.survival_latency_ms = 600_000;
    config.overload.recover_ms = 200;
    config.overload.brownout_retry_after_ms = 1_234;
    config.validate().expect("valid test configuration");
    config
}

/// Opens a conversation, has an observer follow it with a tiny receive window, then sends the bulk and
/// waits for every ack (so every delivery is queued for the observer). Returns (conversation, observer).
async fn queue_bulk_for_stalled_observer(
    addr: std::net::SocketAddr,
    customer: &mut Client,
    statuses: &mut Vec<StatusMode>,
) -> (u64, Client) {
    customer.send(0, message_id(1), "first").await;
    let Message::Ack(ack) = customer.next().await.message else {
        panic!("expected the opening ack");
    };
    let conversation = ack.conversation_id;

    let observer_token = token(TENANT, OBSERVER, Role::Admin, &[]);
    let mut observer = Client::connect_small_window(addr, &observer_token, RECV_BUFFER_BYTES).await;
    observer.resume(&[(conversation, 0)]).await;
    assert!(matches!(observer.next().await.message, Message::Replay(_)));
    assert!(matches!(observer.next().await.message, Message::Deliver(_)));

    // In windows, re-sending what the log refused as busy (its next commit group was full).
    let text = "x".repeat(TEXT_BYTES);
    let mut unacked: Vec<u64> = (0..MESSAGES).collect();
    let mut rounds = 0;
    while !unacked.is_empty() {
        rounds += 1;
        assert!(rounds < 100_000, "bulk not acknowledged");
        let window: Vec<u64> = unacked.iter().copied().take(SEND_WINDOW).collect();
        for &n in &window {
            customer
                .send(conversation, message_id(100 + n), &text)
                .await;
        }
        let mut busy = false;
        let mut answers = 0;
        while answers < window.len() {
            answers += 1;
            match customer.next().await.message {
                Message::Ack(ack) => {
                    let n = u64::from_be_bytes(ack.message_id.0[8..].try_into().unwrap()) - 100;
                    unacked.retain(|&m| m != n);
                }
                Message::Error(error) if error.code == ErrorCode::OVERLOADED => busy = true,
                Message::Status(status) => {
                    statuses.push(status.mode);
                    answers -= 1;
                }
                other => panic!("expected ack, got {other:?}"),
            }
        }
        if busy {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    (conversation, observer)
}

/// Reads the observer's stream until every bulk delivery is in; returns the delivered sequences and, for
/// each error frame, its code and how many deliveries came before it.
async fn drain(observer: &mut Client) -> (Vec<u64>, Vec<(ErrorCode, usize)>) {
    let mut sequences = Vec::new();
    let mut errors = Vec::new();
    while sequences.len() < MESSAGES as usize {
        match observer.next().await.message {
            Message::Deliver(deliver) => sequences.push(deliver.sequence),
            Message::Error(error) => errors.push((error.code, sequences.len())),
            _ => {}
        }
    }
    (sequences, errors)
}

#[test]
fn an_urgent_frame_overtakes_queued_chat() {
    let dir = data_dir("lanes");
    let server = start(&config(&dir, false));
    let addr = server.local_addr();
    let shards = &server;
    run(async move {
        let mut customer =
            Client::connect(addr, &token(TENANT, CUSTOMER, Role::Customer, &[])).await;
        let mut statuses = Vec::new();
        let (conversation, mut observer) =
            queue_bulk_for_stalled_observer(addr, &mut customer, &mut statuses).await;

        // The observer, still not reading, asks for a conversation that does not exist: the `not_found`
        // answer is an urgent-lane error, queued behind megabytes of chat deliveries.
        observer
            .send_frame(Message::HistoryQuery(HistoryQuery {
                query_id: 1,
                conversation_id: conversation ^ 0x5a5a,
                before_sequence: 0,
                limit: 10,
            }))
            .await;
        // Once the owner counted the `not_found`, the error is queued behind the chat deliveries.
        let not_found = CHAT_COUNTERS
            .iter()
            .position(|c| *c == "not_found")
            .unwrap();
        let refused = || -> u64 {
            shards
                .stats()
                .iter()
                .map(|s| s.chat().counter(not_found))
                .sum()
        };
        while refused() == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }

        let (sequences, errors) = drain(&mut observer).await;
        let expected: Vec<u64> = (2..2 + MESSAGES).collect();
        assert_eq!(sequences, expected, "every delivery once, in order");
        assert_eq!(errors.len(), 1, "{errors:?}");
        let (code, delivered_before) = errors[0];
        assert_eq!(code, ErrorCode::NOT_FOUND);
        assert!(
            delivered_before < sequences.len(),
            "the urgent error waited for the whole chat queue ({delivered_before} deliveries first)"
        );
        eprintln!(
            "urgent error overtook {} of {} queued deliveries",
            sequences.len() - delivered_before,
            sequences.len()
        );
    });
    stop(server);
    let _ = std::fs::remove_dir_all(dir);
}

/// The next frame that is not a `status` (those are recorded).
async fn next_skipping_status(client: &mut Client, statuses: &mut Vec<StatusMode>) -> Message {
    loop {
        match client.next().await.message {
            Message::Status(status) => statuses.push(status.mode),
            other => return other,
        }
    }
}

/// Sends a history query for `conversation` and returns the answer: `Ok(())` for a result, `Err` with the
/// error code and retry advice otherwise. Skips other frames.
async fn history(
    client: &mut Client,
    conversation: u64,
    statuses: &mut Vec<StatusMode>,
) -> Result<(), (ErrorCode, Option<u32>)> {
    client
        .send_frame(Message::HistoryQuery(HistoryQuery {
            query_id: 7,
            conversation_id: conversation,
            before_sequence: 0,
            limit: 1,
        }))
        .await;
    loop {
        match client.next().await.message {
            Message::HistoryResult(_) => return Ok(()),
            Message::Error(error) => return Err((error.code, error.retry_after_ms)),
            Message::Status(status) => statuses.push(status.mode),
            _ => continue,
        }
    }
}

#[test]
fn queued_bytes_drive_brownout_and_recovery() {
    let dir = data_dir("brownout");
    let server = start(&config(&dir, true));
    let addr = server.local_addr();
    run(async move {
        let mut customer =
            Client::connect(addr, &token(TENANT, CUSTOMER, Role::Customer, &[])).await;
        let mut statuses = Vec::new();
        let (conversation, mut observer) =
            queue_bulk_for_stalled_observer(addr, &mut customer, &mut statuses).await;

        // Megabytes stand queued for the observer: within a few windows the shard is in brownout and
        // history queries are refused with the configured retry advice.
        let mut refused = None;
        for _ in 0..POLLS_MAX {
            match history(&mut customer, conversation, &mut statuses).await {
                Ok(()) => tokio::time::sleep(POLL_STEP).await,
                Err(refusal) => {
                    refused = Some(refusal);
                    break;
                }
            }
        }
        assert_eq!(
            refused,
            Some((ErrorCode::OVERLOADED, Some(1_234))),
            "brownout refuses history"
        );

        // A client connecting now learns the mode right after its `welcome`.
        let mut late = Client::connect(addr, &token(TENANT, CUSTOMER, Role::Customer, &[])).await;
        match late.next().await.message {
            Message::Status(status) => {
                assert_eq!(status.mode, StatusMode::BROWNOUT);
                assert_eq!(status.retry_after_ms, 1_234);
            }
            other => panic!("expected status after welcome, got {other:?}"),
        }

        // Typing fan-out is refused too; chat is still served.
        customer
            .send_frame(Message::Typing(Typing {
                conversation_id: conversation,
                user_id: 0,
                active: true,
            }))
            .await;
        match next_skipping_status(&mut customer, &mut statuses).await {
            Message::Error(error) => assert_eq!(error.code, ErrorCode::OVERLOADED),
            other => panic!("expected the typing refusal, got {other:?}"),
        }
        customer
            .send(conversation, message_id(5_000), "still there?")
            .await;
        match next_skipping_status(&mut customer, &mut statuses).await {
            Message::Ack(ack) => assert_eq!(ack.sequence, 2 + MESSAGES),
            other => panic!("expected ack, got {other:?}"),
        }

        // The observer reads its queue; the shard steps back to normal and history is served again.
        let (sequences, _) = drain(&mut observer).await;
        assert_eq!(sequences.len(), MESSAGES as usize);
        let mut recovered = false;
        for _ in 0..POLLS_MAX {
            if history(&mut customer, conversation, &mut statuses)
                .await
                .is_ok()
            {
                recovered = true;
                break;
            }
            tokio::time::sleep(POLL_STEP).await;
        }
        assert!(recovered, "the shard left brownout once the queue drained");
        // The customer was told both changes with `status` frames: brownout, then normal again.
        assert_eq!(
            statuses.first(),
            Some(&StatusMode::BROWNOUT),
            "{statuses:?}"
        );
        assert_eq!(statuses.last(), Some(&StatusMode::NORMAL), "{statuses:?}");
    });
    stop(server);
    let _ = std::fs::remove_dir_all(dir);
}
