//! Frame kinds and priority lanes: the first two bytes of every `switchboard.v1` frame.

/// The frame kind: byte 0 of the header. It selects the body's FlatBuffers root table (or, for
/// [`Kind::Fragment`], the fragment layout).
///
/// Values `0x00` and `0x17..=0xFF` are unassigned; a receiver skips such a frame (its length is in the
/// header) and the server answers with error code `unknown_kind` (see [`crate::app::ErrorCode`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Kind {
    /// Client → server, first frame: protocol version, auth token, resume token.
    Hello = 0x01,
    /// Server → client, answer to `Hello`: version, heartbeat interval, resume token.
    Welcome = 0x02,
    /// Client → server: a new chat message.
    Send = 0x03,
    /// Server → client: a `Send` was stored under a conversation sequence.
    Ack = 0x04,
    /// Server → client: a message in a conversation.
    Deliver = 0x05,
    /// Client → server: per conversation, the last sequence the client holds.
    Resume = 0x06,
    /// Server → client: deliver frames for a sequence range follow.
    Replay = 0x07,
    /// Server → client: a sequence range the client missed and that cannot be replayed.
    Gap = 0x08,
    /// Both directions: typing indicator.
    Typing = 0x09,
    /// Both directions: read receipt.
    ReadReceipt = 0x0A,
    /// Both directions: a ticket opened or changed (server → client), an agent's change (client → server).
    Ticket = 0x0B,
    /// Server → client: the conversation moves to a human agent.
    Handoff = 0x0C,
    /// Both directions: error code, message, optional retry-after.
    Error = 0x0D,
    /// Both directions: application heartbeat request.
    Ping = 0x0E,
    /// Both directions: application heartbeat answer.
    Pong = 0x0F,
    /// Client → server: ask for older messages.
    HistoryQuery = 0x10,
    /// Server → client: answer to `HistoryQuery`.
    HistoryResult = 0x11,
    /// Both directions: one piece of a large frame.
    Fragment = 0x12,
    /// Both directions: a conversation state change, requested (client → server) or announced
    /// (server → client, to every follower).
    ConversationUpdate = 0x13,
    /// Server → client: the shard's degradation mode (normal, brownout, survival, read_only).
    Status = 0x14,
    /// Both directions: an agent's presence (chosen by the agent, told by the server).
    Presence = 0x15,
    /// Both directions: an agent asks for its inbox; the server sends the snapshot.
    Inbox = 0x16,
}

impl Kind {
    /// Every assigned kind, in wire-value order.
    pub const ALL: [Kind; 22] = [
        Kind::Hello,
        Kind::Welcome,
        Kind::Send,
        Kind::Ack,
        Kind::Deliver,
        Kind::Resume,
        Kind::Replay,
        Kind::Gap,
        Kind::Typing,
        Kind::ReadReceipt,
        Kind::Ticket,
        Kind::Handoff,
        Kind::Error,
        Kind::Ping,
        Kind::Pong,
        Kind::HistoryQuery,
        Kind::HistoryResult,
        Kind::Fragment,
        Kind::ConversationUpdate,
        Kind::Status,
        Kind::Presence,
        Kind::Inbox,
    ];

    /// The kind for a wire byte, or `None` when the byte is unassigned.
    pub fn from_u8(value: u8) -> Option<Kind> {
        Kind::ALL.get(usize::from(value).wrapping_sub(1)).copied()
    }

