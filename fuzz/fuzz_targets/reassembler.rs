//! Fuzzes the fragment reassembler on a stream of binary frames, with small limits so every limit is hit.
//!
//! Checks beyond "no panic": the reassembler's memory stays within its limits, and every completed
//! message is no longer than `message_bytes_max` and matches the announced total.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_protocol::app::{parse_frame, Body, FrameLimits, Reassembler, ReassemblerConfig};

fuzz_target!(|data: &[u8]| {
    let config = ReassemblerConfig {
        message_bytes_max: 4096,
        partial_messages_max: 3,
        fragment_count_max: 64,
    };
    let mut reassembler = Reassembler::new(config).expect("valid config");
    let limits = FrameLimits {
        body_bytes_max: FrameLimits::BODY_BYTES_MAX_MIN,
    };
    let mut rest = data;
    while let Ok(Some((frame, consumed))) = parse_frame(rest, &limits) {
        rest = &rest[consumed..];
        let Body::Fragment(piece) = frame.body else {
            continue;
        };
        match reassembler.push(piece) {
            Ok(Some(message)) => {
                assert_eq!(message.len(), piece.total_bytes as usize);
                assert!(message.len() <= config.message_bytes_max as usize);
                // The reassembled bytes are a frame of their own; decoding them must not panic either.
                let _ = parse_frame(&message, &limits);
            }
            Ok(None) => {}
            Err(_) => return, // The connection would close here.
        }
        assert!(reassembler.partial_messages() <= config.partial_messages_max as usize);
        assert!(
            reassembler.buffered_bytes()
                <= (config.partial_messages_max * config.message_bytes_max) as usize
        );
    }
    let _ = reassembler.finish();
    assert_eq!(reassembler.partial_messages(), 0);
});
