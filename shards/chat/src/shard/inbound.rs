//! A client's complete message through its session (quotas, the host's overload admission, reads through
//! the read gate), requests to their owners (here or over the rings), console requests, and the close.

use std::sync::Arc;

use switchboard_auth::Claims;
use switchboard_core::engine::ConnId;
use switchboard_log::LogStorage;
use switchboard_protocol::app::{ErrorCode, Lane};
use tracing::debug;

use super::admit::Admission;
use super::{Admitting, ChatCore, Host, Rings};
use crate::frames::error_frame;
use crate::ids::owner_of;
use crate::messages::{ConnRef, Request, ShardMsg};
use crate::session::{SessionContext, SessionOutput};

/// How long a client refused for a full ring should wait, milliseconds.
const RING_FULL_RETRY_AFTER_MS: u32 = 100;

/// What the host must know after a client message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MessageOutcome {
    /// The message authenticated the session (`welcome` sent): the hello deadline is over.
    pub authenticated: bool,
    /// Complete frames received, by lane (the per-lane counts).
    pub lanes: [u32; Lane::ALL.len()],
}

impl<S: LogStorage> ChatCore<S> {
    /// One complete WebSocket message of `conn` (of the session's type: the host checks that), handled
    /// by its session; requests go to their owners, frames to the connection.
    pub fn message(
        &mut self,
        (host, rings): (&mut impl Host, &mut impl Rings),
        conn: ConnId,
        payload: &[u8],
        heartbeat_interval_ms: u64,
    ) -> MessageOutcome {
        let mut outcome = MessageOutcome::default();
        let ctx = SessionContext {
            keyring: &self.keyring,
            config: &self.config,
            wall_ms: host.wall_ms(),
            now_ms: host.now_ms(),
            heartbeat_interval_ms,
        };
        let mut outputs = std::mem::take(&mut self.outputs);
        let Some(session) = host.session(conn) else {
            return outcome;
        };
        session.handle_message(payload, (&ctx, &mut self.texts), &mut outputs);
        let principal = session.principal().cloned();
        // One clock read per message that carries a send (for its stage latencies), none otherwise.
        let mut received_us = None;
        // Set by the first request of this message refused over quota: the rest are dropped.
        let mut over_quota = false;
        for output in outputs.drain(..) {
            match output {
                SessionOutput::Frame(frame) => self.send_frame(host, conn, &frame),
                SessionOutput::Request(mut request) => {
                    let principal = principal.as_ref().expect("requests only after hello");
                    if over_quota {
                        self.counters.quota_refusals += 1;
                        continue;
                    }
                    // Reads are bounded by the connection's read gate instead: a resume of many
                    // positions is one client action.
                    if !request.is_read() {
                        if let Admission::Refuse = self.charge(host, conn, principal) {
                            over_quota = true;
                            continue;
                        }
                    }
                    if let Request::Send {
                        received_us: stamp, ..
                    } = &mut request
                    {
                        *stamp = *received_us.get_or_insert_with(|| host.clock_us());
                    }
                    if let Err(frame) = host.admit(Admitting::Request(&request), principal) {
                        self.counters.overload_refusals += 1;
                        self.send_frame(host, conn, &frame);
                        continue;
                    }
                    if request.is_read() {
                        let refused = self.read((host, rings), conn, request);
                        over_quota = matches!(refused, Admission::Refuse);
                    } else {
                        self.request((host, rings), conn, principal, request);
                    }
                }
                SessionOutput::Authenticated(claims) => {
                    outcome.authenticated = true;
                    self.local.add_user(claims.tenant, claims.user, conn);
                    self.quotas.connected(&claims);
                    self.agent_presence(rings, &claims, true, conn);
                    debug!(
                        shard = self.id,
                        ?conn,
                        tenant = claims.tenant,
                        user = claims.user,
                        role = claims.role.name(),
                        "authenticated"
                    );
                }
                SessionOutput::Unauthorized(error) => {
                    self.counters.unauthorized += 1;
                    debug!(shard = self.id, ?conn, %error, "token refused");
                }
                SessionOutput::Close(code) => host.close(conn, code),
                // Lanes are indexed by discriminant (`Lane::ALL` lists them in that order).
                SessionOutput::Received(lane) => outcome.lanes[lane as usize] += 1,
                SessionOutput::Console(request) => {
                    let principal = principal
                        .as_ref()
                        .expect("console requests only after hello");
                    if let Err(frame) = host.admit(Admitting::Console(request), principal) {
                        self.counters.overload_refusals += 1;
                        self.send_frame(host, conn, &frame);
                        continue;
                    }
                    self.console_request((host, rings), conn, principal, request);
                }
            }
        }
        self.outputs = outputs;
        outcome
    }

    /// Sends `request` to its owner (or handles it here when this shard owns the conversation). Returns
    /// `false` when the owner's ring was full: the client was told `overloaded` and nothing happened.
    pub(super) fn request(
        &mut self,
        (host, rings): (&mut impl Host, &mut impl Rings),
        conn: ConnId,
        principal: &Arc<Claims>,
        request: Request,
    ) -> bool {
        let conversation = request.conversation();
        let from = ConnRef {
            shard: self.id,
            conn,
        };
        // What the request makes this connection follow; applied only once the request reaches its
        // owner: a resume refused for a full ring must not leave the connection waiting for a replay
        // that never comes (it would skip every live delivery of the conversation).
        let follows = match &request {
            Request::Send { .. } | Request::Typing { .. } => Some(true),
            Request::Resume { .. } => Some(false),
            Request::History { .. }
            | Request::Read { .. }
            | Request::Update { .. }
            | Request::Ticket { .. } => None,
        };
        let owner = owner_of(conversation, self.shards);
        if owner == self.id {
            if let Some(live) = follows {
                self.local.follow(conversation, conn, live);
            }
            self.owner.handle(from, principal, request, host.wall_ms());
            return true;
        }
        let message = ShardMsg::Request {
            from,
            principal: Arc::clone(principal),
            request,
        };
        // Requests never wait in the overflow queue: a refused one costs nothing and is retried.
        if rings.push(owner, message).is_err() {
            self.counters.requests_refused_ring_full += 1;
            debug!(
                shard = self.id,
                ?conn,
                conversation,
                "owner's ring full: request refused"
            );
            let frame = error_frame(
                ErrorCode::OVERLOADED,
                "owner shard busy",
                Some(RING_FULL_RETRY_AFTER_MS),
            );
            self.send_frame(host, conn, &frame);
            return false;
        }
        if let Some(live) = follows {
            self.local.follow(conversation, conn, live);
        }
        true
    }

    /// `conn` closed (its session taken out of the host): it stops following its conversations, shards
    /// with no follower left tell owners, and an agent's presence loses a connection.
    pub fn closed(&mut self, rings: &mut impl Rings, conn: ConnId, session: &crate::Session) {
        for follow in session.follows() {
            if self.local.unfollow(follow.conversation, conn) {
                self.tell_unfollow(rings, follow.conversation, 0);
            }
        }
        if let Some(principal) = session.principal() {
            let left = self
                .local
                .remove_user(principal.tenant, principal.user, conn);
            self.quotas.disconnected(principal, left);
            // Presence follows connections: the routing shard counts them per shard.
            self.agent_presence(rings, principal, false, conn);
        }
    }
}
