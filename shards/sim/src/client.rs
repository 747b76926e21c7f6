//! [`Client`]: a customer or an agent console that follows docs/protocol.md, and checks what it is told.
//!
//! What it does as the spec says: `hello`, then after `welcome` one `resume` with the position of every
//! conversation it shows ([`Track`]) and every `send` not yet acknowledged, again with the same message
//! id; an `ack` is matched to its `send` by message id; a `deliver` it already holds is dropped; a console
//! resumes a conversation assigned to it (for the history) and comes back `online` when the server set it
//! away. What it checks on every frame: the server never gives one sequence to two messages, never
//! stores a message twice, and sends a replay's frames in sequence order and live frames of a conversation
//! in order on each lane.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use switchboard_protocol::app::{
    ConversationState, ConversationUpdate, ErrorCode, Hello, Lane, Message, MessageId, OwnedFrame,
    Presence, PresenceState, Resume, ResumePosition, SendMessage, Ticket, TicketStatus,
};

use crate::ledger::Ledger;
use crate::rng::Rng;
use crate::track::Track;
use crate::Violation;

/// Steps after which a `send` not yet acknowledged is sent again on the same connection (a refusal such
/// as `overloaded` does not say which send it refuses).
const RESEND_AFTER_STEPS: u64 = 200;
/// The step length the client assumes when it turns `retry_after_ms` into steps (the default's).
const STEP_MS_ASSUMED: u64 = 5;
/// Conversations a customer opens at most.
const CONVERSATIONS_PER_CUSTOMER_MAX: usize = 2;

/// What customers write: questions the bot answers, requests for a human, a refund that becomes a
/// ticket, anger that escalates.
const CUSTOMER_LINES: &[&str] = &[
    "会员怎么续费",
    "how do I change my password",
    "我要退款,昨天买错了课程",
    "202403150001234567",
    "转人工",
    "I want to talk to a human agent",
    "你们到底管不管,第三次问了",
    "视频一直卡顿怎么办",
    "谢谢",
    "hello",
];

/// Who the client is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A customer's device.
    Customer,
    /// An agent's console.
    Agent,
}

/// A send waiting for its `ack`.
#[derive(Debug, Clone)]
struct Unacked {
    message_id: MessageId,
    conversation: u64,
    text: String,
    sent_step: u64,
}

/// The connection a client holds now.
#[derive(Debug, Clone)]
pub struct Link {
    /// The shard it is on.
    pub shard: usize,
    /// Its id there.
    pub conn: switchboard_core::engine::ConnId,
    welcomed: bool,
    /// Per conversation: the replay being received (next expected sequence, last of the range, the
    /// queue lane its announcement came on).
    replay: HashMap<u64, (u64, u64, Lane)>,
    /// Per (conversation, lane): the last live sequence received.
    live: HashMap<(u64, u8), u64>,
}

/// A customer device or an agent console.
#[derive(Debug)]
pub struct Client {
    /// Index among the clients (names the client in violations).
    pub index: usize,
    /// The user (several devices of a customer share it).
    pub user: u64,
    /// Customer or agent.
    pub kind: Kind,
    /// Its token.
    pub token: String,
    /// Speaks `switchboard.json.v1` (else `switchboard.v1`).
    pub json: bool,
    /// The connection, when connected.
    pub link: Option<Link>,
    /// The conversations it shows.
    pub tracks: BTreeMap<u64, Track>,
    unacked: Vec<Unacked>,
    sent: u32,
    /// Agents: the conversations assigned to it, as it was told.
    pub assigned: BTreeSet<u64>,
    /// Agents: the agent chose away (and wants to stay away across reconnects).
    pub wants_away: bool,
    /// Agents: since when the server has been told the agent is away (a new session starts online).
    pub away_since: Option<u64>,
    /// Agents: its console closed at this step (and it has not authenticated since).
    pub offline_since: Option<u64>,
    /// Tickets it was told about (`ticket` frames and inboxes).
    pub tickets: BTreeSet<u64>,
    /// An `overloaded` refusal names no request: at this step the client sends its resume and its
    /// unacknowledged sends again (both are idempotent).
    retry_at: Option<u64>,
}

