//! The core's side of the rings: what peers sent, the owner's outputs to peers and the routing shard,
//! pushes with a per-peer overflow queue (a full ring never blocks and never drops), agents' presence
//! and console requests, and where the routing shard's decisions go ([`route_output`]).

use std::sync::Arc;

use switchboard_auth::{Claims, Role};
use switchboard_core::engine::ConnId;
use switchboard_log::LogStorage;
use switchboard_protocol::app::{Inbox, Message, OwnedFrame, Presence, PresenceState};
use switchboard_routing::agents::Presence as RouterPresence;
use switchboard_routing::shard::{ConsoleRef, RoutingInput, RoutingOutput};
use tracing::warn;

use super::{ChatCore, Host, Rings, STAGE_PERSISTED};
use crate::ids::owner_of;
use crate::messages::ShardMsg;
use crate::owner::Outbound;
use crate::session::ConsoleRequest;

/// The routing shard's presence for a presence a console chose (checked by the session: a known one).
fn router_presence(presence: PresenceState) -> RouterPresence {
    match presence {
        PresenceState::ONLINE => RouterPresence::Online,
        PresenceState::AWAY => RouterPresence::Away,
        _ => RouterPresence::Offline,
    }
}

/// Where one of the routing shard's outputs goes among `shards` connection shards: a notice for agents
/// to each shard of their consoles (one copy per shard), a decision to its conversation's owner.
pub fn route_output(output: RoutingOutput, shards: usize, mut push: impl FnMut(usize, ShardMsg)) {
    if let RoutingOutput::ToAgents { shards: to, .. } = &output {
        for &to in to.iter().filter(|&&to| to < shards) {
            push(to, ShardMsg::FromRouting(output.clone()));
        }
        return;
    }
    if let Some(conversation) = output.conversation() {
        push(
            owner_of(conversation, shards),
            ShardMsg::FromRouting(output),
        );
    }
}

impl<S: LogStorage> ChatCore<S> {
    /// One message a peer (or the routing shard) sent this shard.
    pub fn ring_message(
        &mut self,
        message: ShardMsg,
        host: &mut impl Host,
        rings: &mut impl Rings,
    ) {
        match message {
            ShardMsg::Request {
                from,
                principal,
                request,
            } => self.owner.handle(from, &principal, request, host.wall_ms()),
            ShardMsg::Reply(reply) => self.apply_reply(reply, host, rings),
            ShardMsg::Ack(ack) => self.apply_ack(ack, host),
            ShardMsg::Deliver(delivery) => self.deliver_local(&delivery, host, rings),
            ShardMsg::Unfollow {
                conversation,
                shard,
                epoch,
            } => self.owner.unfollow(conversation, shard, epoch),
            ShardMsg::FromRouting(output @ RoutingOutput::ToAgents { .. }) => {
                self.notify_agents(output, host)
            }
            ShardMsg::FromRouting(output) => self.owner.handle_routing(output, host.wall_ms()),
            // Only the routing shard receives routing inputs.
            ShardMsg::ToRouting(_) => {}
        }
    }

    /// One output of the owner, after the commit that covers it.
    pub(super) fn outbound(
        &mut self,
        output: Outbound,
        host: &mut impl Host,
        rings: &mut impl Rings,
    ) {
        let routing = self.config.routing_enabled;
        match output {
            Outbound::Reply(reply) if reply.to.shard == self.id => {
                self.apply_reply(reply, host, rings)
            }
            Outbound::Reply(reply) => self.push(rings, reply.to.shard, ShardMsg::Reply(reply)),
            Outbound::Ack(ack) if ack.to.shard == self.id => self.apply_ack(ack, host),
            Outbound::Ack(ack) => self.push(rings, ack.to.shard, ShardMsg::Ack(ack)),
            Outbound::Deliver { shards, delivery } => {
                if delivery.received_us != 0 {
                    // Released by the commit that covers it: stored and acknowledged now.
                    self.stage_sample(STAGE_PERSISTED, delivery.received_us, host.clock_us());
                }
                for shard in shards.iter() {
                    if shard == self.id {
                        self.deliver_local(&delivery, host, rings);
                    } else {
                        self.push(rings, shard, ShardMsg::Deliver(Arc::clone(&delivery)));
                    }
                }
            }
            Outbound::CustomerMessage {
                tenant,
                conversation,
                customer,
                sequence,
                text,
                customer_value,
                raw,
            } => {
                let input = RoutingInput::CustomerMessage {
                    tenant,
                    conversation,
                    customer,
                    sequence,
                    text,
                    customer_value,
                    raw,
                };
                self.route_or_degrade(rings, input, conversation);
            }
            // With routing off nobody consumes the routing ring (tickets stored while it was on are
            // still announced at start-up).
            Outbound::ToRouting(_) if !routing => {}
            Outbound::ToRouting(input) => self.push(rings, self.shards, ShardMsg::ToRouting(input)),
            Outbound::AgentReplied {
                tenant,
                agent,
                conversation,
            } => {
                if let Some(agent) = u32::try_from(agent).ok().filter(|_| routing) {
                    let input = RoutingInput::AgentReplied {
                        tenant,
                        agent,
                        conversation,
                    };
                    self.push(rings, self.shards, ShardMsg::ToRouting(input));
                }
            }
        }
    }

