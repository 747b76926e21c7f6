//! Reading `switchboard.json.v1` text with simd-json.

use base64::Engine as _;
use simd_json::prelude::*;
use simd_json::BorrowedValue;

use super::JsonError;
use crate::app::codes::{
    ConversationState, ErrorCode, GapReason, PresenceState, SenderRole, StatusMode, TicketStatus,
};
use crate::app::kind::{Kind, Lane};
use crate::app::model::*;

/// Parses one text message. simd-json works in place, so `text` is overwritten with scratch data.
///
/// Input nesting deeper than [`super::JSON_NESTING_DEPTH_MAX`] is refused with [`JsonError::TooDeep`]
/// before simd-json (whose value builder recurses) sees it.
pub fn parse_json(text: &mut [u8]) -> Result<OwnedFrame, JsonError> {
    super::depth::check_depth(text, super::JSON_NESTING_DEPTH_MAX)?;
    let value =
        simd_json::to_borrowed_value(text).map_err(|error| JsonError::Syntax(error.to_string()))?;
    let fields = Fields::new(&value)?;
    let kind_name = fields
        .get("kind")
        .and_then(|kind| kind.as_str())
        .ok_or(JsonError::MissingKind)?;
    let kind =
        Kind::from_name(kind_name).ok_or_else(|| JsonError::UnknownKind(kind_name.to_owned()))?;
    let lane = match fields.get("lane") {
        None => kind.default_lane(),
        Some(lane) => lane
            .as_str()
            .and_then(Lane::from_name)
            .ok_or(JsonError::InvalidField {
                field: "lane",
                expected: "a lane name",
            })?,
    };
    Ok(OwnedFrame {
        lane,
        message: read_message(kind, &fields)?,
    })
}

/// Reads the fields of `kind` from the object.
fn read_message(kind: Kind, f: &Fields<'_, '_>) -> Result<Message, JsonError> {
    Ok(match kind {
        Kind::Hello => Message::Hello(Hello {
            protocol_version: f.small("protocol_version")?,
            auth_token: f.string("auth_token")?,
            resume_token: f.string("resume_token")?,
        }),
        Kind::Welcome => Message::Welcome(Welcome {
            protocol_version: f.small("protocol_version")?,
            heartbeat_interval_ms: f.small("heartbeat_interval_ms")?,
            resume_token: f.string("resume_token")?,
            server_time_ms: f.number("server_time_ms")?,
        }),
        Kind::Send => Message::Send(SendMessage {
            message_id: f.message_id("message_id")?,
            conversation_id: f.id("conversation_id")?,
            text: f.string("text")?,
        }),
        Kind::Ack => Message::Ack(Ack {
            message_id: f.message_id("message_id")?,
            conversation_id: f.id("conversation_id")?,
            sequence: f.number("sequence")?,
        }),
        Kind::Deliver => Message::Deliver(read_deliver(f)?),
        Kind::Resume => Message::Resume(Resume {
            resume_token: f.string("resume_token")?,
            positions: f.list("positions", |p| {
                Ok(ResumePosition {
                    conversation_id: p.id("conversation_id")?,
                    last_sequence: p.number("last_sequence")?,
                })
            })?,
        }),
        Kind::Replay => Message::Replay(Replay {
            conversation_id: f.id("conversation_id")?,
            from_sequence: f.number("from_sequence")?,
            to_sequence: f.number("to_sequence")?,
        }),
        Kind::Gap => Message::Gap(Gap {
            conversation_id: f.id("conversation_id")?,
            from_sequence: f.number("from_sequence")?,
            to_sequence: f.number("to_sequence")?,
            reason: f.open_enum("reason", GapReason::from_name, GapReason)?,
        }),
        Kind::Typing => Message::Typing(Typing {
            conversation_id: f.id("conversation_id")?,
            user_id: f.id("user_id")?,
            active: f.boolean("active")?,
        }),
        Kind::ReadReceipt => Message::ReadReceipt(ReadReceipt {
            conversation_id: f.id("conversation_id")?,
            user_id: f.id("user_id")?,
            sequence: f.number("sequence")?,
        }),
        other => read_other(other, f)?,
    })
}

