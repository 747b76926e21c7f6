//! Deterministic tests of the per-connection send queue: lane order, fragmentation, the bound.

use bytes::Bytes;
use switchboard_shards::conn::send_queue::{
    ENTRY_OVERHEAD_BYTES, GATHER_PAYLOAD_BYTES_MIN, PONGS_QUEUED_MAX,
};
use switchboard_shards::conn::{
    DataKind, FragmentInfo, Fragmentation, Lane, SendQueue, SendQueueError,
};

const FRAGMENT_BYTES: usize = 1_024;
const QUEUE_BYTES_MAX: usize = 64 * 1_024;

/// A test prefix: `[message_number, index, last]`, 3 bytes.
fn test_prefix(info: &FragmentInfo, _chunk_bytes: usize, out: &mut Vec<u8>) {
    out.extend_from_slice(&[
        info.message_number as u8,
        info.index as u8,
        u8::from(info.last),
    ]);
}

const APP: Fragmentation = Fragmentation::App {
    prefix_bytes_max: 3,
    write_prefix: test_prefix,
};

/// A frame as parsed back from the written bytes (server frames are unmasked).
#[derive(Debug, PartialEq)]
struct Frame {
    fin: bool,
    opcode: u8,
    payload: Vec<u8>,
}

fn parse_frames(mut bytes: &[u8]) -> Vec<Frame> {
    let mut frames = Vec::new();
    while !bytes.is_empty() {
        let (fin, opcode) = (bytes[0] & 0x80 != 0, bytes[0] & 0x0F);
        assert_eq!(bytes[1] & 0x80, 0, "server frames are unmasked");
        let (len, header) = match bytes[1] & 0x7F {
            126 => (u16::from_be_bytes([bytes[2], bytes[3]]) as usize, 4),
            127 => (
                u64::from_be_bytes(bytes[2..10].try_into().unwrap()) as usize,
                10,
            ),
            n => (usize::from(n), 2),
        };
        frames.push(Frame {
            fin,
            opcode,
            payload: bytes[header..header + len].to_vec(),
        });
        bytes = &bytes[header + len..];
    }
    frames
}

fn transmit(queue: &mut SendQueue, max_bytes: usize) -> Vec<Frame> {
    let mut out = Vec::new();
    queue.poll_transmit(&mut out, max_bytes);
    parse_frames(&out)
}

fn message(tag: u8, len: usize) -> Bytes {
    Bytes::from(vec![tag; len])
}

#[test]
fn lanes_are_served_in_priority_order_and_small_frames_are_batched() {
    let mut queue = SendQueue::new(APP, FRAGMENT_BYTES, QUEUE_BYTES_MAX);
    for (tag, lane) in [
        (4, Lane::System),
        (3, Lane::Chat),
        (2, Lane::AiAnswer),
        (1, Lane::Urgent),
    ] {
        queue
            .enqueue(lane, DataKind::Binary, message(tag, 10))
            .unwrap();
    }
    queue
        .enqueue(Lane::Chat, DataKind::Text, Bytes::from_static(b"hi"))
        .unwrap();
    let frames = transmit(&mut queue, 64 * 1_024);
    let tags: Vec<u8> = frames.iter().map(|f| f.payload[0]).collect();
    assert_eq!(
        tags,
        [1, 2, 3, b'h', 4],
        "urgent > ai_answer > chat (FIFO) > system, in one batch"
    );
    assert!(frames.iter().all(|f| f.fin));
    assert_eq!(frames[3].opcode, 0x1, "text keeps its opcode");
    assert_eq!(queue.queued_bytes(), 0);
    assert!(!queue.has_pending());
    assert_eq!(queue.counters().messages_sent, 5);
}

#[test]
fn urgent_overtakes_a_large_message_after_at_most_one_fragment() {
    let mut queue = SendQueue::new(APP, FRAGMENT_BYTES, QUEUE_BYTES_MAX);
    queue
        .enqueue(
            Lane::Chat,
            DataKind::Binary,
            message(7, 10 * FRAGMENT_BYTES),
        )
        .unwrap();
    let one_frame = queue.frame_bytes_max();
    let first = transmit(&mut queue, one_frame);
    assert_eq!(first.len(), 1, "one fragment fits the budget");
    assert_eq!(
        &first[0].payload[..3],
        &[0, 0, 0],
        "message 0, fragment 0, not last"
    );
    assert_eq!(first[0].payload.len(), 3 + FRAGMENT_BYTES);

    queue
        .enqueue(Lane::Urgent, DataKind::Binary, message(9, 20))
        .unwrap();
    let rest = transmit(&mut queue, 1 << 20);
    assert_eq!(
        rest[0].payload,
        vec![9; 20],
        "urgent goes before the next fragment"
    );
    assert_eq!(rest.len(), 1 + 9);
    let reassembled: usize = rest[1..].iter().map(|f| f.payload.len() - 3).sum();
    assert_eq!(reassembled, 9 * FRAGMENT_BYTES);
    assert_eq!(rest.last().unwrap().payload[2], 1, "last fragment flagged");
    let indices: Vec<u8> = rest[1..].iter().map(|f| f.payload[1]).collect();
    assert_eq!(indices, (1..10).collect::<Vec<u8>>());
}

