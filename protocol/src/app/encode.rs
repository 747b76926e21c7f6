//! The binary encoder: builds a body in a reusable `FlatBufferBuilder`, then appends header and body to the
//! caller's buffer. After warm-up an `Encoder` allocates nothing per frame beyond growth of `out`.

use flatbuffers::{FlatBufferBuilder, WIPOffset};

use super::fragment::encode_fragment;
use super::generated as fb;
use super::header::encode_header;
use super::kind::Lane;
use super::model::{Deliver, Inbox, InboxEntry, Message, OwnedFrame, Ticket};

/// Encodes frames into caller buffers. Keep one per connection (or per shard) and reuse it.
pub struct Encoder {
    /// The FlatBuffers builder, reset before every body.
    builder: FlatBufferBuilder<'static>,
    /// Scratch list of table offsets for vectors of `DeliverBody`.
    deliver_offsets: Vec<WIPOffset<fb::DeliverBody<'static>>>,
    /// Scratch list of table offsets for vectors of `ResumePosition`.
    position_offsets: Vec<WIPOffset<fb::ResumePosition<'static>>>,
    /// Scratch list of table offsets for vectors of `InboxEntry`.
    entry_offsets: Vec<WIPOffset<fb::InboxEntry<'static>>>,
    /// Scratch list of table offsets for vectors of `TicketBody`.
    ticket_offsets: Vec<WIPOffset<fb::TicketBody<'static>>>,
}

impl Default for Encoder {
    fn default() -> Self {
        Encoder::new()
    }
}

impl Encoder {
    /// An encoder with a 1 KiB builder (it grows to the largest body seen and stays there).
    pub fn new() -> Encoder {
        Encoder {
            builder: FlatBufferBuilder::with_capacity(1024),
            deliver_offsets: Vec::new(),
            position_offsets: Vec::new(),
            entry_offsets: Vec::new(),
            ticket_offsets: Vec::new(),
        }
    }

    /// Appends the binary encoding of `frame` (header and body) to `out`.
    pub fn encode(&mut self, frame: &OwnedFrame, out: &mut Vec<u8>) {
        self.encode_message(frame.lane, &frame.message, out);
    }

    /// Appends the binary encoding of `message` on `lane` to `out`.
    pub fn encode_message(&mut self, lane: Lane, message: &Message, out: &mut Vec<u8>) {
        if let Message::Fragment(fragment) = message {
            encode_fragment(lane, fragment.into(), out);
            return;
        }
        self.builder.reset();
        self.build_body(message);
        let body = self.builder.finished_data();
        encode_header(message.kind(), lane, body.len(), out);
        out.extend_from_slice(body);
    }

    /// Builds and finishes the FlatBuffers body of a non-fragment message.
    fn build_body(&mut self, message: &Message) {
        let b = &mut self.builder;
        match message {
            Message::Hello(m) => {
                let auth_token = string(b, &m.auth_token);
                let resume_token = string(b, &m.resume_token);
                let args = fb::HelloBodyArgs {
                    protocol_version: m.protocol_version,
                    auth_token,
                    resume_token,
                };
                let root = fb::HelloBody::create(b, &args);
                b.finish_minimal(root);
            }
            Message::Welcome(m) => {
                let resume_token = string(b, &m.resume_token);
                let args = fb::WelcomeBodyArgs {
                    protocol_version: m.protocol_version,
                    heartbeat_interval_ms: m.heartbeat_interval_ms,
                    resume_token,
                    server_time_ms: m.server_time_ms,
                };
                let root = fb::WelcomeBody::create(b, &args);
                b.finish_minimal(root);
            }
            Message::Send(m) => {
                let (message_id_hi, message_id_lo) = m.message_id.to_halves();
                let text = string(b, &m.text);
                let args = fb::SendBodyArgs {
                    message_id_hi,
                    message_id_lo,
                    conversation_id: m.conversation_id,
                    text,
                };
                let root = fb::SendBody::create(b, &args);
                b.finish_minimal(root);
            }
            Message::Ack(m) => {
                let (message_id_hi, message_id_lo) = m.message_id.to_halves();
                let args = fb::AckBodyArgs {
                    message_id_hi,
                    message_id_lo,
                    conversation_id: m.conversation_id,
                    sequence: m.sequence,
                };
                let root = fb::AckBody::create(b, &args);
                b.finish_minimal(root);
            }
            Message::Deliver(m) => {
                let root = deliver(b, m);
                b.finish_minimal(root);
            }
            Message::Resume(m) => self.build_resume(m),
            Message::HistoryResult(m) => self.build_history_result(m),
            Message::Inbox(m) => self.build_inbox(m),
            Message::Fragment(_) => unreachable!("fragments have no FlatBuffers body"),
            other => build_simple_body(b, other),
        }
    }

