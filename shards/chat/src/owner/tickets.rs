//! Tickets: durable objects the bot opens and agents work (docs/protocol.md, `ticket`).
//!
//! The owner of a ticket's conversation is its only writer. Every change is one [`RECORD_TICKET`] in
//! the log holding the whole ticket, so recovery keeps the latest record of each id. Ids are unique on
//! the node for ever: the low [`TICKET_ID_SHARD_BITS`] bits are the owner shard, the rest start from the
//! wall clock in milliseconds and only grow (above every id recovered), so a restart, or retention
//! deleting old records, never gives an id again. Ids stay below 2^53 (exact as JavaScript numbers).
//!
//! Who is told: the conversation's customer (customer-facing text) when a ticket is opened, resolved or
//! closed; the agents of its group and the agent holding it, through the routing shard
//! ([`RoutingInput::TicketChanged`]), which also keeps the open ones for agents' inboxes; and the agent
//! who changed it, as its answer.

use std::collections::HashMap;

use switchboard_protocol::app::{ErrorCode, Message, OwnedFrame, Ticket, TicketStatus};
use tracing::{debug, warn};

use super::{Outbound, Owner};
use crate::conversation::ConversationState;
use crate::messages::{Audience, ConnRef};
use crate::stored::{StoredTicket, META_CONVERSATION, RECORD_TICKET};
use switchboard_auth::{Claims, Role};
use switchboard_log::{LogError, LogStorage, Lsn, RecordHeader, ShardLog};
use switchboard_routing::shard::RoutingInput;

/// Bits of a ticket id holding the owner shard.
pub const TICKET_ID_SHARD_BITS: u32 = 10;
/// At most this many tickets an owner keeps in memory (open and closed); a new one beyond it is not
/// stored (counted and logged): closed tickets are dropped first.
pub const TICKETS_PER_SHARD_MAX: usize = 100_000;

/// The tickets an owner holds, by id, and the last id it gave.
#[derive(Debug, Default)]
pub(super) struct Tickets {
    pub(super) by_id: HashMap<u64, StoredTicket>,
    last_id: u64,
}

impl Tickets {
    /// The tickets recorded in `log` (the latest record of each id).
    pub(super) fn recover<S: LogStorage>(log: &ShardLog<S>) -> Result<Tickets, LogError> {
        let mut tickets = Tickets::default();
        let records = log.read(META_CONVERSATION, 1, u64::MAX, usize::MAX)?;
        for record in records.iter().filter(|r| r.header.kind == RECORD_TICKET) {
            match StoredTicket::decode(&record.payload) {
                Ok(ticket) => {
                    tickets.last_id = tickets.last_id.max(ticket.ticket);
                    tickets.by_id.insert(ticket.ticket, ticket);
                }
                Err(error) => warn!(lsn = record.lsn, %error, "unreadable ticket record; skipped"),
            }
        }
        Ok(tickets)
    }

    /// The next id for `shard` at `wall_ms`: above every id given, from the clock.
    fn next_id(&mut self, shard: usize, wall_ms: u64) -> u64 {
        let shard_bits = shard as u64 & ((1 << TICKET_ID_SHARD_BITS) - 1);
        let from_clock = (wall_ms << TICKET_ID_SHARD_BITS) | shard_bits;
        let after_last = if self.last_id == 0 {
            0
        } else {
            self.last_id + (1 << TICKET_ID_SHARD_BITS)
        };
        self.last_id = from_clock.max(after_last);
        self.last_id
    }

    /// Open (not closed) tickets.
    pub(super) fn open(&self) -> impl Iterator<Item = &StoredTicket> {
        self.by_id
            .values()
            .filter(|t| t.status != TicketStatus::CLOSED.0)
    }
}

/// The ticket as the wire shows it.
fn ticket_frame(ticket: &StoredTicket) -> Ticket {
    Ticket {
        ticket_id: ticket.ticket,
        conversation_id: ticket.conversation,
        status: TicketStatus(ticket.status),
        subject: ticket.subject.clone(),
        agent_group: ticket.group.to_string(),
        agent_id: ticket.agent.unwrap_or(0),
        note: ticket.note.clone(),
    }
}

