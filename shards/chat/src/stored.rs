//! What the conversation layer stores in its shard's durable log: the payloads of its three record kinds.
//!
//! - [`RECORD_MESSAGE`], in the conversation's own sequence space (sequence = the client-visible one):
//!   `tenant u64 | customer u64 | sender u64 | sender_role u8 | text (UTF-8, already PII-masked)`.
//! - [`RECORD_STATE`], in the shard's [`META_CONVERSATION`] (its own increasing sequence), one per state
//!   change: `conversation u64 | tenant u64 | customer u64 | state u8 | agent u64 (0 = none) |
//!   group u32 (0 = none)`.
//! - [`RECORD_TICKET`], also in [`META_CONVERSATION`], one per ticket change, the whole ticket
//!   ([`StoredTicket`]).
//!
//! Integers are little-endian. Every message record repeats tenant and customer, so a conversation whose
//! state records were deleted by retention is still recovered with its owner and access rules.

use switchboard_protocol::app::SenderRole;

use super::conversation::ConversationState;

/// `RecordHeader::kind` of a message.
pub const RECORD_MESSAGE: u8 = 1;
/// `RecordHeader::kind` of a conversation state change.
pub const RECORD_STATE: u8 = 2;
/// `RecordHeader::kind` of a ticket's state (in [`META_CONVERSATION`], like state changes).
pub const RECORD_TICKET: u8 = 3;
/// The pseudo-conversation holding a shard's state records (never a real id: real ids are below 2^53).
pub const META_CONVERSATION: u64 = u64::MAX;

const MESSAGE_FIXED_BYTES: usize = 8 + 8 + 8 + 1;
const STATE_BYTES: usize = 8 + 8 + 8 + 1 + 8 + 4;
const TICKET_FIXED_BYTES: usize = 8 + 8 + 8 + 1 + 4 + 8 + 4;

/// A ticket's state, stored whole at every change (the latest record of an id wins):
/// `ticket u64 | conversation u64 | tenant u64 | status u8 | group u32 | agent u64 (0 = none) |
/// subject length u32 | subject | note` (UTF-8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTicket {
    /// The ticket id (unique within the tenant for ever).
    pub ticket: u64,
    /// Its conversation.
    pub conversation: u64,
    /// Its tenant.
    pub tenant: u64,
    /// Its status (`TicketStatus` wire value).
    pub status: u8,
    /// The agent group that works it.
    pub group: u32,
    /// The agent holding it, if any.
    pub agent: Option<u64>,
    /// Its subject (the bot's category).
    pub subject: String,
    /// The last change's note.
    pub note: String,
}

/// A stored message; its text owned (`String`, decoded from the log) or borrowed (`&str`, about to be
/// appended: encoding it copies nothing else).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage<T = String> {
    /// The conversation's tenant.
    pub tenant: u64,
    /// The conversation's customer.
    pub customer: u64,
    /// Who sent it.
    pub sender: u64,
    /// In which role.
    pub sender_role: SenderRole,
    /// The text as stored (masked).
    pub text: T,
}

/// A stored state change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredState {
    /// The conversation.
    pub conversation: u64,
    /// Its tenant.
    pub tenant: u64,
    /// Its customer.
    pub customer: u64,
    /// The new state.
    pub state: ConversationState,
    /// The assigned agent, if any.
    pub agent: Option<u64>,
    /// The agent group, if any.
    pub group: Option<u32>,
}

/// A record payload that does not decode: the disk (or a different version) is at fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StoredError {
    /// Shorter than its fixed part.
    #[error("record payload of {0} bytes is too short")]
    TooShort(usize),
    /// The text is not UTF-8.
    #[error("message text is not UTF-8")]
    NotUtf8,
    /// An unknown state byte.
    #[error("unknown conversation state {0}")]
    UnknownState(u8),
    /// A length field pointing past the end.
    #[error("a length field points past the end of the payload")]
    BadLength,
}

impl StoredTicket {
    /// Appends the payload to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.ticket.to_le_bytes());
        out.extend_from_slice(&self.conversation.to_le_bytes());
        out.extend_from_slice(&self.tenant.to_le_bytes());
        out.push(self.status);
        out.extend_from_slice(&self.group.to_le_bytes());
        out.extend_from_slice(&self.agent.unwrap_or(0).to_le_bytes());
        let subject = u32::try_from(self.subject.len()).expect("subjects are short");
        out.extend_from_slice(&subject.to_le_bytes());
        out.extend_from_slice(self.subject.as_bytes());
        out.extend_from_slice(self.note.as_bytes());
    }

    /// Decodes a payload written by [`StoredTicket::encode`].
    ///
    /// # Errors
    ///
    /// [`StoredError`] for a short payload, a bad length or non-UTF-8 text.
    pub fn decode(payload: &[u8]) -> Result<StoredTicket, StoredError> {
        if payload.len() < TICKET_FIXED_BYTES {
            return Err(StoredError::TooShort(payload.len()));
        }
        let subject_len = u32::from_le_bytes(payload[37..41].try_into().expect("4 bytes")) as usize;
        let texts = &payload[TICKET_FIXED_BYTES..];
        if subject_len > texts.len() {
            return Err(StoredError::BadLength);
        }
        let (subject, note) = texts.split_at(subject_len);
        let text = |bytes| std::str::from_utf8(bytes).map_err(|_| StoredError::NotUtf8);
        let agent = u64_at(payload, 29);
        Ok(StoredTicket {
            ticket: u64_at(payload, 0),
            conversation: u64_at(payload, 8),
            tenant: u64_at(payload, 16),
            status: payload[24],
            group: u32::from_le_bytes(payload[25..29].try_into().expect("4 bytes")),
            agent: (agent != 0).then_some(agent),
            subject: text(subject)?.to_owned(),
            note: text(note)?.to_owned(),
        })
    }
}

