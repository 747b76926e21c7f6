//! An in-process echo server built only on the public API, driven through scenarios modelled on the
//! Autobahn fuzzingclient cases 1-10, with the client bytes split at several chunk sizes.
//!
//! This doubles as the reference for how a server drives [`MessageAssembler`]: feed whatever bytes
//! arrived, poll events, answer Ping with Pong, echo Close, and on an error send a Close with its code.

use switchboard_protocol::ws::{
    encode_close, encode_frame, AssemblerLimits, CloseCode, Event, MessageAssembler, OpCode, Role,
    WsError,
};

const KEY: Option<[u8; 4]> = Some([0x0f, 0xf0, 0x55, 0xaa]);

/// The echo server of Autobahn's fuzzingclient, sans-IO: bytes in, bytes out.
struct EchoServer {
    assembler: MessageAssembler,
    out: Vec<u8>,
    closed: bool,
}

impl EchoServer {
    fn new() -> Self {
        EchoServer {
            assembler: MessageAssembler::new(Role::Server, AssemblerLimits::default()).unwrap(),
            out: Vec::new(),
            closed: false,
        }
    }

    fn receive(&mut self, mut bytes: &[u8]) {
        while !self.closed {
            match self.assembler.handle_bytes(bytes) {
                Ok(consumed) => bytes = &bytes[consumed..],
                Err(error) => {
                    encode_close(&mut self.out, error.close_code(), "", None).unwrap();
                    self.closed = true;
                    return;
                }
            }
            let Some(event) = self.assembler.poll_event() else {
                return;
            };
            let out = &mut self.out;
            match event {
                Event::Text(text) => encode_frame(out, OpCode::Text, true, text.as_bytes(), None),
                Event::Binary(bytes) => encode_frame(out, OpCode::Binary, true, bytes, None),
                Event::Ping(payload) => encode_frame(out, OpCode::Pong, true, payload, None),
                Event::Pong(_) => Ok(0),
                Event::Close(Some(frame)) => {
                    self.closed = true;
                    encode_close(out, frame.code, "", None)
                }
                Event::Close(None) => {
                    self.closed = true;
                    encode_frame(out, OpCode::Close, true, &[], None)
                }
            }
            .unwrap();
        }
    }
}

/// What the client sees from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Text(String),
    Binary(Vec<u8>),
    Pong(Vec<u8>),
    Close(Option<u16>),
}

fn client_view(server_bytes: &[u8]) -> Vec<Seen> {
    let mut assembler = MessageAssembler::new(Role::Client, AssemblerLimits::default()).unwrap();
    let mut seen = Vec::new();
    let mut offset = 0;
    loop {
        offset += assembler
            .handle_bytes(&server_bytes[offset..])
            .expect("server output is valid");
        let Some(event) = assembler.poll_event() else {
            return seen;
        };
        seen.push(match event {
            Event::Text(text) => Seen::Text(text.to_owned()),
            Event::Binary(bytes) => Seen::Binary(bytes.to_vec()),
            Event::Pong(bytes) => Seen::Pong(bytes.to_vec()),
            Event::Close(frame) => Seen::Close(frame.map(|f| f.code.0)),
            Event::Ping(_) => panic!("the echo server never pings"),
        });
    }
}

/// Runs the scenario with several chunkings; all must give the same server output.
fn echo(client_bytes: &[u8]) -> Vec<Seen> {
    let mut whole = EchoServer::new();
    whole.receive(client_bytes);
    for chunk_bytes in [1, 2, 7, 131, 997, 65_536] {
        let mut server = EchoServer::new();
        for chunk in client_bytes.chunks(chunk_bytes) {
            server.receive(chunk);
        }
        assert_eq!(server.out, whole.out, "chunks of {chunk_bytes}");
    }
    client_view(&whole.out)
}

fn frame(opcode: OpCode, fin: bool, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame(&mut out, opcode, fin, payload, KEY).unwrap();
    out
}

fn close(code: u16, reason: &[u8]) -> Vec<u8> {
    let payload = [&code.to_be_bytes()[..], reason].concat();
    frame(OpCode::Close, true, &payload)
}

fn normal_close() -> Vec<u8> {
    close(1000, b"")
}

#[test]
fn case_1_echoes_text_and_binary_of_every_length_class() {
    for len in [0, 125, 126, 127, 128, 65_535, 65_536] {
        let text = "*".repeat(len);
        let input = [frame(OpCode::Text, true, text.as_bytes()), normal_close()].concat();
        assert_eq!(echo(&input), [Seen::Text(text), Seen::Close(Some(1000))]);
        let binary = vec![0xfe; len];
        let input = [frame(OpCode::Binary, true, &binary), normal_close()].concat();
        assert_eq!(
            echo(&input),
            [Seen::Binary(binary), Seen::Close(Some(1000))]
        );
    }
}

#[test]
fn case_2_pings_get_pongs_and_oversized_pings_a_1002() {
    let input = [
        frame(OpCode::Ping, true, b""),
        frame(OpCode::Ping, true, &[0xfe; 125]),
        normal_close(),
    ]
    .concat();
    assert_eq!(
        echo(&input),
        [
            Seen::Pong(vec![]),
            Seen::Pong(vec![0xfe; 125]),
            Seen::Close(Some(1000))
        ]
    );
    // 2.5: a 126-byte ping, announced with the 16-bit length form.
    let oversized = [&[0x89, 0xfe, 0, 126][..], &KEY.unwrap(), &[0; 126]].concat();
    assert_eq!(echo(&oversized), [Seen::Close(Some(1002))]);
    // 2.10: unsolicited pongs are ignored.
    let input = [frame(OpCode::Pong, true, b"x"), normal_close()].concat();
    assert_eq!(echo(&input), [Seen::Close(Some(1000))]);
}

