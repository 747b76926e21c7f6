//! Fuzzes the frame header parser and the message assembler.
//!
//! The first byte picks the role and a split stride; the rest is the wire input. Checks beyond "no
//! panic": the header parser never claims more bytes than it was given, and feeding the assembler in
//! pieces gives the same events and the same error as feeding it the whole input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_protocol::ws::{
    AssemblerLimits, Event, FrameHeader, MessageAssembler, Role, WsError,
};

/// Events as owned, comparable values.
type Outcome = (Vec<(u8, Vec<u8>)>, Option<WsError>);

fn run(role: Role, input: &[u8], stride: usize) -> Outcome {
    let limits = AssemblerLimits {
        frame_payload_bytes_max: 4096,
        message_bytes_max: 8192,
        ..AssemblerLimits::default()
    };
    let mut assembler = MessageAssembler::new(role, limits).expect("valid limits");
    let mut events = Vec::new();
    for chunk in input.chunks(stride.max(1)) {
        let mut offset = 0;
        loop {
            match assembler.handle_bytes(&chunk[offset..]) {
                Ok(consumed) => offset += consumed,
                Err(error) => return (events, Some(error)),
            }
            let Some(event) = assembler.poll_event() else {
                break;
            };
            events.push(match event {
                Event::Text(text) => (1, text.as_bytes().to_vec()),
                Event::Binary(bytes) => (2, bytes.to_vec()),
                Event::Ping(bytes) => (9, bytes.to_vec()),
                Event::Pong(bytes) => (10, bytes.to_vec()),
                Event::Close(frame) => (
                    8,
                    frame
                        .map(|f| f.code.0.to_be_bytes().to_vec())
                        .unwrap_or_default(),
                ),
            });
        }
        assert_eq!(offset, chunk.len());
    }
    (events, None)
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, input)) = data.split_first() else {
        return;
    };
    let role = if control & 1 == 0 {
        Role::Server
    } else {
        Role::Client
    };
    if let Ok(Some((_, len))) = FrameHeader::parse(input, role) {
        assert!(len <= input.len() && len <= 14);
    }
    let stride = usize::from(control >> 1) + 1;
    let whole = run(role, input, input.len());
    assert_eq!(run(role, input, stride), whole);
});
