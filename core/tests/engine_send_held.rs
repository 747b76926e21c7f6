//! `Received::hold` + `Engine::send_held` (issue 19): bytes changed in place in their receive buffer go back
//! out from there in one send, arrive in order with other sends, and give their buffer back at the completion
//! (a leaked hold would exhaust the held-buffer budget within a few hundred rounds here). Only io_uring holds
//! receive buffers; epoll reports `can_hold() == false` and its callers copy.

mod engine_support;

use std::{
    io::{Read, Write},
    net::TcpListener,
    thread,
    time::{Duration, Instant},
};

use engine_support::{backends, small_config};
use switchboard_core::engine::{Engine, EngineKind, Event};

const STEP_TIMEOUT: Duration = Duration::from_secs(10);
/// Request/reply rounds: with 4 KiB receive buffers and 1,000-byte requests, this cycles every buffer of the
/// test config (256) more than once, so a hold that is never let go runs the budget (64 buffers) dry.
const ROUNDS: usize = 1_200;
const REQUEST_BYTES: usize = 1_000;

#[test]
fn held_bytes_changed_in_place_are_sent_back_and_their_buffers_return() {
    for kind in backends() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        // The peer sends a request, reads the reply (the request with every byte plus one), repeats.
        let peer = thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            stream.set_read_timeout(Some(STEP_TIMEOUT)).unwrap();
            for round in 0..ROUNDS {
                let request: Vec<u8> = (0..REQUEST_BYTES).map(|i| (i + round) as u8).collect();
                stream.write_all(&request).unwrap();
                let mut reply = vec![0; REQUEST_BYTES];
                stream.read_exact(&mut reply).unwrap();
                let expected: Vec<u8> = request.iter().map(|b| b.wrapping_add(1)).collect();
                assert!(
                    reply == expected,
                    "round {round}: the reply is the changed request"
                );
            }
        });
        let (mut engine, _) = Engine::new(&small_config(), kind).unwrap();
        let conn = engine.connect(addr, None).unwrap();
        let (mut replied, mut held_sends, mut sends, mut completions) = (0, 0, 0, 0);
        let deadline = Instant::now() + STEP_TIMEOUT * 3;
        while replied < ROUNDS * REQUEST_BYTES && Instant::now() < deadline {
            engine.poll(Some(Duration::from_millis(5))).unwrap();
            loop {
                // A request may arrive in pieces; each piece is answered on its own.
                let (held, copy) = match engine.next_event() {
                    None => break,
                    Some(Event::Data { mut bytes, .. }) => {
                        let len = bytes.len();
                        for byte in bytes.bytes_mut_from(0) {
                            *byte = byte.wrapping_add(1);
                        }
                        assert_eq!(
                            bytes.can_hold(),
                            kind == EngineKind::IoUring,
                            "only io_uring holds receive buffers"
                        );
                        match bytes.hold(0..len) {
                            Some(held) => (Some(held), None),
                            None => (None, Some(bytes.to_vec())),
                        }
                    }
                    Some(Event::SendComplete { buf, result, .. }) => {
                        assert_eq!(result, Ok(()), "{kind:?}");
                        assert!(buf.is_empty() || kind == EngineKind::Epoll);
                        completions += 1;
                        (None, None)
                    }
                    Some(_) => (None, None),
                };
                if let Some(held) = held {
                    replied += held.bytes().len();
                    held_sends += 1;
                    sends += 1;
                    engine.send_held(conn, held);
                } else if let Some(copy) = copy {
                    replied += copy.len();
                    sends += 1;
                    engine.send(conn, copy);
                }
            }
        }
        assert_eq!(
            replied,
            ROUNDS * REQUEST_BYTES,
            "{kind:?}: every byte answered"
        );
        if kind == EngineKind::IoUring {
            assert!(
                held_sends >= ROUNDS,
                "{kind:?}: every reply was a held send"
            );
        }
        // Let the last sends go out (each poll submits what the previous one queued) and complete.
        let deadline = Instant::now() + STEP_TIMEOUT;
        while completions < sends && Instant::now() < deadline {
            engine.poll(Some(Duration::from_millis(5))).unwrap();
            while let Some(event) = engine.next_event() {
                if let Event::SendComplete { result, .. } = event {
                    assert_eq!(result, Ok(()), "{kind:?}");
                    completions += 1;
                }
            }
        }
        assert_eq!(completions, sends, "{kind:?}: every send completed");
        peer.join().unwrap();
    }
}

#[test]
fn held_bytes_that_are_dropped_unsent_give_their_buffer_back() {
    let Some(kind) = backends().into_iter().find(|k| *k == EngineKind::IoUring) else {
        return;
    };
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let peer = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        for _ in 0..ROUNDS {
            stream.write_all(&[7; REQUEST_BYTES]).unwrap();
        }
        stream
    });
    let (mut engine, _) = Engine::new(&small_config(), kind).unwrap();
    engine.connect(addr, None).unwrap();
    let (mut received, mut refused) = (0, 0);
    let deadline = Instant::now() + STEP_TIMEOUT;
    while received < ROUNDS * REQUEST_BYTES && Instant::now() < deadline {
        engine.poll(Some(Duration::from_millis(5))).unwrap();
        while let Some(event) = engine.next_event() {
            if let Event::Data { mut bytes, .. } = event {
                received += bytes.len();
                // Held and dropped at once: the buffer must still go back to the kernel.
                if bytes.hold(0..bytes.len()).is_none() {
                    refused += 1;
                }
            }
        }
    }
    assert_eq!(received, ROUNDS * REQUEST_BYTES, "every byte arrived");
    assert_eq!(
        refused, 0,
        "a dropped hold never counted against the budget"
    );
    drop(peer.join().unwrap());
}
