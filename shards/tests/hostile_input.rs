//! Hostile input that used to take the node down or was answered against the spec (issue 15, findings 1
//! and 8), over real sockets against an in-process chat server; a canary customer keeps being served.

mod chat_support;

use chat_support::{data_dir, hostile_config, run, start, stop, token, Canary, Client};
use switchboard_protocol::app::{ErrorCode, Message};
use switchboard_shards::auth::Role;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage};

/// Finding 1: ~12,000 nested arrays (24 KB) in one JSON text message before `hello` overflowed a shard
/// thread's stack and killed every connection on every shard.
#[test]
fn deeply_nested_json_before_hello_is_refused_and_nothing_else_notices() {
    let dir = data_dir("hostile-nesting");
    let server = start(&hostile_config(2, &dir));
    let addr = server.local_addr();
    run(async move {
        let mut canary = Canary::open(addr, 7).await;
        let mut attacker = Client::connect_raw(addr, true).await;
        for depth in [12_000usize, 100_000] {
            let text = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
            attacker.send_ws(WsMessage::text(text)).await;
            let Message::Error(error) = attacker.next().await.message else {
                panic!("expected an error frame");
            };
            assert_eq!(error.code, ErrorCode::MALFORMED_FRAME);
            assert!(error.message.contains("nests deeper"), "{}", error.message);
        }
        // The connection stays usable: the same client can still say hello.
        attacker.hello(&token(1, 8, Role::Customer, &[])).await;
        canary.check().await;
    });
    stop(server);
}

/// Finding 8: a token in the upgrade request that does not verify gets 401 with the reason, not a 101.
#[test]
fn a_bad_handshake_token_gets_401_with_the_reason() {
    let dir = data_dir("hostile-token");
    let server = start(&hostile_config(1, &dir));
    let addr = server.local_addr();
    run(async move {
        let good = token(1, 9, Role::Customer, &[]);
        // The same token signed with another key: the signature does not match.
        let forged = {
            let (payload, mac) = good.rsplit_once('.').unwrap();
            let flipped = if mac.starts_with('A') { "B" } else { "A" };
            format!("{payload}.{flipped}{}", &mac[1..])
        };
        for (header, value) in [
            ("Authorization", format!("Bearer {forged}")),
            ("Authorization", "Bearer not-a-token".to_owned()),
        ] {
            let mut request = format!("ws://{addr}/ws").into_client_request().unwrap();
            let headers = request.headers_mut();
            headers.insert("Sec-WebSocket-Protocol", "switchboard.v1".parse().unwrap());
            headers.insert(header, value.parse().unwrap());
            match tokio_tungstenite::connect_async(request).await {
                Err(WsError::Http(response)) => {
                    assert_eq!(response.status(), 401);
                    let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or(&[]))
                        .into_owned();
                    assert!(body.starts_with("token refused: "), "body {body:?}");
                }
                other => panic!("expected 401, got {other:?}"),
            }
        }
        // A valid token in the query still opens the session without a token in hello.
        let mut request = format!("ws://{addr}/ws?token={good}")
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", "switchboard.v1".parse().unwrap());
        assert!(tokio_tungstenite::connect_async(request).await.is_ok());
    });
    stop(server);
}

/// Finding 8: a chat-mode upgrade that offers no subprotocol gets 400 (it got 101, then close 1002).
#[test]
fn an_upgrade_without_a_subprotocol_gets_400() {
    let dir = data_dir("hostile-subprotocol");
    let server = start(&hostile_config(1, &dir));
    let addr = server.local_addr();
    run(async move {
        let request = format!("ws://{addr}/ws").into_client_request().unwrap();
        match tokio_tungstenite::connect_async(request).await {
            Err(WsError::Http(response)) => assert_eq!(response.status(), 400),
            other => panic!("expected 400, got {other:?}"),
        }
    });
    stop(server);
}

