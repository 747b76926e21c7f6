//! The per-connection receive state machine: bytes in, [`Event`]s out.
//!
//! Drive it with [`MessageAssembler::handle_bytes`] and [`MessageAssembler::poll_event`]:
//!
//! ```
//! use switchboard_protocol::ws::{AssemblerLimits, Event, MessageAssembler, Role};
//!
//! let mut assembler = MessageAssembler::new(Role::Client, AssemblerLimits::default()).unwrap();
//! let received: &[u8] = &[0x81, 0x02, b'h', b'i', 0x89, 0x00];
//! let mut offset = 0;
//! let mut seen = Vec::new();
//! loop {
//!     offset += assembler.handle_bytes(&received[offset..]).expect("valid frames");
//!     match assembler.poll_event() {
//!         Some(Event::Text(text)) => seen.push(format!("text {text}")),
//!         Some(Event::Ping(payload)) => seen.push(format!("ping {payload:?}")),
//!         Some(other) => seen.push(format!("{other:?}")),
//!         None => break, // every byte consumed, no event pending: wait for the next read
//!     }
//! }
//! assert_eq!(seen, ["text hi", "ping []"]);
//! ```
//!
//! The assembler copies (and unmasks) payload bytes as they arrive, so the caller may split the input
//! anywhere and may reuse its read buffer as soon as `handle_bytes` returns; the events are the same as
//! for the whole input at once. Errors are detected as early as the bytes allow (fail fast).

use super::close::{parse_close_payload, CloseFrame};
use super::error::{LimitError, WsError};
use super::frame::{FrameHeader, OpCode, Role, CONTROL_PAYLOAD_BYTES_MAX, FRAME_HEADER_BYTES_MAX};
use super::limits::AssemblerLimits;
use super::mask::{copy_masked, for_each_masked_chunk};
use super::utf8::Utf8Validator;