    /// Tells the owner this shard has no follower of `conversation` left, as of interest `epoch` (0
    /// when unknown: an owner that added a shard since ignores it, and the next delivery here, with its
    /// epoch, says it again).
    pub(super) fn tell_unfollow(&mut self, rings: &mut impl Rings, conversation: u64, epoch: u64) {
        let owner = owner_of(conversation, self.shards);
        if owner == self.id {
            self.owner.unfollow(conversation, self.id, u64::MAX);
        } else {
            let message = ShardMsg::Unfollow {
                conversation,
                shard: self.id,
                epoch,
            };
            self.push(rings, owner, message);
        }
    }

    /// A customer message for the routing shard; when its ring is full the conversation waits for a
    /// human instead (the routing shard never blocks a connection shard).
    fn route_or_degrade(&mut self, rings: &mut impl Rings, input: RoutingInput, conversation: u64) {
        let routing = self.shards;
        if !self.overflow[routing].is_empty()
            || rings.push(routing, ShardMsg::ToRouting(input)).is_err()
        {
            self.counters.ring_full += 1;
            self.owner.routing_unavailable(conversation);
        }
    }

    /// An agent's connection `conn` authenticated (`online`) or closed: the routing shard counts the
    /// agent's connections (presence follows them, with a grace period before its conversations are
    /// re-queued) and answers a new console with its presence and inbox.
    pub(super) fn agent_presence(
        &mut self,
        rings: &mut impl Rings,
        claims: &Claims,
        online: bool,
        conn: ConnId,
    ) {
        // With routing off nobody consumes the routing ring.
        if claims.role != Role::Agent || !self.config.routing_enabled {
            return;
        }
        let Some(agent) = self.routable_agent(claims) else {
            return;
        };
        let input = if online {
            RoutingInput::AgentOnline {
                tenant: claims.tenant,
                agent,
                groups: claims.groups.clone(),
                shard: self.id,
                console: ConsoleRef {
                    shard: self.id,
                    conn,
                },
            }
        } else {
            RoutingInput::AgentOffline {
                tenant: claims.tenant,
                agent,
                shard: self.id,
            }
        };
        self.push(rings, self.shards, ShardMsg::ToRouting(input));
    }

    /// The agent id the routing shard knows `claims` by, if it fits (agent ids are below 2^32).
    fn routable_agent(&self, claims: &Claims) -> Option<u32> {
        let agent = u32::try_from(claims.user).ok();
        if agent.is_none() {
            warn!(
                shard = self.id,
                user = claims.user,
                "agent id above 2^32 cannot be routed"
            );
        }
        agent
    }

    /// An agent's console asks about the agent itself: forwarded to the routing shard, which answers
    /// through a notice for the console. With routing off there is no queue and no presence to keep:
    /// the inbox is empty and a chosen presence is confirmed as chosen.
    pub(super) fn console_request(
        &mut self,
        (host, rings): (&mut impl Host, &mut impl Rings),
        conn: ConnId,
        claims: &Claims,
        request: ConsoleRequest,
    ) {
        let Some(agent) = self.routable_agent(claims) else {
            return;
        };
        if !self.config.routing_enabled {
            let message = match request {
                ConsoleRequest::Inbox => Message::Inbox(Inbox {
                    agent_id: claims.user,
                    presence: PresenceState::ONLINE,
                    ..Inbox::default()
                }),
                ConsoleRequest::Presence(presence) => Message::Presence(Presence {
                    user_id: claims.user,
                    presence,
                    reason: "chosen (routing is off)".into(),
                }),
            };
            return self.send_frame(host, conn, &OwnedFrame::new(message));
        }
        let tenant = claims.tenant;
        let input = match request {
            ConsoleRequest::Inbox => RoutingInput::InboxQuery {
                tenant,
                agent,
                console: ConsoleRef {
                    shard: self.id,
                    conn,
                },
            },
            ConsoleRequest::Presence(presence) => RoutingInput::AgentSetPresence {
                tenant,
                agent,
                presence: router_presence(presence),
            },
        };
        self.push(rings, self.shards, ShardMsg::ToRouting(input));
    }

    /// Pushes `message` to peer `to`, behind whatever already waits for it.
    pub(super) fn push(&mut self, rings: &mut impl Rings, to: usize, message: ShardMsg) {
        if !self.overflow[to].is_empty() {
            return self.overflow[to].push_back(message);
        }
        if let Err(message) = rings.push(to, message) {
            self.counters.ring_full += 1;
            warn!(
                shard = self.id,
                peer = to,
                "ring full; holding messages for the next tick"
            );
            self.overflow[to].push_back(message);
        }
    }

    /// Retries what waits in the overflow queues, in order (first thing in a tick).
    pub fn retry_overflow(&mut self, rings: &mut impl Rings) {
        for (to, queue) in self.overflow.iter_mut().enumerate() {
            while let Some(message) = queue.pop_front() {
                if let Err(message) = rings.push(to, message) {
                    queue.push_front(message);
                    break;
                }
            }
        }
    }
}
