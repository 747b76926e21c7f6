//! Proves that the chat path does no heap allocation per message once warmed up (STYLE rule 5): a
//! customer's `send` in a conversation an agent has taken, through the session's decode, the owner
//! (de-duplication, PII masking, sequence, log append), the group commit, the `ack` back to the
//! customer and the `deliver` to the agent — on one shard, and across two shards over the rings.
//!
//! The harness ([`alloc_harness`]) drives the chat cores as the server's loop does, with a host and
//! rings that do not allocate after warm-up; the log's writes and syncs (the kernel's work, here an
//! in-memory file that grows) and the clients' reading are left out of the count.

mod alloc_harness;

use alloc_harness::Conversation;
use switchboard_core::alloc_count::CountingAllocator;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Messages sent before counting: the recyclers, the frame blocks and every queue reach their
/// working size.
const WARM_UP_MESSAGES: usize = 160;
/// Messages counted. The log indexes every retained record of a conversation in a deque that grows by
/// doubling (memory that retention gives back; under retention it stays at its working size): after
/// the opening message and the warm-up it holds 161 records in room for 256, so these 64 fit and the
/// count is the chat path's alone. [`the_logs_record_index_is_the_only_growth`] counts past it.
const COUNTED_MESSAGES: usize = 64;

/// Sends the warm-up, then returns the allocations the server made for `counted` more sends, each
/// acknowledged to the customer and delivered to the agent before the next.
fn allocations(mut conversation: Conversation, counted: usize) -> u64 {
    let id = conversation.id;
    let payloads: Vec<Vec<u8>> = (0..WARM_UP_MESSAGES + counted)
        .map(|_| conversation.send_payload(id))
        .collect();
    for payload in &payloads[..WARM_UP_MESSAGES] {
        conversation.send_counted(payload);
    }
    payloads[WARM_UP_MESSAGES..]
        .iter()
        .map(|payload| conversation.send_counted(payload))
        .sum()
}

#[test]
fn a_send_to_an_agent_on_one_shard_allocates_nothing() {
    let conversation = Conversation::assigned(1, true, true);
    assert_eq!(allocations(conversation, COUNTED_MESSAGES), 0);
}

#[test]
fn a_send_to_an_agent_on_another_shard_than_the_owner_allocates_nothing() {
    // The customer on the owner's shard; the agent's delivery crosses a ring.
    let conversation = Conversation::assigned(2, true, false);
    assert_eq!(allocations(conversation, COUNTED_MESSAGES), 0);
}

#[test]
fn a_send_from_and_to_another_shard_than_the_owner_allocates_nothing() {
    // The request, the ack and the delivery all cross rings.
    let conversation = Conversation::assigned(2, false, false);
    assert_eq!(allocations(conversation, COUNTED_MESSAGES), 0);
}

/// Past the counted window: over 1,000 more messages the conversation's record index in the log
/// doubles three times (at 256, 512 and 1,024 records), and nothing else allocates.
#[test]
fn the_logs_record_index_is_the_only_growth() {
    let conversation = Conversation::assigned(2, false, false);
    assert_eq!(allocations(conversation, 1_000), 3);
}
