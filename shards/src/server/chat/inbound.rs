//! A connection's life in chat mode on its shard: the upgrade (subprotocol and handshake token), each
//! complete WebSocket message through the session (quotas, overload admission, reads through the read
//! gate), requests to their owners (local or over the rings), deadlines and the close.

use std::sync::Arc;

use switchboard_core::engine::ConnId;
use switchboard_protocol::app::{ErrorCode, Message, OwnedFrame};
use switchboard_protocol::ws::handshake::{PlainRequest, Subprotocol, UpgradeRequest};
use tracing::debug;

use super::admit::Admission;
use super::{
    console_class, process_us, request_class, send_frame, session_principal_set, wall_ms,
    ChatShard, CLOSE_WRONG_MESSAGE_TYPE, NO_SUBPROTOCOL_BODY, RING_FULL_RETRY_AFTER_MS,
};
use crate::auth::{Claims, VerifyOptions};
use crate::chat::ids::owner_of;
use crate::chat::messages::{ConnRef, Request, ShardMsg};
use crate::chat::owner::error_frame;
use crate::chat::session::CLOSE_POLICY;
use crate::chat::{Encoding, Session, SessionContext, SessionOutput};
use crate::conn::lane::{lane_index, DataKind};
use crate::server::table::{Entry, Table};

impl ChatShard {
    /// The WebSocket upgrade was accepted: start a session, or take the upgrade back (docs/protocol.md
    /// section 1) with 400 when no switchboard subprotocol was negotiated and 401 when the request carries
    /// a token that does not verify (a request without one sends it in `hello`).
    pub(crate) fn opened(&mut self, entry: &mut Entry, request: &UpgradeRequest, now: u64) {
        let encoding = match request.subprotocol {
            Some(Subprotocol::Binary) => Encoding::Binary,
            Some(Subprotocol::Json) => Encoding::Json,
            None => return entry.conn.refuse_upgrade(400, NO_SUBPROTOCOL_BODY, now),
        };
        let token = request.token.clone().or_else(|| {
            request
                .authorization
                .as_deref()
                .and_then(|value| value.strip_prefix("Bearer "))
                .map(|token| token.trim().to_owned())
        });
        if let Some(token) = token.as_deref() {
            let options = VerifyOptions {
                now_s: wall_ms() / 1_000,
                expected_tenant: None,
            };
            if let Err(error) = self.keyring.verify(token, options) {
                self.counters.unauthorized += 1;
                debug!(shard = self.id, conn = ?entry.id, %error, "upgrade token refused");
                let body = format!("token refused: {error}");
                return entry.conn.refuse_upgrade(401, &body, now);
            }
        }
        let message_bytes_max =
            u32::try_from(self.config.text_bytes_max.saturating_mul(4)).unwrap_or(u32::MAX);
        let mut session = Box::new(Session::new(encoding, token, message_bytes_max));
        if !self.config.origins.is_empty() {
            session.set_origin(request.origin.clone());
        }
        entry.session = Some(session);
        entry
            .conn
            .set_app_deadline(Some(now + self.config.hello_timeout_ms));
    }

    /// The session's deadline passed: its `hello` (before authentication), or the unfinished fragmented
    /// message it started `limits.partial_message_timeout_ms` ago.
    pub(crate) fn deadline(&mut self, entry: &mut Entry, now: u64) {
        let Some(session) = entry.session.as_ref() else {
            return;
        };
        if session.principal().is_some() {
            let expired = session
                .reassembly_since_ms()
                .is_some_and(|since| now >= since + self.partial_message_timeout_ms);
            if expired {
                let frame = error_frame(
                    ErrorCode::MESSAGE_TOO_LARGE,
                    "fragmented message not finished in time",
                    None,
                );
                send_frame(&mut self.encoder, entry, &frame, now);
                entry.conn.close(CLOSE_POLICY, now);
            } else {
                // A message finished meanwhile and the clock restarted: wait for the new deadline.
                let deadline = session
                    .reassembly_since_ms()
                    .map(|since| since + self.partial_message_timeout_ms);
                entry.conn.set_app_deadline(deadline);
            }
            return;
        }
        self.counters.unauthorized += 1;
        let frame = error_frame(ErrorCode::UNAUTHORIZED, "no hello in time", None);
        send_frame(&mut self.encoder, entry, &frame, now);
        entry.conn.close(CLOSE_POLICY, now);
    }