/// Reads the remaining kinds.
fn read_other(kind: Kind, f: &Fields<'_, '_>) -> Result<Message, JsonError> {
    Ok(match kind {
        Kind::Ticket => Message::Ticket(read_ticket(f)?),
        Kind::Handoff => Message::Handoff(Handoff {
            conversation_id: f.id("conversation_id")?,
            agent_id: f.id("agent_id")?,
            agent_group: f.string("agent_group")?,
            reason: f.string("reason")?,
        }),
        Kind::Error => Message::Error(ErrorReport {
            code: f.open_enum("code", ErrorCode::from_name, ErrorCode)?,
            message: f.string("message")?,
            retry_after_ms: f.optional_small("retry_after_ms")?,
        }),
        Kind::Ping => Message::Ping(Ping {
            timestamp_ms: f.number("timestamp_ms")?,
            heartbeat_interval_ms: f.optional_small("heartbeat_interval_ms")?,
        }),
        Kind::Pong => Message::Pong(Pong {
            ping_timestamp_ms: f.number("ping_timestamp_ms")?,
            timestamp_ms: f.number("timestamp_ms")?,
        }),
        Kind::HistoryQuery => Message::HistoryQuery(HistoryQuery {
            query_id: f.small("query_id")?,
            conversation_id: f.id("conversation_id")?,
            before_sequence: f.number("before_sequence")?,
            limit: f.small("limit")?,
        }),
        Kind::HistoryResult => Message::HistoryResult(HistoryResult {
            query_id: f.small("query_id")?,
            conversation_id: f.id("conversation_id")?,
            messages: f.list("messages", read_deliver)?,
            has_more: f.boolean("has_more")?,
        }),
        Kind::Fragment => Message::Fragment(read_fragment(f)?),
        other => read_state_notice(other, f)?,
    })
}

/// Reads the conversation and shard state notices.
fn read_state_notice(kind: Kind, f: &Fields<'_, '_>) -> Result<Message, JsonError> {
    Ok(match kind {
        Kind::ConversationUpdate => Message::ConversationUpdate(ConversationUpdate {
            conversation_id: f.id("conversation_id")?,
            state: f.open_enum("state", ConversationState::from_name, ConversationState)?,
            agent_id: f.id("agent_id")?,
            agent_group: f.string("agent_group")?,
            reason: f.string("reason")?,
        }),
        Kind::Status => Message::Status(Status {
            mode: f.open_enum("mode", StatusMode::from_name, StatusMode)?,
            retry_after_ms: f.small("retry_after_ms")?,
            message: f.string("message")?,
        }),
        Kind::Presence => Message::Presence(Presence {
            user_id: f.id("user_id")?,
            presence: f.open_enum("presence", PresenceState::from_name, PresenceState)?,
            reason: f.string("reason")?,
        }),
        Kind::Inbox => Message::Inbox(Inbox {
            agent_id: f.id("agent_id")?,
            presence: f.open_enum("presence", PresenceState::from_name, PresenceState)?,
            assigned: f.list("assigned", read_inbox_entry)?,
            queued: f.list("queued", read_inbox_entry)?,
            tickets: f.list("tickets", read_ticket)?,
        }),
        other => unreachable!("{other:?} is read by read_message"),
    })
}

/// A fragment, with the same consistency rules as the binary prefix (count ≥ 1, index < count, data no
/// longer than total_bytes).
fn read_fragment(f: &Fields<'_, '_>) -> Result<Fragment, JsonError> {
    let fragment = Fragment {
        fragment_id: f.id("fragment_id")?,
        index: f.small("index")?,
        count: f.small("count")?,
        total_bytes: f.small("total_bytes")?,
        data: f.base64("data")?,
    };
    if fragment.count == 0 {
        return Err(JsonError::InvalidField {
            field: "count",
            expected: "at least 1",
        });
    }
    if fragment.index >= fragment.count {
        return Err(JsonError::InvalidField {
            field: "index",
            expected: "below count",
        });
    }
    if fragment.data.len() as u64 > u64::from(fragment.total_bytes) {
        return Err(JsonError::InvalidField {
            field: "data",
            expected: "at most total_bytes bytes",
        });
    }
    Ok(fragment)
}

