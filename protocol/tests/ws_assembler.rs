//! The receive state machine: fragmentation, control frames, limits, UTF-8, close codes, and the property
//! that any split of the input yields the same events as the whole.

use proptest::prelude::*;
use switchboard_protocol::ws::{
    encode_close, encode_frame, AssemblerLimits, CloseCode, Event, MessageAssembler, OpCode, Role,
    WsError,
};

/// An owned copy of an [`Event`], for comparisons.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Owned {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Option<(u16, String)>),
}

fn own(event: Event<'_>) -> Owned {
    match event {
        Event::Text(text) => Owned::Text(text.to_owned()),
        Event::Binary(bytes) => Owned::Binary(bytes.to_vec()),
        Event::Ping(bytes) => Owned::Ping(bytes.to_vec()),
        Event::Pong(bytes) => Owned::Pong(bytes.to_vec()),
        Event::Close(frame) => Owned::Close(frame.map(|f| (f.code.0, f.reason.to_owned()))),
    }
}

/// Feeds `chunks` in order the way a server would, collecting events until the first error.
fn run(role: Role, limits: AssemblerLimits, chunks: &[&[u8]]) -> (Vec<Owned>, Option<WsError>) {
    let mut assembler = MessageAssembler::new(role, limits).unwrap();
    let mut events = Vec::new();
    for chunk in chunks {
        let mut offset = 0;
        loop {
            match assembler.handle_bytes(&chunk[offset..]) {
                Ok(consumed) => offset += consumed,
                Err(error) => return (events, Some(error)),
            }
            match assembler.poll_event() {
                Some(event) => events.push(own(event)),
                None => break,
            }
        }
        assert_eq!(
            offset,
            chunk.len(),
            "without a pending event every byte is consumed"
        );
    }
    (events, None)
}

fn whole(input: &[u8]) -> (Vec<Owned>, Option<WsError>) {
    run(Role::Server, AssemblerLimits::default(), &[input])
}

const KEY: Option<[u8; 4]> = Some([0xa1, 0x02, 0xb3, 0x44]);

fn frame(opcode: OpCode, fin: bool, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame(&mut out, opcode, fin, payload, KEY).unwrap();
    out
}

#[test]
fn fragmented_message_with_interleaved_controls() {
    let mut input = frame(OpCode::Text, false, "héllo ".as_bytes());
    input.extend(frame(OpCode::Ping, true, b"p"));
    input.extend(frame(OpCode::Continuation, false, &"wörld".as_bytes()[..2]));
    input.extend(frame(OpCode::Pong, true, b""));
    input.extend(frame(OpCode::Continuation, true, &"wörld".as_bytes()[2..]));
    input.extend(frame(OpCode::Binary, true, &[0, 1, 2]));
    encode_close(&mut input, CloseCode::NORMAL, "bye", KEY).unwrap();
    input.extend(frame(OpCode::Binary, true, b"ignored after close"));
    let (events, error) = whole(&input);
    assert_eq!(error, None);
    assert_eq!(
        events,
        [
            Owned::Ping(b"p".to_vec()),
            Owned::Pong(vec![]),
            Owned::Text("héllo wörld".into()),
            Owned::Binary(vec![0, 1, 2]),
            Owned::Close(Some((1000, "bye".into()))),
        ]
    );
}

#[test]
fn empty_frames_and_empty_close() {
    let mut input = frame(OpCode::Text, true, b"");
    input.extend(frame(OpCode::Binary, false, b""));
    input.extend(frame(OpCode::Continuation, true, b""));
    input.extend(frame(OpCode::Close, true, b""));
    let (events, error) = whole(&input);
    assert_eq!(error, None);
    assert_eq!(
        events,
        [
            Owned::Text(String::new()),
            Owned::Binary(vec![]),
            Owned::Close(None)
        ]
    );
}

