//! Test support for the admin listener tests: a small blocking WebSocket client, a one-shot HTTP client and a
//! strict Prometheus text-format (0.0.4) parser.

#![allow(dead_code)] // Each test binary uses a different part.

pub mod prom;
pub mod ws_client;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::num::NonZeroUsize;
use std::time::Duration;

use switchboard_shards::config::{Mode, ServeConfig, Shards};

/// How long any single socket read or write in a test may block.
pub const IO_TIMEOUT_MS: u64 = 5_000;
/// The largest HTTP response a test reads.
const RESPONSE_BYTES_MAX: usize = 1 << 20;

/// An echo-mode config on an ephemeral loopback port with `shards` shards and no admin listener of its own.
pub fn echo_config(shards: usize) -> ServeConfig {
    ServeConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        shards: Shards::Count(NonZeroUsize::new(shards).expect("at least one shard")),
        mode: Mode::Echo,
        admin_listen: None,
        ..ServeConfig::default()
    }
}

/// Sends `raw` as a whole request and returns the status and body of the response.
pub fn http_raw(addr: SocketAddr, raw: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect to the admin listener");
    stream
        .set_read_timeout(Some(Duration::from_millis(IO_TIMEOUT_MS)))
        .unwrap();
    stream.write_all(raw).expect("write the request");
    let mut response = Vec::new();
    stream
        .take(RESPONSE_BYTES_MAX as u64)
        .read_to_end(&mut response)
        .expect("read the response");
    let text = String::from_utf8(response).expect("the response is UTF-8");
    let (head, body) = text.split_once("\r\n\r\n").expect("a complete head");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status code");
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("Content-Length: "))
        .and_then(|value| value.parse().ok())
        .expect("a Content-Length");
    assert_eq!(body.len(), length, "Content-Length matches the body");
    assert!(
        head.contains("\r\nConnection: close"),
        "every response closes: {head}"
    );
    (status, body.to_owned())
}

/// `GET path` and returns the status and body.
pub fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    http_raw(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: admin\r\n\r\n").as_bytes(),
    )
}
