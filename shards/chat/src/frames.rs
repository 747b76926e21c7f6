//! The frames the owner sends, built from the model types: `deliver`, `ack`, `error`, `gap`, and how a role
//! maps to a sender role and a lane.

use switchboard_protocol::app::{
    Ack, Deliver, ErrorCode, ErrorReport, Gap, GapReason, Lane, Message, MessageId, OwnedFrame,
    Pong, SenderRole,
};

use super::stored::StoredMessage;
use switchboard_auth::Role;
use switchboard_log::RecordHeader;

/// The protocol's sender role for an authenticated role.
pub fn sender_role(role: Role) -> SenderRole {
    match role {
        Role::Customer => SenderRole::CUSTOMER,
        Role::Agent => SenderRole::AGENT,
        Role::Bot => SenderRole::AI,
        Role::Admin => SenderRole::SYSTEM,
    }
}

/// The lane a stored message travels on: AI answers overtake chat, system notices come last.
pub fn lane_of(role: SenderRole) -> Lane {
    match role {
        SenderRole::AI => Lane::AiAnswer,
        SenderRole::SYSTEM => Lane::System,
        _ => Lane::Chat,
    }
}

/// The `deliver` frame of a stored message.
pub fn deliver_frame(header: &RecordHeader, stored: &StoredMessage<impl AsRef<str>>) -> OwnedFrame {
    refill_deliver_frame(
        OwnedFrame::new(Message::Deliver(Deliver::default())),
        header,
        stored,
    )
}

/// `frame` made the `deliver` frame of a stored message; a `deliver` frame's text buffer is reused (no
/// allocation when it is large enough), any other frame is replaced.
pub fn refill_deliver_frame(
    mut frame: OwnedFrame,
    header: &RecordHeader,
    stored: &StoredMessage<impl AsRef<str>>,
) -> OwnedFrame {
    let mut deliver = match std::mem::replace(&mut frame.message, Message::Pong(Pong::default())) {
        Message::Deliver(deliver) => deliver,
        _ => Deliver::default(),
    };
    deliver.conversation_id = header.conversation_id;
    deliver.sequence = header.sequence;
    deliver.message_id = MessageId(header.message_id);
    deliver.sender_id = stored.sender;
    deliver.sender_role = stored.sender_role;
    deliver.sent_at_ms = header.timestamp_ms;
    deliver.text.clear();
    deliver.text.push_str(stored.text.as_ref());
    frame.lane = Lane::from_flags(header.lane);
    frame.message = Message::Deliver(deliver);
    frame
}

/// An `ack` frame.
pub fn ack_frame(message_id: MessageId, conversation_id: u64, sequence: u64) -> OwnedFrame {
    OwnedFrame::new(Message::Ack(Ack {
        message_id,
        conversation_id,
        sequence,
    }))
}

/// An `error` frame (urgent lane).
pub fn error_frame(code: ErrorCode, message: &str, retry_after_ms: Option<u32>) -> OwnedFrame {
    OwnedFrame::new(Message::Error(ErrorReport {
        code,
        message: message.to_owned(),
        retry_after_ms,
    }))
}

/// A `gap` frame (urgent lane, so it reaches the client with the replay it interrupts).
pub fn gap_frame(conversation_id: u64, from: u64, to: u64, reason: GapReason) -> OwnedFrame {
    OwnedFrame {
        lane: Lane::Urgent,
        message: Message::Gap(Gap {
            conversation_id,
            from_sequence: from,
            to_sequence: to,
            reason,
        }),
    }
}