    /// Builds a `ResumeBody` using the scratch offset list.
    fn build_resume(&mut self, m: &super::model::Resume) {
        let b = &mut self.builder;
        self.position_offsets.clear();
        for position in &m.positions {
            let args = fb::ResumePositionArgs {
                conversation_id: position.conversation_id,
                last_sequence: position.last_sequence,
            };
            self.position_offsets
                .push(fb::ResumePosition::create(b, &args));
        }
        let positions = Some(b.create_vector(&self.position_offsets));
        let resume_token = string(b, &m.resume_token);
        let root = fb::ResumeBody::create(
            b,
            &fb::ResumeBodyArgs {
                resume_token,
                positions,
            },
        );
        b.finish_minimal(root);
    }

    /// Builds an `InboxBody` using the scratch offset lists.
    fn build_inbox(&mut self, m: &Inbox) {
        let b = &mut self.builder;
        self.entry_offsets.clear();
        self.entry_offsets
            .extend(m.assigned.iter().map(|e| inbox_entry(b, e)));
        let assigned = Some(b.create_vector(&self.entry_offsets));
        self.entry_offsets.clear();
        self.entry_offsets
            .extend(m.queued.iter().map(|e| inbox_entry(b, e)));
        let queued = Some(b.create_vector(&self.entry_offsets));
        self.ticket_offsets.clear();
        self.ticket_offsets
            .extend(m.tickets.iter().map(|t| ticket(b, t)));
        let tickets = Some(b.create_vector(&self.ticket_offsets));
        let args = fb::InboxBodyArgs {
            agent_id: m.agent_id,
            presence: m.presence.0,
            assigned,
            queued,
            tickets,
        };
        let root = fb::InboxBody::create(b, &args);
        b.finish_minimal(root);
    }

    /// Builds a `HistoryResultBody` using the scratch offset list.
    fn build_history_result(&mut self, m: &super::model::HistoryResult) {
        let b = &mut self.builder;
        self.deliver_offsets.clear();
        for message in &m.messages {
            self.deliver_offsets.push(deliver(b, message));
        }
        let messages = Some(b.create_vector(&self.deliver_offsets));
        let args = fb::HistoryResultBodyArgs {
            query_id: m.query_id,
            conversation_id: m.conversation_id,
            messages,
            has_more: u8::from(m.has_more),
        };
        let root = fb::HistoryResultBody::create(b, &args);
        b.finish_minimal(root);
    }
}

/// An absent string for "", so empty optional strings cost nothing on the wire.
fn string<'fbb>(b: &mut FlatBufferBuilder<'fbb>, value: &str) -> Option<WIPOffset<&'fbb str>> {
    (!value.is_empty()).then(|| b.create_string(value))
}

/// Builds a `DeliverBody` table (as a root or as a vector element).
fn deliver<'fbb>(b: &mut FlatBufferBuilder<'fbb>, m: &Deliver) -> WIPOffset<fb::DeliverBody<'fbb>> {
    let (message_id_hi, message_id_lo) = m.message_id.to_halves();
    let text = string(b, &m.text);
    let args = fb::DeliverBodyArgs {
        conversation_id: m.conversation_id,
        sequence: m.sequence,
        message_id_hi,
        message_id_lo,
        sender_id: m.sender_id,
        sender_role: m.sender_role.0,
        sent_at_ms: m.sent_at_ms,
        text,
    };
    fb::DeliverBody::create(b, &args)
}

/// Builds a `TicketBody` table (as a root or as an inbox element).
fn ticket<'fbb>(b: &mut FlatBufferBuilder<'fbb>, m: &Ticket) -> WIPOffset<fb::TicketBody<'fbb>> {
    let subject = string(b, &m.subject);
    let agent_group = string(b, &m.agent_group);
    let note = string(b, &m.note);
    let args = fb::TicketBodyArgs {
        ticket_id: m.ticket_id,
        conversation_id: m.conversation_id,
        status: m.status.0,
        subject,
        agent_group,
        agent_id: m.agent_id,
        note,
    };
    fb::TicketBody::create(b, &args)
}

/// Builds an `InboxEntry` table.
fn inbox_entry<'fbb>(
    b: &mut FlatBufferBuilder<'fbb>,
    m: &InboxEntry,
) -> WIPOffset<fb::InboxEntry<'fbb>> {
    let agent_group = string(b, &m.agent_group);
    let args = fb::InboxEntryArgs {
        conversation_id: m.conversation_id,
        customer_id: m.customer_id,
        state: m.state.0,
        agent_id: m.agent_id,
        agent_group,
        last_sequence: m.last_sequence,
        unread: m.unread,
        waiting_ms: m.waiting_ms,
        position: m.position,
    };
    fb::InboxEntry::create(b, &args)
}

