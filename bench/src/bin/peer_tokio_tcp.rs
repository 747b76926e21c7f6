//! Plain tokio TCP echo: the "no WebSocket" reference peer (bench-only).
//!
//! `peer_tokio_tcp --listen ADDR` echoes every byte on one current-thread runtime.

use anyhow::Context;
use switchboard_bench::peer::{bind, current_thread_runtime, PeerArgs};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Read chunk per connection: large enough for a 16 KiB message in one read.
const READ_BUFFER_BYTES: usize = 16 * 1024;

fn main() -> anyhow::Result<()> {
    let args = PeerArgs::parse(std::env::args().skip(1))?;
    let runtime = current_thread_runtime()?;
    runtime.block_on(async move {
        let listener = bind(args.listen).await?;
        loop {
            let (stream, _) = listener.accept().await.context("accept")?;
            tokio::spawn(echo(stream));
        }
    })
}

async fn echo(mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut buffer = vec![0u8; READ_BUFFER_BYTES];
    loop {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(read) => {
                if stream.write_all(&buffer[..read]).await.is_err() {
                    return;
                }
            }
        }
    }
}
