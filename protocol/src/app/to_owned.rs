//! Converting a borrowed [`Frame`] into the owned model (for tests, the JSON bridge and slow paths).

use super::codes::{
    ConversationState, ErrorCode, GapReason, PresenceState, SenderRole, StatusMode, TicketStatus,
};
use super::generated as fb;
use super::model::*;
use super::view::{Body, Frame};

impl Frame<'_> {
    /// An owned copy of this frame.
    pub fn to_owned_frame(&self) -> OwnedFrame {
        OwnedFrame {
            lane: self.lane,
            message: self.body.to_message(),
        }
    }
}

/// An absent string reads as "".
fn text(value: Option<&str>) -> String {
    value.unwrap_or_default().to_owned()
}

/// The owned `Ticket` for a `TicketBody` table (a frame's body or an inbox element).
fn ticket(body: &fb::TicketBody<'_>) -> Ticket {
    Ticket {
        ticket_id: body.ticket_id(),
        conversation_id: body.conversation_id(),
        status: TicketStatus(body.status()),
        subject: text(body.subject()),
        agent_group: text(body.agent_group()),
        agent_id: body.agent_id(),
        note: text(body.note()),
    }
}

/// The owned `InboxEntry` for an `InboxEntry` table.
fn inbox_entry(entry: &fb::InboxEntry<'_>) -> InboxEntry {
    InboxEntry {
        conversation_id: entry.conversation_id(),
        customer_id: entry.customer_id(),
        state: ConversationState(entry.state()),
        agent_id: entry.agent_id(),
        agent_group: text(entry.agent_group()),
        last_sequence: entry.last_sequence(),
        unread: entry.unread(),
        waiting_ms: entry.waiting_ms(),
        position: entry.position(),
    }
}

/// The owned `Deliver` for a `DeliverBody` table.
fn deliver(body: &fb::DeliverBody<'_>) -> Deliver {
    Deliver {
        conversation_id: body.conversation_id(),
        sequence: body.sequence(),
        message_id: MessageId::from_halves(body.message_id_hi(), body.message_id_lo()),
        sender_id: body.sender_id(),
        sender_role: SenderRole(body.sender_role()),
        sent_at_ms: body.sent_at_ms(),
        text: text(body.text()),
    }
}

impl Body<'_> {
    /// An owned copy of this body.
    pub fn to_message(&self) -> Message {
        match self {
            Body::Hello(b) => Message::Hello(Hello {
                protocol_version: b.protocol_version(),
                auth_token: text(b.auth_token()),
                resume_token: text(b.resume_token()),
            }),
            Body::Welcome(b) => Message::Welcome(Welcome {
                protocol_version: b.protocol_version(),
                heartbeat_interval_ms: b.heartbeat_interval_ms(),
                resume_token: text(b.resume_token()),
                server_time_ms: b.server_time_ms(),
            }),
            Body::Send(b) => Message::Send(SendMessage {
                message_id: MessageId::from_halves(b.message_id_hi(), b.message_id_lo()),
                conversation_id: b.conversation_id(),
                text: text(b.text()),
            }),
            Body::Ack(b) => Message::Ack(Ack {
                message_id: MessageId::from_halves(b.message_id_hi(), b.message_id_lo()),
                conversation_id: b.conversation_id(),
                sequence: b.sequence(),
            }),
            Body::Deliver(b) => Message::Deliver(deliver(b)),
            Body::Resume(b) => Message::Resume(Resume {
                resume_token: text(b.resume_token()),
                positions: b
                    .positions()
                    .map(|positions| {
                        positions
                            .iter()
                            .map(|p| ResumePosition {
                                conversation_id: p.conversation_id(),
                                last_sequence: p.last_sequence(),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            }),
            Body::HistoryResult(b) => Message::HistoryResult(HistoryResult {
                query_id: b.query_id(),
                conversation_id: b.conversation_id(),
                messages: b
                    .messages()
                    .map(|list| list.iter().map(|m| deliver(&m)).collect())
                    .unwrap_or_default(),
                has_more: b.has_more() != 0,
            }),
            Body::Fragment(f) => Message::Fragment(f.to_owned_fragment()),
            other => other.to_simple_message(),
        }
    }

    /// The bodies without strings or vectors.
    fn to_simple_message(self) -> Message {
        match self {
            Body::Replay(b) => Message::Replay(Replay {
                conversation_id: b.conversation_id(),
                from_sequence: b.from_sequence(),
                to_sequence: b.to_sequence(),
            }),
            Body::Gap(b) => Message::Gap(Gap {
                conversation_id: b.conversation_id(),
                from_sequence: b.from_sequence(),
                to_sequence: b.to_sequence(),
                reason: GapReason(b.reason()),
            }),
            Body::Typing(b) => Message::Typing(Typing {
                conversation_id: b.conversation_id(),
                user_id: b.user_id(),
                active: b.active() != 0,
            }),
            Body::ReadReceipt(b) => Message::ReadReceipt(ReadReceipt {
                conversation_id: b.conversation_id(),
                user_id: b.user_id(),
                sequence: b.sequence(),
            }),
            Body::Ping(b) => Message::Ping(Ping {
                timestamp_ms: b.timestamp_ms(),
                heartbeat_interval_ms: b.heartbeat_interval_ms(),
            }),
            Body::Pong(b) => Message::Pong(Pong {
                ping_timestamp_ms: b.ping_timestamp_ms(),
                timestamp_ms: b.timestamp_ms(),
            }),
            Body::HistoryQuery(b) => Message::HistoryQuery(HistoryQuery {
                query_id: b.query_id(),
                conversation_id: b.conversation_id(),
                before_sequence: b.before_sequence(),
                limit: b.limit(),
            }),
            other => other.to_text_message(),
        }
    }

    /// The remaining bodies with strings.
    fn to_text_message(self) -> Message {
        match self {
            Body::Ticket(b) => Message::Ticket(ticket(&b)),
            Body::Handoff(b) => Message::Handoff(Handoff {
                conversation_id: b.conversation_id(),
                agent_id: b.agent_id(),
                agent_group: text(b.agent_group()),
                reason: text(b.reason()),
            }),
            Body::Error(b) => Message::Error(ErrorReport {
                code: ErrorCode(b.code()),
                message: text(b.message()),
                retry_after_ms: b.retry_after_ms(),
            }),
            Body::ConversationUpdate(b) => Message::ConversationUpdate(ConversationUpdate {
                conversation_id: b.conversation_id(),
                state: ConversationState(b.state()),
                agent_id: b.agent_id(),
                agent_group: text(b.agent_group()),
                reason: text(b.reason()),
            }),
            Body::Status(b) => Message::Status(Status {
                mode: StatusMode(b.mode()),
                retry_after_ms: b.retry_after_ms(),
                message: text(b.message()),
            }),
            Body::Presence(b) => Message::Presence(Presence {
                user_id: b.user_id(),
                presence: PresenceState(b.presence()),
                reason: text(b.reason()),
            }),
            Body::Inbox(b) => Message::Inbox(Inbox {
                agent_id: b.agent_id(),
                presence: PresenceState(b.presence()),
                assigned: b
                    .assigned()
                    .map(|list| list.iter().map(|e| inbox_entry(&e)).collect())
                    .unwrap_or_default(),
                queued: b
                    .queued()
                    .map(|list| list.iter().map(|e| inbox_entry(&e)).collect())
                    .unwrap_or_default(),
                tickets: b
                    .tickets()
                    .map(|list| list.iter().map(|t| ticket(&t)).collect())
                    .unwrap_or_default(),
            }),
            other => unreachable!("{other:?} is converted by Body::to_message"),
        }
    }
}
