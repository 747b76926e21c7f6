//! [`ChatWorld`]: one client thread's chat actors, the conversations they share, and the checks.
//!
//! Sans-IO like [`crate::client`]: it is fed payloads and times, and writes frames into the caller's
//! buffer (for the connection that received) or into [`ChatWorld::outbox`] (for another actor's
//! connection, e.g. an agent told to follow a conversation that just opened).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::{SystemTime, UNIX_EPOCH};

use switchboard_protocol::app::{
    Ack, Deliver, Gap, GapReason, HistoryResult, Lane, Message, MessageId, SenderRole,
};
use switchboard_shards::auth::{Keyring, Role as TokenRole};

use super::actor::ROUTED_AGENT_USER_BASE;
use super::actor::{role_of, Actor, CustomerKind, Pending, Role, AGENT_USER_BASE};
use super::ledger::Verdict;
use super::params::{ChatParams, RoutingParams, TOKEN_TTL_S};
use super::routed::RoutedState;
use super::wire::{frames, IdParts, Writer};
use crate::client::ClientError;
use crate::config::RunConfig;
use crate::rng::Rng;
use crate::stats::{record, Stats};

/// The token identity of connection `number` in `role`: customers are users `number + 1`; agents are
/// admin observers, or (routed) agent-role users with the configured groups. A routed customer follows no
/// one in advance: the server assigns agents.
fn identity<'a>(
    role: &mut Role,
    number: u32,
    routing: Option<&'a RoutingParams>,
) -> (u64, TokenRole, &'a [u32]) {
    match (role, routing) {
        (Role::Customer { followers }, _) => {
            if routing.is_some() {
                followers.clear();
            }
            (u64::from(number) + 1, TokenRole::Customer, &[])
        }
        (Role::Agent { .. }, Some(r)) => (
            ROUTED_AGENT_USER_BASE + u64::from(number),
            TokenRole::Agent,
            &r.agent_groups,
        ),
        (Role::Agent { .. }, None) => (AGENT_USER_BASE + u64::from(number), TokenRole::Admin, &[]),
    }
}

/// The per-call context: where counts go, masks, and the time.
pub struct ChatContext<'a> {
    /// This thread's counters.
    pub stats: &'a mut Stats,
    /// Mask keys.
    pub rng: &'a mut Rng,
    /// Now, nanoseconds since the epoch.
    pub now_ns: u64,
}

/// One thread's chat state.
#[derive(Debug)]
pub struct ChatWorld {
    pub(super) run_id: u32,
    threads: u32,
    think_ns: u64,
    reply_every: u32,
    /// Text of every unrouted message (`--size` bytes).
    pub(super) text: String,
    /// Routed chat: the customer shares, agent groups and questions.
    pub(super) routing: Option<RoutingParams>,
    /// Routed chat: conversations' customers and early assignments.
    pub(super) routed: Option<RoutedState>,
    /// Actors by local index (`number / threads`).
    pub actors: Vec<Actor>,
    /// Highest acked sequence per conversation.
    heads: HashMap<u64, u64>,
    /// Agent replies waiting for their think time: (due ns, agent local index, conversation).
    replies: BinaryHeap<Reverse<(u64, u32, u64)>>,
    /// Frames for other actors' connections: (local index, WebSocket bytes).
    pub outbox: Vec<(u32, Vec<u8>)>,
    pub(super) writer: Writer,
    /// The last `history_query` id sent by this thread.
    next_query_id: u32,
}

