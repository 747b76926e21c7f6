//! The opening handshake: server validation and its HTTP statuses, client validation, the two sides
//! against each other, and "every prefix of a valid head needs more bytes".

use proptest::prelude::*;
use switchboard_protocol::ws::handshake::{
    accept_key, parse_upgrade_request, ClientHandshakeError, ClientRequest, HandshakeError,
    HandshakeLimits, HeadError, Subprotocol,
};

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

fn request(extra: &str) -> String {
    format!(
        "GET /ws?room=1&token=a%2Bb HTTP/1.1\r\nHost: chat.example\r\nUpgrade: websocket\r\n\
         Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

fn parse(
    text: &str,
) -> Result<Option<(switchboard_protocol::ws::handshake::UpgradeRequest, usize)>, HandshakeError> {
    parse_upgrade_request(text.as_bytes(), &HandshakeLimits::default())
}

#[test]
fn valid_request_carries_what_the_server_checks() {
    let text = request(
        "Sec-WebSocket-Protocol: other, switchboard.json.v1, switchboard.v1\r\nOrigin: https://shop.example\r\n\
         Authorization: Bearer xyz\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n",
    );
    let with_frames = text.clone() + "\u{81}";
    let (request, consumed) = parse(&with_frames).unwrap().unwrap();
    assert_eq!(consumed, text.len());
    assert_eq!(request.path, "/ws");
    assert_eq!(request.query.as_deref(), Some("room=1&token=a%2Bb"));
    assert_eq!(request.token.as_deref(), Some("a+b"));
    assert_eq!(request.authorization.as_deref(), Some("Bearer xyz"));
    assert_eq!(request.origin.as_deref(), Some("https://shop.example"));
    assert_eq!(request.host, "chat.example");
    assert_eq!(
        request.subprotocol,
        Some(Subprotocol::Binary),
        "server prefers binary"
    );

    let mut response = Vec::new();
    request.write_response(&mut response);
    let response = String::from_utf8(response).unwrap();
    assert!(response.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
    assert!(response.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    assert!(response.contains("Sec-WebSocket-Protocol: switchboard.v1\r\n"));
    assert!(
        !response.contains("Extensions"),
        "permessage-deflate is declined"
    );
    assert!(response.ends_with("\r\n\r\n"));
}

#[test]
fn no_subprotocol_is_allowed_for_plain_clients() {
    let (request, _) = parse(&request("")).unwrap().unwrap();
    assert_eq!(request.subprotocol, None);
    let mut response = Vec::new();
    request.write_response(&mut response);
    assert!(!String::from_utf8(response)
        .unwrap()
        .contains("Sec-WebSocket-Protocol"));
}

#[test]
fn each_error_and_its_status() {
    let base = request("");
    let cases: Vec<(String, HandshakeError, u16)> = vec![
        (
            base.replacen("GET", "POST", 1),
            HandshakeError::MethodNotGet,
            405,
        ),
        (
            base.replacen("HTTP/1.1", "HTTP/1.0", 1),
            HandshakeError::HttpVersionUnsupported,
            400,
        ),
        (
            base.replacen("/ws?", "ws?", 1),
            HandshakeError::InvalidTarget,
            400,
        ),
        (
            base.replacen("Host: chat.example\r\n", "", 1),
            HandshakeError::MissingHeader("Host"),
            400,
        ),
        (
            base.replacen("Upgrade: websocket", "Upgrade: h2c", 1),
            HandshakeError::UpgradeNotWebsocket,
            400,
        ),
        (
            base.replacen("Upgrade: websocket\r\n", "", 1),
            HandshakeError::MissingHeader("Upgrade"),
            400,
        ),
        (
            base.replacen("keep-alive, Upgrade", "keep-alive", 1),
            HandshakeError::ConnectionNotUpgrade,
            400,
        ),
        (
            base.replacen("Version: 13", "Version: 8", 1),
            HandshakeError::UnsupportedVersion,
            426,
        ),
        (
            base.replacen(KEY, "c2hvcnQ=", 1),
            HandshakeError::InvalidKey,
            400,
        ),
        (
            base.replacen(KEY, "not base64!!", 1),
            HandshakeError::InvalidKey,
            400,
        ),
        (
            request(&format!("Sec-WebSocket-Key: {KEY}\r\n")),
            HandshakeError::DuplicateHeader("Sec-WebSocket-Key"),
            400,
        ),
        (
            request("Sec-WebSocket-Protocol: chat\r\n"),
            HandshakeError::UnsupportedSubprotocol,
            400,
        ),
        (
            base.replacen("a%2Bb", "a%2", 1),
            HandshakeError::InvalidTokenParameter,
            400,
        ),
        (
            base.replacen("Host: ", "Host ", 1),
            HandshakeError::Head(HeadError::MalformedHeader),
            400,
        ),
        (
            base.replacen("GET ", "GET  ", 1),
            HandshakeError::Head(HeadError::MalformedStartLine),
            400,
        ),
    ];
    for (text, expected, status) in cases {
        assert_eq!(parse(&text).as_ref().err(), Some(&expected), "{text}");
        assert_eq!(expected.status(), status, "{expected:?}");
    }
}

#[test]
fn limits_map_to_431_and_414() {
    let limits = HandshakeLimits::default();
    let huge_header = request(&format!(
        "X-Big: {}\r\n",
        "a".repeat(limits.header_line_bytes_max)
    ));
    let error = parse(&huge_header).unwrap_err();
    assert_eq!(
        error,
        HandshakeError::Head(HeadError::HeaderLineTooLong { max: 8192 })
    );
    assert_eq!(error.status(), 431);
    let many = request(&"X-A: b\r\n".repeat(limits.header_count_max));
    assert_eq!(
        parse(&many).unwrap_err(),
        HandshakeError::Head(HeadError::TooManyHeaders { max: 64 })
    );
    let long_target = format!(
        "GET /{} HTTP/1.1\r\n",
        "a".repeat(limits.start_line_bytes_max)
    );
    let error = parse(&long_target).unwrap_err();
    assert_eq!(error.status(), 414);
    // An unterminated head fails at the total limit, without waiting for the blank line.
    let endless =
        request("").replacen("\r\n\r\n", "\r\n", 1) + &"X-Pad: 0123456789abcdef\r\n".repeat(700);
    let error = parse(&endless).unwrap_err();
    assert!(matches!(
        error,
        HandshakeError::Head(HeadError::HeadTooLarge { .. } | HeadError::TooManyHeaders { .. })
    ));
}

#[test]
fn error_responses_are_complete_http() {
    let mut out = Vec::new();
    HandshakeError::UnsupportedVersion.write_response(&mut out);
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("HTTP/1.1 426 Upgrade Required\r\n"));
    assert!(text.contains("Sec-WebSocket-Version: 13\r\n"));
    let body = HandshakeError::UnsupportedVersion.to_string();
    assert!(text.contains(&format!("Content-Length: {}\r\n", body.len())));
    assert!(text.ends_with(&format!("\r\n\r\n{body}")));
    let mut out = Vec::new();
    HandshakeError::MethodNotGet.write_response(&mut out);
    assert!(String::from_utf8(out).unwrap().contains("Allow: GET\r\n"));
}

fn client_request(subprotocols: &[Subprotocol]) -> ClientRequest<'_> {
    ClientRequest {
        host: "localhost:9001",
        path_and_query: "/ws?token=t",
        subprotocols,
        origin: Some("http://localhost"),
        authorization: None,
    }
}

#[test]
fn client_and_server_agree() {
    let mut wire = Vec::new();
    let client = client_request(&[Subprotocol::Json]).write([7; 16], &mut wire);
    let (request, consumed) = parse_upgrade_request(&wire, &HandshakeLimits::default())
        .unwrap()
        .unwrap();
    assert_eq!(consumed, wire.len());
    assert_eq!(request.subprotocol, Some(Subprotocol::Json));
    assert_eq!(request.token.as_deref(), Some("t"));
    let mut response = Vec::new();
    request.write_response(&mut response);
    for prefix in 0..response.len() {
        assert_eq!(
            client.parse_response(&response[..prefix], &HandshakeLimits::default()),
            Ok(None)
        );
    }
    let (accepted, consumed) = client
        .parse_response(&response, &HandshakeLimits::default())
        .unwrap()
        .unwrap();
    assert_eq!(consumed, response.len());
    assert_eq!(accepted.subprotocol, Some(Subprotocol::Json));
}

#[test]
fn client_rejects_bad_responses() {
    let mut wire = Vec::new();
    let client = client_request(&[Subprotocol::Binary]).write([1; 16], &mut wire);
    let accept = accept_key(&base64_of([1; 16]));
    let ok = format!("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n");
    let limits = HandshakeLimits::default();
    let check = |text: String| {
        client
            .parse_response(text.as_bytes(), &limits)
            .map(|r| r.map(|(r, _)| r.subprotocol))
    };
    assert_eq!(check(ok.clone() + "\r\n"), Ok(Some(None)));
    assert_eq!(
        check(ok.clone() + "Sec-WebSocket-Protocol: switchboard.v1\r\n\r\n"),
        Ok(Some(Some(Subprotocol::Binary)))
    );
    assert_eq!(
        check(ok.clone() + "Sec-WebSocket-Protocol: switchboard.json.v1\r\n\r\n"),
        Err(ClientHandshakeError::UnrequestedSubprotocol)
    );
    assert_eq!(
        check(ok.clone() + "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n"),
        Err(ClientHandshakeError::UnrequestedExtension)
    );
    assert_eq!(
        check(ok.replace(&accept, "AAAA") + "\r\n"),
        Err(ClientHandshakeError::AcceptMismatch)
    );
    assert_eq!(
        check(ok.replace("101 Switching Protocols", "403 Forbidden") + "\r\n"),
        Err(ClientHandshakeError::UnexpectedStatus(403))
    );
    assert_eq!(
        check(ok.replace("Upgrade: websocket\r\n", "") + "\r\n"),
        Err(ClientHandshakeError::UpgradeNotWebsocket)
    );
    assert_eq!(
        check(ok.replace("HTTP/1.1 101", "HTTP/1.1 10x") + "\r\n"),
        Err(ClientHandshakeError::MalformedStatusLine)
    );
}

fn base64_of(bytes: [u8; 16]) -> String {
    let mut wire = Vec::new();
    client_request(&[]).write(bytes, &mut wire);
    let text = String::from_utf8(wire).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("Sec-WebSocket-Key: "))
        .unwrap();
    line["Sec-WebSocket-Key: ".len()..].to_owned()
}

proptest! {
    /// Feeding the request in pieces (each call sees the bytes so far) needs more bytes until the blank
    /// line arrives, then gives the same result as the whole input.
    #[test]
    fn every_prefix_needs_more_bytes_then_the_whole_parses(
        offered in prop::sample::subsequence(vec!["switchboard.v1", "switchboard.json.v1"], 1..=2),
        token in "[A-Za-z0-9._~-]{0,40}",
        cut in any::<prop::sample::Index>(),
    ) {
        let text = request(&format!("Sec-WebSocket-Protocol: {}\r\n", offered.join(", ")))
            .replacen("token=a%2Bb", &format!("token={token}"), 1);
        let whole = parse(&text).unwrap().unwrap();
        prop_assert_eq!(whole.1, text.len());
        prop_assert_eq!(whole.0.token.as_deref(), Some(token.as_str()));
        let cut = cut.index(text.len());
        prop_assert_eq!(parse(&text[..cut]), Ok(None));
        for prefix in 0..text.len() {
            prop_assert_eq!(parse_upgrade_request(&text.as_bytes()[..prefix], &HandshakeLimits::default()), Ok(None));
        }
    }

    /// Any bytes: a prefix never errors differently from the head it belongs to once that head parses.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let limits = HandshakeLimits::default();
        if let Ok(Some((_, consumed))) = parse_upgrade_request(&bytes, &limits) {
            prop_assert!(consumed <= bytes.len());
            prop_assert_eq!(parse_upgrade_request(&bytes[..consumed - 1], &limits), Ok(None));
        }
    }
}
