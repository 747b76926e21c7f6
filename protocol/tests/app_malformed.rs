//! Malformed input is a typed error, never a panic: truncated or corrupted bodies, unknown kinds and flags,
//! oversized lengths, and arbitrary bytes in both encodings.

mod app_support;

use app_support::*;
use proptest::prelude::*;
use switchboard_protocol::app::*;

#[test]
fn unknown_kind_is_skipped_and_the_next_frame_still_parses() {
    let limits = FrameLimits::default();
    let mut stream = vec![0x40, 0x00, 0x02, 0xAA, 0xBB];
    let ping = OwnedFrame::new(Message::Ping(Ping {
        timestamp_ms: 5,
        heartbeat_interval_ms: None,
    }));
    stream.extend(to_binary(&ping));
    let error = parse_frame(&stream, &limits).unwrap_err();
    assert_eq!(
        error,
        FrameError::UnknownKind {
            kind: 0x40,
            frame_bytes: 5
        }
    );
    assert_eq!(
        error.reaction(),
        Reaction::ErrorFrame(ErrorCode::UNKNOWN_KIND)
    );
    let skip = error.skip_bytes().unwrap();
    let (frame, _) = parse_frame(&stream[skip..], &limits).unwrap().unwrap();
    assert_eq!(frame.to_owned_frame(), ping);
}

#[test]
fn reserved_flag_bits_are_rejected() {
    for example in examples() {
        let mut bytes = to_binary(&example);
        for bit in 2..8 {
            bytes[1] = 1 << bit;
            let error = parse_frame(&bytes, &FrameLimits::default()).unwrap_err();
            assert_eq!(
                error,
                FrameError::ReservedFlags {
                    flags: 1 << bit,
                    frame_bytes: bytes.len()
                }
            );
            assert_eq!(
                error.reaction(),
                Reaction::ErrorFrame(ErrorCode::RESERVED_FLAGS)
            );
        }
    }
}

#[test]
fn a_garbage_body_is_an_invalid_body_error() {
    let bytes = [Kind::Deliver as u8, 0x02, 0x04, 0xFF, 0xFF, 0xFF, 0x7F];
    let error = parse_frame(&bytes, &FrameLimits::default()).unwrap_err();
    assert!(
        matches!(
            error,
            FrameError::InvalidBody {
                kind: Kind::Deliver,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(error.reaction(), Reaction::Close(1007));
}

#[test]
fn a_body_over_the_limit_closes_with_1009() {
    let limits = FrameLimits {
        body_bytes_max: 1024,
    };
    let error = parse_frame(&[0x05, 0x02, 0x81, 0x08], &limits).unwrap_err();
    assert_eq!(
        error,
        FrameError::BodyTooLarge {
            body_bytes: 1025,
            body_bytes_max: 1024
        }
    );
    assert_eq!(error.reaction(), Reaction::Close(1009));
}

#[test]
fn a_malformed_length_closes_with_1002() {
    let error = parse_frame(&[0x05, 0x02, 0x80, 0x00], &FrameLimits::default()).unwrap_err();
    assert_eq!(error, FrameError::MalformedVarint);
    assert_eq!(error.reaction(), Reaction::Close(1002));
}

#[test]
fn a_flag_byte_other_than_0_or_1_reads_as_true() {
    use switchboard_protocol::app::generated::{TypingBody, TypingBodyArgs};
    let mut builder = flatbuffers::FlatBufferBuilder::new();
    let args = TypingBodyArgs {
        conversation_id: 1,
        user_id: 2,
        active: 0xFE,
    };
    let root = TypingBody::create(&mut builder, &args);
    builder.finish_minimal(root);
    let body = builder.finished_data();
    let mut bytes = vec![Kind::Typing as u8, Lane::System as u8, body.len() as u8];
    bytes.extend_from_slice(body);
    let expected = Message::Typing(Typing {
        conversation_id: 1,
        user_id: 2,
        active: true,
    });
    assert_eq!(from_binary(&bytes).message, expected);
}

/// Found by the `app_frame` fuzz target: a root table whose signed vtable offset is `i32::MIN` made the
/// flatbuffers 2.1.2 verifier overflow (see `protocol/src/app/soffset_guard.rs`).
#[test]
fn fuzz_regression_overflowing_soffset() {
    let input = [
        0x07, 0x03, 0x30, 0x14, 0x00, 0x00, 0x00, 0x0a, 0x03, 0x18, 0x0c, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x06, 0x00, 0x00, 0x00, 0x03, 0xf8, 0x06, 0x00, 0x00, 0x00, 0x80, 0x8f, 0x13, 0x00,
        0x77, 0x65, 0x6c, 0x63, 0x6f, 0x6d, 0x0c, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];
    let error = parse_frame(&input, &FrameLimits::default()).unwrap_err();
    assert!(
        matches!(
            error,
            FrameError::InvalidBody {
                kind: Kind::Replay,
                ..
            }
        ),
        "{error:?}"
    );
}

/// Runs the decoder on `bytes` the way a connection would, converting every parsed frame to the model
/// (which walks every accessor). Must never panic.
fn decode_everything(bytes: &[u8]) {
    let limits = FrameLimits::default();
    let mut rest = bytes;
    loop {
        match parse_frame(rest, &limits) {
            Ok(Some((frame, consumed))) => {
                let _ = frame.to_owned_frame();
                rest = &rest[consumed..];
            }
            Ok(None) => break,
            Err(error) => match error.skip_bytes() {
                Some(skip) => rest = &rest[skip..],
                None => break,
            },
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        decode_everything(&bytes);
        let _ = json::parse_json(&mut bytes.clone());
    }

    #[test]
    fn corrupted_frames_never_panic(frame in frame(), position in any::<usize>(), value in any::<u8>()) {
        let mut bytes = to_binary(&frame);
        let position = position % bytes.len();
        bytes[position] = value;
        decode_everything(&bytes);
        let mut text = to_json(&frame);
        let position = position % text.len();
        text[position] = value;
        let _ = json::parse_json(&mut text);
    }

    #[test]
    fn truncated_bodies_are_errors_not_panics(frame in frame(), cut in any::<usize>()) {
        let bytes = to_binary(&frame);
        let header = parse_frame(&bytes, &FrameLimits::default()).unwrap().unwrap();
        prop_assert_eq!(header.1, bytes.len());
        // Re-frame a truncated body with a header claiming the shorter length.
        let body_start = bytes.len() - body_len(&bytes);
        let body = &bytes[body_start..];
        let cut = cut % (body.len() + 1);
        let mut reframed = vec![bytes[0], bytes[1]];
        switchboard_protocol::app::varint::encode_varint(cut as u64, &mut reframed);
        reframed.extend_from_slice(&body[..cut]);
        decode_everything(&reframed);
    }
}

/// The body length of a single encoded frame.
fn body_len(bytes: &[u8]) -> usize {
    let (length, _) = switchboard_protocol::app::varint::decode_varint(&bytes[2..])
        .unwrap()
        .unwrap();
    length as usize
}
