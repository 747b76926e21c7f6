//! Each bench-only peer echo server starts on port 0 as a child process and echoes correctly:
//! a binary and a text message through a tokio-tungstenite client (raw bytes for the TCP peer).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// Bound on every network step of these tests.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// A peer child process, killed when dropped.
struct Peer {
    child: Child,
    addr: SocketAddr,
}

impl Peer {
    fn start(binary: &str) -> Self {
        let mut child = Command::new(binary)
            .args(["--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("peer starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line `{line}`"))
            .parse()
            .unwrap();
        Self { child, addr }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn websocket_round_trips(addr: SocketAddr) {
    let mut request = format!("ws://{addr}/").into_client_request().unwrap();
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "switchboard.v1".parse().unwrap());
    let (mut socket, response) =
        tokio::time::timeout(STEP_TIMEOUT, tokio_tungstenite::connect_async(request))
            .await
            .expect("connect in time")
            .expect("handshake");
    assert_eq!(
        response
            .headers()
            .get("sec-websocket-protocol")
            .map(|v| v.as_bytes()),
        Some(&b"switchboard.v1"[..]),
        "the peer accepts the offered subprotocol"
    );
    let binary: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
    let messages = [Message::binary(binary), Message::text("héllo, 你好")];
    for message in messages {
        socket.send(message.clone()).await.unwrap();
        let echoed = tokio::time::timeout(STEP_TIMEOUT, socket.next())
            .await
            .expect("echo in time")
            .expect("stream open")
            .expect("valid message");
        assert_eq!(echoed, message);
    }
    socket.close(None).await.unwrap();
}

#[test]
fn tokio_tungstenite_peer_echoes() {
    let peer = Peer::start(env!("CARGO_BIN_EXE_peer_tokio_tungstenite"));
    runtime().block_on(websocket_round_trips(peer.addr));
}

#[test]
fn fastwebsockets_peer_echoes() {
    let peer = Peer::start(env!("CARGO_BIN_EXE_peer_fastwebsockets"));
    runtime().block_on(websocket_round_trips(peer.addr));
}

#[test]
fn tokio_tcp_peer_echoes() {
    let peer = Peer::start(env!("CARGO_BIN_EXE_peer_tokio_tcp"));
    runtime().block_on(async move {
        let mut stream = tokio::net::TcpStream::connect(peer.addr).await.unwrap();
        let sent: Vec<u8> = (0..50_000u32).map(|i| (i % 253) as u8).collect();
        stream.write_all(&sent).await.unwrap();
        let mut received = vec![0u8; sent.len()];
        tokio::time::timeout(STEP_TIMEOUT, stream.read_exact(&mut received))
            .await
            .expect("echo in time")
            .unwrap();
        assert_eq!(received, sent);
    });
}