impl ChatWorld {
    /// The actors of thread `thread`, with their tokens.
    pub fn new(
        config: &RunConfig,
        params: &ChatParams,
        thread: usize,
    ) -> Result<ChatWorld, String> {
        let keyring = Keyring::from_config(&params.auth).map_err(|e| format!("auth: {e}"))?;
        let now_s = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let owned = config.connections_of_thread(thread);
        let threads = config.threads as u32;
        let routing = params.routing.as_ref();
        // Routed: one tenant per client thread, so every conversation's agent is on its thread.
        let tenant = params.tenant + routing.map_or(0, |_| thread as u64);
        let mut actors = Vec::with_capacity(owned as usize);
        for k in 0..owned {
            let number = k * threads + thread as u32;
            let mut role = role_of(
                config.scenario,
                k,
                owned,
                params.customers_per_agent,
                params.agent_reply_every > 0 || routing.is_some(),
            );
            let (user, token_role, groups) = identity(&mut role, number, routing);
            let token = keyring
                .mint(
                    tenant,
                    user,
                    token_role,
                    groups,
                    now_s.saturating_sub(60),
                    TOKEN_TTL_S,
                )
                .map_err(|e| format!("mint: {e}"))?;
            let mut actor = Actor::new(number, role, token);
            if let (true, Some(r)) = (actor.is_customer(), routing) {
                actor.kind = Some(CustomerKind::of(
                    number,
                    r.out_of_scope_share,
                    r.angry_share,
                ));
            }
            actors.push(actor);
        }
        Ok(ChatWorld {
            run_id: config.run_id,
            threads,
            think_ns: params.agent_think_ms * 1_000_000,
            reply_every: params.agent_reply_every,
            text: "x".repeat(config.size_bytes),
            routing: routing.cloned(),
            routed: routing.map(|_| RoutedState::default()),
            actors,
            heads: HashMap::new(),
            replies: BinaryHeap::new(),
            outbox: Vec::new(),
            writer: Writer::default(),
            next_query_id: 0,
        })
    }

    /// Local index of connection `number`.
    pub fn local(&self, number: u32) -> usize {
        (number / self.threads) as usize
    }

    /// The actor behind connection `number`.
    pub fn actor(&mut self, number: u32) -> &mut Actor {
        let k = self.local(number);
        &mut self.actors[k]
    }

    /// The WebSocket upgrade completed: appends `hello`.
    pub fn write_hello(&mut self, number: u32, rng: &mut Rng, out: &mut Vec<u8>) {
        let k = self.local(number);
        self.writer.hello(&self.actors[k].token, rng.mask(), out);
    }

    /// One WebSocket payload arrived on `number`'s connection; replies go to `out`. Returns whether a
    /// `welcome` arrived (the shard then starts the actor's schedule).
    pub fn on_payload(
        &mut self,
        number: u32,
        payload: &[u8],
        ctx: &mut ChatContext<'_>,
        out: &mut Vec<u8>,
    ) -> Result<bool, ClientError> {
        let k = self.local(number);
        let mut welcomed = false;
        for (lane, message) in frames(payload, &mut self.actors[k].reassembler)? {
            match message {
                Message::Welcome(_) => {
                    welcomed = true;
                    self.on_welcome(k, ctx, out);
                }
                Message::Ack(ack) => self.on_ack(k, &ack, ctx, out),
                Message::Deliver(deliver) => self.on_deliver(k, &deliver, lane, ctx),
                Message::Handoff(handoff) => self.on_handoff(k, &handoff, ctx, out),
                Message::Ticket(_) if self.actors[k].is_customer() => ctx.stats.tickets += 1,
                Message::Replay(replay) => {
                    let track = self.actors[k].follows.entry(replay.conversation_id);
                    track
                        .or_default()
                        .begin_replay(replay.from_sequence, replay.to_sequence);
                }
                Message::Gap(gap) => self.on_gap(k, &gap, ctx, out),
                Message::HistoryResult(result) => self.on_history(k, &result, ctx, out),
                Message::Ping(ping) => {
                    self.writer.pong(ping.timestamp_ms, ctx.rng.mask(), out);
                    ctx.stats.pings_answered += 1;
                }
                Message::Error(error) => {
                    let name = error.code.name().unwrap_or("unknown");
                    ctx.stats.error(format!("server error {name}"));
                }
                _ => {}
            }
        }
        Ok(welcomed)
    }

