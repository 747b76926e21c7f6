//! The shard's side of a [`ChatCore`](crate::chat::ChatCore): its connection table as the core's
//! [`Host`] (queueing bytes on a connection marks it for this tick's flush), the overload detector as
//! its admission policy, and the shard's clocks.

use bytes::Bytes;
use switchboard_core::engine::ConnId;
use switchboard_protocol::app::{Lane, Message, OwnedFrame};

use super::{mark, process_us, wall_ms};
use crate::auth::{Claims, Role};
use crate::chat::messages::Request;
use crate::chat::shard::{Admitting, Host};
use crate::chat::{ConsoleRequest, Encoding, Session};
use crate::conn::DataKind;
use crate::overload::{OverloadDetector, RequestClass};
use crate::server::table::Table;

/// The shard's connections for one call into the core.
pub(super) struct ShardHost<'a> {
    pub(super) table: &'a mut Table,
    pub(super) dirty: &'a mut Vec<ConnId>,
    pub(super) overload: &'a OverloadDetector,
    /// The shard's clock, milliseconds.
    pub(super) now: u64,
}

impl Host for ShardHost<'_> {
    fn session(&mut self, conn: ConnId) -> Option<&mut Session> {
        self.table.get_mut(conn)?.session.as_deref_mut()
    }

    fn send(&mut self, conn: ConnId, lane: Lane, encoding: Encoding, bytes: Bytes) {
        let Some(entry) = self.table.get_mut(conn) else {
            return;
        };
        let kind = match encoding {
            Encoding::Binary => DataKind::Binary,
            Encoding::Json => DataKind::Text,
        };
        // A full queue closes the connection (1013); the client resumes from its last sequence.
        let _ = entry.conn.send(lane, kind, bytes, self.now);
        mark(entry, self.dirty);
    }

    fn close(&mut self, conn: ConnId, code: u16) {
        if let Some(entry) = self.table.get_mut(conn) {
            entry.conn.close(code, self.now);
            mark(entry, self.dirty);
        }
    }

    fn queued_bytes(&self, conn: ConnId) -> usize {
        self.table
            .get(conn)
            .map_or(0, |entry| entry.conn.queued_bytes())
    }

    fn admit(&mut self, what: Admitting<'_>, principal: &Claims) -> Result<(), OwnedFrame> {
        let class = match what {
            Admitting::Request(request) => request_class(request, principal),
            Admitting::Console(request) => console_class(request),
        };
        self.overload
            .admit(class)
            .map_err(|refusal| OwnedFrame::new(Message::Error(refusal.error_report())))
    }

    fn now_ms(&self) -> u64 {
        self.now
    }

    fn wall_ms(&self) -> u64 {
        wall_ms()
    }

    fn clock_us(&self) -> u64 {
        process_us()
    }
}

/// The admission class of a request: a customer's chat send is a ticket-bearing message only through the
/// bot, so only agents' and the bot's sends count as handoff traffic here.
fn request_class(request: &Request, principal: &Claims) -> RequestClass {
    match request {
        Request::Send { .. } if principal.role == Role::Agent => RequestClass::Handoff,
        Request::Send { .. } => RequestClass::ChatSend,
        Request::Resume { .. } => RequestClass::Resume,
        Request::History { .. } => RequestClass::HistoryQuery,
        Request::Typing { .. } => RequestClass::Typing,
        Request::Read { .. } => RequestClass::ReadReceipt,
        Request::Update { .. } => RequestClass::Handoff,
        Request::Ticket { .. } => RequestClass::Ticket,
    }
}

/// The admission class of a console request: presence changes who takes conversations (handoff
/// traffic, served in survival so agents can come back); an inbox is a read, like a resume.
fn console_class(request: ConsoleRequest) -> RequestClass {
    match request {
        ConsoleRequest::Presence(_) => RequestClass::Handoff,
        ConsoleRequest::Inbox => RequestClass::Resume,
    }
}
