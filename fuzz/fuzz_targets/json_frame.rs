//! Fuzzes `switchboard.json.v1` decoding (`parse_json`, simd-json underneath) on its own, so the whole input
//! is JSON text and the seed corpus is plain JSON (`app_frame` reaches it only behind a selector byte).
//!
//! Checks beyond "no panic": every text that decodes re-encodes, as JSON and as a binary frame, to a frame
//! that decodes to the same model.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_protocol::app::json::{encode_json, parse_json};
use switchboard_protocol::app::{parse_frame, Encoder, FrameLimits};

fuzz_target!(|data: &[u8]| {
    // simd-json parses in place: work on a copy.
    let Ok(frame) = parse_json(&mut data.to_vec()) else {
        return;
    };
    let mut text = Vec::new();
    encode_json(&frame, &mut text);
    let again = parse_json(&mut text.clone())
        .unwrap_or_else(|error| panic!("re-encoded JSON is invalid: {error}: {text:?}"));
    assert_eq!(again, frame, "JSON round trip changed the frame");

    let mut binary = Vec::new();
    Encoder::new().encode(&frame, &mut binary);
    let limits = FrameLimits {
        body_bytes_max: FrameLimits::BODY_BYTES_MAX_MAX,
    };
    let (decoded, consumed) = parse_frame(&binary, &limits)
        .expect("the binary form of a JSON frame is valid")
        .expect("complete");
    assert_eq!(consumed, binary.len());
    assert_eq!(
        decoded.to_owned_frame(),
        frame,
        "binary round trip changed the frame"
    );
});
