//! Writing frames as `switchboard.json.v1` text.

use std::io::Write as _;

use base64::Engine as _;

use crate::app::model::*;

/// Appends the JSON text of `frame` to `out`.
pub fn encode_json(frame: &OwnedFrame, out: &mut Vec<u8>) {
    let mut object = Object::open(out);
    object.str("kind", frame.message.kind().name());
    object.str("lane", frame.lane.name());
    write_message(&mut object, &frame.message);
    object.close();
}

/// Writes the fields of a message into an open object.
fn write_message(o: &mut Object<'_>, message: &Message) {
    match message {
        Message::Hello(m) => {
            o.number("protocol_version", m.protocol_version.into());
            o.text("auth_token", &m.auth_token);
            o.text("resume_token", &m.resume_token);
        }
        Message::Welcome(m) => {
            o.number("protocol_version", m.protocol_version.into());
            o.number("heartbeat_interval_ms", m.heartbeat_interval_ms.into());
            o.text("resume_token", &m.resume_token);
            o.number("server_time_ms", m.server_time_ms);
        }
        Message::Send(m) => {
            o.message_id("message_id", &m.message_id);
            o.id("conversation_id", m.conversation_id);
            o.text("text", &m.text);
        }
        Message::Ack(m) => {
            o.message_id("message_id", &m.message_id);
            o.id("conversation_id", m.conversation_id);
            o.number("sequence", m.sequence);
        }
        Message::Deliver(m) => write_deliver(o, m),
        Message::Resume(m) => {
            o.text("resume_token", &m.resume_token);
            o.key("positions");
            o.out.push(b'[');
            for (index, position) in m.positions.iter().enumerate() {
                if index > 0 {
                    o.out.push(b',');
                }
                let mut inner = Object::open(o.out);
                inner.id("conversation_id", position.conversation_id);
                inner.number("last_sequence", position.last_sequence);
                inner.close();
            }
            o.out.push(b']');
        }
        Message::Replay(m) => {
            o.id("conversation_id", m.conversation_id);
            o.number("from_sequence", m.from_sequence);
            o.number("to_sequence", m.to_sequence);
        }
        Message::Gap(m) => {
            o.id("conversation_id", m.conversation_id);
            o.number("from_sequence", m.from_sequence);
            o.number("to_sequence", m.to_sequence);
            o.open_enum("reason", m.reason.name(), m.reason.0.into());
        }
        Message::Typing(m) => {
            o.id("conversation_id", m.conversation_id);
            o.id("user_id", m.user_id);
            o.boolean("active", m.active);
        }
        Message::ReadReceipt(m) => {
            o.id("conversation_id", m.conversation_id);
            o.id("user_id", m.user_id);
            o.number("sequence", m.sequence);
        }
        other => write_other(o, other),
    }
}

/// Writes the remaining kinds.
fn write_other(o: &mut Object<'_>, message: &Message) {
    match message {
        Message::Ticket(m) => write_ticket(o, m),
        Message::Handoff(m) => {
            o.id("conversation_id", m.conversation_id);
            o.id("agent_id", m.agent_id);
            o.text("agent_group", &m.agent_group);
            o.text("reason", &m.reason);
        }
        Message::Error(m) => {
            o.open_enum("code", m.code.name(), m.code.0.into());
            o.text("message", &m.message);
            if let Some(retry_after_ms) = m.retry_after_ms {
                o.number("retry_after_ms", retry_after_ms.into());
            }
        }
        Message::Ping(m) => {
            o.number("timestamp_ms", m.timestamp_ms);
            if let Some(interval) = m.heartbeat_interval_ms {
                o.number("heartbeat_interval_ms", interval.into());
            }
        }
        Message::Pong(m) => {
            o.number("ping_timestamp_ms", m.ping_timestamp_ms);
            o.number("timestamp_ms", m.timestamp_ms);
        }
        Message::HistoryQuery(m) => {
            o.number("query_id", m.query_id.into());
            o.id("conversation_id", m.conversation_id);
            o.number("before_sequence", m.before_sequence);
            o.number("limit", m.limit.into());
        }
        Message::HistoryResult(m) => {
            o.number("query_id", m.query_id.into());
            o.id("conversation_id", m.conversation_id);
            o.key("messages");
            o.out.push(b'[');
            for (index, deliver) in m.messages.iter().enumerate() {
                if index > 0 {
                    o.out.push(b',');
                }
                let mut inner = Object::open(o.out);
                write_deliver(&mut inner, deliver);
                inner.close();
            }
            o.out.push(b']');
            o.boolean("has_more", m.has_more);
        }
        Message::Fragment(m) => {
            o.id("fragment_id", m.fragment_id);
            o.number("index", m.index.into());
            o.number("count", m.count.into());
            o.number("total_bytes", m.total_bytes.into());
            o.key("data");
            o.out.push(b'"');
            let encoded_bytes =
                base64::encoded_len(m.data.len(), true).expect("fragment fits memory");
            let start = o.out.len();
            o.out.resize(start + encoded_bytes, 0);
            let written = base64::engine::general_purpose::STANDARD
                .encode_slice(&m.data, &mut o.out[start..])
                .expect("buffer sized by encoded_len");
            debug_assert_eq!(written, encoded_bytes);
            o.out.push(b'"');
        }
        other => write_state_notice(o, other),
    }
}

