//! Open enumerations carried in bodies: error codes, sender roles, gap reasons, ticket states,
//! conversation states and degradation modes.
//!
//! Each is a newtype over its wire integer rather than a Rust `enum`, so a value added by a newer peer
//! survives decoding and re-encoding unchanged (forward compatibility); the named constants are the values
//! this version knows. In `switchboard.json.v1` a known value is written as its name and an unknown one as
//! its number; readers accept both.

macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        $name:ident($repr:ty) {
            $( $(#[$variant_meta:meta])* $variant:ident = $value:literal => $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
        pub struct $name(pub $repr);

        impl $name {
            $( $(#[$variant_meta])* pub const $variant: $name = $name($value); )+

            /// Every value this protocol version names.
            pub const KNOWN: &'static [$name] = &[$($name::$variant),+];

            /// The JSON name of a known value, `None` for a value this version does not know.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some($text),)+
                    _ => None,
                }
            }

            /// The value for a JSON name.
            pub fn from_name(name: &str) -> Option<$name> {
                match name {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

open_enum! {
    /// The code of an `error` frame (u16 on the wire). Which party causes each is in docs/protocol.md.
    ErrorCode(u16) {
        /// The frame kind is not known to the receiver; the frame was skipped.
        UNKNOWN_KIND = 1 => "unknown_kind",
        /// A reserved flag bit was set; the frame was skipped.
        RESERVED_FLAGS = 2 => "reserved_flags",
        /// The frame (JSON text or a field value) is malformed; the frame was skipped.
        MALFORMED_FRAME = 3 => "malformed_frame",
        /// The `hello` asked for a protocol version the server does not speak.
        UNSUPPORTED_VERSION = 4 => "unsupported_version",
        /// Missing, invalid or expired auth token.
        UNAUTHORIZED = 5 => "unauthorized",
        /// Authenticated, but not allowed to do this (for example post to someone else's conversation).
        FORBIDDEN = 6 => "forbidden",
        /// The conversation (or ticket) does not exist.
        NOT_FOUND = 7 => "not_found",
        /// Too many frames; wait `retry_after_ms` before sending again.
        RATE_LIMITED = 8 => "rate_limited",
        /// The message exceeds a size limit.
        MESSAGE_TOO_LARGE = 9 => "message_too_large",
        /// The frame is not allowed in the current state (for example `send` before `welcome`).
        INVALID_STATE = 10 => "invalid_state",
        /// The server is shedding load; retry after `retry_after_ms`.
        OVERLOADED = 11 => "overloaded",
        /// A server bug; the frame may be retried.
        INTERNAL = 12 => "internal",
        /// The resume token is unknown or expired; the client starts a fresh session (its `resume` is
        /// still honoured per conversation).
        RESUME_REJECTED = 13 => "resume_rejected",
    }
}

open_enum! {
    /// Who sent a delivered message (u8 on the wire).
    SenderRole(u8) {
        /// A customer (web widget, app).
        CUSTOMER = 0 => "customer",
        /// A human agent.
        AGENT = 1 => "agent",
        /// The AI component.
        AI = 2 => "ai",
        /// The server itself (notices).
        SYSTEM = 3 => "system",
    }
}

open_enum! {
    /// Why a sequence range cannot be replayed (u8 on the wire).
    GapReason(u8) {
        /// Older than the retention window of the durable log.
        EXPIRED = 0 => "expired",
        /// Deleted (moderation, privacy erasure).
        DELETED = 1 => "deleted",
        /// Temporarily unavailable (the log is being recovered); asking again later may succeed.
        UNAVAILABLE = 2 => "unavailable",
        /// Lost to damage of the server's durable log (a corrupt record, a missing segment); asking
        /// again will not help. The range may include sequences that were never used.
        DAMAGED = 3 => "damaged",
    }
}

open_enum! {
    /// The state of a support ticket (u8 on the wire).
    TicketStatus(u8) {
        /// Created, not yet assigned.
        OPENED = 0 => "opened",
        /// Assigned to an agent.
        ASSIGNED = 1 => "assigned",
        /// Waiting for the customer.
        PENDING = 2 => "pending",
        /// Resolved by the agent.
        RESOLVED = 3 => "resolved",
        /// Closed.
        CLOSED = 4 => "closed",
    }
}

open_enum! {
    /// The routing state of a conversation, carried by `conversation_update` (u8 on the wire).
    ConversationState(u8) {
        /// The AI component answers; no human is involved.
        BOT = 0 => "bot",
        /// Waiting in an agent group's queue.
        QUEUED = 1 => "queued",
        /// A human agent holds the conversation.
        ASSIGNED = 2 => "assigned",
        /// Resolved; a later customer message re-opens it to the bot.
        RESOLVED = 3 => "resolved",
    }
}

open_enum! {
    /// A shard's degradation mode, carried by `status` (u8 on the wire).
    StatusMode(u8) {
        /// Everything is served.
        NORMAL = 0 => "normal",
        /// Under pressure: `history_query` and `typing` are refused with `overloaded`.
        BROWNOUT = 1 => "brownout",
        /// Only `hello`, `ping`/`pong`, `resume` and urgent-lane traffic are served.
        SURVIVAL = 2 => "survival",
        /// The shard's durable log cannot write (a full disk, an I/O error): sends, creations and
        /// conversation updates are refused with `overloaded`; `resume` and history are served.
        READ_ONLY = 3 => "read_only",
    }
}

open_enum! {
    /// An agent's presence, carried by `presence` and `inbox` (u8 on the wire).
    PresenceState(u8) {
        /// Signed off, or no console connected: nothing is assigned.
        OFFLINE = 0 => "offline",
        /// Takes new conversations up to its capacity.
        ONLINE = 1 => "online",
        /// Connected, keeps its conversations, takes no new ones.
        AWAY = 2 => "away",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_values_have_none() {
        for code in ErrorCode::KNOWN {
            assert_eq!(ErrorCode::from_name(code.name().unwrap()), Some(*code));
        }
        assert_eq!(ErrorCode(999).name(), None);
        assert_eq!(SenderRole::from_name("ai"), Some(SenderRole::AI));
        assert_eq!(GapReason(7).name(), None);
        assert_eq!(
            TicketStatus::from_name("closed"),
            Some(TicketStatus::CLOSED)
        );
        assert_eq!(
            ConversationState::from_name("resolved"),
            Some(ConversationState::RESOLVED)
        );
        assert_eq!(ConversationState(4).name(), None);
        assert_eq!(
            StatusMode::from_name("brownout"),
            Some(StatusMode::BROWNOUT)
        );
        assert_eq!(StatusMode(4).name(), None);
    }
}
