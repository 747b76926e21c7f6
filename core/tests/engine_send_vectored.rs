//! `Engine::send_vectored` (issue 19): a buffer and a shared payload written back to back without copying,
//! in order with plain sends, across short writes, and the payload reference dropped at the completion —
//! for both backends.

mod engine_support;

use std::{io::Read, net::TcpListener, thread, time::Duration};

use bytes::Bytes;
use engine_support::{backends, drive_until, small_config, OwnedEvent};
use switchboard_core::engine::{Engine, Errno, Event};

const STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// A payload whose every byte says where it is, so a misplaced or repeated piece shows.
fn payload(len: usize, seed: u8) -> Bytes {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect::<Vec<u8>>()
        .into()
}

#[test]
fn heads_and_payloads_arrive_in_order_and_payloads_are_released_at_completion() {
    for kind in backends() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        // Small sends, a 16 KiB frame, and 4 MiB payloads that cannot fit in the socket buffers at once
        // (short writes in the middle of a payload), queued in one tick and over several.
        let sends: Vec<(Vec<u8>, Option<Bytes>)> = vec![
            (b"plain-1".to_vec(), None),
            (vec![0x82, 126, 0x40, 0x00], Some(payload(16 << 10, 1))),
            (b"plain-2".to_vec(), None),
            (b"head-3".to_vec(), Some(payload(4 << 20, 2))),
            (Vec::new(), Some(payload(3, 3))),
            (b"head-5".to_vec(), Some(payload(4 << 20, 4))),
            (b"last".to_vec(), None),
        ];
        let mut expected = Vec::new();
        for (head, tail) in &sends {
            expected.extend_from_slice(head);
            expected.extend_from_slice(tail.as_deref().unwrap_or_default());
        }
        let total = expected.len();
        let reader = thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            stream.set_read_timeout(Some(STEP_TIMEOUT)).unwrap();
            let mut got = vec![0; total];
            stream.read_exact(&mut got).unwrap();
            got
        });
        let (mut engine, _) = Engine::new(&small_config(), kind).unwrap();
        let conn = engine.connect(addr, None).unwrap();
        let heads: Vec<Vec<u8>> = sends.iter().map(|(head, _)| head.clone()).collect();
        let count = sends.len();
        let mut kept = Vec::new();
        for (head, tail) in sends {
            match tail {
                Some(tail) => {
                    kept.push(tail.clone());
                    engine.send_vectored(conn, head, tail);
                }
                None => engine.send(conn, head),
            }
        }
        let mut returned = Vec::new();
        let done = drive_until(&mut engine, STEP_TIMEOUT, |_, event| {
            if let OwnedEvent::Other(Event::SendComplete { buf, result, .. }) = event {
                assert_eq!(result, Ok(()), "{kind:?}");
                returned.push(buf);
            }
            returned.len() == count
        });
        assert!(done, "{kind:?}: every send completed");
        assert_eq!(returned, heads, "{kind:?}: heads come back in order");
        assert!(
            kept.iter().all(Bytes::is_unique),
            "{kind:?}: the engine dropped its payload references at the completions"
        );
        let got = reader.join().unwrap();
        assert!(
            got == expected,
            "{kind:?}: the peer read every byte in order"
        );
    }
}

#[test]
fn close_cancels_a_vectored_send_and_releases_its_payload() {
    for kind in backends() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let (mut engine, _) = Engine::new(&small_config(), kind).unwrap();
        let conn = engine
            .connect(listener.local_addr().unwrap(), None)
            .unwrap();
        // The peer never reads, so 64 MiB cannot all fit in the socket buffers.
        let big = payload(64 << 20, 9);
        engine.send_vectored(conn, b"head".to_vec(), big.clone());
        // The connect is submitted by the next poll; accept once it is up.
        let connected = drive_until(&mut engine, STEP_TIMEOUT, |_, event| {
            matches!(event, OwnedEvent::Other(Event::Connected { .. }))
        });
        assert!(connected, "{kind:?}");
        let (_peer, _) = listener.accept().unwrap();
        drive_until(&mut engine, Duration::from_millis(200), |_, _| false);
        engine.close(conn).unwrap();
        let mut returned = None;
        let closed = drive_until(&mut engine, STEP_TIMEOUT, |_, event| match event {
            OwnedEvent::Other(Event::SendComplete { buf, result, .. }) => {
                returned = Some((buf, result));
                false
            }
            OwnedEvent::Other(Event::Closed { conn: c }) => c == conn,
            _ => false,
        });
        assert!(closed, "{kind:?}: Closed arrived");
        assert_eq!(
            returned,
            Some((b"head".to_vec(), Err(Errno::CANCELLED))),
            "{kind:?}"
        );
        assert!(
            big.is_unique(),
            "{kind:?}: the payload reference was dropped"
        );
    }
}