/// Writes the conversation and shard state notices.
fn write_state_notice(o: &mut Object<'_>, message: &Message) {
    match message {
        Message::ConversationUpdate(m) => {
            o.id("conversation_id", m.conversation_id);
            o.open_enum("state", m.state.name(), m.state.0.into());
            o.id("agent_id", m.agent_id);
            o.text("agent_group", &m.agent_group);
            o.text("reason", &m.reason);
        }
        Message::Status(m) => {
            o.open_enum("mode", m.mode.name(), m.mode.0.into());
            o.number("retry_after_ms", m.retry_after_ms.into());
            o.text("message", &m.message);
        }
        Message::Presence(m) => {
            o.id("user_id", m.user_id);
            o.open_enum("presence", m.presence.name(), m.presence.0.into());
            o.text("reason", &m.reason);
        }
        Message::Inbox(m) => {
            o.id("agent_id", m.agent_id);
            o.open_enum("presence", m.presence.name(), m.presence.0.into());
            o.list("assigned", &m.assigned, write_inbox_entry);
            o.list("queued", &m.queued, write_inbox_entry);
            o.list("tickets", &m.tickets, write_ticket);
        }
        other => unreachable!("{:?} is written by write_message", other.kind()),
    }
}

/// The fields of a `ticket` (also the elements of `inbox.tickets`).
fn write_ticket(o: &mut Object<'_>, m: &Ticket) {
    o.id("ticket_id", m.ticket_id);
    o.id("conversation_id", m.conversation_id);
    o.open_enum("status", m.status.name(), m.status.0.into());
    o.text("subject", &m.subject);
    o.text("agent_group", &m.agent_group);
    o.id("agent_id", m.agent_id);
    o.text("note", &m.note);
}

/// The fields of one `inbox` entry.
fn write_inbox_entry(o: &mut Object<'_>, m: &InboxEntry) {
    o.id("conversation_id", m.conversation_id);
    o.id("customer_id", m.customer_id);
    o.open_enum("state", m.state.name(), m.state.0.into());
    o.id("agent_id", m.agent_id);
    o.text("agent_group", &m.agent_group);
    o.number("last_sequence", m.last_sequence);
    o.number("unread", m.unread.into());
    o.number("waiting_ms", m.waiting_ms);
    o.number("position", m.position.into());
}

/// The fields of a `deliver` (also the elements of `history_result.messages`).
fn write_deliver(o: &mut Object<'_>, m: &Deliver) {
    o.id("conversation_id", m.conversation_id);
    o.number("sequence", m.sequence);
    o.message_id("message_id", &m.message_id);
    o.id("sender_id", m.sender_id);
    o.open_enum("sender_role", m.sender_role.name(), m.sender_role.0.into());
    o.number("sent_at_ms", m.sent_at_ms);
    o.text("text", &m.text);
}

/// A JSON object being written: tracks whether a comma is needed.
struct Object<'a> {
    /// The caller's buffer.
    out: &'a mut Vec<u8>,
    /// No field written yet.
    empty: bool,
}

