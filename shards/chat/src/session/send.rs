//! `send`: a client's message for its conversation's owner. A binary frame's text is read in place and
//! copied once, into a shared buffer of the shard's text [`Recycler`] (no allocation in steady state).

use std::sync::Arc;

use switchboard_protocol::app::{ErrorCode, Lane, MessageId};

use super::{refusal, Session, SessionContext, SessionOutput};
use crate::ids::new_conversation_id;
use crate::messages::Request;
use crate::recycle::Recycler;

/// The fields of a `send` frame, read from the binary frame in place or from a parsed JSON frame.
#[derive(Debug, Clone, Copy)]
pub(super) struct SendFields<'a> {
    /// The client's message id.
    pub message_id: MessageId,
    /// The conversation (0: open a new one).
    pub conversation_id: u64,
    /// The text.
    pub text: &'a str,
}

impl Session {
    /// A binary `send` frame read in place: counted on its lane, refused before `hello`, else as
    /// [`Session::send`] (the same outputs as the frame made owned and handled as any other).
    pub(super) fn send_in_place(
        &mut self,
        lane: Lane,
        send: SendFields<'_>,
        (ctx, texts): (&SessionContext<'_>, &mut Recycler<String>),
        out: &mut Vec<SessionOutput>,
    ) {
        out.push(SessionOutput::Received(lane));
        if self.principal.is_none() {
            return out.push(refusal(ErrorCode::INVALID_STATE, "send hello first"));
        }
        self.send(send, (ctx, texts), out);
    }

    /// A `send` after `hello`: checked, its conversation followed, then a request for the owner.
    pub(super) fn send(
        &mut self,
        send: SendFields<'_>,
        (ctx, texts): (&SessionContext<'_>, &mut Recycler<String>),
        out: &mut Vec<SessionOutput>,
    ) {
        // Without an id a retry cannot be told from a new message: refused, never stored
        // (docs/protocol.md §4).
        if send.message_id == MessageId::default() {
            return out.push(refusal(
                ErrorCode::MALFORMED_FRAME,
                "send without a message_id (16 bytes, not all zero)",
            ));
        }
        if send.text.len() as u64 > ctx.config.text_bytes_max {
            return out.push(refusal(
                ErrorCode::MESSAGE_TOO_LARGE,
                "text longer than text_bytes_max",
            ));
        }
        let principal = self.principal.as_ref().expect("checked");
        let (conversation, create) = if send.conversation_id == 0 {
            (
                new_conversation_id(principal.tenant, principal.user, send.message_id),
                true,
            )
        } else {
            (send.conversation_id, false)
        };
        if self.follow(conversation, ctx, out) {
            let text: Arc<String> = texts.text(send.text);
            out.push(SessionOutput::Request(Request::Send {
                message_id: send.message_id,
                conversation,
                create,
                text,
                received_us: 0,
            }));
        }
    }
}