/// Each peer error, its input, and the close code the server must send.
#[test]
fn every_error_has_its_close_code() {
    let cases: Vec<(Vec<u8>, WsError, u16)> = vec![
        (vec![0xC2, 0x80, 0, 0, 0, 0], WsError::ReservedBitsSet, 1002),
        (
            vec![0x83, 0x80, 0, 0, 0, 0],
            WsError::ReservedOpcode(3),
            1002,
        ),
        (
            vec![0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0],
            WsError::PayloadLengthMsbSet,
            1002,
        ),
        (
            vec![0x89, 0xFE, 0, 126],
            WsError::ControlFrameTooLong(126),
            1002,
        ),
        (vec![0x09, 0x80], WsError::FragmentedControlFrame, 1002),
        (vec![0x82, 0x00], WsError::UnmaskedClientFrame, 1002),
        (
            frame(OpCode::Continuation, true, b"x"),
            WsError::UnexpectedContinuation,
            1002,
        ),
        (
            [
                frame(OpCode::Text, false, b"a"),
                frame(OpCode::Text, true, b"b"),
            ]
            .concat(),
            WsError::ExpectedContinuation,
            1002,
        ),
        (
            frame(OpCode::Text, true, &[0xff]),
            WsError::InvalidUtf8,
            1007,
        ),
        (
            frame(OpCode::Text, true, &[0xe2, 0x82]),
            WsError::InvalidUtf8,
            1007,
        ),
        (
            frame(OpCode::Close, true, &[3]),
            WsError::ClosePayloadTooShort,
            1002,
        ),
        (
            frame(OpCode::Close, true, &[0x03, 0xed]),
            WsError::InvalidCloseCode(1005),
            1002,
        ),
        (
            frame(OpCode::Close, true, &[0x03, 0xe8, 0xc0]),
            WsError::CloseReasonInvalidUtf8,
            1007,
        ),
    ];
    for (input, expected, code) in cases {
        let (_, error) = whole(&input);
        assert_eq!(error.as_ref(), Some(&expected), "{input:x?}");
        assert_eq!(expected.close_code(), CloseCode(code));
    }
    let (events, error) = whole(&frame(OpCode::Ping, true, &[b'x'; 125]));
    assert_eq!(
        (events, error),
        (vec![Owned::Ping(vec![b'x'; 125])], None),
        "125 bytes is the control maximum"
    );
    let (_, error) = run(
        Role::Client,
        AssemblerLimits::default(),
        &[&[0x82, 0x80, 1, 2, 3, 4]],
    );
    assert_eq!(error, Some(WsError::MaskedServerFrame));
}

#[test]
fn size_limits_close_with_1009_before_the_payload_arrives() {
    let limits = AssemblerLimits {
        frame_payload_bytes_max: 8,
        message_bytes_max: 10,
        ..AssemblerLimits::default()
    };
    let big_frame = frame(OpCode::Binary, true, &[0; 9]);
    let (_, error) = run(Role::Server, limits, &[&big_frame[..6]]);
    assert_eq!(
        error,
        Some(WsError::FramePayloadTooLarge { len: 9, max: 8 })
    );
    let input = [
        frame(OpCode::Binary, false, &[0; 8]),
        frame(OpCode::Continuation, true, &[0; 3]),
    ]
    .concat();
    let (_, error) = run(Role::Server, limits, &[&input]);
    let error = error.unwrap();
    assert_eq!(error, WsError::MessageTooLarge { len: 11, max: 10 });
    assert_eq!(error.close_code(), CloseCode::MESSAGE_TOO_BIG);
}

#[test]
fn invalid_utf8_fails_fast_in_a_fragmented_text_message() {
    // Autobahn 6.4.x: the invalid code point arrives in the first fragment; the rest never comes.
    let input = frame(OpCode::Text, false, &[0xce, 0xba, 0xf4, 0x90]);
    let (events, error) = whole(&input);
    assert!(events.is_empty());
    assert_eq!(error, Some(WsError::InvalidUtf8));
    // Only the first 3 payload bytes arrived: `ED A0` is already invalid (a surrogate), so fail now.
    let input = frame(OpCode::Text, true, &[b'a', 0xed, 0xa0, 0x80, b'b', b'c']);
    let (_, error) = run(Role::Server, AssemblerLimits::default(), &[&input[..9]]);
    assert_eq!(error, Some(WsError::InvalidUtf8));
}

