//! Micro-benchmark of a connection's echo path per message (issue 19): a masked client frame in, the echo
//! out, with the payload either copied behind its header into the send buffer (`poll_transmit`, the path
//! before issue 19 and still the TLS path) or lent by reference for a vectored send
//! (`poll_transmit_vectored`, the plain path). The messages rotate over `CONNECTIONS` connections, as on a
//! busy shard, so each payload buffer is as far out of the cache as the real server's; the kernel's copies
//! are not part of it. For 64 B, 1 KiB and 16 KiB payloads.
//!
//! Smoke run: `cargo bench -p switchboard-bench --bench send_path -- --warm-up-time 0.2 --measurement-time 0.5`.

use std::hint::black_box;

use criterion::{criterion_main, BenchmarkId, Criterion, Throughput};
use switchboard_protocol::ws::{encode_frame, OpCode};
use switchboard_shards::config::{Limits, Mode};
use switchboard_shards::conn::{Connection, ConnectionConfig};

/// Payload sizes the benchmark runs at.
const PAYLOAD_SIZES_BYTES: [usize; 3] = [64, 1024, 16 * 1024];
/// Connections the messages rotate over (the 500 × 16 KiB cell of the uWebSockets comparison).
const CONNECTIONS: usize = 500;
/// Most bytes one transmit call writes (the shard's send buffer).
const SEND_BUFFER_BYTES: usize = 64 * 1024;
const MASK_KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
const REQUEST: &[u8] =
    b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// `CONNECTIONS` open echo connections, the 101 already written.
fn open_connections() -> Vec<Connection> {
    let limits = Limits::default();
    (0..CONNECTIONS)
        .map(|_| {
            let mut conn = Connection::new(ConnectionConfig::new(Mode::Echo, &limits), 0);
            conn.handle_bytes(REQUEST, 0);
            let _opened = conn.poll_event();
            let mut out = Vec::new();
            let written = conn.poll_transmit(&mut out, SEND_BUFFER_BYTES);
            conn.handle_send_complete(written);
            conn
        })
        .collect()
}

fn echo(c: &mut Criterion) {
    let mut group = c.benchmark_group("echo_send_path");
    for size in PAYLOAD_SIZES_BYTES {
        let mut frame = Vec::new();
        encode_frame(
            &mut frame,
            OpCode::Binary,
            true,
            &vec![0x5a; size],
            Some(MASK_KEY),
        )
        .expect("valid frame");
        group.throughput(Throughput::Elements(1));
        for vectored in [false, true] {
            let mut conns = open_connections();
            let mut out = Vec::with_capacity(SEND_BUFFER_BYTES);
            let mut next = 0;
            let name = if vectored { "vectored" } else { "copied" };
            group.bench_function(BenchmarkId::new(name, size), |b| {
                b.iter(|| {
                    let conn = &mut conns[next];
                    next = (next + 1) % CONNECTIONS;
                    conn.handle_bytes(black_box(&frame), 1);
                    out.clear();
                    let written = if vectored {
                        // The engine would hold the payload until the send completes; drop it as it would.
                        let (written, payload) =
                            conn.poll_transmit_vectored(&mut out, SEND_BUFFER_BYTES);
                        black_box(payload);
                        written
                    } else {
                        conn.poll_transmit(&mut out, SEND_BUFFER_BYTES)
                    };
                    black_box(&out);
                    conn.handle_send_complete(written);
                })
            });
        }
    }
    group.finish();
}

/// Private, so the undocumented `pub fn` that `criterion_group!` generates is not a public item.
mod groups {
    use super::echo;
    criterion::criterion_group!(benches, echo);
}

criterion_main!(groups::benches);
