//! Zero-copy decoding: [`parse_frame`] returns a [`Frame`] that borrows the input buffer; bodies are
//! verified FlatBuffers tables whose accessors read straight from it.

use flatbuffers::{Follow, Verifiable};

use super::error::FrameError;
use super::fragment::{parse_fragment_body, FragmentView};
use super::generated as fb;
use super::header::{parse_header, FrameLimits};
use super::kind::{Kind, Lane};
use super::soffset_guard::check_table_offsets;

/// A decoded frame borrowing the input buffer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Frame<'a> {
    /// The priority lane.
    pub lane: Lane,
    /// The verified body.
    pub body: Body<'a>,
}

/// A verified body, by kind. Each variant holds the generated FlatBuffers accessor for that kind's table
/// (`fb::*Body`), except [`Body::Fragment`].
#[derive(Clone, Copy, Debug, PartialEq)]
#[allow(missing_docs)] // Each variant is the kind of the same name.
pub enum Body<'a> {
    Hello(fb::HelloBody<'a>),
    Welcome(fb::WelcomeBody<'a>),
    Send(fb::SendBody<'a>),
    Ack(fb::AckBody<'a>),
    Deliver(fb::DeliverBody<'a>),
    Resume(fb::ResumeBody<'a>),
    Replay(fb::ReplayBody<'a>),
    Gap(fb::GapBody<'a>),
    Typing(fb::TypingBody<'a>),
    ReadReceipt(fb::ReadReceiptBody<'a>),
    Ticket(fb::TicketBody<'a>),
    Handoff(fb::HandoffBody<'a>),
    Error(fb::ErrorBody<'a>),
    Ping(fb::PingBody<'a>),
    Pong(fb::PongBody<'a>),
    HistoryQuery(fb::HistoryQueryBody<'a>),
    HistoryResult(fb::HistoryResultBody<'a>),
    Fragment(FragmentView<'a>),
    ConversationUpdate(fb::ConversationUpdateBody<'a>),
    Status(fb::StatusBody<'a>),
    Presence(fb::PresenceBody<'a>),
    Inbox(fb::InboxBody<'a>),
}

impl Frame<'_> {
    /// The frame kind.
    pub fn kind(&self) -> Kind {
        match self.body {
            Body::Hello(_) => Kind::Hello,
            Body::Welcome(_) => Kind::Welcome,
            Body::Send(_) => Kind::Send,
            Body::Ack(_) => Kind::Ack,
            Body::Deliver(_) => Kind::Deliver,
            Body::Resume(_) => Kind::Resume,
            Body::Replay(_) => Kind::Replay,
            Body::Gap(_) => Kind::Gap,
            Body::Typing(_) => Kind::Typing,
            Body::ReadReceipt(_) => Kind::ReadReceipt,
            Body::Ticket(_) => Kind::Ticket,
            Body::Handoff(_) => Kind::Handoff,
            Body::Error(_) => Kind::Error,
            Body::Ping(_) => Kind::Ping,
            Body::Pong(_) => Kind::Pong,
            Body::HistoryQuery(_) => Kind::HistoryQuery,
            Body::HistoryResult(_) => Kind::HistoryResult,
            Body::Fragment(_) => Kind::Fragment,
            Body::ConversationUpdate(_) => Kind::ConversationUpdate,
            Body::Status(_) => Kind::Status,
            Body::Presence(_) => Kind::Presence,
            Body::Inbox(_) => Kind::Inbox,
        }
    }
}

/// Parses one frame at the start of `input`.
///
/// Returns `Ok(Some((frame, consumed)))`, or `Ok(None)` when `input` holds only part of a frame (nothing
/// is consumed; call again with more bytes). Several frames may follow each other in one WebSocket
/// message; call again on `&input[consumed..]`. On an error with [`FrameError::skip_bytes`] the caller may
/// skip that many bytes and continue.
pub fn parse_frame<'a>(
    input: &'a [u8],
    limits: &FrameLimits,
) -> Result<Option<(Frame<'a>, usize)>, FrameError> {
    let Some(header) = parse_header(input, limits)? else {
        return Ok(None);
    };
    let body = &input[header.header_bytes..header.frame_bytes()];
    let body = parse_body(header.kind, body)?;
    Ok(Some((
        Frame {
            lane: header.lane,
            body,
        },
        header.frame_bytes(),
    )))
}

/// Verifies `body` as the table for `kind`.
pub fn parse_body(kind: Kind, body: &[u8]) -> Result<Body<'_>, FrameError> {
    if kind != Kind::Fragment {
        check_table_offsets(kind, body)?;
    }
    Ok(match kind {
        Kind::Hello => Body::Hello(root(kind, body)?),
        Kind::Welcome => Body::Welcome(root(kind, body)?),
        Kind::Send => Body::Send(root(kind, body)?),
        Kind::Ack => Body::Ack(root(kind, body)?),
        Kind::Deliver => Body::Deliver(root(kind, body)?),
        Kind::Resume => Body::Resume(root(kind, body)?),
        Kind::Replay => Body::Replay(root(kind, body)?),
        Kind::Gap => Body::Gap(root(kind, body)?),
        Kind::Typing => Body::Typing(root(kind, body)?),
        Kind::ReadReceipt => Body::ReadReceipt(root(kind, body)?),
        Kind::Ticket => Body::Ticket(root(kind, body)?),
        Kind::Handoff => Body::Handoff(root(kind, body)?),
        Kind::Error => Body::Error(root(kind, body)?),
        Kind::Ping => Body::Ping(root(kind, body)?),
        Kind::Pong => Body::Pong(root(kind, body)?),
        Kind::HistoryQuery => Body::HistoryQuery(root(kind, body)?),
        Kind::HistoryResult => Body::HistoryResult(root(kind, body)?),
        Kind::Fragment => Body::Fragment(parse_fragment_body(body)?),
        Kind::ConversationUpdate => Body::ConversationUpdate(root(kind, body)?),
        Kind::Status => Body::Status(root(kind, body)?),
        Kind::Presence => Body::Presence(root(kind, body)?),
        Kind::Inbox => Body::Inbox(root(kind, body)?),
    })
}

/// Runs the FlatBuffers verifier (default options: depth 64, one million tables) and returns the root table.
fn root<'a, T>(kind: Kind, body: &'a [u8]) -> Result<T, FrameError>
where
    T: Follow<'a, Inner = T> + Verifiable + 'a,
{
    flatbuffers::root::<T>(body).map_err(|error| FrameError::InvalidBody { kind, error })
}