    /// `gap`: a range the server cannot replay. An `unavailable` one (more than the server replays at
    /// once, or a log that is recovering) is paged in with `history_query`, as the protocol tells clients
    /// to; what never arrives stays missing and counts as lost. Any other reason is an error (`gaps`).
    fn on_gap(&mut self, k: usize, gap: &Gap, ctx: &mut ChatContext<'_>, out: &mut Vec<u8>) {
        let count = (gap.to_sequence + 1).saturating_sub(gap.from_sequence);
        if gap.reason != GapReason::UNAVAILABLE || count == 0 {
            ctx.stats.gaps += count;
            return;
        }
        ctx.stats.gaps_paged += count;
        let track = self.actors[k]
            .follows
            .entry(gap.conversation_id)
            .or_default();
        if let Some(before) = track.begin_paging(gap.from_sequence, gap.to_sequence) {
            self.ask_history(gap.conversation_id, before, ctx, out);
        }
    }

    /// `history_result`: a page of an `unavailable` gap; asks for the next page until the gap is filled.
    fn on_history(
        &mut self,
        k: usize,
        result: &HistoryResult,
        ctx: &mut ChatContext<'_>,
        out: &mut Vec<u8>,
    ) {
        let Some(track) = self.actors[k].follows.get_mut(&result.conversation_id) else {
            ctx.stats
                .error("history_result of a conversation not followed");
            return;
        };
        let sequences: Vec<u64> = result.messages.iter().map(|m| m.sequence).collect();
        let (new, next) = track.page(&sequences, result.has_more);
        ctx.stats.history_paged += new;
        if let Some(before) = next {
            self.ask_history(result.conversation_id, before, ctx, out);
        }
    }

    /// Appends a `history_query` for the page of `conversation` before `before` to `out`.
    fn ask_history(
        &mut self,
        conversation: u64,
        before: u64,
        ctx: &mut ChatContext<'_>,
        out: &mut Vec<u8>,
    ) {
        self.next_query_id = self.next_query_id.wrapping_add(1);
        let mask = ctx.rng.mask();
        self.writer
            .history_query(self.next_query_id, conversation, before, mask, out);
    }

    /// `welcome`: resume every followed conversation, re-send what was never acked.
    fn on_welcome(&mut self, k: usize, ctx: &mut ChatContext<'_>, out: &mut Vec<u8>) {
        let actor = &mut self.actors[k];
        actor.welcomed = true;
        let positions: Vec<(u64, u64)> = actor
            .follows
            .iter()
            .map(|(&conversation, track)| (conversation, track.prefix()))
            .collect();
        if !positions.is_empty() {
            self.writer.resume(&positions, ctx.rng.mask(), out);
        }
        let resend: Vec<(MessageId, u64)> = actor
            .pending
            .iter()
            .filter(|p| p.sent)
            .map(|p| (p.id, p.conversation))
            .collect();
        for (id, conversation) in resend {
            self.write_message(k, id, conversation, ctx.rng.mask(), out);
            ctx.stats.resent += 1;
        }
    }

    fn on_ack(&mut self, k: usize, ack: &Ack, ctx: &mut ChatContext<'_>, out: &mut Vec<u8>) {
        let actor = &mut self.actors[k];
        let Some(index) = actor.pending.iter().position(|p| p.id == ack.message_id) else {
            ctx.stats.error("ack of a message not pending");
            return;
        };
        let pending = actor.pending.remove(index);
        ctx.stats.acked += 1;
        record(
            &mut ctx.stats.ack_latency,
            ctx.now_ns.saturating_sub(pending.intended_ns),
        );
        let head = self.heads.entry(ack.conversation_id).or_insert(0);
        *head = (*head).max(ack.sequence);
        actor
            .follows
            .entry(ack.conversation_id)
            .or_default()
            .own(ack.sequence);
        if actor.conversation.is_some() || !actor.is_customer() {
            return;
        }
        // The opening send: the conversation exists; send what waited for it, tell the agents.
        actor.conversation = Some(ack.conversation_id);
        let mut waiting = Vec::new();
        for pending in actor.pending.iter_mut().filter(|p| !p.sent) {
            pending.sent = true;
            pending.conversation = ack.conversation_id;
            waiting.push(pending.id);
        }
        let Role::Customer { followers } = actor.role.clone() else {
            unreachable!("checked above");
        };
        for id in waiting {
            self.write_message(k, id, ack.conversation_id, ctx.rng.mask(), out);
        }
        self.note_opened(k, ack.conversation_id, ctx);
        for agent in followers {
            self.follow(agent as usize, ack.conversation_id, ctx.rng);
        }
    }

