//! The chat shard's side of the cross-core rings: draining what peers sent, pushing with a per-peer
//! overflow queue (a full ring never blocks and never drops), the routing shard's inputs, and the
//! once-per-tick overload sample and metrics.

use switchboard_protocol::app::{Inbox, Message, Presence, PresenceState};

use super::*;
use crate::chat::ConsoleRequest;
use crate::routing::agents::Presence as RouterPresence;
use crate::routing::shard::{ConsoleRef, RoutingOutput};

/// The routing shard's presence for a presence a console chose (checked by the session: a known one).
fn router_presence(presence: PresenceState) -> RouterPresence {
    match presence {
        PresenceState::ONLINE => RouterPresence::Online,
        PresenceState::AWAY => RouterPresence::Away,
        _ => RouterPresence::Offline,
    }
}

impl ChatShard {
    /// Tells the owner this shard has no follower of `conversation` left, as of interest `epoch` (0
    /// when unknown: an owner that added a shard since ignores it, and the next delivery here, with its
    /// epoch, says it again).
    pub(super) fn tell_unfollow(&mut self, conversation: u64, epoch: u64) {
        let owner = owner_of(conversation, self.shards);
        if owner == self.id {
            self.owner.unfollow(conversation, self.id, u64::MAX);
        } else {
            self.push(
                owner,
                ShardMsg::Unfollow {
                    conversation,
                    shard: self.id,
                    epoch,
                },
            );
        }
    }

    /// Handles everything other shards sent since the last tick.
    pub(crate) fn drain_mesh(&mut self, table: &mut Table, dirty: &mut Vec<ConnId>, now: u64) {
        let mut batch = std::mem::take(&mut self.batch);
        self.endpoint
            .inbox
            .drain(MESH_BATCH_PER_PEER, |_, message| batch.push(message));
        for message in batch.drain(..) {
            match message {
                ShardMsg::Request {
                    from,
                    principal,
                    request,
                } => self.owner.handle(from, &principal, request, wall_ms()),
                ShardMsg::Reply(reply) => self.apply_reply(reply, table, dirty, now),
                ShardMsg::Deliver(delivery) => self.deliver_local(&delivery, table, dirty, now),
                ShardMsg::Unfollow {
                    conversation,
                    shard,
                    epoch,
                } => self.owner.unfollow(conversation, shard, epoch),
                ShardMsg::FromRouting(output @ RoutingOutput::ToAgents { .. }) => {
                    self.notify_agents(output, table, dirty, now)
                }
                ShardMsg::FromRouting(output) => self.owner.handle_routing(output, wall_ms()),
                // Only the routing shard receives routing inputs.
                ShardMsg::ToRouting(_) => {}
            }
        }
        self.batch = batch;
    }

    /// Once per tick: feeds the overload detector (queued bytes, tick latency), logs a mode change, and
    /// publishes the counters.
    pub(crate) fn observe(
        &mut self,
        now: u64,
        (table, dirty): (&mut Table, &mut Vec<ConnId>),
        tick_us: u64,
        stats: &mut ChatStats,
    ) {
        for (stage, micros) in self.stage_samples.drain(..) {
            stats.record_stage_us(stage, micros);
        }
        if now >= self.next_queue_scan_ms {
            // A full scan of the connections, so at most once per QUEUE_SCAN_MS (about 0.1 ms per 100K).
            self.queued_bytes = self.scan_buffers(table, dirty, now);
            self.next_queue_scan_ms = now + QUEUE_SCAN_MS;
        }
        // The fullest outgoing ring, the one to the routing shard included (read lock-free, racy by at most
        // what the peers took meanwhile).
        let ring_queued = self.endpoint.outboxes.queued_max();
        let ring_capacity = self.endpoint.outboxes.ring_capacity();
        stats.publish_ring_occupancy(ring_queued, ring_capacity);
        let sample = LoadSample {
            queued_bytes: self.queued_bytes,
            ring_percent: LoadSample::ring_percent_of(ring_queued, ring_capacity),
            latency_us: Some(tick_us),
        };
        if let Some(transition) = self.overload.observe(now, sample) {
            warn!(
                shard = self.id,
                from = transition.from.label(),
                to = transition.to.label(),
                cause = transition.cause.label(),
                "degradation mode changed"
            );
        }
        stats.publish_log_degraded(self.owner.log_degraded());
        let owner = self.owner.counters();
        let pii = self.owner.pii_counts();
        let detected = PiiKind::ALL.iter().map(|&kind| pii.detected(kind)).sum();
        stats.publish(
            [
                owner.messages_stored,
                owner.duplicates,
                owner.conversations_created,
                owner.forbidden,
                owner.not_found,
                self.counters.unauthorized,
                owner.resumes,
                owner.replayed,
                owner.gaps,
                owner.history_queries,
                owner.log_errors,
                self.counters.ring_full + self.counters.requests_refused_ring_full,
                self.counters.overload_refusals,
                detected,
                pii.changed(),
                self.counters.access_revoked,
                self.counters.quota_refusals + owner.quota_refusals,
                self.counters.reads_refused,
                self.counters.budget_closes,
                owner.log_retries,
                owner.log_refused,
                owner.log_damaged,
                owner.evicted,
                owner.reloaded,
            ],
            self.owner.conversation_count(),
            self.overload.mode().as_u8(),
        );
    }