    /// One complete WebSocket message of type `kind` from `conn`.
    pub(crate) fn message(
        &mut self,
        table: &mut Table,
        conn: ConnId,
        (kind, payload): (DataKind, &[u8]),
        now: u64,
        heartbeat_interval_ms: u64,
    ) {
        let Some(entry) = table.get_mut(conn) else {
            return;
        };
        let Some(session) = entry.session.as_mut() else {
            return;
        };
        let expected = match session.encoding() {
            Encoding::Binary => DataKind::Binary,
            Encoding::Json => DataKind::Text,
        };
        if kind != expected {
            debug!(
                shard = self.id,
                ?conn,
                ?kind,
                "message of the wrong type for the subprotocol"
            );
            return entry.conn.close(CLOSE_WRONG_MESSAGE_TYPE, now);
        }
        let ctx = SessionContext {
            keyring: &self.keyring,
            config: &self.config,
            wall_ms: wall_ms(),
            now_ms: now,
            heartbeat_interval_ms,
        };
        let mut outputs = std::mem::take(&mut self.outputs);
        session.handle_message(payload, &ctx, &mut outputs);
        // One clock read per message that carries a send (for its stage latencies), none otherwise.
        let mut received_us = None;
        let principal = session.principal().cloned();
        let mut authenticated = false;
        // Set by the first request of this message refused over quota: the rest are dropped.
        let mut over_quota = false;
        for output in outputs.drain(..) {
            match output {
                SessionOutput::Frame(frame) => {
                    send_frame(&mut self.encoder, entry, &frame, now);
                }
                SessionOutput::Request(mut request) => {
                    let principal = principal.as_ref().expect("requests only after hello");
                    if over_quota {
                        self.counters.quota_refusals += 1;
                        continue;
                    }
                    // Reads are bounded by the connection's read gate instead: a resume of many
                    // positions is one client action.
                    if !request.is_read() {
                        if let Admission::Refuse = self.charge(entry, principal, now) {
                            over_quota = true;
                            continue;
                        }
                    }
                    if let Request::Send {
                        received_us: stamp, ..
                    } = &mut request
                    {
                        *stamp = *received_us.get_or_insert_with(process_us);
                    }
                    if let Err(refusal) = self.overload.admit(request_class(&request, principal)) {
                        self.counters.overload_refusals += 1;
                        let frame = OwnedFrame::new(Message::Error(refusal.error_report()));
                        send_frame(&mut self.encoder, entry, &frame, now);
                        continue;
                    }
                    if request.is_read() {
                        over_quota = matches!(self.read(entry, request, now), Admission::Refuse);
                    } else {
                        self.request(entry, principal, request, now);
                    }
                }
                SessionOutput::Authenticated(claims) => {
                    authenticated = true;
                    entry.conn.set_app_deadline(None);
                    self.local.add_user(claims.tenant, claims.user, conn);
                    self.quotas.connected(&claims);
                    self.agent_presence(&claims, true, conn);
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
                SessionOutput::Close(code) => entry.conn.close(code, now),
                SessionOutput::Received(lane) => self.lanes_in[lane_index(lane)] += 1,
                SessionOutput::Console(request) => {
                    let principal = principal
                        .as_ref()
                        .expect("console requests only after hello");
                    if let Err(refusal) = self.overload.admit(console_class(request)) {
                        self.counters.overload_refusals += 1;
                        let frame = OwnedFrame::new(Message::Error(refusal.error_report()));
                        send_frame(&mut self.encoder, entry, &frame, now);
                        continue;
                    }
                    self.console_request(entry, principal, request, now);
                }
            }
        }
        self.outputs = outputs;
        // An unfinished fragmented message must be finished in time (the hello deadline stands until then).
        if session_principal_set(entry) {
            let deadline = entry
                .session
                .as_ref()
                .and_then(|session| session.reassembly_since_ms())
                .map(|since| since + self.partial_message_timeout_ms);
            entry.conn.set_app_deadline(deadline);
        }
        // After the `welcome`: a shard under load says so at once.
        if let Some(frame) = self.status_for_new_session().filter(|_| authenticated) {
            send_frame(&mut self.encoder, entry, &frame, now);
        }
    }

    /// Sends `request` to its owner (or handles it here when this shard owns the conversation). Returns
    /// `false` when the owner's ring was full: the client was told `overloaded` and nothing happened.
    pub(super) fn request(
        &mut self,
        entry: &mut Entry,
        principal: &Arc<Claims>,
        request: Request,
        now: u64,
    ) -> bool {
        let conversation = request.conversation();
        let from = ConnRef {
            shard: self.id,
            conn: entry.id,
        };
        match &request {
            Request::Send { .. } | Request::Typing { .. } => {
                self.local.follow(conversation, entry.id, true)
            }
            Request::Resume { .. } => self.local.follow(conversation, entry.id, false),
            Request::History { .. }
            | Request::Read { .. }
            | Request::Update { .. }
            | Request::Ticket { .. } => {}
        }
        let owner = owner_of(conversation, self.shards);
        if owner == self.id {
            self.owner.handle(from, principal, request, wall_ms());
            return true;
        }
        let message = ShardMsg::Request {
            from,
            principal: Arc::clone(principal),
            request,
        };
        if self
            .endpoint
            .outboxes
            .push_deferred(owner, message)
            .is_err()
        {
            // Nothing was stored: the client retries after the hint.
            self.counters.requests_refused_ring_full += 1;
            let frame = error_frame(
                ErrorCode::OVERLOADED,
                "owner shard busy",
                Some(RING_FULL_RETRY_AFTER_MS),
            );
            send_frame(&mut self.encoder, entry, &frame, now);
            return false;
        }
        true
    }

    /// A connection ended: it stops following its conversations; shards with no follower left tell owners.
    /// A plain HTTP `GET` on the WebSocket port: a page, an asset or a demo token.
    pub(crate) fn plain_request(&mut self, entry: &mut Entry, request: &PlainRequest, now: u64) {
        let mut response = Vec::new();
        let status = self.site.respond(request, wall_ms(), &mut response);
        debug!(shard = self.id, conn = ?entry.id, path = %request.path, status, "http");
        entry.conn.answer_plain(status, &response, now);
    }

    pub(crate) fn closed(&mut self, entry: &mut Entry) {
        let Some(session) = entry.session.take() else {
            return;
        };
        for follow in session.follows() {
            if self.local.unfollow(follow.conversation, entry.id) {
                self.tell_unfollow(follow.conversation, 0);
            }
        }
        if let Some(principal) = session.principal() {
            let left = self
                .local
                .remove_user(principal.tenant, principal.user, entry.id);
            self.quotas.disconnected(principal, left);
            // Presence follows connections: the routing shard counts them per shard.
            self.agent_presence(principal, false, entry.id);
        }
    }
}