/// What the customer is told about its ticket, in its language; `None`: nothing (internal steps).
fn customer_note(status: TicketStatus, id: u64, chinese: bool) -> Option<String> {
    Some(match (status, chinese) {
        (TicketStatus::OPENED, false) => {
            format!("We opened ticket {id} for your request; an agent will follow up here.")
        }
        (TicketStatus::OPENED, true) => format!("已为您创建工单 {id}，客服会在此会话中跟进。"),
        (TicketStatus::RESOLVED, false) => format!("Your ticket {id} was resolved."),
        (TicketStatus::RESOLVED, true) => format!("您的工单 {id} 已处理完成。"),
        (TicketStatus::CLOSED, false) => format!("Your ticket {id} was closed."),
        (TicketStatus::CLOSED, true) => format!("您的工单 {id} 已关闭。"),
        _ => return None,
    })
}

impl<S: LogStorage> Owner<S> {
    /// The routing shard opened a ticket in `conversation` for `group`: store it with its durable id and
    /// tell everyone concerned.
    pub(super) fn open_ticket(
        &mut self,
        conversation: u64,
        group: u32,
        subject: &str,
        wall_ms: u64,
    ) {
        let Some(state) = self.conversations.get(&conversation) else {
            return;
        };
        if self.tickets.by_id.len() >= TICKETS_PER_SHARD_MAX {
            let closed: Vec<u64> = self
                .tickets
                .by_id
                .values()
                .filter(|t| t.status == TicketStatus::CLOSED.0)
                .map(|t| t.ticket)
                .collect();
            for id in closed {
                self.tickets.by_id.remove(&id);
            }
            if self.tickets.by_id.len() >= TICKETS_PER_SHARD_MAX {
                warn!(
                    shard = self.shard,
                    conversation, "ticket table full; ticket not stored"
                );
                return;
            }
        }
        let ticket = StoredTicket {
            ticket: self.tickets.next_id(self.shard, wall_ms),
            conversation,
            tenant: state.tenant,
            status: TicketStatus::OPENED.0,
            group,
            agent: None,
            subject: subject.to_owned(),
            note: String::new(),
        };
        let Ok(lsn) = self.store_ticket(&ticket) else {
            return;
        };
        // Told once durable, like a message's ack.
        let mark = self.out.len();
        self.tell_ticket(&ticket, None);
        self.hold_since(mark, lsn);
    }

    /// An agent (or admin) changes a ticket (client `ticket` frame).
    pub(super) fn update_ticket(
        &mut self,
        from: ConnRef,
        principal: &Claims,
        conversation: u64,
        id: u64,
        status: TicketStatus,
        note: &str,
    ) {
        let Some(ticket) = self
            .tickets
            .by_id
            .get(&id)
            .filter(|t| t.conversation == conversation && t.tenant == principal.tenant)
        else {
            self.counters.not_found += 1;
            return self.refuse(
                from,
                ErrorCode::NOT_FOUND,
                "no such ticket in this conversation",
                conversation,
            );
        };
        let allowed = match principal.role {
            Role::Admin => true,
            Role::Agent => {
                principal.groups.contains(&ticket.group) || ticket.agent == Some(principal.user)
            }
            Role::Customer | Role::Bot => false,
        };
        if !allowed {
            self.counters.forbidden += 1;
            return self.refuse(
                from,
                ErrorCode::FORBIDDEN,
                "only agents of the ticket's group (or an admin) change a ticket",
                conversation,
            );
        }
        if ticket.status == TicketStatus::CLOSED.0 {
            return self.refuse(
                from,
                ErrorCode::INVALID_STATE,
                "the ticket is closed",
                conversation,
            );
        }
        let valid = [
            TicketStatus::ASSIGNED,
            TicketStatus::PENDING,
            TicketStatus::RESOLVED,
            TicketStatus::CLOSED,
        ];
        if !valid.contains(&status) {
            return self.refuse(
                from,
                ErrorCode::INVALID_STATE,
                "a ticket can be set to assigned, pending, resolved or closed",
                conversation,
            );
        }
        let mut changed = ticket.clone();
        changed.status = status.0;
        changed.note = note.to_owned();
        if status == TicketStatus::ASSIGNED {
            changed.agent = Some(principal.user);
        }
        let Ok(lsn) = self.store_ticket(&changed) else {
            return self.refuse_degraded(from);
        };
        debug!(
            shard = self.shard,
            ticket = id,
            status = status.name(),
            "ticket changed"
        );
        // Told (the asker too) once durable: an agent never sees a change a crash could undo.
        let mark = self.out.len();
        self.tell_ticket(&changed, Some(from));
        self.hold_since(mark, lsn);
    }