/// The fields of a `ticket` (also the elements of `inbox.tickets`).
fn read_ticket(f: &Fields<'_, '_>) -> Result<Ticket, JsonError> {
    Ok(Ticket {
        ticket_id: f.id("ticket_id")?,
        conversation_id: f.id("conversation_id")?,
        status: f.open_enum("status", TicketStatus::from_name, TicketStatus)?,
        subject: f.string("subject")?,
        agent_group: f.string("agent_group")?,
        agent_id: f.id("agent_id")?,
        note: f.string("note")?,
    })
}

/// The fields of one `inbox` entry.
fn read_inbox_entry(f: &Fields<'_, '_>) -> Result<InboxEntry, JsonError> {
    Ok(InboxEntry {
        conversation_id: f.id("conversation_id")?,
        customer_id: f.id("customer_id")?,
        state: f.open_enum("state", ConversationState::from_name, ConversationState)?,
        agent_id: f.id("agent_id")?,
        agent_group: f.string("agent_group")?,
        last_sequence: f.number("last_sequence")?,
        unread: f.small("unread")?,
        waiting_ms: f.number("waiting_ms")?,
        position: f.small("position")?,
    })
}

/// The fields of a `deliver` (also the elements of `history_result.messages`).
fn read_deliver(f: &Fields<'_, '_>) -> Result<Deliver, JsonError> {
    Ok(Deliver {
        conversation_id: f.id("conversation_id")?,
        sequence: f.number("sequence")?,
        message_id: f.message_id("message_id")?,
        sender_id: f.id("sender_id")?,
        sender_role: f.open_enum("sender_role", SenderRole::from_name, SenderRole)?,
        sent_at_ms: f.number("sent_at_ms")?,
        text: f.string("text")?,
    })
}

/// Typed access to a JSON object's fields; an absent or `null` field reads as the default.
struct Fields<'v, 'input> {
    /// The object.
    value: &'v BorrowedValue<'input>,
}

impl<'v, 'input> Fields<'v, 'input> {
    /// Wraps `value`, which must be an object.
    fn new(value: &'v BorrowedValue<'input>) -> Result<Self, JsonError> {
        if value.as_object().is_none() {
            return Err(JsonError::NotAnObject);
        }
        Ok(Fields { value })
    }

    /// The field's value, `None` when absent or `null`.
    fn get(&self, name: &str) -> Option<&'v BorrowedValue<'input>> {
        self.value.get(name).filter(|value| !value.is_null())
    }

    /// A JSON number (`u64`), default 0.
    fn number(&self, name: &'static str) -> Result<u64, JsonError> {
        self.get(name).map_or(Ok(0), |value| {
            value.as_u64().ok_or(JsonError::InvalidField {
                field: name,
                expected: "a non-negative integer",
            })
        })
    }

    /// A number that must fit a narrower integer type, default 0.
    fn small<T: TryFrom<u64> + Default>(&self, name: &'static str) -> Result<T, JsonError> {
        self.optional_small(name).map(Option::unwrap_or_default)
    }

    /// A narrow number that may be absent.
    fn optional_small<T: TryFrom<u64>>(&self, name: &'static str) -> Result<Option<T>, JsonError> {
        let invalid = JsonError::InvalidField {
            field: name,
            expected: "an integer in range",
        };
        match self.get(name) {
            None => Ok(None),
            Some(value) => value
                .as_u64()
                .and_then(|number| T::try_from(number).ok())
                .map(Some)
                .ok_or(invalid),
        }
    }

    /// A `u64` id: a decimal string (or, leniently, a number), default 0.
    fn id(&self, name: &'static str) -> Result<u64, JsonError> {
        let invalid = JsonError::InvalidField {
            field: name,
            expected: "a decimal u64 string",
        };
        match self.get(name) {
            None => Ok(0),
            Some(value) => match value.as_str() {
                Some(text) if !text.starts_with('+') => text.parse().map_err(|_| invalid),
                Some(_) => Err(invalid),
                None => value.as_u64().ok_or(invalid),
            },
        }
    }

    /// A boolean, default false.
    fn boolean(&self, name: &'static str) -> Result<bool, JsonError> {
        self.get(name).map_or(Ok(false), |value| {
            value.as_bool().ok_or(JsonError::InvalidField {
                field: name,
                expected: "a boolean",
            })
        })
    }

