//! The owner's front door: [`Owner::handle`] checks access (and the open-conversation quota on a
//! re-open) and dispatches each request to its handler.

use switchboard_protocol::app::{ErrorCode, Message, OwnedFrame, ReadReceipt, Typing};

use super::{
    error_frame, Action, Claims, ConnRef, ConversationState, LogStorage, Outbound, Owner, Reply,
    Request, Role,
};
use switchboard_auth::authorize;

impl<S: LogStorage> Owner<S> {
    /// Handles one request from `from` at wall-clock `wall_ms` (Unix milliseconds, stored as `sent_at_ms`).
    /// A read ([`Request::is_read`]) is answered by exactly one reply marked `completes_read`.
    pub fn handle(&mut self, from: ConnRef, principal: &Claims, request: Request, wall_ms: u64) {
        self.wall_ms = self.wall_ms.max(wall_ms);
        self.ensure_loaded(request.conversation());
        let is_read = request.is_read();
        let outputs_before = self.out.len();
        self.handle_request(from, principal, request, wall_ms);
        if is_read {
            self.mark_read_answered(from, outputs_before);
        }
    }

    /// Marks the reply to `from` pushed since `outputs_before` as the answer of a read.
    fn mark_read_answered(&mut self, from: ConnRef, outputs_before: usize) {
        let answer = self
            .out
            .range_mut(outputs_before..)
            .find_map(|output| match output {
                Outbound::Reply(reply) if reply.to == from => Some(reply),
                _ => None,
            });
        match answer {
            Some(reply) => reply.completes_read = true,
            None => {
                // Every read path replies; a silent one would stall the connection's reads for good.
                debug_assert!(false, "a read was not answered");
                self.out.push_back(Outbound::Reply(Reply {
                    to: from,
                    frames: Vec::new(),
                    resumed: None,
                    refused: None,
                    completes_read: true,
                }));
            }
        }
    }

    fn handle_request(
        &mut self,
        from: ConnRef,
        principal: &Claims,
        request: Request,
        wall_ms: u64,
    ) {
        let conversation_id = request.conversation();
        if let Request::Send { create: true, .. } = &request {
            if !self.conversations.contains_key(&conversation_id) {
                match self.create(conversation_id, principal) {
                    Ok(()) => {}
                    Err(ErrorCode::RATE_LIMITED) => return self.too_many_open(from),
                    Err(code) => {
                        return self.refuse(
                            from,
                            code,
                            "cannot open a conversation",
                            conversation_id,
                        )
                    }
                }
            }
        }
        let Some(conversation) = self.conversations.get_mut(&conversation_id) else {
            self.counters.not_found += 1;
            return self.refuse(
                from,
                ErrorCode::NOT_FOUND,
                "no such conversation",
                conversation_id,
            );
        };
        if let Request::Ticket {
            ticket,
            status,
            note,
            ..
        } = request
        {
            // Tickets have their own access rule (the ticket's group), not the conversation's.
            return self.update_ticket(from, principal, conversation_id, ticket, status, &note);
        }
        let action = match request {
            Request::Send { .. }
            | Request::Typing { .. }
            | Request::Read { .. }
            | Request::Update { .. } => Action::Write,
            Request::Resume { .. } | Request::History { .. } => Action::Read,
            Request::Ticket { .. } => unreachable!("handled above"),
        };
        if let Err(denied) = authorize(principal, action, &conversation.facts()) {
            self.counters.forbidden += 1;
            debug_denied(principal, conversation_id, denied.label());
            return self.refuse(from, denied.error_code(), denied.label(), conversation_id);
        }
        if !conversation.interest.contains(from.shard) {
            conversation.interest.insert(from.shard);
            conversation.interest_epoch += 1;
        }
        let reopens = conversation.state == ConversationState::Resolved
            && principal.role == Role::Customer
            && matches!(request, Request::Send { .. });
        if reopens
            && self
                .log
                .lookup_message(conversation_id, &request_message_id(&request))
                .is_none()
        {
            let (tenant, customer) = (conversation.tenant, conversation.customer);
            if !self.open.allows(tenant, customer, &self.config) {
                self.counters.quota_refusals += 1;
                return self.too_many_open(from);
            }
            self.reopen(conversation_id);
        }
        match request {
            Request::Ticket { .. } => unreachable!("handled above"),
            Request::Update { change, reason, .. } => {
                self.update(from, principal, conversation_id, change, &reason)
            }
            Request::Send {
                message_id,
                text,
                received_us,
                ..
            } => self.send(
                Some(from),
                principal,
                conversation_id,
                message_id,
                &text,
                (wall_ms, received_us),
            ),
            Request::Resume { last_sequence, .. } => {
                self.resume(from, conversation_id, last_sequence)
            }
            Request::History {
                query_id,
                before_sequence,
                limit,
                ..
            } => self.history(from, conversation_id, query_id, before_sequence, limit),
            Request::Typing { active, .. } => {
                let frame = Message::Typing(Typing {
                    conversation_id,
                    user_id: principal.user,
                    active,
                });
                self.fan_out(conversation_id, OwnedFrame::new(frame), Some(from));
            }
            Request::Read { sequence, .. } => {
                let frame = Message::ReadReceipt(ReadReceipt {
                    conversation_id,
                    user_id: principal.user,
                    sequence,
                });
                self.fan_out(conversation_id, OwnedFrame::new(frame), Some(from));
            }
        }
    }

    /// The customer (or its tenant) has too many conversations open to open or re-open another.
    fn too_many_open(&mut self, to: ConnRef) {
        self.reply(
            to,
            vec![error_frame(
                ErrorCode::RATE_LIMITED,
                "too many open conversations; resolve one first",
                Some(OPEN_QUOTA_RETRY_AFTER_MS),
            )],
        );
    }
}

/// How long a customer refused for having too many open conversations is told to wait, milliseconds.
const OPEN_QUOTA_RETRY_AFTER_MS: u32 = 60_000;

/// The message id of a `send` (zeros for other requests).
fn request_message_id(request: &Request) -> [u8; 16] {
    match request {
        Request::Send { message_id, .. } => message_id.0,
        _ => [0; 16],
    }
}

fn debug_denied(principal: &Claims, conversation: u64, why: &str) {
    tracing::debug!(
        tenant = principal.tenant,
        user = principal.user,
        role = principal.role.name(),
        conversation,
        why,
        "access refused"
    );
}