#[test]
fn case_3_and_4_reserved_bits_and_opcodes_close_with_1002() {
    for first_byte in [0xC1u8, 0xA1, 0x91, 0x83, 0x87, 0x8B, 0x8F] {
        let mut bad = frame(OpCode::Text, true, b"x");
        bad[0] = first_byte;
        let input = [
            frame(OpCode::Text, true, b"before"),
            bad,
            frame(OpCode::Ping, true, b""),
        ]
        .concat();
        assert_eq!(
            echo(&input),
            [Seen::Text("before".into()), Seen::Close(Some(1002))],
            "{first_byte:#x}"
        );
    }
}

#[test]
fn case_5_fragmentation() {
    // 5.6 / 5.9: a ping between fragments is answered before the message completes.
    let input = [
        frame(OpCode::Text, false, b"frag"),
        frame(OpCode::Ping, true, b"p"),
        frame(OpCode::Continuation, true, b"ment"),
        normal_close(),
    ]
    .concat();
    assert_eq!(
        echo(&input),
        [
            Seen::Pong(b"p".to_vec()),
            Seen::Text("fragment".into()),
            Seen::Close(Some(1000))
        ]
    );
    // 5.1: a fragmented ping.
    let fragmented_ping = [&[0x09, 0x80][..], &KEY.unwrap()].concat();
    assert_eq!(echo(&fragmented_ping), [Seen::Close(Some(1002))]);
    // 5.9: continuation without a start; 5.18: a new message inside a fragmented one.
    assert_eq!(
        echo(&frame(OpCode::Continuation, true, b"x")),
        [Seen::Close(Some(1002))]
    );
    let input = [
        frame(OpCode::Text, false, b"a"),
        frame(OpCode::Text, true, b"b"),
    ]
    .concat();
    assert_eq!(echo(&input), [Seen::Close(Some(1002))]);
}

#[test]
fn case_6_utf8_is_validated_and_fails_fast() {
    let valid = "κόσμε 𝄞 €".as_bytes();
    let input = [
        frame(OpCode::Text, false, &valid[..3]),
        frame(OpCode::Continuation, false, &valid[3..9]),
        frame(OpCode::Continuation, true, &valid[9..]),
        normal_close(),
    ]
    .concat();
    assert_eq!(
        echo(&input),
        [Seen::Text("κόσμε 𝄞 €".into()), Seen::Close(Some(1000))]
    );
    for invalid in [
        &[0xed, 0xa0, 0x80][..],
        &[0xf4, 0x90, 0x80, 0x80],
        &[0xc0, 0xaf],
        &[0xff],
    ] {
        let input = [frame(OpCode::Text, true, invalid), normal_close()].concat();
        assert_eq!(echo(&input), [Seen::Close(Some(1007))], "{invalid:x?}");
        // Fail fast: the first fragment alone already gets the 1007, before the message ends.
        let mut server = EchoServer::new();
        server.receive(&frame(OpCode::Text, false, &[b"ok", invalid].concat()));
        assert_eq!(
            client_view(&server.out),
            [Seen::Close(Some(1007))],
            "{invalid:x?}"
        );
    }
    // A message that ends inside a code point.
    let input = [
        frame(OpCode::Text, false, b"a"),
        frame(OpCode::Continuation, true, &[0xe2, 0x82]),
    ]
    .concat();
    assert_eq!(echo(&input), [Seen::Close(Some(1007))]);
}

#[test]
fn case_7_close_handling() {
    assert_eq!(echo(&frame(OpCode::Close, true, b"")), [Seen::Close(None)]);
    assert_eq!(
        echo(&close(1000, "bye ✓".as_bytes())),
        [Seen::Close(Some(1000))]
    );
    for valid in [
        1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999,
    ] {
        assert_eq!(echo(&close(valid, b"")), [Seen::Close(Some(valid))]);
    }
    for invalid in [
        0, 999, 1004, 1005, 1006, 1012, 1013, 1014, 1015, 1016, 1100, 2000, 2999, 5000,
    ] {
        assert_eq!(
            echo(&close(invalid, b"")),
            [Seen::Close(Some(1002))],
            "{invalid}"
        );
    }
    assert_eq!(
        echo(&frame(OpCode::Close, true, &[0x03])),
        [Seen::Close(Some(1002))]
    );
    assert_eq!(echo(&close(1000, &[0xff])), [Seen::Close(Some(1007))]);
    // 7.1.x: nothing after the close is processed.
    let input = [
        normal_close(),
        frame(OpCode::Text, true, b"late"),
        frame(OpCode::Ping, true, b""),
    ]
    .concat();
    assert_eq!(echo(&input), [Seen::Close(Some(1000))]);
    assert_eq!(
        WsError::InvalidCloseCode(5).close_code(),
        CloseCode::PROTOCOL_ERROR
    );
}

#[test]
fn case_9_and_10_large_messages_in_many_frames() {
    let message: Vec<u8> = (0..4 * 1024 * 1024)
        .map(|i| b'a' + (i % 26) as u8)
        .collect();
    let mut input = Vec::new();
    let pieces: Vec<&[u8]> = message.chunks(64 * 1024).collect();
    for (index, piece) in pieces.iter().enumerate() {
        let opcode = if index == 0 {
            OpCode::Text
        } else {
            OpCode::Continuation
        };
        input.extend(frame(opcode, index + 1 == pieces.len(), piece));
    }
    input.extend(normal_close());
    let mut server = EchoServer::new();
    for chunk in input.chunks(65_536 + 3) {
        server.receive(chunk);
    }
    let seen = client_view(&server.out);
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0], Seen::Text(String::from_utf8(message).unwrap()));
}
