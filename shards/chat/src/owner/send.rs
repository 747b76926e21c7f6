//! Opening a conversation and storing a `send`: de-duplication by (conversation, message id), PII
//! masking, the next sequence and the log append; the ack waits for the commit ([`super::commit`]).

use std::sync::Arc;

use switchboard_protocol::app::{ErrorCode, Message, MessageId, OwnedFrame, Pong};
use tracing::{error, warn};

use super::acks::Acks;
use super::{
    customer_value, deliver_frame, error_frame, lane_of, sender_role, Audience, Claims, ConnRef,
    Conversation, ConversationState, Delivery, LogError, LogStorage, Owner, Pending, RecordHeader,
    Role, StoredMessage, RECORD_MESSAGE, RETRY_AFTER_FAILURE_MS, RETRY_LOG_BUSY_MS,
};
use crate::frames::refill_deliver_frame;
use crate::recycle::{Recycler, RECYCLED_TEXT_BYTES_MAX};
use switchboard_pii::mask;

impl<S: LogStorage> Owner<S> {
    pub(super) fn create(&mut self, id: u64, principal: &Claims) -> Result<(), ErrorCode> {
        if principal.role != Role::Customer {
            return Err(ErrorCode::FORBIDDEN);
        }
        if !self
            .open
            .allows(principal.tenant, principal.user, &self.config)
        {
            self.counters.quota_refusals += 1;
            return Err(ErrorCode::RATE_LIMITED);
        }
        if self.conversations.len() as u64 >= self.config.conversations_per_shard_max {
            warn!(
                shard = self.shard,
                "conversation table full; refusing a new conversation"
            );
            return Err(ErrorCode::OVERLOADED);
        }
        let mut conversation = Conversation::new(id, principal.tenant, principal.user, self.shards);
        if !self.config.routing_enabled {
            conversation.state = ConversationState::Queued;
            conversation.group = Some(self.config.fallback_group);
        }
        self.append_state(&conversation).map(drop).map_err(|_| {
            if self.log.is_degraded() {
                self.counters.log_refused += 1;
                ErrorCode::OVERLOADED
            } else {
                ErrorCode::INTERNAL
            }
        })?;
        self.conversations.insert(id, conversation);
        self.open.opened(principal.tenant, principal.user);
        self.counters.conversations_created += 1;
        Ok(())
    }

    pub(super) fn send(
        &mut self,
        from: Option<ConnRef>,
        principal: &Claims,
        conversation_id: u64,
        message_id: MessageId,
        text: &str,
        (wall_ms, received_us): (u64, u64),
    ) {
        if let Some(sequence) = self.log.lookup_message(conversation_id, &message_id.0) {
            if let Some(from) = from {
                self.duplicate(from, message_id, conversation_id, sequence);
            }
            return;
        }
        if self.degraded.is_some() {
            if let Some(from) = from {
                self.refuse_degraded(from);
            }
            return;
        }
        let masked = mask(text, self.pii.rules_for(principal.tenant));
        self.pii_counts.add(&masked.counts);
        // The bot may need what masking hid to fill a slot: it gets the original, in memory only.
        let raw = matches!(masked.text, std::borrow::Cow::Owned(_)).then(|| text.to_owned());
        let conversation = self
            .conversations
            .get_mut(&conversation_id)
            .expect("checked by handle");
        if principal.role == Role::Customer {
            if let Some(chinese) = writes_chinese(text) {
                conversation.chinese = chinese;
            }
        }
        conversation.last_active_ms = wall_ms;
        let sequence = conversation.appended_seq + 1;
        let sender_role = sender_role(principal.role);
        let stored = StoredMessage {
            tenant: conversation.tenant,
            customer: conversation.customer,
            sender: principal.user,
            sender_role,
            text: masked.text.as_ref(),
        };
        self.scratch.clear();
        stored.encode(&mut self.scratch);
        let header = RecordHeader {
            conversation_id,
            sequence,
            message_id: message_id.0,
            timestamp_ms: wall_ms,
            lane: lane_of(sender_role) as u8,
            kind: RECORD_MESSAGE,
        };
        let lsn = match self.log.append(&header, &self.scratch) {
            Ok(lsn) => lsn,
            Err(LogError::WriteBufferFull { .. }) => {
                // A commit is in flight and the next group is full: nothing stored, the client retries.
                if let Some(from) = from {
                    self.reply(
                        from,
                        vec![error_frame(
                            ErrorCode::OVERLOADED,
                            "log busy",
                            Some(RETRY_LOG_BUSY_MS),
                        )],
                    );
                }
                return;
            }
            Err(error) if self.log_error(&error) => {
                // Nothing stored: the log degraded on this record's write (a full buffer or segment).
                if let Some(from) = from {
                    self.refuse_degraded(from);
                }
                return;
            }
            Err(error) => {
                self.counters.log_errors += 1;
                error!(shard = self.shard, conversation_id, %error, "durable log refused a record");
                if let Some(from) = from {
                    self.reply(
                        from,
                        vec![error_frame(
                            ErrorCode::INTERNAL,
                            "message not stored",
                            Some(RETRY_AFTER_FAILURE_MS),
                        )],
                    );
                }
                return;
            }
        };
        conversation.appended_seq = sequence;
        self.counters.messages_stored += 1;
        let make = |frame| Delivery {
            tenant: conversation.tenant,
            customer: conversation.customer,
            agent: conversation.agent,
            group: conversation.group,
            conversation: conversation_id,
            frame,
            origin: from,
            received_us,
            audience: Audience::All,
            interest_epoch: conversation.interest_epoch,
            queue_lane: None,
        };
        let delivery = recycled_delivery(&mut self.deliveries, make, &header, &stored);
        // The routing shard sees every customer message (for humans' conversations it only refreshes the
        // summary and sentiment).
        let routed = principal.role == Role::Customer && self.config.routing_enabled;
        self.pending.push_back(Pending {
            lsn,
            conversation: conversation_id,
            sequence,
            ack_to: Acks::of(from.map(|from| (from, message_id))),
            delivery,
            for_routing: routed.then(|| (customer_value(principal), raw)),
            from_agent: (principal.role == Role::Agent).then_some(principal.user),
        });
    }

