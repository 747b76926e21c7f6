//! A minimal blocking WebSocket client on `switchboard_protocol::ws`: the client handshake, masked frames,
//! and the message assembler for what the server sends.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use switchboard_protocol::ws::handshake::{ClientRequest, HandshakeLimits};
use switchboard_protocol::ws::{
    encode_frame, AssemblerLimits, Event, MessageAssembler, OpCode, Role,
};

use super::IO_TIMEOUT_MS;

/// What the server sent, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
    /// A close frame with its code, if any.
    Close(Option<u16>),
    /// A ping with its payload.
    Ping(Vec<u8>),
}

/// One client connection.
pub struct WsClient {
    stream: TcpStream,
    assembler: MessageAssembler,
    /// Bytes read and not yet consumed by the assembler.
    pending: Vec<u8>,
    /// A fixed mask key: tests need no unpredictability, only masking.
    mask: [u8; 4],
}

impl WsClient {
    /// Connects and completes the opening handshake.
    pub fn connect(addr: SocketAddr) -> WsClient {
        let mut stream = TcpStream::connect(addr).expect("connect to the server");
        stream
            .set_read_timeout(Some(Duration::from_millis(IO_TIMEOUT_MS)))
            .unwrap();
        stream.set_nodelay(true).unwrap();
        let host = addr.to_string();
        let request = ClientRequest {
            host: &host,
            path_and_query: "/ws",
            subprotocols: &[],
            origin: None,
            authorization: None,
        };
        let mut out = Vec::new();
        let handshake = request.write(*b"admin-test-nonce", &mut out);
        stream.write_all(&out).unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 1024];
        let consumed = loop {
            if let Some((_, consumed)) = handshake
                .parse_response(&buf, &HandshakeLimits::default())
                .expect("a valid 101")
            {
                break consumed;
            }
            let read = stream
                .read(&mut chunk)
                .expect("read the handshake response");
            assert!(read > 0, "server closed during the handshake");
            buf.extend_from_slice(&chunk[..read]);
        };
        let assembler = MessageAssembler::new(Role::Client, AssemblerLimits::default()).unwrap();
        let pending = buf[consumed..].to_vec();
        WsClient {
            stream,
            assembler,
            pending,
            mask: [0x12, 0x34, 0x56, 0x78],
        }
    }

    /// Sends one masked frame.
    pub fn send_frame(&mut self, opcode: OpCode, payload: &[u8]) {
        self.try_send_frame(opcode, payload).expect("write a frame");
    }

    /// Sends one masked frame, returning the write error (the server may have closed the connection).
    pub fn try_send_frame(&mut self, opcode: OpCode, payload: &[u8]) -> std::io::Result<()> {
        let mut out = Vec::new();
        encode_frame(&mut out, opcode, true, payload, Some(self.mask)).unwrap();
        self.stream.write_all(&out)
    }

    /// Sends a text message.
    pub fn send_text(&mut self, text: &str) {
        self.send_frame(OpCode::Text, text.as_bytes());
    }

    /// Sends a close frame with `code`.
    pub fn send_close(&mut self, code: u16) {
        self.send_frame(OpCode::Close, &code.to_be_bytes());
    }

    /// Waits for the next message or close frame (pings and pongs are skipped, not answered).
    pub fn recv(&mut self) -> Received {
        loop {
            match self.recv_any() {
                Received::Ping(_) => {}
                other => return other,
            }
        }
    }

    /// Reads until `count` pings arrived, answering each with its pong; panics on anything else.
    pub fn answer_pings(&mut self, count: usize) {
        for _ in 0..count {
            match self.recv_any() {
                Received::Ping(payload) => self.send_frame(OpCode::Pong, &payload),
                other => panic!("expected a ping, got {other:?}"),
            }
        }
    }

    /// Waits for the next message, ping or close frame (pongs are skipped).
    pub fn recv_any(&mut self) -> Received {
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(received) = self.poll() {
                return received;
            }
            if !self.pending.is_empty() {
                let consumed = self
                    .assembler
                    .handle_bytes(&self.pending)
                    .expect("valid frames");
                self.pending.drain(..consumed);
                if consumed > 0 {
                    continue;
                }
            }
            let read = self.stream.read(&mut chunk).expect("read from the server");
            assert!(
                read > 0,
                "server closed the transport without a close frame"
            );
            self.pending.extend_from_slice(&chunk[..read]);
        }
    }

    fn poll(&mut self) -> Option<Received> {
        loop {
            return Some(match self.assembler.poll_event()? {
                Event::Text(text) => Received::Text(text.to_owned()),
                Event::Binary(data) => Received::Binary(data.to_vec()),
                Event::Close(frame) => Received::Close(frame.map(|frame| frame.code.0)),
                Event::Ping(payload) => Received::Ping(payload.to_vec()),
                Event::Pong(_) => continue,
            });
        }
    }

    /// Waits until the server closes the transport (after a close handshake).
    pub fn wait_eof(&mut self) {
        let mut chunk = [0u8; 1024];
        while self.stream.read(&mut chunk).expect("read until EOF") > 0 {}
    }
}
