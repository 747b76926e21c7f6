//! Deliveries to this shard's connections: who gets a conversation's frame (participants and
//! followers, minus those who lost access), and one encoding per frame shared by all of them.

use bytes::Bytes;
use switchboard_core::engine::ConnId;
use switchboard_protocol::app::{encode::Encoder, json, Lane, OwnedFrame};
use tracing::debug;

use super::super::table::{Entry, Table};
use super::{mark, ChatShard, STAGE_DELIVERED};
use crate::auth::{authorize, Action, ConversationFacts};
use crate::chat::messages::Delivery;
use crate::chat::Encoding;
use crate::conn::DataKind;

impl ChatShard {
    pub(super) fn deliver_local(
        &mut self,
        delivery: &Delivery,
        table: &mut Table,
        dirty: &mut Vec<ConnId>,
        now: u64,
    ) {
        let mut targets = std::mem::take(&mut self.targets);
        let mut joined = std::mem::take(&mut self.joined);
        self.local
            .targets(delivery, self.id, &mut targets, &mut joined);
        for conn in joined.drain(..) {
            if let Some(session) = table.get_mut(conn).and_then(|entry| entry.session.as_mut()) {
                session.note_follow(delivery.conversation);
            }
        }
        let facts = delivery.facts();
        let announce = delivery.announces_change();
        let mut encoded = Encoded::new(&delivery.frame);
        let mut sent = false;
        for conn in targets.drain(..) {
            let Some(entry) = table.get_mut(conn) else {
                continue;
            };
            let role = entry
                .session
                .as_ref()
                .and_then(|session| session.principal())
                .map(|principal| principal.role);
            if role.is_some_and(|role| !delivery.audience.includes(role)) {
                continue;
            }
            if self.revoke_if_denied(entry, delivery.conversation, &facts) && !announce {
                continue;
            }
            send_encoded(&mut self.encoder, entry, &mut encoded, now);
            mark(entry, dirty);
            sent = true;
        }
        if delivery.received_us != 0 && sent {
            self.stage_sample(STAGE_DELIVERED, delivery.received_us);
        }
        self.targets = targets;
        self.joined = joined;
        if !self.local.is_followed(delivery.conversation) {
            self.tell_unfollow(delivery.conversation, delivery.interest_epoch);
        }
    }

    /// Whether `entry`'s principal may no longer read `conversation` as `facts` describe it (an agent
    /// it was transferred away from, or re-queued to a group they are not in); if so the connection
    /// stops following it here. The caller still sends a frame that announces the change (so the
    /// console learns the conversation left it), and nothing after. Admins, the customer and the
    /// agents it is assigned or queued to keep following; see [`authorize`].
    fn revoke_if_denied(
        &mut self,
        entry: &mut Entry,
        conversation: u64,
        facts: &ConversationFacts,
    ) -> bool {
        let Some(session) = entry.session.as_mut() else {
            return false;
        };
        let denied = session
            .principal()
            .is_some_and(|principal| authorize(principal, Action::Read, facts).is_err());
        if denied {
            session.unfollow(conversation);
            self.local.unfollow(conversation, entry.id);
            self.counters.access_revoked += 1;
            debug!(shard = self.id, conn = ?entry.id, conversation, "follower lost access");
        }
        denied
    }
}

/// One frame and its encodings, each made at most once however many connections get it (a delivery to
/// many followers encodes once per encoding, and every connection's queue shares the same bytes).
pub(super) struct Encoded<'a> {
    frame: &'a OwnedFrame,
    binary: Option<Bytes>,
    json: Option<Bytes>,
}

impl<'a> Encoded<'a> {
    pub(super) fn new(frame: &'a OwnedFrame) -> Self {
        Encoded {
            frame,
            binary: None,
            json: None,
        }
    }

    /// The frame's bytes and opcode for `encoding`.
    fn get(&mut self, encoder: &mut Encoder, encoding: Encoding) -> (DataKind, Bytes) {
        let frame = self.frame;
        match encoding {
            Encoding::Binary => {
                let bytes = self.binary.get_or_insert_with(|| {
                    let mut out = Vec::new();
                    encoder.encode(frame, &mut out);
                    Bytes::from(out)
                });
                (DataKind::Binary, bytes.clone())
            }
            Encoding::Json => {
                let bytes = self.json.get_or_insert_with(|| {
                    let mut out = Vec::new();
                    json::encode_json(frame, &mut out);
                    Bytes::from(out)
                });
                (DataKind::Text, bytes.clone())
            }
        }
    }
}

/// Queues an encoded frame on the connection's lane for it.
pub(super) fn send_encoded(
    encoder: &mut Encoder,
    entry: &mut Entry,
    encoded: &mut Encoded<'_>,
    now: u64,
) {
    let lane = encoded.frame.lane;
    send_encoded_on(encoder, entry, encoded, lane, now);
}

/// Queues an encoded frame on the connection's queue for `lane`, whatever lane the frame names.
pub(super) fn send_encoded_on(
    encoder: &mut Encoder,
    entry: &mut Entry,
    encoded: &mut Encoded<'_>,
    lane: Lane,
    now: u64,
) {
    let Some(session) = entry.session.as_ref() else {
        return;
    };
    let (kind, bytes) = encoded.get(encoder, session.encoding());
    // A full queue closes the connection (1013); the client resumes from its last sequence.
    let _ = entry.conn.send(lane, kind, bytes, now);
}
