//! Rebuilding an owner's conversations from its recovered log at start-up.
//!
//! Message records give every retained conversation its tenant, customer and last sequence (raised above
//! any sequence a record lost to damage may have had, [`ShardLog::sequence_high_water`]); the state
//! records in [`META_CONVERSATION`], folded in log order, give the latest state, agent and group. A
//! conversation whose state records were all deleted by retention comes back in the `bot` state with its
//! owner and access rules intact. Undecodable records are logged and skipped, never a panic.

use std::collections::HashMap;

use tracing::warn;

use super::conversation::Conversation;
use super::stored::{StoredMessage, StoredState, META_CONVERSATION, RECORD_MESSAGE, RECORD_STATE};
use switchboard_log::{LogError, LogStorage, ShardLog};

/// The conversations recorded in `log`, each followed by every one of `shards` until they say otherwise.
///
/// # Errors
///
/// [`LogError`] when a segment cannot be read.
pub fn recover_conversations<S: LogStorage>(
    log: &ShardLog<S>,
    shards: usize,
) -> Result<HashMap<u64, Conversation>, LogError> {
    let mut conversations = HashMap::new();
    let ids: Vec<u64> = log
        .conversations()
        .filter(|&id| id != META_CONVERSATION)
        .collect();
    for id in ids {
        let Some(last) = log.last_sequence(id) else {
            continue;
        };
        let records = log.read(id, last, last, 1)?;
        let Some(record) = records.first().filter(|r| r.header.kind == RECORD_MESSAGE) else {
            continue;
        };
        match StoredMessage::decode(&record.payload) {
            Ok(stored) => {
                let mut conversation =
                    Conversation::new(id, stored.tenant, stored.customer, shards);
                // Above every sequence a record lost to damage may have had: never given twice.
                let high_water = log.sequence_high_water(id).unwrap_or(last);
                conversation.appended_seq = high_water;
                conversation.released_seq = high_water;
                conversations.insert(id, conversation);
            }
            Err(error) => warn!(conversation = id, %error, "unreadable message record; skipped"),
        }
    }
    let states = log.read(META_CONVERSATION, 1, u64::MAX, usize::MAX)?;
    for record in states.iter().filter(|r| r.header.kind == RECORD_STATE) {
        let state = match StoredState::decode(&record.payload) {
            Ok(state) => state,
            Err(error) => {
                warn!(lsn = record.lsn, %error, "unreadable state record; skipped");
                continue;
            }
        };
        let conversation = conversations.entry(state.conversation).or_insert_with(|| {
            Conversation::new(state.conversation, state.tenant, state.customer, shards)
        });
        conversation.state = state.state;
        conversation.agent = state.agent;
        conversation.group = state.group;
    }
    Ok(conversations)
}