    /// Makes agent `k` follow `conversation` from its start (a `resume` at 0 if it is connected).
    fn follow(&mut self, k: usize, conversation: u64, rng: &mut Rng) {
        let actor = &mut self.actors[k];
        actor.follows.entry(conversation).or_default();
        if actor.welcomed {
            let mut out = Vec::new();
            self.writer
                .resume(&[(conversation, 0)], rng.mask(), &mut out);
            self.outbox.push((k as u32, out));
        }
    }

    fn on_deliver(&mut self, k: usize, deliver: &Deliver, lane: Lane, ctx: &mut ChatContext<'_>) {
        let actor = &mut self.actors[k];
        // A routed customer's first AI answer (AI lane) can overtake the opening `ack` (chat lane), and a
        // newly assigned routed agent may get deliveries before its `handoff`.
        if actor.kind.is_some() && actor.conversation.is_none() {
            actor.follows.entry(deliver.conversation_id).or_default();
        }
        if self.routed.is_some() && !actor.is_customer() {
            self.agent_follows_early(k, deliver.conversation_id, ctx);
        }
        let actor = &mut self.actors[k];
        let Some(track) = actor.follows.get_mut(&deliver.conversation_id) else {
            ctx.stats.error("deliver of a conversation not followed");
            return;
        };
        let replaying = track.replaying(deliver.sequence);
        match track.deliver(deliver.sequence, lane) {
            Verdict::InOrder => {}
            Verdict::OutOfOrder => ctx.stats.out_of_order += 1,
            Verdict::Duplicate => {
                ctx.stats.duplicated += 1;
                return;
            }
            Verdict::Redelivered => {
                ctx.stats.redelivered += 1;
                return;
            }
        }
        ctx.stats.received += 1;
        let head = self.heads.entry(deliver.conversation_id).or_insert(0);
        *head = (*head).max(deliver.sequence);
        self.on_routed_deliver(k, deliver, !replaying, ctx);
        if replaying {
            ctx.stats.replayed += 1;
        } else if let Some(parts) = IdParts::of(deliver.message_id, self.run_id) {
            let latency = ctx.now_ns.saturating_sub(parts.intended_ns);
            record(&mut ctx.stats.deliver_latency, latency);
        }
        let from_customer = deliver.sender_role == SenderRole::CUSTOMER;
        if self.routed_agent_skips(k, replaying) || self.reply_every == 0 {
            return;
        }
        let actor = &mut self.actors[k];
        if let (Role::Agent { replies: true }, true) = (&actor.role, from_customer) {
            actor.customer_messages += 1;
            if actor.customer_messages % u64::from(self.reply_every) == 0 {
                self.schedule_reply(ctx.now_ns, k, deliver.conversation_id);
            }
        }
    }

    /// Agent `k` answers in `conversation` after the think time.
    pub(super) fn schedule_reply(&mut self, now_ns: u64, k: usize, conversation: u64) {
        let due = now_ns + self.think_ns;
        self.replies.push(Reverse((due, k as u32, conversation)));
    }

