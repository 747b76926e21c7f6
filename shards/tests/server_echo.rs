//! A real WebSocket client library (tokio-tungstenite) against `switchboard serve --mode echo` in-process:
//! subprotocol negotiation, text and binary echo, fragmented messages both ways, ping/pong, the close
//! handshake, and many concurrent clients with content checks.

mod server_support;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use server_support::{echo_config, start, stop};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{connect_async, MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Bound of one whole test body; generous because the machine is shared.
const TEST_TIMEOUT: Duration = Duration::from_secs(120);
/// Bound of a single read.
const READ_TIMEOUT: Duration = Duration::from_secs(15);

/// Runs `body` on a fresh single-threaded runtime, failing the test if it takes longer than `TEST_TIMEOUT`.
fn run<F: Future<Output = ()>>(body: F) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        tokio::time::timeout(TEST_TIMEOUT, body)
            .await
            .expect("test finished in time");
    });
}

/// Connects offering `subprotocols` (comma-separated in one header, none when empty); returns the stream
/// and the subprotocol the server chose.
async fn connect(addr: SocketAddr, subprotocols: &[&str]) -> (Ws, Option<String>) {
    let mut request = format!("ws://{addr}/ws").into_client_request().unwrap();
    if !subprotocols.is_empty() {
        let offer = subprotocols.join(", ");
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", offer.parse().unwrap());
    }
    let (ws, response) = connect_async(request).await.expect("handshake succeeds");
    let chosen = response
        .headers()
        .get("sec-websocket-protocol")
        .map(|value| value.to_str().unwrap().to_owned());
    (ws, chosen)
}

/// The next message that is not a server heartbeat ping.
async fn next_message(ws: &mut Ws) -> Message {
    loop {
        let message = tokio::time::timeout(READ_TIMEOUT, ws.next())
            .await
            .expect("an answer in time")
            .expect("stream still open")
            .expect("valid WebSocket traffic");
        if !matches!(message, Message::Ping(_)) {
            return message;
        }
    }
}

/// Sends `message` and checks that the very same message comes back.
async fn assert_echo(ws: &mut Ws, message: Message) {
    ws.send(message.clone()).await.unwrap();
    assert_eq!(next_message(ws).await, message);
}

/// Closes with `code` and checks the server answers with the same code, then ends the stream.
async fn assert_close_echoed(mut ws: Ws, code: u16) {
    let frame = CloseFrame {
        code: CloseCode::from(code),
        reason: "bye".into(),
    };
    ws.close(Some(frame)).await.unwrap();
    match next_message(&mut ws).await {
        Message::Close(Some(reply)) => assert_eq!(u16::from(reply.code), code),
        other => panic!("expected a Close reply, got {other:?}"),
    }
    let end = tokio::time::timeout(READ_TIMEOUT, ws.next())
        .await
        .expect("stream ends in time");
    assert!(
        end.is_none() || matches!(end, Some(Err(_))),
        "nothing after the close handshake: {end:?}"
    );
}

#[test]
fn subprotocols_are_negotiated_and_messages_echoed() {
    let server = start(&echo_config(1, |_| {}));
    let addr = server.local_addr();
    run(async move {
        let cases: [(&[&str], Option<&str>); 4] = [
            (&["switchboard.v1"], Some("switchboard.v1")),
            (&["switchboard.json.v1"], Some("switchboard.json.v1")),
            (
                &["switchboard.json.v1", "switchboard.v1"],
                Some("switchboard.v1"),
            ),
            (&[], None),
        ];
        for (offer, expected) in cases {
            let (mut ws, chosen) = connect(addr, offer).await;
            assert_eq!(chosen.as_deref(), expected, "offer {offer:?}");
            assert_echo(&mut ws, Message::binary(vec![0u8, 1, 2, 255])).await;
            assert_echo(&mut ws, Message::text("héllo, switchboard ✓")).await;
            assert_echo(&mut ws, Message::binary(Vec::new())).await;
            assert_echo(&mut ws, Message::text("")).await;
            assert_close_echoed(ws, 1000).await;
        }
    });
    stop(server);
}

#[test]
fn fragmented_messages_come_back_whole_with_pings_between() {
    let server = start(&echo_config(1, |_| {}));
    let addr = server.local_addr();
    run(async move {
        let (mut ws, _) = connect(addr, &["switchboard.v1"]).await;
        let parts = ["frag", "mented ", "téxt"];
        ws.send(Message::Frame(Frame::message(
            parts[0],
            OpCode::Data(Data::Text),
            false,
        )))
        .await
        .unwrap();
        ws.send(Message::Frame(Frame::message(
            parts[1],
            OpCode::Data(Data::Continue),
            false,
        )))
        .await
        .unwrap();
        // A control frame between fragments is legal and answered at once.
        ws.send(Message::Ping(b"between".to_vec().into()))
            .await
            .unwrap();
        ws.send(Message::Frame(Frame::message(
            parts[2],
            OpCode::Data(Data::Continue),
            true,
        )))
        .await
        .unwrap();
        assert_eq!(
            next_message(&mut ws).await,
            Message::Pong(b"between".to_vec().into())
        );
        assert_eq!(next_message(&mut ws).await, Message::text(parts.concat()));

        let chunk: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let mut whole = Vec::new();
        for i in 0..5 {
            let opcode = if i == 0 {
                OpCode::Data(Data::Binary)
            } else {
                OpCode::Data(Data::Continue)
            };
            ws.send(Message::Frame(Frame::message(
                chunk.clone(),
                opcode,
                i == 4,
            )))
            .await
            .unwrap();
            whole.extend_from_slice(&chunk);
        }
        assert_eq!(next_message(&mut ws).await, Message::binary(whole));
        assert_close_echoed(ws, 4000).await;
    });
    stop(server);
}

