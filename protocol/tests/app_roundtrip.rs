//! Round trips of every frame kind, binary and JSON, and the conformance of the two encodings:
//! binary → model → JSON → model and JSON → model → binary → model give the same model.

mod app_support;

use app_support::*;
use proptest::prelude::*;
use switchboard_protocol::app::*;

#[test]
fn examples_cover_every_kind() {
    let kinds: Vec<Kind> = examples()
        .iter()
        .map(|frame| frame.message.kind())
        .collect();
    assert_eq!(kinds, Kind::ALL);
}

#[test]
fn every_example_round_trips_in_both_encodings() {
    for frame in examples() {
        assert_eq!(from_binary(&to_binary(&frame)), frame);
        assert_eq!(from_json(&to_json(&frame)), frame);
    }
}

/// Parses a byte stream delivered in two chunks split at `split`, the way a connection would: parse what
/// is buffered, keep the unconsumed tail, append the next chunk, parse again.
fn parse_stream_split(stream: &[u8], split: usize) -> Vec<OwnedFrame> {
    let limits = FrameLimits::default();
    let mut buffered: Vec<u8> = Vec::new();
    let mut frames = Vec::new();
    for chunk in [&stream[..split], &stream[split..]] {
        buffered.extend_from_slice(chunk);
        let mut offset = 0;
        while let Some((frame, consumed)) =
            parse_frame(&buffered[offset..], &limits).expect("valid stream")
        {
            frames.push(frame.to_owned_frame());
            offset += consumed;
        }
        buffered.drain(..offset);
    }
    assert!(buffered.is_empty(), "a partial frame was left over");
    frames
}

#[test]
fn concatenated_examples_parse_at_every_split_point() {
    let frames = examples();
    let mut stream = Vec::new();
    let mut encoder = Encoder::new();
    for frame in &frames {
        encoder.encode(frame, &mut stream);
    }
    for split in 0..=stream.len() {
        assert_eq!(
            parse_stream_split(&stream, split),
            frames,
            "split at {split}"
        );
    }
}

#[test]
fn every_prefix_of_a_frame_needs_more_bytes() {
    for frame in examples() {
        let bytes = to_binary(&frame);
        for end in 0..bytes.len() {
            assert_eq!(
                parse_frame(&bytes[..end], &FrameLimits::default()),
                Ok(None)
            );
        }
    }
}

#[test]
fn a_large_message_is_fragmented_and_an_urgent_frame_overtakes_it() {
    let mut encoder = Encoder::new();
    let big = OwnedFrame::new(Message::Send(SendMessage {
        message_id: EXAMPLE_MESSAGE_ID,
        conversation_id: 1,
        text: "长".repeat(3000),
    }));
    let mut message = Vec::new();
    encoder.encode(&big, &mut message);
    let fragmenter = Fragmenter {
        fragment_data_bytes: 1024,
    };
    assert!(fragmenter.needs_fragmenting(message.len()));
    let urgent = OwnedFrame::new(Message::Handoff(Handoff {
        conversation_id: 1,
        agent_id: 2,
        ..Default::default()
    }));

    let mut stream = Vec::new();
    for (position, piece) in fragmenter.pieces(5, &message).enumerate() {
        encode_fragment(big.lane, piece, &mut stream);
        if position == 0 {
            encoder.encode(&urgent, &mut stream);
        }
    }

    let limits = FrameLimits::default();
    let mut reassembler = Reassembler::new(ReassemblerConfig::default()).unwrap();
    let mut seen = Vec::new();
    let mut rest = &stream[..];
    while let Some((frame, consumed)) = parse_frame(rest, &limits).unwrap() {
        match frame.body {
            Body::Fragment(piece) => {
                if let Some(whole) = reassembler.push(piece).unwrap() {
                    seen.push(from_binary(&whole));
                }
            }
            _ => seen.push(frame.to_owned_frame()),
        }
        rest = &rest[consumed..];
    }
    assert!(rest.is_empty());
    assert_eq!(seen, vec![urgent, big]);
    assert_eq!(reassembler.finish(), Ok(()));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn binary_round_trip(frame in frame()) {
        prop_assert_eq!(from_binary(&to_binary(&frame)), frame);
    }

    #[test]
    fn json_round_trip(frame in frame()) {
        prop_assert_eq!(from_json(&to_json(&frame)), frame);
    }

    #[test]
    fn binary_and_json_carry_the_same_information(frame in frame()) {
        // binary → model → JSON → model
        let via_binary = from_binary(&to_binary(&frame));
        let via_binary_then_json = from_json(&to_json(&via_binary));
        prop_assert_eq!(&via_binary_then_json, &frame);
        // JSON → model → binary → model
        let via_json = from_json(&to_json(&frame));
        let via_json_then_binary = from_binary(&to_binary(&via_json));
        prop_assert_eq!(&via_json_then_binary, &frame);
    }

    #[test]
    fn frame_streams_parse_at_arbitrary_split_points(
        frames in proptest::collection::vec(frame(), 1..5),
        split_seed in any::<usize>(),
    ) {
        let mut stream = Vec::new();
        let mut encoder = Encoder::new();
        for frame in &frames {
            encoder.encode(frame, &mut stream);
        }
        let split = split_seed % (stream.len() + 1);
        prop_assert_eq!(parse_stream_split(&stream, split), frames);
    }

    #[test]
    fn fragmenting_and_reassembling_restores_the_frame(frame in frame(), piece_bytes in 64u32..300) {
        let message = to_binary(&frame);
        let fragmenter = Fragmenter { fragment_data_bytes: piece_bytes };
        let mut reassembler = Reassembler::new(ReassemblerConfig::default()).unwrap();
        let mut wire = Vec::new();
        let mut whole = None;
        for piece in fragmenter.pieces(1, &message) {
            wire.clear();
            encode_fragment(Lane::Chat, piece, &mut wire);
            let (decoded, _) = parse_frame(&wire, &FrameLimits::default()).unwrap().unwrap();
            let Body::Fragment(decoded) = decoded.body else { panic!("not a fragment") };
            prop_assert!(whole.is_none());
            whole = reassembler.push(decoded).unwrap();
        }
        prop_assert_eq!(whole.as_deref(), Some(&message[..]));
        prop_assert_eq!(from_binary(&message), frame);
    }
}