#[test]
fn dead_assembler_repeats_its_error() {
    let mut assembler = MessageAssembler::new(Role::Server, AssemblerLimits::default()).unwrap();
    assert_eq!(
        assembler.handle_bytes(&[0x82, 0x00]),
        Err(WsError::UnmaskedClientFrame)
    );
    assert_eq!(
        assembler.handle_bytes(&frame(OpCode::Binary, true, b"x")),
        Err(WsError::UnmaskedClientFrame)
    );
}

#[test]
fn pending_event_blocks_input_until_polled() {
    let mut assembler = MessageAssembler::new(Role::Server, AssemblerLimits::default()).unwrap();
    let input = [
        frame(OpCode::Ping, true, b"1"),
        frame(OpCode::Ping, true, b"2"),
    ]
    .concat();
    let first = assembler.handle_bytes(&input).unwrap();
    assert_eq!(first, input.len() / 2);
    assert_eq!(assembler.handle_bytes(&input[first..]), Ok(0));
    assert_eq!(assembler.poll_event(), Some(Event::Ping(b"1")));
    assert_eq!(assembler.poll_event(), None);
    assert_eq!(
        assembler.handle_bytes(&input[first..]),
        Ok(input.len() - first)
    );
    assert_eq!(assembler.poll_event(), Some(Event::Ping(b"2")));
}

#[test]
fn invalid_limits_are_refused() {
    let limits = AssemblerLimits {
        message_bytes_max: 0,
        ..AssemblerLimits::default()
    };
    assert_eq!(
        MessageAssembler::new(Role::Server, limits)
            .unwrap_err()
            .field,
        "message_bytes_max"
    );
}

/// A random valid frame sequence: messages of random fragments with random control frames between.
fn stream_strategy() -> impl Strategy<Value = Vec<u8>> {
    let message = (
        any::<bool>(),
        prop::collection::vec("[a-zé€𝄞]{0,6}", 1..4),
        prop::collection::vec(
            prop::option::of(prop::collection::vec(any::<u8>(), 0..8)),
            1..4,
        ),
    );
    prop::collection::vec(message, 0..5).prop_map(|messages| {
        let mut out = Vec::new();
        for (is_text, fragments, pings) in messages {
            let count = fragments.len();
            for (index, fragment) in fragments.iter().enumerate() {
                let opcode = match (index, is_text) {
                    (0, true) => OpCode::Text,
                    (0, false) => OpCode::Binary,
                    _ => OpCode::Continuation,
                };
                out.extend(frame(opcode, index + 1 == count, fragment.as_bytes()));
                if let Some(Some(ping)) = pings.get(index) {
                    out.extend(frame(OpCode::Ping, true, ping));
                }
            }
        }
        out
    })
}

fn split_at_points(input: &[u8], mut points: Vec<usize>) -> Vec<&[u8]> {
    points.iter_mut().for_each(|p| *p %= input.len() + 1);
    points.sort_unstable();
    let mut chunks = Vec::new();
    let mut start = 0;
    for point in points {
        chunks.push(&input[start..point]);
        start = point;
    }
    chunks.push(&input[start..]);
    chunks
}

proptest! {
    #[test]
    fn any_split_of_valid_frames_gives_the_same_events(
        input in stream_strategy(),
        points in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let expected = whole(&input);
        prop_assert_eq!(&expected.1, &None);
        let split = run(Role::Server, AssemblerLimits::default(), &split_at_points(&input, points));
        prop_assert_eq!(split, expected);
    }

    #[test]
    fn any_split_of_arbitrary_bytes_gives_the_same_events_and_error(
        mut input in prop::collection::vec(any::<u8>(), 0..64),
        points in prop::collection::vec(any::<usize>(), 0..8),
        masked_prefix in any::<bool>(),
    ) {
        if masked_prefix && input.len() >= 2 {
            input[1] |= 0x80;
        }
        let limits = AssemblerLimits { frame_payload_bytes_max: 32, message_bytes_max: 48, ..AssemblerLimits::default() };
        let expected = run(Role::Server, limits, &[&input]);
        let split = run(Role::Server, limits, &split_at_points(&input, points));
        prop_assert_eq!(split, expected);
    }

    #[test]
    fn byte_by_byte_feeding_matches(input in stream_strategy()) {
        let chunks: Vec<&[u8]> = input.chunks(1).collect();
        prop_assert_eq!(run(Role::Server, AssemblerLimits::default(), &chunks), whole(&input));
    }
}