    /// The name used in `switchboard.json.v1` (`"kind": "..."`).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Hello => "hello",
            Kind::Welcome => "welcome",
            Kind::Send => "send",
            Kind::Ack => "ack",
            Kind::Deliver => "deliver",
            Kind::Resume => "resume",
            Kind::Replay => "replay",
            Kind::Gap => "gap",
            Kind::Typing => "typing",
            Kind::ReadReceipt => "read_receipt",
            Kind::Ticket => "ticket",
            Kind::Handoff => "handoff",
            Kind::Error => "error",
            Kind::Ping => "ping",
            Kind::Pong => "pong",
            Kind::HistoryQuery => "history_query",
            Kind::HistoryResult => "history_result",
            Kind::Fragment => "fragment",
            Kind::ConversationUpdate => "conversation_update",
            Kind::Status => "status",
            Kind::Presence => "presence",
            Kind::Inbox => "inbox",
        }
    }

    /// The kind for a JSON name, or `None` when the name is unknown.
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// The lane a sender uses for this kind unless it has a reason to choose another (for example an AI
    /// answer is a `Deliver` on [`Lane::AiAnswer`]). JSON frames without a `"lane"` get this lane.
    pub fn default_lane(self) -> Lane {
        match self {
            Kind::Ticket
            | Kind::Handoff
            | Kind::Error
            | Kind::ConversationUpdate
            | Kind::Status
            | Kind::Presence => Lane::Urgent,
            Kind::Send | Kind::Ack | Kind::Deliver | Kind::Fragment => Lane::Chat,
            _ => Lane::System,
        }
    }
}

/// The priority lane: bits 0–1 of the flags byte. A sender's write queue drains lower values first;
/// receivers may use the lane for their own scheduling. Every 2-bit value is assigned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Lane {
    /// Tickets, handoffs, errors, conversation updates, status: never wait behind anything.
    Urgent = 0,
    /// Answers from the AI component.
    AiAnswer = 1,
    /// Ordinary chat traffic.
    Chat = 2,
    /// System notices, typing, receipts, heartbeats, history.
    System = 3,
}

impl Lane {
    /// Every lane, highest priority first.
    pub const ALL: [Lane; 4] = [Lane::Urgent, Lane::AiAnswer, Lane::Chat, Lane::System];

    /// The lane stored in the low two bits of a flags byte.
    pub fn from_flags(flags: u8) -> Lane {
        Lane::ALL[usize::from(flags & FLAGS_LANE_MASK)]
    }

    /// The name used in `switchboard.json.v1` (`"lane": "..."`).
    pub fn name(self) -> &'static str {
        match self {
            Lane::Urgent => "urgent",
            Lane::AiAnswer => "ai_answer",
            Lane::Chat => "chat",
            Lane::System => "system",
        }
    }

    /// The lane for a JSON name.
    pub fn from_name(name: &str) -> Option<Lane> {
        Lane::ALL.into_iter().find(|lane| lane.name() == name)
    }
}

/// Bits of the flags byte that hold the [`Lane`].
pub const FLAGS_LANE_MASK: u8 = 0b0000_0011;
/// Bits of the flags byte reserved for future protocol versions; a version-1 sender sets them to zero and a
/// version-1 receiver rejects the frame (skipping it, error code `reserved_flags`) when any is set.
pub const FLAGS_RESERVED_MASK: u8 = !FLAGS_LANE_MASK;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_every_assigned_value_in_order() {
        for (index, kind) in Kind::ALL.into_iter().enumerate() {
            assert_eq!(usize::from(kind as u8), index + 1);
        }
    }

    #[test]
    fn state_and_status_notices_are_urgent() {
        assert_eq!(Kind::ConversationUpdate.default_lane(), Lane::Urgent);
        assert_eq!(Kind::Status.default_lane(), Lane::Urgent);
        assert_eq!(
            Kind::from_name("conversation_update"),
            Some(Kind::ConversationUpdate)
        );
        assert_eq!(Kind::from_name("status"), Some(Kind::Status));
    }

    #[test]
    fn wire_values_and_names_round_trip() {
        for kind in Kind::ALL {
            assert_eq!(Kind::from_u8(kind as u8), Some(kind));
            assert_eq!(Kind::from_name(kind.name()), Some(kind));
        }
        assert_eq!(Kind::from_u8(0), None);
        assert_eq!(Kind::from_u8(0x13), Some(Kind::ConversationUpdate));
        assert_eq!(Kind::from_u8(0x14), Some(Kind::Status));
        assert_eq!(Kind::from_u8(0x16), Some(Kind::Inbox));
        assert_eq!(Kind::from_u8(0x17), None);
        assert_eq!(Kind::from_u8(0xFF), None);
        for lane in Lane::ALL {
            assert_eq!(Lane::from_flags(lane as u8), lane);
            assert_eq!(Lane::from_name(lane.name()), Some(lane));
        }
    }
}
