//! What a client may make this shard do: the request quotas (per connection, per user and per tenant on
//! this shard) and the reads waiting at each connection's [`ReadGate`](crate::reads::ReadGate).
//!
//! Both act before a request costs anything: a request over quota is answered `rate_limited` (once per
//! WebSocket message; the rest of that message is dropped, so a batch of thousands of frames costs one
//! error frame), and a read goes to its owner only when the connection's send queue has room for its
//! answer.

use std::collections::HashMap;
use std::sync::Arc;

use switchboard_auth::Claims;
use switchboard_core::engine::ConnId;
use switchboard_log::LogStorage;
use switchboard_protocol::app::ErrorCode;

use super::{ChatCore, Host, Rings};
use crate::frames::error_frame;
use crate::messages::Request;
use crate::quota::RateBucket;
use crate::reads::{ReadLimits, READ_MESSAGE_OVERHEAD_BYTES};

/// How long a client whose read queue is full should wait before asking again, milliseconds.
const READS_FULL_RETRY_AFTER_MS: u32 = 1_000;

/// The per-user and per-tenant request buckets of one shard.
#[derive(Debug, Default)]
pub struct Quotas {
    /// By (tenant, user); removed when the user's last connection on this shard closes.
    users: HashMap<(u64, u64), RateBucket>,
    /// By tenant, with the tenant's connections on this shard (the bucket is made full on first use);
    /// removed with the last connection.
    tenants: HashMap<u64, (u64, Option<RateBucket>)>,
}

impl Quotas {
    /// A connection of `principal` authenticated.
    pub(super) fn connected(&mut self, principal: &Claims) {
        self.tenants.entry(principal.tenant).or_default().0 += 1;
    }

    /// A connection of `principal` closed; `user_connections_left` of the user remain on this shard.
    pub(super) fn disconnected(&mut self, principal: &Claims, user_connections_left: usize) {
        if user_connections_left == 0 {
            self.users.remove(&(principal.tenant, principal.user));
        }
        if let Some((connections, _)) = self.tenants.get_mut(&principal.tenant) {
            *connections = connections.saturating_sub(1);
            if *connections == 0 {
                self.tenants.remove(&principal.tenant);
            }
        }
    }
}

/// What to do with one request of a message.
pub(super) enum Admission {
    /// Go on.
    Admit,
    /// Refuse it (already told, or to be dropped silently after the message's first refusal).
    Refuse,
}

impl<S: LogStorage> ChatCore<S> {
    /// Charges one request of `principal` on `conn` to the connection's, the user's and the tenant's
    /// buckets; a refusal gets a `rate_limited` error with the time until a token is available (the
    /// caller drops the rest of the message without another).
    pub(super) fn charge(
        &mut self,
        host: &mut impl Host,
        conn: ConnId,
        principal: &Claims,
    ) -> Admission {
        let now = host.now_ms();
        let config = &self.config;
        let Some(session) = host.session(conn) else {
            return Admission::Refuse;
        };
        let connection = session.take_quota(config.connection_requests_per_second_max, now);
        let user_rate = config.user_requests_per_second_max;
        let user = self
            .quotas
            .users
            .entry((principal.tenant, principal.user))
            .or_insert_with(|| RateBucket::full(user_rate, now))
            .take(user_rate, now);
        let tenant_rate = config.tenant_requests_per_second_max;
        let tenant =
            self.quotas
                .tenants
                .get_mut(&principal.tenant)
                .map_or(Ok(()), |(_, bucket)| {
                    bucket
                        .get_or_insert_with(|| RateBucket::full(tenant_rate, now))
                        .take(tenant_rate, now)
                });
        let wait_ms = [connection, user, tenant]
            .into_iter()
            .filter_map(Result::err)
            .max();
        let Some(wait_ms) = wait_ms else {
            return Admission::Admit;
        };
        self.counters.quota_refusals += 1;
        let retry_after = u32::try_from(wait_ms).unwrap_or(u32::MAX);
        let frame = error_frame(
            ErrorCode::RATE_LIMITED,
            "too many requests; the rest of this message was dropped",
            Some(retry_after),
        );
        self.send_frame(host, conn, &frame);
        Admission::Refuse
    }

    /// The limits of every connection's read gate on this shard.
    fn read_limits(&self) -> ReadLimits {
        let config = &self.config;
        let answer_bytes = config.history_page_bytes_max.max(config.replay_bytes_max)
            + READ_MESSAGE_OVERHEAD_BYTES;
        ReadLimits {
            in_flight_max: u32::try_from(config.reads_in_flight_per_connection_max)
                .unwrap_or(u32::MAX),
            pending_max: usize::try_from(config.reads_pending_per_connection_max)
                .unwrap_or(usize::MAX),
            answer_bytes_max: usize::try_from(answer_bytes).unwrap_or(usize::MAX),
            send_queue_bytes_max: self.send_queue_bytes_max,
        }
    }

    /// Queues a read at the connection's gate (refused `rate_limited` when the gate is full) and sends
    /// what may go now.
    pub(super) fn read(
        &mut self,
        (host, rings): (&mut impl Host, &mut impl Rings),
        conn: ConnId,
        read: Request,
    ) -> Admission {
        let limits = self.read_limits();
        let Some(session) = host.session(conn) else {
            return Admission::Refuse;
        };
        if session.reads_mut().push(read, &limits).is_err() {
            self.counters.reads_refused += 1;
            let frame = error_frame(
                ErrorCode::RATE_LIMITED,
                "too many reads waiting on this connection",
                Some(READS_FULL_RETRY_AFTER_MS),
            );
            self.send_frame(host, conn, &frame);
            return Admission::Refuse;
        }
        self.dispatch_reads(host, rings, conn);
        Admission::Admit
    }

    /// Sends the connection's waiting reads to their owners while its gate allows; a connection left
    /// with waiting reads is retried at the end of every tick.
    fn dispatch_reads(&mut self, host: &mut impl Host, rings: &mut impl Rings, conn: ConnId) {
        let limits = self.read_limits();
        loop {
            let queued = host.queued_bytes(conn);
            let Some(session) = host.session(conn) else {
                return;
            };
            let Some(principal) = session.principal().map(Arc::clone) else {
                return;
            };
            let Some(read) = session.reads_mut().next_ready(queued, &limits) else {
                break;
            };
            if !self.request((host, rings), conn, &principal, read) {
                // Not sent (the owner's ring is full; the client was told): its place is free again.
                if let Some(session) = host.session(conn) {
                    session.reads_mut().completed();
                }
            }
        }
        let list = host
            .session(conn)
            .is_some_and(|session| session.reads_mut().list_if_waiting());
        if list {
            self.read_waiters.push(conn);
        }
    }

    /// A read of `conn` was answered: its place at the gate is free for the next one.
    pub(super) fn read_answered(
        &mut self,
        host: &mut impl Host,
        rings: &mut impl Rings,
        conn: ConnId,
    ) {
        if let Some(session) = host.session(conn) {
            session.reads_mut().completed();
        }
        self.dispatch_reads(host, rings, conn);
    }

    /// Retries the connections whose reads wait for room in their send queue (once per tick).
    pub(super) fn retry_waiting_reads(&mut self, host: &mut impl Host, rings: &mut impl Rings) {
        for conn in std::mem::take(&mut self.read_waiters) {
            let Some(session) = host.session(conn) else {
                continue;
            };
            session.reads_mut().unlist();
            self.dispatch_reads(host, rings, conn);
        }
    }
}