impl<'a> Object<'a> {
    /// Writes `{`.
    fn open(out: &'a mut Vec<u8>) -> Object<'a> {
        out.push(b'{');
        Object { out, empty: true }
    }

    /// Writes `}`.
    fn close(self) {
        self.out.push(b'}');
    }

    /// Writes `,"name":` (field names are ASCII identifiers, no escaping needed).
    fn key(&mut self, name: &str) {
        if !self.empty {
            self.out.push(b',');
        }
        self.empty = false;
        self.out.push(b'"');
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(b"\":");
    }

    /// A string field, always written.
    fn str(&mut self, name: &str, value: &str) {
        self.key(name);
        write_string(self.out, value);
    }

    /// A string field, omitted when empty.
    fn text(&mut self, name: &str, value: &str) {
        if !value.is_empty() {
            self.str(name, value);
        }
    }

    /// A number field.
    fn number(&mut self, name: &str, value: u64) {
        self.key(name);
        write!(self.out, "{value}").expect("writing to a Vec cannot fail");
    }

    /// A `u64` id as a decimal string.
    fn id(&mut self, name: &str, value: u64) {
        self.key(name);
        write!(self.out, "\"{value}\"").expect("writing to a Vec cannot fail");
    }

    /// A list of objects, each written by `write`.
    fn list<T>(&mut self, name: &str, items: &[T], write: fn(&mut Object<'_>, &T)) {
        self.key(name);
        self.out.push(b'[');
        for (index, item) in items.iter().enumerate() {
            if index > 0 {
                self.out.push(b',');
            }
            let mut inner = Object::open(self.out);
            write(&mut inner, item);
            inner.close();
        }
        self.out.push(b']');
    }

    /// A boolean field.
    fn boolean(&mut self, name: &str, value: bool) {
        self.key(name);
        self.out
            .extend_from_slice(if value { b"true" } else { b"false" });
    }

    /// A 16-byte id as 32 lowercase hex digits.
    fn message_id(&mut self, name: &str, id: &MessageId) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        self.key(name);
        self.out.push(b'"');
        for byte in id.0 {
            self.out.push(HEX[usize::from(byte >> 4)]);
            self.out.push(HEX[usize::from(byte & 0x0F)]);
        }
        self.out.push(b'"');
    }

    /// An open enumeration: its name when known, else its number.
    fn open_enum(&mut self, name: &str, known: Option<&str>, number: u64) {
        match known {
            Some(text) => self.str(name, text),
            None => self.number(name, number),
        }
    }
}

/// Writes a JSON string literal: `"` and `\` escaped, control characters as `\n`, `\t`, ... or `\u00XX`;
/// everything else (including non-ASCII) as UTF-8.
fn write_string(out: &mut Vec<u8>, value: &str) {
    out.push(b'"');
    let bytes = value.as_bytes();
    let mut start = 0;
    for (index, &byte) in bytes.iter().enumerate() {
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x00..=0x1F => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..index]);
        if escape.is_empty() {
            write!(out, "\\u{byte:04x}").expect("writing to a Vec cannot fail");
        } else {
            out.extend_from_slice(escape);
        }
        start = index + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped() {
        let mut out = Vec::new();
        write_string(&mut out, "a\"b\\c\nd\u{1}é你");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"a\\\"b\\\\c\\nd\\u0001é你\""
        );
    }

    #[test]
    fn typing_frame_text() {
        let frame = OwnedFrame::new(Message::Typing(Typing {
            conversation_id: 42,
            user_id: 7,
            active: true,
        }));
        let mut out = Vec::new();
        encode_json(&frame, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"kind":"typing","lane":"system","conversation_id":"42","user_id":"7","active":true}"#
        );
    }

    #[test]
    fn conversation_update_frame_text() {
        let frame = OwnedFrame::new(Message::ConversationUpdate(ConversationUpdate {
            conversation_id: 42,
            state: crate::app::ConversationState::QUEUED,
            agent_id: 0,
            agent_group: "17".into(),
            reason: String::new(),
        }));
        let mut out = Vec::new();
        encode_json(&frame, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"kind":"conversation_update","lane":"urgent","conversation_id":"42","state":"queued","agent_id":"0","agent_group":"17"}"#
        );
    }

    #[test]
    fn status_frame_text_and_unknown_mode_as_number() {
        let frame = OwnedFrame::new(Message::Status(Status {
            mode: crate::app::StatusMode(9),
            retry_after_ms: 0,
            message: "x".into(),
        }));
        let mut out = Vec::new();
        encode_json(&frame, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"kind":"status","lane":"urgent","mode":9,"retry_after_ms":0,"message":"x"}"#
        );
    }
}
