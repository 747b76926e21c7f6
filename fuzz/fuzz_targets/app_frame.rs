//! Fuzzes `switchboard.v1` frame decoding (binary) and `switchboard.json.v1` parsing.
//!
//! The first byte selects the encoding: even → the rest is a binary frame stream, odd → the rest is one
//! JSON text message. Checks beyond "no panic": every frame that decodes re-encodes to a frame that
//! decodes to the same model, in both encodings (the conformance property of `protocol/tests`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_protocol::app::json::{encode_json, parse_json};
use switchboard_protocol::app::{parse_frame, Encoder, FrameLimits, OwnedFrame};

fn limits() -> FrameLimits {
    FrameLimits {
        body_bytes_max: FrameLimits::BODY_BYTES_MAX_MAX,
    }
}

/// Binary → model → binary → model and model → JSON → model must all agree.
fn check_round_trips(frame: &OwnedFrame) {
    let mut binary = Vec::new();
    Encoder::new().encode(frame, &mut binary);
    let (decoded, consumed) = parse_frame(&binary, &limits())
        .expect("re-encoded frame is valid")
        .expect("complete");
    assert_eq!(consumed, binary.len());
    assert_eq!(&decoded.to_owned_frame(), frame);
    let mut text = Vec::new();
    encode_json(frame, &mut text);
    assert_eq!(
        &parse_json(&mut text).expect("encoded JSON is valid"),
        frame
    );
}

fn binary_stream(mut rest: &[u8]) {
    loop {
        match parse_frame(rest, &limits()) {
            Ok(Some((frame, consumed))) => {
                assert!(consumed > 0 && consumed <= rest.len());
                check_round_trips(&frame.to_owned_frame());
                rest = &rest[consumed..];
            }
            Ok(None) => return,
            Err(error) => match error.skip_bytes() {
                Some(skip) => {
                    assert!(skip > 0 && skip <= rest.len());
                    rest = &rest[skip..];
                }
                None => return,
            },
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    if selector % 2 == 0 {
        binary_stream(rest);
    } else if let Ok(frame) = parse_json(&mut rest.to_vec()) {
        check_round_trips(&frame);
    }
});