#[test]
fn websocket_fragmentation_uses_continuations_and_lets_only_control_frames_in() {
    let mut queue = SendQueue::new(Fragmentation::WebSocket, FRAGMENT_BYTES, QUEUE_BYTES_MAX);
    queue
        .enqueue(
            Lane::Chat,
            DataKind::Text,
            message(b'a', 3 * FRAGMENT_BYTES),
        )
        .unwrap();
    let one_frame = queue.frame_bytes_max();
    let first = transmit(&mut queue, one_frame);
    assert_eq!(
        first,
        [Frame {
            fin: false,
            opcode: 0x1,
            payload: vec![b'a'; FRAGMENT_BYTES]
        }]
    );
    queue
        .enqueue(Lane::Urgent, DataKind::Binary, message(9, 5))
        .unwrap();
    queue.enqueue_pong(b"p");
    let rest = transmit(&mut queue, 1 << 20);
    let shape: Vec<(bool, u8)> = rest.iter().map(|f| (f.fin, f.opcode)).collect();
    // RFC 6455 5.4: the pong may go between fragments, the urgent data message may not.
    assert_eq!(shape, [(true, 0xA), (false, 0x0), (true, 0x0), (true, 0x2)]);
}

#[test]
fn bound_is_enforced_with_a_typed_error_and_nothing_partial_is_queued() {
    let mut queue = SendQueue::new(APP, FRAGMENT_BYTES, QUEUE_BYTES_MAX);
    let big = QUEUE_BYTES_MAX / 2;
    queue
        .enqueue(Lane::Chat, DataKind::Binary, message(1, big))
        .unwrap();
    let err = queue
        .enqueue(Lane::Chat, DataKind::Binary, message(2, big))
        .unwrap_err();
    assert_eq!(
        err,
        SendQueueError::Full {
            queued_bytes: big + ENTRY_OVERHEAD_BYTES,
            message_bytes: big + ENTRY_OVERHEAD_BYTES,
            send_queue_bytes_max: QUEUE_BYTES_MAX,
        }
    );
    assert_eq!(
        queue.lane_lengths(),
        [0, 0, 1, 0],
        "the refused message is not queued"
    );
    // Writing frees room as it goes.
    transmit(&mut queue, 1 << 20);
    queue
        .enqueue(Lane::Chat, DataKind::Binary, message(2, big))
        .unwrap();
}

#[test]
fn tiny_message_flood_is_bounded_and_memory_does_not_grow_past_the_bound() {
    let mut queue = SendQueue::new(APP, FRAGMENT_BYTES, QUEUE_BYTES_MAX);
    let most = QUEUE_BYTES_MAX / (ENTRY_OVERHEAD_BYTES + 1);
    let mut capacities = Vec::new();
    for _round in 0..3 {
        let mut accepted = 0;
        while queue
            .enqueue(Lane::System, DataKind::Binary, message(0, 1))
            .is_ok()
        {
            accepted += 1;
            assert!(
                accepted <= most,
                "the per-message overhead bounds a flood of empty messages"
            );
        }
        assert_eq!(accepted, most);
        assert!(queue.queued_bytes() <= QUEUE_BYTES_MAX);
        capacities.push(queue.lane_capacities()[Lane::System as usize]);
        while queue.poll_transmit(&mut Vec::new(), 1 << 20) > 0 {}
    }
    assert!(
        capacities[0] <= 2 * most,
        "ring grows at most to twice what the bound admits"
    );
    assert!(
        capacities.windows(2).all(|w| w[0] == w[1]),
        "no growth across refills: {capacities:?}"
    );
}