/// Builds the bodies that need no scratch state.
fn build_simple_body(b: &mut FlatBufferBuilder<'static>, message: &Message) {
    match message {
        Message::Replay(m) => {
            let args = fb::ReplayBodyArgs {
                conversation_id: m.conversation_id,
                from_sequence: m.from_sequence,
                to_sequence: m.to_sequence,
            };
            let root = fb::ReplayBody::create(b, &args);
            b.finish_minimal(root);
        }
        Message::Gap(m) => {
            let args = fb::GapBodyArgs {
                conversation_id: m.conversation_id,
                from_sequence: m.from_sequence,
                to_sequence: m.to_sequence,
                reason: m.reason.0,
            };
            let root = fb::GapBody::create(b, &args);
            b.finish_minimal(root);
        }
        Message::Typing(m) => {
            let args = fb::TypingBodyArgs {
                conversation_id: m.conversation_id,
                user_id: m.user_id,
                active: u8::from(m.active),
            };
            let root = fb::TypingBody::create(b, &args);
            b.finish_minimal(root);
        }
        Message::ReadReceipt(m) => {
            let args = fb::ReadReceiptBodyArgs {
                conversation_id: m.conversation_id,
                user_id: m.user_id,
                sequence: m.sequence,
            };
            let root = fb::ReadReceiptBody::create(b, &args);
            b.finish_minimal(root);
        }
        other => build_text_body(b, other),
    }
}

/// Builds the bodies of errors, heartbeats and history queries.
fn build_text_body(b: &mut FlatBufferBuilder<'static>, message: &Message) {
    match message {
        Message::Error(m) => {
            let text = string(b, &m.message);
            let args = fb::ErrorBodyArgs {
                code: m.code.0,
                message: text,
                retry_after_ms: m.retry_after_ms,
            };
            let root = fb::ErrorBody::create(b, &args);
            b.finish_minimal(root);
        }
        Message::Ping(m) => {
            let args = fb::PingBodyArgs {
                timestamp_ms: m.timestamp_ms,
                heartbeat_interval_ms: m.heartbeat_interval_ms,
            };
            let root = fb::PingBody::create(b, &args);
            b.finish_minimal(root);
        }
        Message::Pong(m) => {
            let args = fb::PongBodyArgs {
                ping_timestamp_ms: m.ping_timestamp_ms,
                timestamp_ms: m.timestamp_ms,
            };
            let root = fb::PongBody::create(b, &args);
            b.finish_minimal(root);
        }
        Message::HistoryQuery(m) => {
            let args = fb::HistoryQueryBodyArgs {
                query_id: m.query_id,
                conversation_id: m.conversation_id,
                before_sequence: m.before_sequence,
                limit: m.limit,
            };
            let root = fb::HistoryQueryBody::create(b, &args);
            b.finish_minimal(root);
        }
        other => build_notice_body(b, other),
    }
}

/// Builds the bodies of the urgent notices: tickets, handoffs, conversation updates, status.
fn build_notice_body(b: &mut FlatBufferBuilder<'static>, message: &Message) {
    match message {
        Message::Ticket(m) => {
            let root = ticket(b, m);
            b.finish_minimal(root);
        }
        Message::Presence(m) => {
            let reason = string(b, &m.reason);
            let args = fb::PresenceBodyArgs {
                user_id: m.user_id,
                presence: m.presence.0,
                reason,
            };
            let root = fb::PresenceBody::create(b, &args);
            b.finish_minimal(root);
        }
        Message::Handoff(m) => {
            let agent_group = string(b, &m.agent_group);
            let reason = string(b, &m.reason);
            let args = fb::HandoffBodyArgs {
                conversation_id: m.conversation_id,
                agent_id: m.agent_id,
                agent_group,
                reason,
            };
            let root = fb::HandoffBody::create(b, &args);
            b.finish_minimal(root);
        }
        Message::ConversationUpdate(m) => {
            let agent_group = string(b, &m.agent_group);
            let reason = string(b, &m.reason);
            let args = fb::ConversationUpdateBodyArgs {
                conversation_id: m.conversation_id,
                state: m.state.0,
                agent_id: m.agent_id,
                agent_group,
                reason,
            };
            let root = fb::ConversationUpdateBody::create(b, &args);
            b.finish_minimal(root);
        }
        Message::Status(m) => {
            let text = string(b, &m.message);
            let args = fb::StatusBodyArgs {
                mode: m.mode.0,
                retry_after_ms: m.retry_after_ms,
                message: text,
            };
            let root = fb::StatusBody::create(b, &args);
            b.finish_minimal(root);
        }
        other => unreachable!("{:?} is built by Encoder::build_body", other.kind()),
    }
}
