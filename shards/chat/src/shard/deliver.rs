//! Frames to this shard's connections: a conversation's deliveries (participants and followers, minus
//! those who lost access), an owner's replies to the connection that asked, and the routing shard's
//! notices to agents' consoles.

use switchboard_auth::{authorize, Action, ConversationFacts};
use switchboard_core::engine::ConnId;
use switchboard_log::LogStorage;
use switchboard_protocol::app::{Lane, OwnedFrame};
use switchboard_routing::shard::RoutingOutput;
use tracing::debug;

use super::{ChatCore, Encoded, Host, Rings, STAGE_DELIVERED};
use crate::ids::owner_of;
use crate::messages::{AckReply, Delivery, Reply, REPLAY_QUEUE_LANE};

impl<S: LogStorage> ChatCore<S> {
    /// A conversation's frame to the connections here that get it.
    pub(super) fn deliver_local(
        &mut self,
        delivery: &Delivery,
        host: &mut impl Host,
        rings: &mut impl Rings,
    ) {
        let mut targets = std::mem::take(&mut self.targets);
        let mut joined = std::mem::take(&mut self.joined);
        self.local
            .targets(delivery, self.id, &mut targets, &mut joined);
        for conn in joined.drain(..) {
            if let Some(session) = host.session(conn) {
                session.note_follow(delivery.conversation);
            }
        }
        let facts = delivery.facts();
        let announce = delivery.announces_change();
        let mut encoded = Encoded::new(&delivery.frame);
        let mut sent = false;
        for conn in targets.drain(..) {
            let Some(session) = host.session(conn) else {
                continue;
            };
            let role = session.principal().map(|principal| principal.role);
            if role.is_some_and(|role| !delivery.audience.includes(role)) {
                continue;
            }
            if self.revoke_if_denied(host, conn, delivery.conversation, &facts) && !announce {
                continue;
            }
            self.send_encoded(host, conn, &mut encoded, delivery.queue_lane);
            sent = true;
        }
        if delivery.received_us != 0 && sent {
            self.stage_sample(STAGE_DELIVERED, delivery.received_us, host.clock_us());
        }
        self.targets = targets;
        self.joined = joined;
        if !self.local.is_followed(delivery.conversation) {
            self.tell_unfollow(rings, delivery.conversation, delivery.interest_epoch);
        }
    }

    /// Whether `conn`'s principal may no longer read `conversation` as `facts` describe it (an agent
    /// it was transferred away from, or re-queued to a group they are not in); if so the connection
    /// stops following it here. The caller still sends a frame that announces the change (so the
    /// console learns the conversation left it), and nothing after. Admins, the customer and the
    /// agents it is assigned or queued to keep following; see [`authorize`].
    fn revoke_if_denied(
        &mut self,
        host: &mut impl Host,
        conn: ConnId,
        conversation: u64,
        facts: &ConversationFacts,
    ) -> bool {
        let Some(session) = host.session(conn) else {
            return false;
        };
        let denied = session
            .principal()
            .is_some_and(|principal| authorize(principal, Action::Read, facts).is_err());
        if denied {
            session.unfollow(conversation);
            self.local.unfollow(conversation, conn);
            self.counters.access_revoked += 1;
            debug!(shard = self.id, ?conn, conversation, "follower lost access");
        }
        denied
    }

    /// An owner's `ack` to one of this shard's connections.
    pub(super) fn apply_ack(&mut self, ack: AckReply, host: &mut impl Host) {
        self.send_frame(host, ack.to.conn, &ack.frame());
    }

    /// An owner's answer to one of this shard's connections.
    pub(super) fn apply_reply(
        &mut self,
        reply: Reply,
        host: &mut impl Host,
        rings: &mut impl Rings,
    ) {
        let conn = reply.to.conn;
        if host.session(conn).is_none() {
            return;
        }
        if let Some(conversation) = reply.resumed {
            self.local.set_live(conversation, conn);
        }
        if let Some(conversation) = reply.refused {
            if let Some(session) = host.session(conn) {
                session.unfollow(conversation);
            }
            let remote = owner_of(conversation, self.shards) != self.id;
            if self.local.unfollow(conversation, conn) && remote {
                self.tell_unfollow(rings, conversation, 0);
            }
        }
        // A replay travels on one queue lane, so the client gets it in sequence order.
        let queue_lane = reply.resumed.map(|_| REPLAY_QUEUE_LANE);
        for frame in &reply.frames {
            let mut encoded = Encoded::new(frame);
            self.send_encoded(host, conn, &mut encoded, queue_lane);
        }
        if reply.completes_read {
            self.read_answered(host, rings, conn);
        }
    }

    /// A frame from the routing shard for agents' consoles on this shard.
    pub(super) fn notify_agents(&mut self, output: RoutingOutput, host: &mut impl Host) {
        let RoutingOutput::ToAgents {
            tenant,
            agents,
            only,
            frame,
            ..
        } = output
        else {
            return;
        };
        let mut targets = std::mem::take(&mut self.targets);
        match only {
            Some(console) if console.shard == self.id => targets.push(console.conn),
            Some(_) => {}
            None => {
                for agent in agents {
                    targets.extend(self.local.user_connections(tenant, u64::from(agent)));
                }
            }
        }
        let mut encoded = Encoded::new(&frame);
        for conn in targets.drain(..) {
            self.send_encoded(host, conn, &mut encoded, None);
        }
        self.targets = targets;
    }

    /// Queues an encoded frame on `conn`'s queue for `lane` (the frame's own lane when `None`); one
    /// `encoded` serves many connections, each encoding made once.
    pub fn send_encoded(
        &mut self,
        host: &mut impl Host,
        conn: ConnId,
        encoded: &mut Encoded<'_>,
        lane: Option<Lane>,
    ) {
        let Some(encoding) = host.session(conn).map(|session| session.encoding()) else {
            return;
        };
        let bytes = encoded.get(&mut self.frames, encoding);
        let lane = lane.unwrap_or(encoded.frame().lane);
        host.send(conn, lane, encoding, bytes);
    }

    /// Encodes `frame` for `conn`'s encoding and queues it on the frame's lane.
    pub fn send_frame(&mut self, host: &mut impl Host, conn: ConnId, frame: &OwnedFrame) {
        self.send_encoded(host, conn, &mut Encoded::new(frame), None);
    }
}