#[test]
fn error_close_discards_data_and_graceful_close_flushes_first() {
    let mut queue = SendQueue::new(APP, FRAGMENT_BYTES, QUEUE_BYTES_MAX);
    queue
        .enqueue(Lane::Chat, DataKind::Binary, message(1, 100))
        .unwrap();
    queue.enqueue_close(1002, "protocol error", false);
    assert_eq!(
        queue.enqueue(Lane::Urgent, DataKind::Binary, message(2, 1)),
        Err(SendQueueError::Closing)
    );
    let frames = transmit(&mut queue, 1 << 20);
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].opcode, 0x8);
    assert_eq!(&frames[0].payload[..2], &1002u16.to_be_bytes());
    assert_eq!(&frames[0].payload[2..], b"protocol error");
    assert!(queue.close_written());
    queue.enqueue_ping(*b"xxxxxxxx");
    assert_eq!(transmit(&mut queue, 1 << 20), [], "nothing after our close");

    let mut queue = SendQueue::new(APP, FRAGMENT_BYTES, QUEUE_BYTES_MAX);
    queue
        .enqueue(Lane::Chat, DataKind::Binary, message(1, 100))
        .unwrap();
    queue.enqueue_close(1001, "going away", true);
    let frames = transmit(&mut queue, 1 << 20);
    assert_eq!(
        frames.iter().map(|f| f.opcode).collect::<Vec<_>>(),
        [0x2, 0x8]
    );
}

#[test]
fn control_frames_go_first_and_every_pong_is_answered_in_order() {
    // Autobahn 2.10/2.11 send ten pings back to back and expect ten pongs (it fails a server that answers
    // only the latest, although RFC 6455 5.5.3 allows it).
    let mut queue = SendQueue::new(APP, FRAGMENT_BYTES, QUEUE_BYTES_MAX);
    queue
        .enqueue(Lane::Urgent, DataKind::Binary, message(1, 10))
        .unwrap();
    queue.enqueue_pong(b"first");
    queue.enqueue_pong(b"second");
    queue.enqueue_ping(7u64.to_be_bytes());
    let frames = transmit(&mut queue, 1 << 20);
    assert_eq!(
        frames[0],
        Frame {
            fin: true,
            opcode: 0xA,
            payload: b"first".to_vec()
        }
    );
    assert_eq!(frames[1].payload, b"second");
    assert_eq!(frames[2].opcode, 0x9);
    assert_eq!(frames[3].opcode, 0x2);
    assert_eq!(frames.len(), 4);
}

#[test]
fn a_ping_flood_keeps_only_the_latest_pongs_within_the_bound() {
    let mut queue = SendQueue::new(APP, FRAGMENT_BYTES, QUEUE_BYTES_MAX);
    let pings = PONGS_QUEUED_MAX + 5;
    for i in 0..pings {
        queue.enqueue_pong(&[i as u8]);
    }
    let frames = transmit(&mut queue, 1 << 20);
    // The first pong is kept in its slot; of the rest only the newest PONGS_QUEUED_MAX survive.
    assert_eq!(frames.len(), 1 + PONGS_QUEUED_MAX);
    assert_eq!(frames[0].payload, [0]);
    let expected: Vec<Vec<u8>> = (pings - PONGS_QUEUED_MAX..pings)
        .map(|i| vec![i as u8])
        .collect();
    let got: Vec<Vec<u8>> = frames[1..].iter().map(|f| f.payload.clone()).collect();
    assert_eq!(got, expected);
}

/// A small deterministic generator (SplitMix64), so the randomized test is reproducible.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: u64) -> usize {
        (self.next() % bound) as usize
    }
}

#[test]
fn randomized_interleaving_reassembles_every_message_in_lane_order() {
    for seed in 0..20 {
        let mut rng = SplitMix(seed);
        let mut queue = SendQueue::new(Fragmentation::WebSocket, FRAGMENT_BYTES, QUEUE_BYTES_MAX);
        let mut expected: Vec<Vec<u8>> = Vec::new();
        let mut received: Vec<Vec<u8>> = Vec::new();
        let mut partial: Option<Vec<u8>> = None;
        let mut next_id = 0u32;
        let mut lane_of: Vec<Lane> = Vec::new();
        for _step in 0..300 {
            if rng.below(2) == 0 {
                let len = 4 + rng.below(3 * FRAGMENT_BYTES as u64);
                let mut payload = next_id.to_be_bytes().to_vec();
                payload.resize(len, (next_id % 251) as u8);
                let lane = Lane::ALL[rng.below(4)];
                if queue
                    .enqueue(lane, DataKind::Binary, Bytes::from(payload.clone()))
                    .is_ok()
                {
                    expected.push(payload);
                    lane_of.push(lane);
                    next_id += 1;
                }
            } else {
                let budget = queue.frame_bytes_max() + rng.below(4 * FRAGMENT_BYTES as u64);
                for frame in transmit(&mut queue, budget) {
                    let buffer = partial.get_or_insert_with(Vec::new);
                    buffer.extend_from_slice(&frame.payload);
                    if frame.fin {
                        received.push(partial.take().unwrap());
                    }
                }
            }
        }
        while queue.has_pending() {
            for frame in transmit(&mut queue, 1 << 20) {
                partial
                    .get_or_insert_with(Vec::new)
                    .extend_from_slice(&frame.payload);
                if frame.fin {
                    received.push(partial.take().unwrap());
                }
            }
        }
        assert_eq!(queue.queued_bytes(), 0, "seed {seed}");
        // Every message arrives whole, exactly once; order differs only by lane priority.
        let mut sorted_received = received.clone();
        sorted_received.sort();
        let mut sorted_expected = expected.clone();
        sorted_expected.sort();
        assert_eq!(sorted_received, sorted_expected, "seed {seed}");
        // Within a lane, messages keep their enqueue order.
        let ids: Vec<usize> = received
            .iter()
            .map(|m| u32::from_be_bytes(m[..4].try_into().unwrap()) as usize)
            .collect();
        for lane in Lane::ALL {
            let in_lane: Vec<usize> = ids
                .iter()
                .copied()
                .filter(|&id| lane_of[id] == lane)
                .collect();
            assert!(
                in_lane.windows(2).all(|w| w[0] < w[1]),
                "seed {seed} lane {lane:?}"
            );
        }
    }
}