    /// A `send` whose message id is already stored in `conversation`: the original ack, never a second
    /// copy.
    pub(super) fn duplicate(
        &mut self,
        from: ConnRef,
        message_id: MessageId,
        conversation: u64,
        sequence: u64,
    ) {
        self.counters.duplicates += 1;
        if let Some(pending) = self
            .pending
            .iter_mut()
            .find(|p| p.conversation == conversation && p.sequence == sequence)
        {
            if self.degraded.is_some() {
                // Stored in memory, not yet durable; the ack comes with the commit after recovery.
                return self.refuse_degraded(from);
            }
            // Not committed yet: the retry is acked together with the original.
            pending.ack_to.push((from, message_id));
            return;
        }
        self.ack(from, message_id, conversation, sequence);
    }
}

/// The delivery of a message just appended, made by `make` around its `deliver` frame: in a free
/// delivery of `deliveries` when there is one (its frame's text buffer reused: no allocation), kept for
/// reuse unless its text is long.
fn recycled_delivery(
    deliveries: &mut Recycler<Delivery>,
    make: impl FnOnce(OwnedFrame) -> Delivery,
    header: &RecordHeader,
    stored: &StoredMessage<&str>,
) -> Arc<Delivery> {
    let delivery = match deliveries.take() {
        Some(mut free) => {
            let slot = Arc::get_mut(&mut free).expect("taken out: held only here");
            let placeholder = OwnedFrame::new(Message::Pong(Pong::default()));
            let old = std::mem::replace(&mut slot.frame, placeholder);
            *slot = make(refill_deliver_frame(old, header, stored));
            free
        }
        None => Arc::new(make(deliver_frame(header, stored))),
    };
    let text_bytes = match &delivery.frame.message {
        Message::Deliver(deliver) => deliver.text.capacity(),
        _ => 0,
    };
    if text_bytes <= RECYCLED_TEXT_BYTES_MAX {
        deliveries.keep(&delivery);
    }
    delivery
}

/// Whether a customer's text is Chinese (any CJK ideograph), English (letters, no ideograph), or says
/// nothing about the language (digits, punctuation, an order number): for customer-facing notices.
fn writes_chinese(text: &str) -> Option<bool> {
    if text.chars().any(|c| ('\u{4E00}'..='\u{9FFF}').contains(&c)) {
        Some(true)
    } else if text.chars().any(|c| c.is_ascii_alphabetic()) {
        Some(false)
    } else {
        None
    }
}
