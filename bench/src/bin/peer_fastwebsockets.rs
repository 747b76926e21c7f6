//! fastwebsockets echo server (bench-only peer), upgraded through hyper as fastwebsockets' README shows.
//!
//! `peer_fastwebsockets --listen ADDR` runs one current-thread runtime; auto-pong and auto-close are on;
//! fragmented messages are reassembled by `FragmentCollector` and echoed whole with the same opcode.

use anyhow::Context;
use fastwebsockets::{upgrade, FragmentCollector, OpCode, WebSocketError};
use http_body_util::Empty;
use hyper::body::{Bytes, Incoming};
use hyper::header::HeaderValue;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use switchboard_bench::peer::{bind, current_thread_runtime, first_offered_subprotocol, PeerArgs};

/// Largest message accepted: same as the tokio-tungstenite peer.
const MESSAGE_BYTES_MAX: usize = 16 * 1024 * 1024;

fn main() -> anyhow::Result<()> {
    let args = PeerArgs::parse(std::env::args().skip(1))?;
    let runtime = current_thread_runtime()?;
    runtime.block_on(async move {
        let listener = bind(args.listen).await?;
        loop {
            let (stream, _) = listener.accept().await.context("accept")?;
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let io = hyper_util::rt::TokioIo::new(stream);
                let connection = http1::Builder::new()
                    .serve_connection(io, service_fn(upgrade_request))
                    .with_upgrades();
                let _ = connection.await;
            });
        }
    })
}

async fn upgrade_request(
    mut request: Request<Incoming>,
) -> Result<Response<Empty<Bytes>>, WebSocketError> {
    let offered = request
        .headers()
        .get("sec-websocket-protocol")
        .map(HeaderValue::as_bytes);
    let protocol = first_offered_subprotocol(offered);
    let (mut response, upgrade) = upgrade::upgrade(&mut request)?;
    if let Some(value) = protocol.and_then(|p| HeaderValue::from_str(&p).ok()) {
        response
            .headers_mut()
            .insert("sec-websocket-protocol", value);
    }
    tokio::spawn(async move {
        let _ = echo(upgrade).await;
    });
    Ok(response)
}

async fn echo(upgrade: upgrade::UpgradeFut) -> Result<(), WebSocketError> {
    let mut socket = upgrade.await?;
    socket.set_auto_pong(true);
    socket.set_auto_close(true);
    socket.set_max_message_size(MESSAGE_BYTES_MAX);
    let mut socket = FragmentCollector::new(socket);
    loop {
        let frame = socket.read_frame().await?;
        match frame.opcode {
            OpCode::Close => return Ok(()),
            OpCode::Text | OpCode::Binary => socket.write_frame(frame).await?,
            OpCode::Continuation | OpCode::Ping | OpCode::Pong => {}
        }
    }
}