impl Client {
    /// A disconnected client.
    pub fn new(index: usize, user: u64, kind: Kind, token: String, json: bool) -> Self {
        Client {
            index,
            user,
            kind,
            token,
            json,
            link: None,
            tracks: BTreeMap::new(),
            unacked: Vec::new(),
            sent: 0,
            assigned: BTreeSet::new(),
            wants_away: false,
            away_since: None,
            offline_since: Some(0),
            tickets: BTreeSet::new(),
            retry_at: None,
        }
    }

    /// Connected to `shard` as `conn`: the first frame is `hello`.
    pub fn connected(
        &mut self,
        shard: usize,
        conn: switchboard_core::engine::ConnId,
    ) -> OwnedFrame {
        // A new session starts online (docs/protocol.md, `presence`) as soon as the server reads its
        // `hello` (the simulated shard reads it at once).
        self.away_since = None;
        self.offline_since = None;
        self.link = Some(Link {
            shard,
            conn,
            welcomed: false,
            replay: HashMap::new(),
            live: HashMap::new(),
        });
        OwnedFrame::new(Message::Hello(Hello {
            protocol_version: 1,
            auth_token: self.token.clone(),
            resume_token: String::new(),
        }))
    }

    /// The connection ended at `step` (either side closed it).
    pub fn disconnected(&mut self, step: u64) {
        if self.link.take().is_some() {
            self.offline_since = Some(step);
        }
    }

    /// Whether the client is connected and past `welcome`.
    pub fn ready(&self) -> bool {
        self.link.as_ref().is_some_and(|link| link.welcomed)
    }

    /// Sends not yet acknowledged.
    pub fn unacked_len(&self) -> usize {
        self.unacked.len()
    }

    /// A new message id: unique in the run (client index, count).
    fn next_message_id(&mut self) -> MessageId {
        self.sent += 1;
        let value = (u128::from(self.index as u32 + 1) << 64) | u128::from(self.sent);
        MessageId(value.to_be_bytes())
    }

    fn send_frame(conversation: u64, message_id: MessageId, text: &str) -> OwnedFrame {
        OwnedFrame::new(Message::Send(SendMessage {
            message_id,
            conversation_id: conversation,
            text: text.to_owned(),
        }))
    }

    /// One `resume` with the position of every conversation it shows, then every send not yet
    /// acknowledged, with its message id.
    fn resume_and_resend(&mut self, step: u64, out: &mut Vec<OwnedFrame>) {
        let positions: Vec<ResumePosition> = self
            .tracks
            .iter()
            .filter(|(c, _)| self.kind == Kind::Customer || self.assigned.contains(c))
            .map(|(&conversation_id, track)| ResumePosition {
                conversation_id,
                last_sequence: track.position(),
            })
            .collect();
        if !positions.is_empty() {
            out.push(resume_frame(positions));
        }
        for unacked in &mut self.unacked {
            unacked.sent_step = step;
            out.push(Self::send_frame(
                unacked.conversation,
                unacked.message_id,
                &unacked.text,
            ));
        }
    }

    /// What a connected client owes the server this step: after an `overloaded`, its resume and sends
    /// again; any send not acknowledged within [`RESEND_AFTER_STEPS`], again.
    fn retry_due(&mut self, step: u64, out: &mut Vec<OwnedFrame>) {
        if self.retry_at.is_some_and(|at| step >= at) {
            self.retry_at = None;
            self.resume_and_resend(step, out);
        }
        for unacked in &mut self.unacked {
            if step >= unacked.sent_step + RESEND_AFTER_STEPS {
                unacked.sent_step = step;
                out.push(Self::send_frame(
                    unacked.conversation,
                    unacked.message_id,
                    &unacked.text,
                ));
            }
        }
    }

    /// What the client does this step on its own, as `rng` decides.
    pub fn act(&mut self, rng: &mut Rng, step: u64, config: &crate::SimConfig) -> Vec<OwnedFrame> {
        let mut out = Vec::new();
        if !self.ready() {
            return out;
        }
        self.retry_due(step, &mut out);
        match self.kind {
            Kind::Customer => self.act_customer(rng, step, config, &mut out),
            Kind::Agent => self.act_agent(rng, step, config, &mut out),
        }
        out
    }