#[test]
fn large_message_is_fragmented_by_the_server_and_reassembled() {
    // 300 KiB is many times `fragment_bytes` (16 KiB): the server sends continuation frames.
    let server = start(&echo_config(1, |_| {}));
    let addr = server.local_addr();
    run(async move {
        let (mut ws, _) = connect(addr, &[]).await;
        let big: Vec<u8> = (0..300 * 1024u32)
            .map(|i| (i.wrapping_mul(31) >> 3) as u8)
            .collect();
        assert_echo(&mut ws, Message::binary(big)).await;
        assert_echo(&mut ws, Message::text("é".repeat(100_000))).await;
        assert_close_echoed(ws, 1000).await;
    });
    stop(server);
}

#[test]
fn ping_gets_pong_with_the_same_payload() {
    let server = start(&echo_config(1, |_| {}));
    let addr = server.local_addr();
    run(async move {
        let (mut ws, _) = connect(addr, &["switchboard.json.v1"]).await;
        for payload in [Vec::new(), b"ping-1".to_vec(), vec![7u8; 125]] {
            ws.send(Message::Ping(payload.clone().into()))
                .await
                .unwrap();
            assert_eq!(next_message(&mut ws).await, Message::Pong(payload.into()));
        }
        assert_close_echoed(ws, 1001).await;
    });
    stop(server);
}

#[test]
fn close_codes_are_echoed() {
    let server = start(&echo_config(1, |_| {}));
    let addr = server.local_addr();
    run(async move {
        for code in [1000, 1001, 3000, 4999] {
            let (mut ws, _) = connect(addr, &["switchboard.v1"]).await;
            assert_echo(&mut ws, Message::text(format!("before {code}"))).await;
            assert_close_echoed(ws, code).await;
        }
    });
    stop(server);
}

/// Client `id`'s message number `seq`: distinct content, alternating text and binary, varying sizes.
fn message_for(id: usize, seq: usize) -> Message {
    let size = (id * 37 + seq * 101) % 2_000;
    if seq % 2 == 0 {
        let text = format!("client {id} message {seq} ");
        Message::text(text.repeat(size / text.len() + 1))
    } else {
        Message::binary((0..size).map(|i| (i + id + seq) as u8).collect::<Vec<u8>>())
    }
}

#[test]
fn fifty_concurrent_clients_echo_a_hundred_messages_each() {
    const CLIENTS: usize = 50;
    const MESSAGES: usize = 100;
    let server = start(&echo_config(2, |_| {}));
    let addr = server.local_addr();
    run(async move {
        let mut tasks = tokio::task::JoinSet::new();
        for id in 0..CLIENTS {
            tasks.spawn(async move {
                let (mut ws, chosen) = connect(addr, &["switchboard.v1"]).await;
                assert_eq!(chosen.as_deref(), Some("switchboard.v1"));
                // A few messages in flight at once, so echoes must come back in order.
                for batch in (0..MESSAGES).step_by(4) {
                    let seqs = batch..(batch + 4).min(MESSAGES);
                    for seq in seqs.clone() {
                        ws.send(message_for(id, seq)).await.unwrap();
                    }
                    for seq in seqs {
                        assert_eq!(
                            next_message(&mut ws).await,
                            message_for(id, seq),
                            "client {id} message {seq}"
                        );
                    }
                }
                assert_close_echoed(ws, 1000).await;
                id
            });
        }
        let mut finished = 0;
        while let Some(result) = tasks.join_next().await {
            result.expect("client task succeeded");
            finished += 1;
        }
        assert_eq!(finished, CLIENTS);
    });
    let accepted: u64 = server.stats().iter().map(|s| s.accepted()).sum();
    assert_eq!(accepted, CLIENTS as u64);
    stop(server);
}

#[test]
fn epoll_engine_serves_the_same_protocol() {
    let mut config = echo_config(2, |_| {});
    config.engine = switchboard_shards::config::Engine::Epoll;
    let server = start(&config);
    let addr = server.local_addr();
    run(async move {
        let mut tasks = tokio::task::JoinSet::new();
        for id in 0..10 {
            tasks.spawn(async move {
                let (mut ws, chosen) = connect(addr, &["switchboard.v1"]).await;
                assert_eq!(chosen.as_deref(), Some("switchboard.v1"));
                for seq in 0..20 {
                    assert_echo(&mut ws, message_for(id, seq)).await;
                }
                ws.send(Message::Frame(Frame::message(
                    "a",
                    OpCode::Data(Data::Text),
                    false,
                )))
                .await
                .unwrap();
                ws.send(Message::Frame(Frame::message(
                    "b",
                    OpCode::Data(Data::Continue),
                    true,
                )))
                .await
                .unwrap();
                assert_eq!(next_message(&mut ws).await, Message::text("ab"));
                ws.send(Message::Ping(b"epoll".to_vec().into()))
                    .await
                    .unwrap();
                assert_eq!(
                    next_message(&mut ws).await,
                    Message::Pong(b"epoll".to_vec().into())
                );
                assert_echo(&mut ws, Message::binary(vec![9u8; 100_000])).await;
                assert_close_echoed(ws, 4001).await;
            });
        }
        while let Some(result) = tasks.join_next().await {
            result.expect("client task succeeded");
        }
    });
    stop(server);
}
