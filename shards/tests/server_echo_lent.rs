//! Echo sends a large message back from the receive buffer it arrived in (`Received::lend`, issue 19). A
//! lent buffer stays out of the kernel's hands until the echo is written, so clients that never read their
//! echoes hold buffers (at most a quarter of a ring's, then the shard copies; that bound is tested in
//! `core`'s `buf_ring` tests: here the hoarders held up to 8 of the 16 allowed when last counted). Whatever
//! they hold, every other client's large echoes must come back intact, and echoes keep working once the
//! hoarders are gone.

mod server_support;

use std::time::{Duration, Instant};

use server_support::{echo_config, start, stop, RawClient, MASK};
use switchboard_protocol::ws::OpCode;

/// Clients that send large messages and never read the echoes.
const HOARDERS: usize = 4;
/// Messages each hoarder sends (6.4 MiB): more than the loopback socket buffers take (4 MiB at most), so
/// echoes wait in the server, each holding its receive buffer.
const HOARDER_MESSAGES: usize = 400;
/// Bytes of each message (above the size the server lends instead of copying).
const MESSAGE_BYTES: usize = 16 * 1024;
/// Echoes the reading client checks while the hoarders hold buffers.
const CHECKED_ECHOES: u32 = 64;

fn payload(seed: u32) -> Vec<u8> {
    (0..MESSAGE_BYTES as u32)
        .map(|i| (i.wrapping_mul(31) ^ seed.wrapping_mul(2_654_435_761)) as u8)
        .collect()
}

#[test]
fn large_echoes_stay_intact_while_non_reading_clients_hold_receive_buffers() {
    let config = echo_config(1, |limits| {
        // Room for every hoarder's echoes, so they wait in the server instead of closing the connection.
        limits.send_queue_bytes_max = 16 << 20;
    });
    let server = start(&config);
    let addr = server.local_addr();
    let mut reader = RawClient::open(addr);
    reader.assert_echo(&payload(0));
    let mut hoarders: Vec<RawClient> = (0..HOARDERS).map(|_| RawClient::open(addr)).collect();
    for (h, hoarder) in hoarders.iter_mut().enumerate() {
        for m in 0..HOARDER_MESSAGES {
            let seed = 1_000 + (h * HOARDER_MESSAGES + m) as u32;
            hoarder
                .send_frame(OpCode::Binary, true, &payload(seed), Some(MASK))
                .expect("the server reads a hoarder's messages");
        }
    }
    for round in 1..=CHECKED_ECHOES {
        reader.assert_echo(&payload(round));
    }
    drop(hoarders);
    // The hoarders' buffers go back as their connections close; echoes keep working after that.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut round = CHECKED_ECHOES;
    while Instant::now() < deadline && round < 4 * CHECKED_ECHOES {
        round += 1;
        reader.assert_echo(&payload(round));
    }
    stop(server);
}