    fn act_customer(
        &mut self,
        rng: &mut Rng,
        step: u64,
        config: &crate::SimConfig,
        out: &mut Vec<OwnedFrame>,
    ) {
        if rng.chance(config.duplicate_per_mille) {
            // A retry of a send whose ack was lost (here: was not): acked again, never stored twice.
            if let Some(last) = self.unacked.last() {
                out.push(Self::send_frame(
                    last.conversation,
                    last.message_id,
                    &last.text,
                ));
            }
        }
        if self.sent >= config.messages_per_customer_max || !rng.chance(config.send_per_mille) {
            return;
        }
        let opening = self.unacked.iter().any(|u| u.conversation == 0);
        let conversation = if self.tracks.is_empty()
            || (self.tracks.len() < CONVERSATIONS_PER_CUSTOMER_MAX && rng.chance(100))
        {
            if opening {
                return;
            }
            0
        } else {
            let known: Vec<u64> = self.tracks.keys().copied().collect();
            *rng.pick(&known)
        };
        let text = (*rng.pick(CUSTOMER_LINES)).to_owned();
        let message_id = self.next_message_id();
        out.push(Self::send_frame(conversation, message_id, &text));
        self.unacked.push(Unacked {
            message_id,
            conversation,
            text,
            sent_step: step,
        });
    }

    fn act_agent(
        &mut self,
        rng: &mut Rng,
        step: u64,
        config: &crate::SimConfig,
        out: &mut Vec<OwnedFrame>,
    ) {
        if rng.chance(config.away_per_mille) {
            let presence = if self.wants_away {
                self.wants_away = false;
                self.away_since = None;
                PresenceState::ONLINE
            } else {
                self.wants_away = true;
                self.away_since = Some(step);
                PresenceState::AWAY
            };
            out.push(presence_frame(self.user, presence));
        }
        if self.assigned.is_empty() || !rng.chance(config.reply_per_mille) {
            return;
        }
        let assigned: Vec<u64> = self.assigned.iter().copied().collect();
        let conversation = *rng.pick(&assigned);
        let message_id = self.next_message_id();
        let text = format!("agent {} here, looking into it", self.user);
        out.push(Self::send_frame(conversation, message_id, &text));
        self.unacked.push(Unacked {
            message_id,
            conversation,
            text,
            sent_step: step,
        });
    }

    /// The quiet phase: only what a client must do, resend what is not acknowledged.
    pub fn act_quietly(&mut self, step: u64) -> Vec<OwnedFrame> {
        let mut out = Vec::new();
        if !self.ready() {
            return out;
        }
        self.retry_due(step, &mut out);
        out
    }

    /// The agent lets the server's away stand no longer, or chooses online after the quiet phase began.
    pub fn choose_online(&mut self) -> Option<OwnedFrame> {
        (self.kind == Kind::Agent && self.ready()).then(|| {
            self.wants_away = false;
            self.away_since = None;
            presence_frame(self.user, PresenceState::ONLINE)
        })
    }