    /// Tells the routing shard every open ticket (at start-up: it keeps them for agents' inboxes).
    /// At recovery: the conversations held for humans (queued, or assigned before the restart) go to
    /// the routing shard, whose state was memory only, to be queued and assigned again.
    pub(super) fn announce_held_conversations(&mut self) {
        let fallback = self.config.fallback_group;
        let mut held: Vec<&crate::conversation::Conversation> =
            self.conversations.values().collect();
        // In id order: the routing shard's decisions must not depend on a hash map's order.
        held.sort_unstable_by_key(|c| c.id);
        let held: Vec<RoutingInput> = held
            .into_iter()
            .filter(|c| {
                matches!(
                    c.state,
                    ConversationState::Queued | ConversationState::Assigned
                )
            })
            .map(|c| RoutingInput::Restore {
                tenant: c.tenant,
                conversation: c.id,
                customer: c.customer,
                group: c.group.unwrap_or(fallback),
            })
            .collect();
        self.out.extend(held.into_iter().map(Outbound::ToRouting));
    }

    pub(super) fn announce_open_tickets(&mut self) {
        let mut open: Vec<StoredTicket> = self.tickets.open().cloned().collect();
        // In id order: the routing shard's decisions must not depend on a hash map's order.
        open.sort_unstable_by_key(|t| t.ticket);
        for ticket in open {
            self.out
                .push_back(Outbound::ToRouting(RoutingInput::TicketChanged {
                    tenant: ticket.tenant,
                    ticket: Box::new(ticket_frame(&ticket)),
                    group: ticket.group,
                }));
        }
    }

    /// Appends `ticket`'s record; its LSN, which the commit must cover before anyone is told.
    fn store_ticket(&mut self, ticket: &StoredTicket) -> Result<Lsn, LogError> {
        self.scratch.clear();
        ticket.encode(&mut self.scratch);
        self.meta_seq += 1;
        let mut message_id = [0xFE; 16];
        message_id[8..].copy_from_slice(&self.meta_seq.to_be_bytes());
        message_id[..4].copy_from_slice(&(self.shard as u32).to_be_bytes());
        let header = RecordHeader {
            conversation_id: META_CONVERSATION,
            sequence: self.meta_seq,
            message_id,
            timestamp_ms: 0,
            lane: switchboard_protocol::app::Lane::Urgent as u8,
            kind: RECORD_TICKET,
        };
        match self.log.append(&header, &self.scratch) {
            Ok(lsn) => {
                self.tickets.by_id.insert(ticket.ticket, ticket.clone());
                Ok(lsn)
            }
            Err(error) => {
                self.counters.log_errors += 1;
                warn!(shard = self.shard, ticket = ticket.ticket, %error, "ticket not stored");
                Err(error)
            }
        }
    }