    /// A string, default "".
    fn string(&self, name: &'static str) -> Result<String, JsonError> {
        self.get(name).map_or(Ok(String::new()), |value| {
            value
                .as_str()
                .map(str::to_owned)
                .ok_or(JsonError::InvalidField {
                    field: name,
                    expected: "a string",
                })
        })
    }

    /// A 16-byte id: 32 hex digits, or the dashed 36-character UUID form; default all zeros.
    fn message_id(&self, name: &'static str) -> Result<MessageId, JsonError> {
        let invalid = JsonError::InvalidField {
            field: name,
            expected: "32 hex digits",
        };
        let Some(value) = self.get(name) else {
            return Ok(MessageId::default());
        };
        let text = value.as_str().ok_or(invalid.clone())?;
        parse_message_id(text).ok_or(invalid)
    }

    /// An open enumeration: a known name or a number, default 0.
    fn open_enum<T: Default, R: TryFrom<u64>>(
        &self,
        name: &'static str,
        from_name: fn(&str) -> Option<T>,
        from_number: fn(R) -> T,
    ) -> Result<T, JsonError> {
        let invalid = JsonError::InvalidField {
            field: name,
            expected: "a known name or an integer",
        };
        match self.get(name) {
            None => Ok(T::default()),
            Some(value) => match value.as_str() {
                Some(text) => from_name(text).ok_or(invalid),
                None => value
                    .as_u64()
                    .and_then(|number| R::try_from(number).ok())
                    .map(from_number)
                    .ok_or(invalid),
            },
        }
    }

    /// Standard base64 with padding, default empty.
    fn base64(&self, name: &'static str) -> Result<Vec<u8>, JsonError> {
        let invalid = JsonError::InvalidField {
            field: name,
            expected: "standard base64",
        };
        let Some(value) = self.get(name) else {
            return Ok(Vec::new());
        };
        let text = value.as_str().ok_or(invalid.clone())?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|_| invalid)
    }

    /// An array of objects, each read by `read`; default empty.
    fn list<T>(
        &self,
        name: &'static str,
        read: impl Fn(&Fields<'v, 'input>) -> Result<T, JsonError>,
    ) -> Result<Vec<T>, JsonError> {
        let invalid = JsonError::InvalidField {
            field: name,
            expected: "an array of objects",
        };
        let Some(value) = self.get(name) else {
            return Ok(Vec::new());
        };
        let array = value.as_array().ok_or(invalid.clone())?;
        array
            .iter()
            .map(|element| read(&Fields::new(element).map_err(|_| invalid.clone())?))
            .collect()
    }
}