    /// One frame from the server; returns what the client sends in answer.
    ///
    /// # Errors
    ///
    /// A [`Violation`] of the contract.
    pub fn on_frame(
        &mut self,
        (queue_lane, frame): (Lane, OwnedFrame),
        step: u64,
        ledger: &mut Ledger,
    ) -> Result<Vec<OwnedFrame>, Violation> {
        let mut out = Vec::new();
        match frame.message {
            Message::Welcome(_) => {
                if let Some(link) = self.link.as_mut() {
                    link.welcomed = true;
                }
                self.resume_and_resend(step, &mut out);
                if self.kind == Kind::Agent && self.wants_away {
                    // A new session starts online (docs/protocol.md, `presence`): a console whose
                    // agent chose away says so again, and is away from now on.
                    self.away_since = Some(step);
                    out.push(presence_frame(self.user, PresenceState::AWAY));
                }
            }
            Message::Ack(ack) => {
                let at = (ack.conversation_id, ack.sequence);
                ledger.stored(at, ack.message_id, self.user, "ack")?;
                if let Some(i) = self
                    .unacked
                    .iter()
                    .position(|u| u.message_id == ack.message_id)
                {
                    let unacked = self.unacked.remove(i);
                    if unacked.conversation != 0 && unacked.conversation != ack.conversation_id {
                        return Err(Violation::new(format!(
                            "client {} sent to {} and was acked in {}",
                            self.index, unacked.conversation, ack.conversation_id
                        )));
                    }
                    ledger.acked(at, self.user);
                }
                // Own messages are not delivered back to the connection that sent them.
                let new = !self.tracks.contains_key(&ack.conversation_id);
                let track = self.tracks.entry(ack.conversation_id).or_default();
                track.insert(ack.sequence);
                if new && ack.sequence > 0 {
                    // The ack of a re-sent opening send: the conversation may have moved on while the
                    // first ack was lost (docs/protocol.md, opening and following).
                    let position = track.position();
                    out.push(resume_frame(vec![ResumePosition {
                        conversation_id: ack.conversation_id,
                        last_sequence: position,
                    }]));
                }
            }
            Message::Deliver(deliver) => {
                let conversation = deliver.conversation_id;
                let sequence = deliver.sequence;
                ledger.stored(
                    (conversation, sequence),
                    deliver.message_id,
                    deliver.sender_id,
                    "deliver",
                )?;
                self.check_order(conversation, sequence, queue_lane)?;
                let new = !self.tracks.contains_key(&conversation);
                if self.kind == Kind::Customer || self.assigned.contains(&conversation) {
                    self.tracks
                        .entry(conversation)
                        .or_default()
                        .insert(sequence);
                } else if let Some(track) = self.tracks.get_mut(&conversation) {
                    track.insert(sequence);
                }
                if new && self.kind == Kind::Customer {
                    // Another device's conversation, first seen mid-way: fetch what came before.
                    out.push(resume_frame(vec![ResumePosition {
                        conversation_id: conversation,
                        last_sequence: 0,
                    }]));
                }
            }
            Message::Replay(replay) => {
                if let Some(link) = self.link.as_mut() {
                    if replay.from_sequence <= replay.to_sequence {
                        link.replay.insert(
                            replay.conversation_id,
                            (replay.from_sequence, replay.to_sequence, queue_lane),
                        );
                    }
                }
            }
            Message::Gap(gap) => {
                ledger.gap(gap.conversation_id, gap.from_sequence, gap.to_sequence);
                self.tracks
                    .entry(gap.conversation_id)
                    .or_default()
                    .insert_range(gap.from_sequence, gap.to_sequence);
                if let Some(link) = self.link.as_mut() {
                    let done = match link.replay.get_mut(&gap.conversation_id) {
                        Some(range) if range.0 == gap.from_sequence => {
                            range.0 = gap.to_sequence + 1;
                            range.0 > range.1
                        }
                        _ => false,
                    };
                    if done {
                        link.replay.remove(&gap.conversation_id);
                    }
                }
            }
            Message::ConversationUpdate(update) => self.on_update(&update, &mut out),
            Message::Error(error) if error.code == ErrorCode::OVERLOADED => {
                let wait_ms = u64::from(error.retry_after_ms.unwrap_or(0));
                let at = step + wait_ms.div_ceil(STEP_MS_ASSUMED).max(1);
                self.retry_at.get_or_insert(at);
            }
            Message::Handoff(handoff)
                if self.kind == Kind::Agent && handoff.agent_id == self.user =>
            {
                self.assign(handoff.conversation_id, &mut out);
            }
            Message::Ticket(ticket) => {
                ledger.ticket_told(ticket.ticket_id, self.kind == Kind::Agent);
                ledger.ticket_state(ticket.ticket_id, ticket.conversation_id, ticket.status.0);
                self.tickets.insert(ticket.ticket_id);
                // An agent works the tickets it hears of: takes an opened one, resolves a taken one.
                let next = match ticket.status {
                    TicketStatus::OPENED => Some(TicketStatus::ASSIGNED),
                    TicketStatus::ASSIGNED => Some(TicketStatus::RESOLVED),
                    _ => None,
                };
                if let (Kind::Agent, Some(status)) = (self.kind, next) {
                    out.push(OwnedFrame::new(Message::Ticket(Ticket {
                        ticket_id: ticket.ticket_id,
                        conversation_id: ticket.conversation_id,
                        status,
                        note: format!("agent {}", self.user),
                        ..Ticket::default()
                    })));
                }
            }
            Message::Inbox(inbox) => {
                // The inbox is the console's truth: what is not in it is no longer this agent's
                // (re-queued while the console was away, or after a restart).
                let mine: BTreeSet<u64> = inbox
                    .assigned
                    .iter()
                    .filter(|entry| entry.agent_id == self.user)
                    .map(|entry| entry.conversation_id)
                    .collect();
                self.assigned.retain(|c| mine.contains(c));
                self.unacked
                    .retain(|u| u.conversation == 0 || mine.contains(&u.conversation));
                for conversation in mine {
                    self.assign(conversation, &mut out);
                }
                for ticket in inbox.tickets {
                    ledger.ticket_told(ticket.ticket_id, true);
                    ledger.ticket_state(ticket.ticket_id, ticket.conversation_id, ticket.status.0);
                    self.tickets.insert(ticket.ticket_id);
                }
                if inbox.presence != PresenceState::ONLINE && !self.wants_away {
                    out.extend(self.choose_online());
                }
            }
            Message::Presence(presence) => {
                let not_chosen = presence.presence != PresenceState::ONLINE
                    && !self.wants_away
                    && self.kind == Kind::Agent;
                if not_chosen {
                    // Set away by the server (no reply in time): a console at its desk comes back.
                    out.extend(self.choose_online());
                }
            }
            _ => {}
        }
        Ok(out)
    }