/// Drains `queue` through `poll_transmit_vectored` with budgets of `max_bytes`, writing each returned payload
/// right after its buffer, as the shard's send path does; returns the bytes on the wire and whether any
/// payload was handed out by reference.
fn transmit_vectored(queue: &mut SendQueue, max_bytes: usize) -> (Vec<u8>, bool) {
    let (mut wire, mut gathered) = (Vec::new(), false);
    loop {
        let mut out = Vec::new();
        let (written, payload) = queue.poll_transmit_vectored(&mut out, max_bytes);
        let payload_len = payload.as_ref().map_or(0, Bytes::len);
        assert_eq!(
            written,
            out.len() + payload_len,
            "the count covers the payload"
        );
        if written == 0 {
            return (wire, gathered);
        }
        wire.extend_from_slice(&out);
        if let Some(payload) = payload {
            assert!(payload.len() >= GATHER_PAYLOAD_BYTES_MIN);
            wire.extend_from_slice(&payload);
            gathered = true;
        }
    }
}

#[test]
fn vectored_transmit_puts_the_same_bytes_on_the_wire_as_copying() {
    let big = GATHER_PAYLOAD_BYTES_MIN;
    for fragmentation in [Fragmentation::WebSocket, APP] {
        for fragment_bytes in [big / 2, big, 4 * big] {
            let fill = |queue: &mut SendQueue| {
                queue.enqueue_ping(*b"pingpong");
                for (tag, len) in [(1, 10), (2, big), (3, big - 1), (4, 3 * big + 7), (5, 0)] {
                    let lane = Lane::ALL[usize::from(tag) % 4];
                    queue
                        .enqueue(lane, DataKind::Binary, message(tag, len))
                        .unwrap();
                }
                queue.enqueue_close(1000, "bye", true);
            };
            let mut copying = SendQueue::new(fragmentation, fragment_bytes, 1 << 20);
            let mut vectored = SendQueue::new(fragmentation, fragment_bytes, 1 << 20);
            fill(&mut copying);
            fill(&mut vectored);
            let budget = copying.frame_bytes_max() + big;
            let mut expected = Vec::new();
            while copying.poll_transmit(&mut expected, budget) > 0 {}
            let (wire, gathered) = transmit_vectored(&mut vectored, budget);
            assert_eq!(wire, expected, "fragment_bytes {fragment_bytes}");
            assert_eq!(
                gathered,
                fragment_bytes >= big,
                "fragment_bytes {fragment_bytes}"
            );
            assert_eq!(vectored.counters(), copying.counters());
            assert!(!vectored.has_pending() && vectored.close_written());
        }
    }
}

#[test]
fn a_payload_lent_by_reference_is_reused_only_once_the_transport_let_go() {
    let mut queue = SendQueue::new(Fragmentation::WebSocket, 1 << 16, 1 << 20);
    let len = 4 * GATHER_PAYLOAD_BYTES_MIN;
    queue
        .enqueue(Lane::Chat, DataKind::Binary, message(7, len))
        .unwrap();
    let mut out = Vec::new();
    let (_, lent) = queue.poll_transmit_vectored(&mut out, 1 << 17);
    let lent = lent.expect("a large payload is lent");
    // The transport still holds it: not reusable yet, and not given out while shared.
    assert!(queue.take_spare().is_none());
    queue
        .enqueue(Lane::Chat, DataKind::Binary, message(8, len))
        .unwrap();
    out.clear();
    let (_, second) = queue.poll_transmit_vectored(&mut out, 1 << 17);
    drop(lent);
    drop(second);
    let spare = queue
        .take_spare()
        .expect("the payload comes back once released");
    assert!(spare.is_empty() && spare.capacity() >= len);
}