    /// A customer message for the routing shard; when its ring is full the conversation waits for a human
    /// instead (the routing shard never blocks a connection shard).
    pub(super) fn route_or_degrade(&mut self, input: RoutingInput, conversation: u64) {
        let routing = self.shards;
        if !self.overflow[routing].is_empty()
            || self
                .endpoint
                .outboxes
                .push_deferred(routing, ShardMsg::ToRouting(input))
                .is_err()
        {
            self.counters.ring_full += 1;
            self.owner.routing_unavailable(conversation);
        }
    }

    /// An agent connection came or went: the routing shard tracks presence per shard.
    /// An agent's connection `conn` authenticated (`online`) or closed: the routing shard counts the
    /// agent's connections (presence follows them, with a grace period before its conversations are
    /// re-queued) and answers a new console with its presence and inbox.
    pub(super) fn agent_presence(&mut self, claims: &Claims, online: bool, conn: ConnId) {
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
        self.push(self.shards, ShardMsg::ToRouting(input));
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
    /// through [`ChatShard::notify_agents`]. With routing off there is no queue and no presence to keep: the
    /// inbox is empty and a chosen presence is confirmed as chosen.
    pub(super) fn console_request(
        &mut self,
        entry: &mut Entry,
        claims: &Claims,
        request: ConsoleRequest,
        now: u64,
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
            return send_frame(&mut self.encoder, entry, &OwnedFrame::new(message), now);
        }
        let tenant = claims.tenant;
        let input = match request {
            ConsoleRequest::Inbox => RoutingInput::InboxQuery {
                tenant,
                agent,
                console: ConsoleRef {
                    shard: self.id,
                    conn: entry.id,
                },
            },
            ConsoleRequest::Presence(presence) => RoutingInput::AgentSetPresence {
                tenant,
                agent,
                presence: router_presence(presence),
            },
        };
        self.push(self.shards, ShardMsg::ToRouting(input));
    }

    /// A frame from the routing shard for agents' consoles on this shard.
    pub(super) fn notify_agents(
        &mut self,
        output: RoutingOutput,
        table: &mut Table,
        dirty: &mut Vec<ConnId>,
        now: u64,
    ) {
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
            if let Some(entry) = table.get_mut(conn) {
                send_encoded(&mut self.encoder, entry, &mut encoded, now);
                mark(entry, dirty);
            }
        }
        self.targets = targets;
    }

    pub(super) fn push(&mut self, to: usize, message: ShardMsg) {
        if !self.overflow[to].is_empty() {
            return self.overflow[to].push_back(message);
        }
        if let Err(full) = self.endpoint.outboxes.push_deferred(to, message) {
            self.counters.ring_full += 1;
            warn!(
                shard = self.id,
                peer = to,
                "ring full; holding messages for the next tick"
            );
            self.overflow[to].push_back(full.0);
        }
    }

    pub(super) fn retry_overflow(&mut self) {
        for to in 0..self.overflow.len() {
            while let Some(message) = self.overflow[to].pop_front() {
                if let Err(full) = self.endpoint.outboxes.push_deferred(to, message) {
                    self.overflow[to].push_front(full.0);
                    break;
                }
            }
        }
    }
}