/// Finding 8: a message of the wrong WebSocket type for the subprotocol closes with 1003 (text under
/// switchboard.v1 got 1002; binary under switchboard.json.v1 was parsed as JSON).
#[test]
fn a_message_of_the_wrong_type_closes_with_1003() {
    let dir = data_dir("hostile-wrong-type");
    let server = start(&hostile_config(1, &dir));
    let addr = server.local_addr();
    run(async move {
        let mut canary = Canary::open(addr, 7).await;
        let mut binary = Client::connect_raw(addr, false).await;
        binary.send_ws(WsMessage::text(r#"{"kind":"ping"}"#)).await;
        assert_eq!(binary.expect_close().await, Some(1003));
        let mut json = Client::connect_raw(addr, true).await;
        json.send_ws(WsMessage::binary(br#"{"kind":"ping"}"#.to_vec()))
            .await;
        assert_eq!(json.expect_close().await, Some(1003));
        canary.check().await;
    });
    stop(server);
}

/// Issue 16 finding 5: a `send` without a message id (JSON omits it, binary leaves it 0) was acked with
/// the first such send's conversation and sequence and then dropped. It is refused as malformed, in both
/// subprotocols, and nothing is stored.
#[test]
fn a_send_without_a_message_id_is_refused_as_malformed() {
    let dir = data_dir("hostile-no-message-id");
    let server = start(&hostile_config(1, &dir));
    let addr = server.local_addr();
    run(async move {
        let mut canary = Canary::open(addr, 7).await;
        for json in [true, false] {
            let mut client = Client::connect_raw(addr, json).await;
            client.hello(&token(1, 9, Role::Customer, &[])).await;
            if json {
                client
                    .send_ws(WsMessage::text(
                        r#"{"kind":"send","lane":"chat","conversation_id":"0","text":"no id"}"#,
                    ))
                    .await;
            } else {
                client
                    .send(0, switchboard_protocol::app::MessageId::default(), "no id")
                    .await;
            }
            let Message::Error(error) = client.next().await.message else {
                panic!("expected an error frame (json: {json})");
            };
            assert_eq!(error.code, ErrorCode::MALFORMED_FRAME, "json: {json}");
            assert!(error.message.contains("message_id"), "{}", error.message);
            // A proper send on the same connection still opens a conversation at sequence 1.
            client
                .send(
                    0,
                    chat_support::message_id(u64::from(json) + 1),
                    "with an id",
                )
                .await;
            let Message::Ack(ack) = client.take(|m| matches!(m, Message::Ack(_))).await.message
            else {
                unreachable!()
            };
            assert_eq!(ack.sequence, 1, "json: {json}");
        }
        canary.check().await;
    });
    stop(server);
}

/// Issue 16 finding 8: a bogus resume token in `hello` was silently ignored. The session still starts
/// (the token is only a hint), but the client is told with `resume_rejected`; a real one is accepted.
#[test]
fn a_bogus_resume_token_in_hello_gets_resume_rejected_after_the_welcome() {
    use switchboard_protocol::app::Hello;
    let dir = data_dir("hostile-resume-token");
    let server = start(&hostile_config(1, &dir));
    let addr = server.local_addr();
    run(async move {
        let user_token = token(1, 21, Role::Customer, &[]);
        let mut first = Client::connect_raw(addr, false).await;
        first
            .send_frame(Message::Hello(Hello {
                protocol_version: 1,
                auth_token: user_token.clone(),
                resume_token: String::new(),
            }))
            .await;
        let Message::Welcome(welcome) = first.next().await.message else {
            panic!("expected welcome");
        };
        for (offered, rejected) in [
            ("not-a-token".to_owned(), true),
            ("sb1.ffff.1".to_owned(), true),
            (welcome.resume_token.clone(), false),
        ] {
            let mut client = Client::connect_raw(addr, false).await;
            client
                .send_frame(Message::Hello(Hello {
                    protocol_version: 1,
                    auth_token: user_token.clone(),
                    resume_token: offered.clone(),
                }))
                .await;
            let first = client.next().await.message;
            assert!(matches!(first, Message::Welcome(_)), "{offered}: {first:?}");
            let next = client.try_next(std::time::Duration::from_millis(300)).await;
            let got_rejection = matches!(
                next.as_ref().map(|f| &f.message),
                Some(Message::Error(e)) if e.code == ErrorCode::RESUME_REJECTED
            );
            assert_eq!(got_rejection, rejected, "{offered}: {next:?}");
        }
    });
    stop(server);
}