    fn on_update(&mut self, update: &ConversationUpdate, out: &mut Vec<OwnedFrame>) {
        if self.kind != Kind::Agent {
            return;
        }
        let mine = update.state == ConversationState::ASSIGNED && update.agent_id == self.user;
        if mine {
            self.assign(update.conversation_id, out);
        } else {
            self.assigned.remove(&update.conversation_id);
            // Sends to a conversation that left the agent would be refused: forget them.
            self.unacked
                .retain(|u| u.conversation != update.conversation_id);
        }
    }

    /// A conversation assigned to this agent: it follows it and resumes it for the history it lacks.
    fn assign(&mut self, conversation: u64, out: &mut Vec<OwnedFrame>) {
        if self.assigned.insert(conversation) {
            let track = self.tracks.entry(conversation).or_default();
            out.push(resume_frame(vec![ResumePosition {
                conversation_id: conversation,
                last_sequence: track.position(),
            }]));
        }
    }

    /// A replay's frames in sequence order on the queue lane its announcement came on; live frames of
    /// a conversation in order on each queue lane. (The simulator knows the queue lane a frame was read
    /// from; a client on the wire knows only the order, which is what this checks.)
    fn check_order(
        &mut self,
        conversation: u64,
        sequence: u64,
        queue_lane: Lane,
    ) -> Result<(), Violation> {
        let index = self.index;
        let Some(link) = self.link.as_mut() else {
            return Ok(());
        };
        let key = (conversation, queue_lane as u8);
        if let Some(&(next, last, lane)) = link.replay.get(&conversation) {
            if lane == queue_lane && sequence <= last {
                if sequence != next {
                    return Err(Violation::new(format!(
                        "client {index}: replay of conversation {conversation} sent {sequence} \
                         where {next} was due"
                    )));
                }
                if sequence == last {
                    link.replay.remove(&conversation);
                    let live = link.live.entry(key).or_default();
                    *live = (*live).max(last);
                } else {
                    link.replay.insert(conversation, (next + 1, last, lane));
                }
                return Ok(());
            }
        }
        let previous = link.live.get(&key).copied().unwrap_or(0);
        if sequence <= previous {
            return Err(Violation::new(format!(
                "client {index}: conversation {conversation} delivered {sequence} after {previous} \
                 on queue lane {queue_lane:?}"
            )));
        }
        link.live.insert(key, sequence);
        Ok(())
    }
}

fn resume_frame(positions: Vec<ResumePosition>) -> OwnedFrame {
    OwnedFrame::new(Message::Resume(Resume {
        resume_token: String::new(),
        positions,
    }))
}

fn presence_frame(user: u64, presence: PresenceState) -> OwnedFrame {
    OwnedFrame::new(Message::Presence(Presence {
        user_id: user,
        presence,
        reason: String::new(),
    }))
}