    /// Appends customer `number`'s scheduled message (intended at `intended_ns`) to `out`, unless
    /// `in_flight_max` sends are unacked (then it is skipped and counted).
    pub fn write_scheduled(
        &mut self,
        number: u32,
        intended_ns: u64,
        in_flight_max: u32,
        ctx: &mut ChatContext<'_>,
        out: &mut Vec<u8>,
    ) {
        let k = self.local(number);
        let actor = &mut self.actors[k];
        if actor.pending.len() >= in_flight_max as usize {
            ctx.stats.skipped_backlog += 1;
            return;
        }
        let conversation = actor.conversation.unwrap_or(0);
        // Until the opening send is acked, further sends wait: they need its conversation id.
        let waiting = conversation == 0 && actor.pending.iter().any(|p| p.sent);
        self.write_send(k, intended_ns, conversation, !waiting, ctx, out);
    }

    /// Records and (if `now`) writes one send of actor `k`.
    fn write_send(
        &mut self,
        k: usize,
        intended_ns: u64,
        conversation: u64,
        now: bool,
        ctx: &mut ChatContext<'_>,
        out: &mut Vec<u8>,
    ) {
        let actor = &mut self.actors[k];
        let intended_ns = actor.next_intended(intended_ns);
        let id = IdParts {
            run_id: self.run_id,
            connection: actor.number,
            intended_ns,
        }
        .to_id();
        actor.pending.push(Pending {
            id,
            intended_ns,
            conversation,
            sent: now,
        });
        let mut scratch = Vec::new();
        let target = if now { out } else { &mut scratch };
        let bytes = self.write_message(k, id, conversation, ctx.rng.mask(), target) as u64;
        if self.actors[k].is_customer() {
            self.note_question(k, intended_ns);
        }
        ctx.stats.sent += 1;
        ctx.stats.bytes_sent += bytes;
        record(
            &mut ctx.stats.send_lag,
            ctx.now_ns.saturating_sub(intended_ns).max(1),
        );
    }

    /// When the next agent reply is due.
    pub fn next_reply_ns(&self) -> Option<u64> {
        self.replies.peek().map(|Reverse((due, _, _))| *due)
    }

    /// Writes every agent reply due by `now` into the outbox (replies of disconnected agents are dropped).
    pub fn send_due_replies(&mut self, ctx: &mut ChatContext<'_>) {
        while let Some(&Reverse((due, k, conversation))) = self.replies.peek() {
            if due > ctx.now_ns {
                break;
            }
            self.replies.pop();
            let k = k as usize;
            if !self.actors[k].welcomed {
                ctx.stats.replies_dropped += 1;
                continue;
            }
            let mut out = Vec::new();
            self.write_send(k, due, conversation, true, ctx, &mut out);
            self.outbox.push((k as u32, out));
        }
    }

    /// `number`'s connection is gone; the next one resumes where this one stood.
    pub fn on_disconnected(&mut self, number: u32) {
        let actor = self.actor(number);
        actor.welcomed = false;
        actor.conn = None;
        actor.follows.values_mut().for_each(|t| t.reconnecting());
        actor.reassembler = None;
    }

    /// Sends unacked plus deliveries still missing at connected followers: the drain waits for 0.
    pub fn outstanding(&self) -> u64 {
        let pending: u64 = self.actors.iter().map(|a| a.pending.len() as u64).sum();
        pending + self.missing()
    }

    fn missing(&self) -> u64 {
        let head = |conversation: &u64| self.heads.get(conversation).copied().unwrap_or(0);
        self.actors
            .iter()
            .filter(|a| a.welcomed)
            .flat_map(|a| a.follows.iter())
            .map(|(conversation, track)| track.missing(head(conversation)))
            .sum()
    }

    /// End of the drain: counts sends never acked, and deliveries lost at followers still connected.
    pub fn settle(&self, stats: &mut Stats) {
        stats.unacked += self
            .actors
            .iter()
            .map(|a| a.pending.len() as u64)
            .sum::<u64>();
        stats.lost += self.missing();
        self.settle_routed(stats);
    }
}
