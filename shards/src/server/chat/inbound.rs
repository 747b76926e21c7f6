//! A connection's life in chat mode on its shard: the upgrade (subprotocol and handshake token), each
//! complete WebSocket message handed to the core, deadlines (hello, unfinished fragmented messages),
//! plain HTTP on the WebSocket port, and the close.

use switchboard_core::engine::ConnId;
use switchboard_protocol::app::{ErrorCode, OwnedFrame};
use switchboard_protocol::ws::handshake::{PlainRequest, Subprotocol, UpgradeRequest};
use tracing::debug;

use super::{
    mark, session_principal_set, wall_ms, ChatShard, ShardHost, CLOSE_WRONG_MESSAGE_TYPE,
    NO_SUBPROTOCOL_BODY,
};
use crate::auth::VerifyOptions;
use crate::chat::owner::error_frame;
use crate::chat::session::CLOSE_POLICY;
use crate::chat::shard::Encoded;
use crate::chat::{ChatCore, Encoding, Session};
use crate::conn::lane::DataKind;
use crate::log::DirStorage;
use crate::server::table::{Entry, Table};

/// Encodes `frame` for `entry`'s session and queues it on its lane (for an entry out of the table).
fn send_to_entry(core: &mut ChatCore<DirStorage>, entry: &mut Entry, frame: &OwnedFrame, now: u64) {
    let Some(encoding) = entry.session.as_ref().map(|session| session.encoding()) else {
        return;
    };
    let bytes = Encoded::new(frame).get(core.frames(), encoding);
    let kind = match encoding {
        Encoding::Binary => DataKind::Binary,
        Encoding::Json => DataKind::Text,
    };
    let _ = entry.conn.send(frame.lane, kind, bytes, now);
}

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
            if let Err(error) = self.core.keyring().verify(token, options) {
                self.core.counters.unauthorized += 1;
                debug!(shard = self.id, conn = ?entry.id, %error, "upgrade token refused");
                let body = format!("token refused: {error}");
                return entry.conn.refuse_upgrade(401, &body, now);
            }
        }
        let message_bytes_max =
            u32::try_from(self.core.config().text_bytes_max.saturating_mul(4)).unwrap_or(u32::MAX);
        let mut session = Box::new(Session::new(encoding, token, message_bytes_max));
        if !self.core.config().origins.is_empty() {
            session.set_origin(request.origin.clone());
        }
        entry.session = Some(session);
        entry
            .conn
            .set_app_deadline(Some(now + self.core.config().hello_timeout_ms));
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
                send_to_entry(&mut self.core, entry, &frame, now);
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
        self.core.counters.unauthorized += 1;
        let frame = error_frame(ErrorCode::UNAUTHORIZED, "no hello in time", None);
        send_to_entry(&mut self.core, entry, &frame, now);
        entry.conn.close(CLOSE_POLICY, now);
    }

    /// One complete WebSocket message of type `kind` from `conn`.
    pub(crate) fn message(
        &mut self,
        (table, tick_dirty): (&mut Table, &mut Vec<ConnId>),
        conn: ConnId,
        (kind, payload): (DataKind, &[u8]),
        now: u64,
        heartbeat_interval_ms: u64,
    ) {
        let Some(entry) = table.get_mut(conn) else {
            return;
        };
        let Some(session) = entry.session.as_ref() else {
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
        let mut dirty = std::mem::take(&mut self.marked);
        let mut host = ShardHost {
            table,
            dirty: &mut dirty,
            overload: &self.overload,
            now,
        };
        let outcome = self.core.message(
            (&mut host, &mut self.endpoint.outboxes),
            conn,
            payload,
            heartbeat_interval_ms,
        );
        for (count, lane) in self.lanes_in.iter_mut().zip(outcome.lanes) {
            *count += u64::from(lane);
        }
        // `conn` is being flushed (its events are handled inside its flush): what was queued for it goes
        // out with this flush. Any other connection marked waits for the tick's next flush.
        for marked in dirty.drain(..) {
            if let Some(entry) = table.get_mut(marked) {
                entry.dirty = false;
                if marked != conn {
                    mark(entry, tick_dirty);
                }
            }
        }
        self.marked = dirty;
        let Some(entry) = table.get_mut(conn) else {
            return;
        };
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
        if let Some(frame) = self
            .status_for_new_session()
            .filter(|_| outcome.authenticated)
        {
            send_to_entry(&mut self.core, entry, &frame, now);
        }
    }

    /// A plain HTTP `GET` on the WebSocket port: a page, an asset or a demo token.
    pub(crate) fn plain_request(&mut self, entry: &mut Entry, request: &PlainRequest, now: u64) {
        let mut response = Vec::new();
        let status = self.site.respond(request, wall_ms(), &mut response);
        debug!(shard = self.id, conn = ?entry.id, path = %request.path, status, "http");
        entry.conn.answer_plain(status, &response, now);
    }

    /// A connection ended: it stops following its conversations; shards with no follower left tell owners.
    pub(crate) fn closed(&mut self, entry: &mut Entry) {
        let Some(session) = entry.session.take() else {
            return;
        };
        self.core
            .closed(&mut self.endpoint.outboxes, entry.id, &session);
    }
}