/// Parses 32 hex digits, or 36 characters with dashes after digits 8, 12, 16 and 20.
fn parse_message_id(text: &str) -> Option<MessageId> {
    let bytes = text.as_bytes();
    let dashed = bytes.len() == 36 && [8, 13, 18, 23].iter().all(|&index| bytes[index] == b'-');
    if bytes.len() != 32 && !dashed {
        return None;
    }
    let mut digits = bytes.iter().filter(|&&byte| !(dashed && byte == b'-'));
    let mut id = [0u8; 16];
    for byte in &mut id {
        let high = (*digits.next()? as char).to_digit(16)?;
        let low = (*digits.next()? as char).to_digit(16)?;
        *byte = (high * 16 + low) as u8;
    }
    digits.next().is_none().then_some(MessageId(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_id_forms() {
        let plain = parse_message_id("0192f0c2a7c47d3e9b8e1f2a3b4c5d6e").unwrap();
        assert_eq!(
            parse_message_id("0192F0C2-A7C4-7D3E-9B8E-1F2A3B4C5D6E"),
            Some(plain)
        );
        assert_eq!(plain.0[0], 0x01);
        assert_eq!(plain.0[15], 0x6e);
        assert_eq!(parse_message_id("0192f0c2a7c47d3e9b8e1f2a3b4c5d6"), None);
        assert_eq!(parse_message_id("0192f0c2a7c47d3e9b8e1f2a3b4c5d6g"), None);
        assert_eq!(
            parse_message_id("0192f0c2-a7c47-d3e-9b8e-1f2a3b4c5d6e"),
            None
        );
    }

    #[test]
    fn errors_are_typed() {
        let parse = |text: &str| parse_json(&mut text.as_bytes().to_vec());
        assert!(matches!(parse("{"), Err(JsonError::Syntax(_))));
        assert_eq!(parse("[1]"), Err(JsonError::NotAnObject));
        assert_eq!(parse("{\"lane\":\"chat\"}"), Err(JsonError::MissingKind));
        assert_eq!(
            parse("{\"kind\":\"nope\"}"),
            Err(JsonError::UnknownKind("nope".into()))
        );
        assert_eq!(
            parse("{\"kind\":\"ping\",\"lane\":\"fast\"}"),
            Err(JsonError::InvalidField {
                field: "lane",
                expected: "a lane name"
            })
        );
        assert_eq!(
            parse("{\"kind\":\"typing\",\"conversation_id\":\"-1\"}"),
            Err(JsonError::InvalidField {
                field: "conversation_id",
                expected: "a decimal u64 string"
            })
        );
        assert_eq!(
            parse("{\"kind\":\"history_query\",\"limit\":70000}"),
            Err(JsonError::InvalidField {
                field: "limit",
                expected: "an integer in range"
            })
        );
    }

    #[test]
    fn state_notices_read_names_numbers_and_defaults() {
        let mut text =
            br#"{"kind":"conversation_update","conversation_id":"9","state":"resolved"}"#.to_vec();
        let frame = parse_json(&mut text).unwrap();
        assert_eq!(frame.lane, Lane::Urgent);
        assert_eq!(
            frame.message,
            Message::ConversationUpdate(ConversationUpdate {
                conversation_id: 9,
                state: ConversationState::RESOLVED,
                ..Default::default()
            })
        );
        let mut text = br#"{"kind":"conversation_update","state":7,"agent_id":"3"}"#.to_vec();
        let Message::ConversationUpdate(update) = parse_json(&mut text).unwrap().message else {
            panic!("not a conversation_update");
        };
        assert_eq!((update.state, update.agent_id), (ConversationState(7), 3));
        let mut text = br#"{"kind":"status","mode":"survival","retry_after_ms":5000}"#.to_vec();
        assert_eq!(
            parse_json(&mut text).unwrap().message,
            Message::Status(Status {
                mode: StatusMode::SURVIVAL,
                retry_after_ms: 5000,
                message: String::new(),
            })
        );
        let mut text = br#"{"kind":"status","mode":"degraded"}"#.to_vec();
        assert_eq!(
            parse_json(&mut text),
            Err(JsonError::InvalidField {
                field: "mode",
                expected: "a known name or an integer"
            })
        );
    }

    #[test]
    fn deep_nesting_is_refused_before_parsing() {
        // The finding: ~12,000 nested arrays overflowed a shard thread's stack inside simd-json.
        let mut text = format!("{}{}", "[".repeat(12_000), "]".repeat(12_000)).into_bytes();
        assert_eq!(
            parse_json(&mut text),
            Err(JsonError::TooDeep {
                depth_max: super::super::JSON_NESTING_DEPTH_MAX
            })
        );
        let mut nested_field = format!(
            r#"{{"kind":"ping","extra":{}{}}}"#,
            "{\"a\":".repeat(40),
            "1".to_owned() + &"}".repeat(40)
        )
        .into_bytes();
        assert!(matches!(
            parse_json(&mut nested_field),
            Err(JsonError::TooDeep { .. })
        ));
        assert_eq!(
            JsonError::TooDeep { depth_max: 32 }.reaction(),
            crate::app::error::Reaction::ErrorFrame(ErrorCode::MALFORMED_FRAME)
        );
    }

    #[test]
    fn defaults_and_lenient_ids() {
        let mut text = br#"{"kind":"typing","conversation_id":12,"active":null}"#.to_vec();
        let frame = parse_json(&mut text).unwrap();
        assert_eq!(frame.lane, Lane::System);
        assert_eq!(
            frame.message,
            Message::Typing(Typing {
                conversation_id: 12,
                user_id: 0,
                active: false
            })
        );
    }
}