impl<T: AsRef<str>> StoredMessage<T> {
    /// Appends the payload to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.tenant.to_le_bytes());
        out.extend_from_slice(&self.customer.to_le_bytes());
        out.extend_from_slice(&self.sender.to_le_bytes());
        out.push(self.sender_role.0);
        out.extend_from_slice(self.text.as_ref().as_bytes());
    }
}

impl StoredMessage {
    /// Decodes a payload written by [`StoredMessage::encode`].
    ///
    /// # Errors
    ///
    /// [`StoredError`] for a short payload or non-UTF-8 text.
    pub fn decode(payload: &[u8]) -> Result<StoredMessage, StoredError> {
        if payload.len() < MESSAGE_FIXED_BYTES {
            return Err(StoredError::TooShort(payload.len()));
        }
        let text = std::str::from_utf8(&payload[MESSAGE_FIXED_BYTES..])
            .map_err(|_| StoredError::NotUtf8)?;
        Ok(StoredMessage {
            tenant: u64_at(payload, 0),
            customer: u64_at(payload, 8),
            sender: u64_at(payload, 16),
            sender_role: SenderRole(payload[24]),
            text: text.to_owned(),
        })
    }
}

impl StoredState {
    /// Appends the payload to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.conversation.to_le_bytes());
        out.extend_from_slice(&self.tenant.to_le_bytes());
        out.extend_from_slice(&self.customer.to_le_bytes());
        out.push(self.state.as_u8());
        out.extend_from_slice(&self.agent.unwrap_or(0).to_le_bytes());
        out.extend_from_slice(&self.group.unwrap_or(0).to_le_bytes());
    }

    /// Decodes a payload written by [`StoredState::encode`].
    ///
    /// # Errors
    ///
    /// [`StoredError`] for a short payload or an unknown state.
    pub fn decode(payload: &[u8]) -> Result<StoredState, StoredError> {
        if payload.len() < STATE_BYTES {
            return Err(StoredError::TooShort(payload.len()));
        }
        let state = ConversationState::from_u8(payload[24])
            .ok_or(StoredError::UnknownState(payload[24]))?;
        let agent = u64_at(payload, 25);
        let group = u32::from_le_bytes(payload[33..37].try_into().expect("4 bytes"));
        Ok(StoredState {
            conversation: u64_at(payload, 0),
            tenant: u64_at(payload, 8),
            customer: u64_at(payload, 16),
            state,
            agent: (agent != 0).then_some(agent),
            group: (group != 0).then_some(group),
        })
    }
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_round_trip() {
        let message = StoredMessage {
            tenant: 1,
            customer: 2,
            sender: 3,
            sender_role: SenderRole::AI,
            text: "你好 ***".into(),
        };
        let mut out = Vec::new();
        message.encode(&mut out);
        assert_eq!(StoredMessage::decode(&out), Ok(message));
        assert_eq!(
            StoredMessage::decode(&out[..10]),
            Err(StoredError::TooShort(10))
        );
        out.push(0xFF);
        assert_eq!(StoredMessage::decode(&out), Err(StoredError::NotUtf8));
    }

    #[test]
    fn ticket_round_trip() {
        let ticket = StoredTicket {
            ticket: 1 << 40,
            conversation: 9,
            tenant: 1,
            status: 2,
            group: 3,
            agent: Some(77),
            subject: "refund".into(),
            note: "已退款 refunded".into(),
        };
        let mut out = Vec::new();
        ticket.encode(&mut out);
        assert_eq!(StoredTicket::decode(&out), Ok(ticket));
        assert_eq!(
            StoredTicket::decode(&out[..20]),
            Err(StoredError::TooShort(20))
        );
        let mut bad = out.clone();
        bad[37..41].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(StoredTicket::decode(&bad), Err(StoredError::BadLength));
    }

    #[test]
    fn state_round_trip() {
        let state = StoredState {
            conversation: 9,
            tenant: 1,
            customer: 2,
            state: ConversationState::Assigned,
            agent: Some(77),
            group: Some(3),
        };
        let mut out = Vec::new();
        state.encode(&mut out);
        assert_eq!(StoredState::decode(&out), Ok(state));
        out[24] = 99;
        assert_eq!(
            StoredState::decode(&out),
            Err(StoredError::UnknownState(99))
        );
    }
}
