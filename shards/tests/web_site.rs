//! HTTP on the WebSocket port in chat mode (issue 17): the start page and assets with caching headers and
//! gzip, demo tokens while the development key is in use (and never with configured keys), and the
//! WebSocket upgrade on the same port.

mod chat_support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use chat_support::{chat_config, data_dir, run, start, stop, Client};
use switchboard_shards::auth::dev_key::DEV_KEY_FILE;

/// One request; returns (status, headers, body).
fn get(addr: SocketAddr, path: &str, headers: &str) -> (u16, String, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: test\r\n{headers}\r\n").unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head");
    let head = String::from_utf8(response[..split].to_vec()).unwrap();
    let status = head[9..12].parse().unwrap();
    (status, head, response[split + 4..].to_vec())
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(": ")?;
        key.eq_ignore_ascii_case(name).then_some(value)
    })
}

#[test]
fn the_port_serves_pages_assets_and_demo_tokens_on_the_development_key() {
    let dir = data_dir("web-dev");
    let mut config = chat_config(1, &dir);
    config.auth = None;
    let server = start(&config);
    let addr = server.local_addr();
    assert!(
        dir.join(DEV_KEY_FILE).exists(),
        "the development key is made on first start"
    );

    let (status, head, body) = get(addr, "/", "");
    assert_eq!(status, 200);
    assert_eq!(
        header(&head, "Content-Type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(header(&head, "Cache-Control"), Some("no-cache"));
    assert_eq!(header(&head, "Connection"), Some("close"));
    assert!(String::from_utf8_lossy(&body).contains("Switchboard"));
    let etag = header(&head, "ETag").expect("an entity tag").to_owned();
    // Revalidation, compression, types, errors.
    let (status, _, body) = get(addr, "/", &format!("If-None-Match: {etag}\r\n"));
    assert_eq!((status, body.len()), (304, 0));
    let (status, head, _) = get(addr, "/", "Accept-Encoding: gzip, br\r\n");
    assert_eq!(status, 200);
    assert_eq!(header(&head, "Content-Encoding"), Some("gzip"));
    let (_, head, _) = get(addr, "/app.css", "");
    assert_eq!(
        header(&head, "Cache-Control"),
        Some("public, max-age=86400")
    );
    assert_eq!(get(addr, "/nope", "").0, 404);
    assert_eq!(get(addr, "/ws", "").0, 426);
    assert_eq!(get(addr, "/demo/token", "").0, 400);

    // A demo token is a real token for this server.
    let (status, head, body) = get(addr, "/demo/token?role=customer", "");
    assert_eq!(status, 200);
    assert_eq!(header(&head, "Cache-Control"), Some("no-store"));
    let body = String::from_utf8(body).unwrap();
    let token = body
        .split("\"token\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a token")
        .to_owned();
    run(async move {
        Client::connect(addr, &token).await;
    });
    let (_, _, agent) = get(addr, "/demo/token?role=agent&user=77", "");
    let agent = String::from_utf8(agent).unwrap();
    assert!(
        agent.contains("\"user\":\"77\"") && agent.contains("\"role\":\"agent\""),
        "{agent}"
    );
    stop(server);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn configured_keys_turn_the_demo_off() {
    let dir = data_dir("web-keys");
    let server = start(&chat_config(1, &dir));
    let addr = server.local_addr();
    let (status, _, body) = get(addr, "/demo/token?role=customer", "");
    assert_eq!(status, 404);
    assert!(String::from_utf8_lossy(&body).contains("demo tokens are off"));
    assert!(!dir.join(DEV_KEY_FILE).exists());
    assert_eq!(get(addr, "/", "").0, 200);
    stop(server);
    let _ = std::fs::remove_dir_all(dir);
}

/// A browser connection of tenant 1 from `origin`: what `hello` gets (welcome, or the error code).
async fn hello_from(addr: SocketAddr, origin: Option<&str>) -> Result<(), u16> {
    use futures_util::{SinkExt, StreamExt};
    use switchboard_protocol::app::{
        encode::Encoder, parse_frame, FrameLimits, Hello, Message, OwnedFrame,
    };
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Message as WsMessage;
    let mut request = format!("ws://{addr}/ws").into_client_request().unwrap();
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", "switchboard.v1".parse().unwrap());
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("Origin", origin.parse().unwrap());
    }
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let token = chat_support::token(1, 5, switchboard_shards::auth::Role::Customer, &[]);
    let mut out = Vec::new();
    Encoder::new().encode(
        &OwnedFrame::new(Message::Hello(Hello {
            protocol_version: 1,
            auth_token: token,
            resume_token: String::new(),
        })),
        &mut out,
    );
    ws.send(WsMessage::binary(out)).await.unwrap();
    let Some(Ok(WsMessage::Binary(bytes))) = ws.next().await else {
        panic!("no answer");
    };
    let (frame, _) = parse_frame(&bytes, &FrameLimits::default())
        .unwrap()
        .unwrap();
    match frame.to_owned_frame().message {
        Message::Welcome(_) => Ok(()),
        Message::Error(error) => Err(error.code.0),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn a_tenant_origin_list_refuses_other_sites_pages() {
    use switchboard_shards::chat::origins::TenantOrigins;
    let dir = data_dir("web-origins");
    let mut config = chat_config(1, &dir);
    config.chat.origins = vec![TenantOrigins {
        tenant: 1,
        allow: vec!["https://shop.example".into()],
    }];
    let server = start(&config);
    let addr = server.local_addr();
    run(async move {
        assert_eq!(hello_from(addr, Some("https://shop.example")).await, Ok(()));
        assert_eq!(hello_from(addr, None).await, Ok(()), "apps send no Origin");
        let unauthorized = switchboard_protocol::app::ErrorCode::UNAUTHORIZED.0;
        assert_eq!(
            hello_from(addr, Some("https://evil.example")).await,
            Err(unauthorized)
        );
    });
    stop(server);
    let _ = std::fs::remove_dir_all(dir);
}
