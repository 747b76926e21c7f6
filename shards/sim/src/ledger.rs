//! [`Ledger`]: what the clients were told, gathered across the run, against which the contract is
//! checked: one message per sequence, one sequence per message, acknowledged messages never lost, and
//! tickets that reached an agent.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use switchboard_protocol::app::MessageId;

use crate::Violation;

/// Everything the clients saw.
#[derive(Debug, Default)]
pub struct Ledger {
    /// (conversation, sequence) → the message that holds it.
    messages: HashMap<(u64, u64), MessageId>,
    /// Message → where it is stored.
    places: HashMap<MessageId, (u64, u64)>,
    /// Acknowledged messages and who sent them.
    pub acked: BTreeMap<(u64, u64), u64>,
    /// Ranges announced as gaps, per conversation.
    pub gaps: BTreeMap<u64, Vec<(u64, u64)>>,
    /// Tickets customers or agents were told about.
    pub tickets_told: BTreeSet<u64>,
    /// Tickets an agent was told about.
    pub tickets_to_agents: BTreeSet<u64>,
    /// Per ticket: its conversation and the furthest status anyone was told (statuses only move
    /// forward in the simulation: opened, assigned, resolved).
    pub ticket_states: BTreeMap<u64, (u64, u8)>,
}

impl Ledger {
    /// A client saw `message_id` at `at` (in an `ack` or a `deliver`).
    ///
    /// # Errors
    ///
    /// A sequence given to two messages, or a message stored at two places.
    pub fn stored(
        &mut self,
        at: (u64, u64),
        message_id: MessageId,
        _sender: u64,
        seen_in: &str,
    ) -> Result<(), Violation> {
        if let Some(previous) = self.messages.insert(at, message_id) {
            if previous != message_id {
                return Err(Violation::new(format!(
                    "sequence {} of conversation {} carries two messages ({previous:?} and \
                     {message_id:?}, seen in {seen_in})",
                    at.1, at.0
                )));
            }
        }
        if let Some(previous) = self.places.insert(message_id, at) {
            if previous != at {
                return Err(Violation::new(format!(
                    "message {message_id:?} stored twice: conversation {} sequence {} and \
                     conversation {} sequence {} (seen in {seen_in})",
                    previous.0, previous.1, at.0, at.1
                )));
            }
        }
        Ok(())
    }

    /// `at` was acknowledged to `sender`.
    pub fn acked(&mut self, at: (u64, u64), sender: u64) {
        self.acked.insert(at, sender);
    }

    /// A client was told `from..=to` of `conversation` cannot be had.
    pub fn gap(&mut self, conversation: u64, from: u64, to: u64) {
        self.gaps.entry(conversation).or_default().push((from, to));
    }

    /// A client was told ticket `id` of `conversation` is in `status`.
    pub fn ticket_state(&mut self, id: u64, conversation: u64, status: u8) {
        let entry = self
            .ticket_states
            .entry(id)
            .or_insert((conversation, status));
        entry.1 = entry.1.max(status);
    }

    /// A client was told about ticket `id` (an agent when `to_agent`).
    pub fn ticket_told(&mut self, id: u64, to_agent: bool) {
        self.tickets_told.insert(id);
        if to_agent {
            self.tickets_to_agents.insert(id);
        }
    }

    /// Whether `sequence` of `conversation` was announced as a gap.
    pub fn in_gap(&self, conversation: u64, sequence: u64) -> bool {
        self.gaps
            .get(&conversation)
            .is_some_and(|gaps| gaps.iter().any(|&(a, b)| (a..=b).contains(&sequence)))
    }
}
