//! The end state of a run, once everything settled: every participant of every conversation holds every
//! sequence of it (acknowledged messages first of all), nothing acknowledged was announced as lost, no
//! conversation waits in a queue while agents are free, and every ticket a customer was told about
//! reached an agent.

use std::collections::BTreeSet;

use switchboard_chat::ConversationState;

use crate::client::Kind;

use crate::world::World;
use crate::Violation;

/// Checks the settled `world`.
///
/// # Errors
///
/// The first [`Violation`] found.
pub fn end_state(world: &World) -> Result<(), Violation> {
    let ledger = &world.ledger;
    for &(conversation, sequence) in ledger.acked.keys() {
        if ledger.in_gap(conversation, sequence) {
            return Err(Violation::new(format!(
                "acknowledged sequence {sequence} of conversation {conversation} was announced as a gap"
            )));
        }
    }
    let conversations: BTreeSet<u64> = ledger.acked.keys().map(|&(c, _)| c).collect();
    let state_of = |conversation: u64| {
        let owner = switchboard_chat::ids::owner_of(conversation, world.config.shards);
        world.nodes[owner]
            .core
            .owner()
            .conversation(conversation)
            .map(|c| c.state)
    };
    let assigned = conversations
        .iter()
        .filter(|&&c| state_of(c) == Some(ConversationState::Assigned))
        .count();
    // The simulated routing shard runs with the default `agents.capacity`.
    let capacity = switchboard_routing::shard::RoutingShardConfig::default()
        .agents
        .capacity;
    let seats = world.config.agents * capacity as usize;
    let free_seats = seats.saturating_sub(assigned);
    for conversation in conversations {
        let owner = switchboard_chat::ids::owner_of(conversation, world.config.shards);
        let Some(state) = world.nodes[owner].core.owner().conversation(conversation) else {
            return Err(Violation::new(format!(
                "conversation {conversation} has acknowledged messages but its owner does not know it"
            )));
        };
        if state.state == ConversationState::Queued && free_seats > 0 {
            // Every agent is online in every group at the end: a conversation waits only while every
            // seat is taken.
            return Err(Violation::new(format!(
                "conversation {conversation} still waits in a queue while agents are free \
                 ({free_seats} seats)"
            )));
        }
        let last = state.released_seq;
        let participants = world.clients.iter().filter(|c| match c.kind {
            Kind::Customer => c.user == state.customer && c.tracks.contains_key(&conversation),
            Kind::Agent => {
                state.state == ConversationState::Assigned && state.agent == Some(c.user)
            }
        });
        let mut customer_devices = 0;
        for client in participants {
            if client.kind == Kind::Customer {
                customer_devices += 1;
            }
            let Some(track) = client.tracks.get(&conversation) else {
                return Err(Violation::new(format!(
                    "agent {} holds conversation {conversation} but was never told",
                    client.user
                )));
            };
            let missing = track.missing(last);
            if !missing.is_empty() {
                return Err(Violation::new(format!(
                    "client {} (user {}) lacks sequences {missing:?} of conversation \
                     {conversation} (1..={last}) after resuming",
                    client.index, client.user
                )));
            }
        }
        if customer_devices == 0 {
            return Err(Violation::new(format!(
                "no device of customer {} shows conversation {conversation}",
                state.customer
            )));
        }
    }
    for (&ticket, &(conversation, told)) in &ledger.ticket_states {
        let owner = switchboard_chat::ids::owner_of(conversation, world.config.shards);
        let stored = world.nodes[owner].core.owner().ticket_status(ticket);
        if stored.is_none_or(|stored| stored.0 < told) {
            return Err(Violation::new(format!(
                "ticket {ticket} was told as status {told} but its owner holds {stored:?} \
                 (told before it was durable?)"
            )));
        }
    }
    for ticket in &ledger.tickets_told {
        if !ledger.tickets_to_agents.contains(ticket) {
            return Err(Violation::new(format!(
                "ticket {ticket} never reached an agent"
            )));
        }
    }
    Ok(())
}
