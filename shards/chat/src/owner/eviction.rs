//! Conversations nobody is talking in leave memory; their state stays in the log.
//!
//! Every retention pass ([`Owner::retain`]) evicts conversations that are `resolved` or with the bot
//! and have had no message and no state change for `chat.conversation_idle_evict_ms`, and have nothing
//! waiting for a commit. Queued and assigned conversations stay: a human is expected. An evicted
//! conversation leaves one small entry (its state) in `evicted`; the first request or routing decision
//! that names it rebuilds it from the log ([`Owner::ensure_loaded`]), as start-up recovery would. A
//! restart recovers every retained conversation, and the next pass evicts the idle ones again.

use super::Owner;
use crate::conversation::{Conversation, ConversationState};
use crate::stored::{StoredMessage, RECORD_MESSAGE};
use switchboard_log::LogStorage;

impl<S: LogStorage> Owner<S> {
    /// Evicts the idle conversations (see the module documentation); returns how many.
    pub(super) fn evict_idle(&mut self, wall_ms: u64) -> usize {
        let idle_ms = self.config.conversation_idle_evict_ms;
        let pending: std::collections::HashSet<u64> =
            self.pending.iter().map(|p| p.conversation).collect();
        let idle: Vec<(u64, ConversationState)> = self
            .conversations
            .values()
            .filter(|c| {
                matches!(
                    c.state,
                    ConversationState::Resolved | ConversationState::Bot
                ) && c.last_active_ms.saturating_add(idle_ms) <= wall_ms
                    && !pending.contains(&c.id)
                    && !self.transfers.contains_key(&c.id)
            })
            .map(|c| (c.id, c.state))
            .collect();
        for &(id, state) in &idle {
            self.conversations.remove(&id);
            self.evicted.insert(id, state);
        }
        self.counters.evicted += idle.len() as u64;
        idle.len()
    }

    /// Brings an evicted conversation back from the log before anything touches it. Does nothing for a
    /// conversation in memory or unknown; one whose records retention deleted meanwhile is forgotten.
    pub(super) fn ensure_loaded(&mut self, id: u64) {
        let Some(state) = self.evicted.remove(&id) else {
            return;
        };
        let Some(last) = self.log.last_sequence(id) else {
            return;
        };
        let Ok(records) = self.log.read(id, last, last, 1) else {
            // Kept evicted: a later request retries the read.
            self.evicted.insert(id, state);
            return;
        };
        let Some(stored) = records
            .first()
            .filter(|r| r.header.kind == RECORD_MESSAGE)
            .and_then(|r| StoredMessage::decode(&r.payload).ok())
        else {
            return;
        };
        let mut conversation = Conversation::new(id, stored.tenant, stored.customer, self.shards);
        let high_water = self.log.sequence_high_water(id).unwrap_or(last);
        conversation.appended_seq = high_water;
        conversation.released_seq = high_water;
        conversation.state = state;
        conversation.last_active_ms = self.wall_ms;
        self.conversations.insert(id, conversation);
        self.counters.reloaded += 1;
    }

    /// Conversations evicted and not brought back.
    pub fn evicted_count(&self) -> usize {
        self.evicted.len()
    }
}

#[cfg(test)]
mod tests {
    use switchboard_protocol::app::Message;

    use super::*;
    use crate::messages::{Request, StateChange};
    use crate::owner::tests::{customer, replies, send, FROM};
    use crate::ChatConfig;
    use switchboard_log::{LogConfig, MemoryStorage, ShardLog};
    use switchboard_pii::PiiPolicy;

    const IDLE_MS: u64 = 60_000;

    fn owner() -> Owner<MemoryStorage> {
        let (log, _) = ShardLog::open(LogConfig::default(), MemoryStorage::new()).unwrap();
        let chat = ChatConfig {
            routing_enabled: false,
            conversation_idle_evict_ms: IDLE_MS,
            ..ChatConfig::default()
        };
        Owner::new(0, 1, chat, PiiPolicy::default(), log).unwrap()
    }

    fn acks(owner: &mut Owner<MemoryStorage>) -> Vec<(u64, u64)> {
        replies(owner)
            .into_iter()
            .filter_map(|m| match m {
                Message::Ack(ack) => Some((ack.conversation_id, ack.sequence)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn idle_resolved_conversations_leave_memory_and_come_back_from_the_log() {
        let mut owner = owner();
        send(&mut owner, 0, 1, true);
        owner.commit().unwrap();
        let (conversation, _) = acks(&mut owner)[0];
        let resolve = Request::Update {
            conversation,
            change: StateChange::Resolve,
            reason: String::new(),
        };
        owner.handle(FROM, &customer(), resolve, 2_000);
        owner.commit().unwrap();
        replies(&mut owner);
        // Not yet idle long enough; then evicted.
        owner.retain(2_000 + IDLE_MS - 1).unwrap();
        assert_eq!(owner.conversation_count(), 1);
        owner.retain(2_000 + IDLE_MS).unwrap();
        assert_eq!((owner.conversation_count(), owner.evicted_count()), (0, 1));
        assert_eq!(owner.counters().evicted, 1);
        // The customer writes again: back from the log, re-opened, the next sequence (never reused).
        send(&mut owner, conversation, 2, false);
        owner.commit().unwrap();
        assert_eq!(acks(&mut owner), vec![(conversation, 2)]);
        assert_eq!(owner.counters().reloaded, 1);
        assert_ne!(
            owner.conversation(conversation).map(|c| c.state),
            Some(ConversationState::Resolved)
        );
    }
}
