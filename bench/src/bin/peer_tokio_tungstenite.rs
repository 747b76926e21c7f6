//! tokio-tungstenite echo server (bench-only peer).
//!
//! `peer_tokio_tungstenite --listen ADDR` accepts WebSocket connections on one current-thread runtime
//! and echoes every text and binary message with the same opcode. No compression (tungstenite has
//! none without its `deflate` feature); buffer sizes chosen for many connections of small messages.

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use switchboard_bench::peer::{bind, current_thread_runtime, first_offered_subprotocol, PeerArgs};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

/// Read chunk: holds a 16 KiB message plus header in one read (the default, 128 KiB, is per connection).
const READ_BUFFER_BYTES: usize = 32 * 1024;
/// Outgoing bytes buffered before a write is forced; echo flushes every message anyway.
const WRITE_BUFFER_BYTES: usize = 32 * 1024;
/// Outgoing bytes a slow reader may pile up before sends fail.
const WRITE_BUFFER_BYTES_MAX: usize = 8 * 1024 * 1024;
/// Largest message accepted: well above the 16 KiB benchmark size, same order as Switchboard's.
const MESSAGE_BYTES_MAX: usize = 16 * 1024 * 1024;

fn main() -> anyhow::Result<()> {
    let args = PeerArgs::parse(std::env::args().skip(1))?;
    let runtime = current_thread_runtime()?;
    runtime.block_on(async move {
        let listener = bind(args.listen).await?;
        loop {
            let (stream, _) = listener.accept().await.context("accept")?;
            tokio::spawn(serve(stream));
        }
    })
}

fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .max_write_buffer_size(WRITE_BUFFER_BYTES_MAX)
        .max_message_size(Some(MESSAGE_BYTES_MAX))
        .max_frame_size(Some(MESSAGE_BYTES_MAX))
}

/// Accepts the client's first offered subprotocol, if any.
// The signature is tungstenite's `Callback`; its error type is not ours to shrink.
#[allow(clippy::result_large_err)]
fn negotiate(request: &Request, mut response: Response) -> Result<Response, ErrorResponse> {
    let offered = request
        .headers()
        .get("sec-websocket-protocol")
        .map(HeaderValue::as_bytes);
    if let Some(protocol) = first_offered_subprotocol(offered) {
        if let Ok(value) = HeaderValue::from_str(&protocol) {
            response
                .headers_mut()
                .insert("sec-websocket-protocol", value);
        }
    }
    Ok(response)
}

async fn serve(stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let Ok(mut socket) =
        tokio_tungstenite::accept_hdr_async_with_config(stream, negotiate, Some(config())).await
    else {
        return;
    };
    while let Some(Ok(message)) = socket.next().await {
        let reply = match message {
            Message::Text(_) | Message::Binary(_) => message,
            // Pongs to pings are queued by tungstenite itself; close replies likewise.
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
            Message::Close(_) => break,
        };
        if socket.send(reply).await.is_err() {
            return;
        }
    }
    let _ = socket.close(None).await;
}