/// Something the peer sent, borrowed from the assembler until the next `handle_bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// A complete text message, validated UTF-8.
    Text(&'a str),
    /// A complete binary message.
    Binary(&'a [u8]),
    /// A Ping; answer with a Pong carrying the same payload.
    Ping(&'a [u8]),
    /// A Pong (solicited or not).
    Pong(&'a [u8]),
    /// A Close frame; `None` when it carried no status code (1005). Echo a Close (e.g. the same code)
    /// and close the connection. The assembler ignores any bytes after it.
    Close(Option<CloseFrame<'a>>),
}

/// Kind of a data message being reassembled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MessageKind {
    Text,
    Binary,
}

/// An event that is complete and waits for `poll_event` (and then for release).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ready {
    Message(MessageKind),
    Control(OpCode),
}

/// A frame whose header was parsed and whose payload is still arriving.
#[derive(Debug, Clone, Copy)]
struct FrameInProgress {
    header: FrameHeader,
    /// Payload bytes of this frame received so far.
    payload_done: u64,
}

/// Reassembles messages from frames for one connection; see the [module docs](self) for the loop.
#[derive(Debug)]
pub struct MessageAssembler {
    role: Role,
    limits: AssemblerLimits,
    /// Bytes of a header that arrived split across calls.
    header_buf: [u8; FRAME_HEADER_BYTES_MAX],
    header_len: usize,
    frame: Option<FrameInProgress>,
    /// The data message being reassembled, from its first frame's header until it is released.
    message: Option<MessageKind>,
    message_buf: Vec<u8>,
    utf8: Utf8Validator,
    /// Payload of the current control frame; control frames may interleave fragments of a message.
    control_buf: [u8; CONTROL_PAYLOAD_BYTES_MAX],
    control_len: usize,
    ready: Option<Ready>,
    /// `poll_event` handed out `ready`; it is released at the next `handle_bytes`.
    ready_taken: bool,
    /// A Close frame was received and released: every later byte is ignored.
    closed: bool,
    /// The first error; the assembler is dead after it and keeps returning it.
    failed: Option<WsError>,
}

impl MessageAssembler {
    /// A new assembler for an endpoint in `role` (which decides the masking rule), after
    /// [`AssemblerLimits::validate`].
    pub fn new(role: Role, limits: AssemblerLimits) -> Result<Self, LimitError> {
        limits.validate()?;
        Ok(MessageAssembler {
            role,
            limits,
            header_buf: [0; FRAME_HEADER_BYTES_MAX],
            header_len: 0,
            frame: None,
            message: None,
            message_buf: Vec::new(),
            utf8: Utf8Validator::new(),
            control_buf: [0; CONTROL_PAYLOAD_BYTES_MAX],
            control_len: 0,
            ready: None,
            ready_taken: false,
            closed: false,
            failed: None,
        })
    }

    /// Whether a data message or a frame has started and not finished (the peer owes more bytes).
    pub fn in_message(&self) -> bool {
        let message_unfinished =
            self.message.is_some() && !matches!(self.ready, Some(Ready::Message(_)));
        message_unfinished || self.frame.is_some() || self.header_len > 0
    }

    /// Heap bytes held for the message being reassembled (the buffer's capacity, kept between messages).
    pub fn buffered_bytes(&self) -> usize {
        self.message_buf.capacity()
    }

    /// Consumes bytes from `input` and returns how many it took.
    ///
    /// Stops right after the frame that completes an event (fetch it with [`poll_event`]) or when
    /// `input` is exhausted. Returns `Ok(0)` while an event is waiting to be polled. The event handed out
    /// by the previous `poll_event` is released on entry. After a Close frame every byte is consumed and
    /// ignored. After an error the assembler is dead and returns the same error again; send a Close with
    /// [`WsError::close_code`].
    ///
    /// [`poll_event`]: MessageAssembler::poll_event
    pub fn handle_bytes(&mut self, input: &[u8]) -> Result<usize, WsError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        self.release_taken_event();
        let result = self.consume(input);
        if let Err(error) = &result {
            self.failed = Some(error.clone());
        }
        self.invariants();
        result
    }

    /// Hands out the completed event, once. Only `handle_bytes` can make a new event available.
    pub fn poll_event(&mut self) -> Option<Event<'_>> {
        if self.ready_taken {
            return None;
        }
        let ready = self.ready?;
        self.ready_taken = true;
        let control = &self.control_buf[..self.control_len];
        Some(match ready {
            Ready::Message(MessageKind::Text) => Event::Text(
                std::str::from_utf8(&self.message_buf)
                    .expect("text was validated while it arrived"),
            ),
            Ready::Message(MessageKind::Binary) => Event::Binary(&self.message_buf),
            Ready::Control(OpCode::Ping) => Event::Ping(control),
            Ready::Control(OpCode::Pong) => Event::Pong(control),
            Ready::Control(_) => {
                Event::Close(parse_close_payload(control).expect("close payload was validated"))
            }
        })
    }

    /// Whether a Close frame was received and its event released; later bytes are ignored.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// The role given at construction.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Checks internal consistency (debug builds only).
    pub fn invariants(&self) {
        debug_assert!(self.header_len < FRAME_HEADER_BYTES_MAX);
        debug_assert!(self.control_len <= CONTROL_PAYLOAD_BYTES_MAX);
        debug_assert!(self.message_buf.len() <= self.limits.message_bytes_max);
        debug_assert!(!self.ready_taken || self.ready.is_some());
        debug_assert!(self.header_len == 0 || self.frame.is_none());
        if let Some(frame) = &self.frame {
            debug_assert!(frame.payload_done <= frame.header.payload_len);
        }
    }

    fn release_taken_event(&mut self) {
        if !self.ready_taken {
            return;
        }
        match self.ready.take() {
            Some(Ready::Message(_)) => {
                self.message = None;
                self.message_buf.clear();
                self.message_buf
                    .shrink_to(self.limits.retained_buffer_bytes_max);
            }
            Some(Ready::Control(OpCode::Close)) => self.closed = true,
            _ => {}
        }
        self.ready_taken = false;
    }

    fn consume(&mut self, input: &[u8]) -> Result<usize, WsError> {
        if self.closed {
            return Ok(input.len());
        }
        let mut consumed = 0;
        while self.ready.is_none() {
            if self.frame.is_none() {
                if consumed == input.len() {
                    break;
                }
                consumed += self.read_header(&input[consumed..])?;
            } else {
                consumed += self.read_payload(&input[consumed..])?;
                if self.frame.is_some() {
                    break;
                }
            }
        }
        Ok(consumed)
    }

    /// Buffers header bytes until a whole header parses; returns the input bytes used.
    fn read_header(&mut self, input: &[u8]) -> Result<usize, WsError> {
        let old_len = self.header_len;
        let take = input.len().min(FRAME_HEADER_BYTES_MAX - old_len);
        self.header_buf[old_len..old_len + take].copy_from_slice(&input[..take]);
        match FrameHeader::parse(&self.header_buf[..old_len + take], self.role)? {
            None => {
                self.header_len = old_len + take;
                Ok(take)
            }
            Some((header, header_len)) => {
                self.header_len = 0;
                self.start_frame(header)?;
                Ok(header_len - old_len)
            }
        }
    }

    /// Applies the limits and fragmentation rules to a new header.
    fn start_frame(&mut self, header: FrameHeader) -> Result<(), WsError> {
        let max = self.limits.frame_payload_bytes_max;
        if header.payload_len > max as u64 {
            return Err(WsError::FramePayloadTooLarge {
                len: header.payload_len,
                max,
            });
        }
        let kind = match header.opcode {
            OpCode::Continuation if self.message.is_none() => {
                return Err(WsError::UnexpectedContinuation)
            }
            OpCode::Text | OpCode::Binary if self.message.is_some() => {
                return Err(WsError::ExpectedContinuation)
            }
            OpCode::Text => Some(MessageKind::Text),
            OpCode::Binary => Some(MessageKind::Binary),
            OpCode::Continuation => None,
            OpCode::Close | OpCode::Ping | OpCode::Pong => {
                self.control_len = 0;
                self.frame = Some(FrameInProgress {
                    header,
                    payload_done: 0,
                });
                return Ok(());
            }
        };
        let len = self.message_buf.len() as u64 + header.payload_len;
        if len > self.limits.message_bytes_max as u64 {
            return Err(WsError::MessageTooLarge {
                len,
                max: self.limits.message_bytes_max,
            });
        }
        if let Some(kind) = kind {
            self.message = Some(kind);
            self.utf8.reset();
        }
        self.frame = Some(FrameInProgress {
            header,
            payload_done: 0,
        });
        Ok(())
    }

    /// Copies and unmasks payload bytes; finishes the frame when its payload is complete.
    fn read_payload(&mut self, input: &[u8]) -> Result<usize, WsError> {
        let frame = self.frame.as_mut().expect("read_payload needs a frame");
        let remaining = frame.header.payload_len - frame.payload_done;
        let take = remaining.min(input.len() as u64) as usize;
        let offset = frame.payload_done as usize;
        let chunk = &input[..take];
        let target = if frame.header.opcode.is_control() {
            let start = self.control_len;
            self.control_len += take;
            let target = &mut self.control_buf[start..start + take];
            match frame.header.mask {
                Some(key) => copy_masked(target, chunk, key, offset),
                None => target.copy_from_slice(chunk),
            }
            target
        } else {
            // Appended, never zeroed first (see `for_each_masked_chunk`).
            let start = self.message_buf.len();
            let buf = &mut self.message_buf;
            match frame.header.mask {
                Some(key) => {
                    for_each_masked_chunk(chunk, key, offset, |c| buf.extend_from_slice(c))
                }
                None => buf.extend_from_slice(chunk),
            }
            &mut self.message_buf[start..]
        };
        if !frame.header.opcode.is_control() && self.message == Some(MessageKind::Text) {
            self.utf8.feed(target).map_err(|_| WsError::InvalidUtf8)?;
        }
        frame.payload_done += take as u64;
        if frame.payload_done == frame.header.payload_len {
            let header = frame.header;
            self.frame = None;
            self.finish_frame(header)?;
        }
        Ok(take)
    }

    fn finish_frame(&mut self, header: FrameHeader) -> Result<(), WsError> {
        match header.opcode {
            OpCode::Close => {
                parse_close_payload(&self.control_buf[..self.control_len])?;
                self.ready = Some(Ready::Control(OpCode::Close));
            }
            OpCode::Ping | OpCode::Pong => self.ready = Some(Ready::Control(header.opcode)),
            OpCode::Text | OpCode::Binary | OpCode::Continuation => {
                if header.fin {
                    let kind = self.message.expect("a data frame belongs to a message");
                    if kind == MessageKind::Text {
                        self.utf8.finish().map_err(|_| WsError::InvalidUtf8)?;
                    }
                    self.ready = Some(Ready::Message(kind));
                }
            }
        }
        Ok(())
    }
}