    /// The customer (if the change concerns it), the agents (through the routing shard) and the
    /// connection that asked.
    fn tell_ticket(&mut self, ticket: &StoredTicket, asked_by: Option<ConnRef>) {
        let frame = ticket_frame(ticket);
        let chinese = self
            .conversations
            .get(&ticket.conversation)
            .is_some_and(|c| c.chinese);
        if let Some(note) = customer_note(frame.status, ticket.ticket, chinese) {
            let customer = Ticket {
                note,
                agent_id: 0,
                ..frame.clone()
            };
            self.fan_out_to(
                ticket.conversation,
                OwnedFrame::new(Message::Ticket(customer)),
                None,
                Audience::Customer,
            );
        }
        if let Some(asker) = asked_by {
            self.reply(asker, vec![OwnedFrame::new(Message::Ticket(frame.clone()))]);
        }
        self.out
            .push_back(Outbound::ToRouting(RoutingInput::TicketChanged {
                tenant: ticket.tenant,
                ticket: Box::new(frame),
                group: ticket.group,
            }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::owner::tests::{customer, send, FROM};
    use crate::ChatConfig;
    use switchboard_log::MemoryStorage;
    use switchboard_pii::PiiPolicy;

    fn owner_over(storage: &MemoryStorage) -> Owner<MemoryStorage> {
        let (log, _) =
            ShardLog::open(switchboard_log::LogConfig::default(), storage.clone()).unwrap();
        let chat = ChatConfig {
            routing_enabled: false,
            ..ChatConfig::default()
        };
        Owner::new(2, 4, chat, PiiPolicy::default(), log).unwrap()
    }

    fn announced(owner: &mut Owner<MemoryStorage>) -> Vec<(u64, TicketStatus)> {
        let mut out = Vec::new();
        while let Some(output) = owner.poll_output() {
            if let Outbound::ToRouting(RoutingInput::TicketChanged { ticket, .. }) = output {
                out.push((ticket.ticket_id, ticket.status));
            }
        }
        out
    }

    #[test]
    fn tickets_survive_a_restart_with_their_latest_state_and_ids_never_repeat() {
        let storage = MemoryStorage::new();
        let mut owner = owner_over(&storage);
        send(&mut owner, 0, 1, true);
        owner.commit().unwrap();
        let conversation = *owner.conversations.keys().next().unwrap();
        owner.open_ticket(conversation, 3, "refund", 5_000);
        owner.open_ticket(conversation, 3, "refund", 5_000);
        assert_eq!(
            announced(&mut owner),
            vec![],
            "nobody is told before the commit"
        );
        owner.commit().unwrap();
        let opened = announced(&mut owner);
        assert_eq!(opened.len(), 2);
        let (first, second) = (opened[0].0, opened[1].0);
        assert!(first < second);
        let agent = Claims {
            role: Role::Agent,
            user: 9,
            groups: vec![3],
            ..customer()
        };
        owner.update_ticket(FROM, &agent, conversation, first, TicketStatus::CLOSED, "x");
        owner.commit().unwrap();
        drop(owner);

        let mut owner = owner_over(&storage);
        // Only the open one is announced to the routing shard; the closed one is remembered.
        assert_eq!(announced(&mut owner), vec![(second, TicketStatus::OPENED)]);
        assert_eq!(owner.tickets.by_id[&first].status, TicketStatus::CLOSED.0);
        owner.open_ticket(conversation, 3, "refund", 1);
        owner.commit().unwrap();
        let third = announced(&mut owner)[0].0;
        assert!(
            third > second,
            "above every recovered id even with an earlier clock"
        );
    }

    #[test]
    fn ids_grow_from_the_clock_and_keep_the_shard() {
        let mut tickets = Tickets::default();
        let first = tickets.next_id(3, 1_000);
        assert_eq!(first, (1_000 << TICKET_ID_SHARD_BITS) | 3);
        // The same millisecond, or a clock that went back: still above the last one, same shard bits.
        let second = tickets.next_id(3, 1_000);
        let third = tickets.next_id(3, 10);
        assert!(first < second && second < third);
        assert_eq!(third & ((1 << TICKET_ID_SHARD_BITS) - 1), 3);
        // Below 2^53 for centuries of milliseconds.
        let far = Tickets::default().next_id(1023, 4_102_444_800_000);
        assert!(far < 1 << 53);
    }
}
