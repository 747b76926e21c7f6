//! Conversation ids, owner shards and sets of shards.
//!
//! A customer opens a conversation by sending to conversation 0. The new id is derived from the tenant, the
//! customer and the message id, so a retry of that first `send` (same message id, after a reconnect) lands on
//! the same id, the same owner shard and its de-duplication window: the retry is acked, not a second
//! conversation.

use switchboard_protocol::app::MessageId;

/// The conversation id a customer's opening `send` creates. Never 0, and below 2^53 so that JSON clients
/// that parse ids as doubles still see exact values.
pub fn new_conversation_id(tenant: u64, customer: u64, message_id: MessageId) -> u64 {
    let (hi, lo) = message_id.to_halves();
    let mut hash = FNV_OFFSET;
    for word in [tenant, customer, hi, lo] {
        for byte in word.to_le_bytes() {
            hash = (hash ^ u64::from(byte)).wrapping_mul(FNV_PRIME);
        }
    }
    let id = mix(hash) & ((1 << 53) - 1);
    id.max(1)
}

/// The shard that owns `conversation`: the only writer of its state and its log records.
pub fn owner_of(conversation: u64, shards: usize) -> usize {
    debug_assert!(shards > 0);
    (mix(conversation) % shards as u64) as usize
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// A 64-bit finaliser (splitmix64), so sequential ids spread evenly over shards.
fn mix(mut value: u64) -> u64 {
    value = (value ^ (value >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    value = (value ^ (value >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    value ^ (value >> 31)
}

/// Most shards a [`ShardSet`] holds (the mesh's own bound).
pub const SHARD_SET_MAX: usize = 256;

/// A set of shard ids below [`SHARD_SET_MAX`], as a fixed bitmap (no allocation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ShardSet([u64; SHARD_SET_MAX / 64]);

impl ShardSet {
    /// Every shard in `0..shards`.
    pub fn all(shards: usize) -> ShardSet {
        let mut set = ShardSet::default();
        for shard in 0..shards.min(SHARD_SET_MAX) {
            set.insert(shard);
        }
        set
    }

    /// Adds `shard`.
    pub fn insert(&mut self, shard: usize) {
        self.0[shard / 64] |= 1 << (shard % 64);
    }

    /// Removes `shard`.
    pub fn remove(&mut self, shard: usize) {
        self.0[shard / 64] &= !(1 << (shard % 64));
    }

    /// Whether `shard` is in the set.
    pub fn contains(&self, shard: usize) -> bool {
        shard < SHARD_SET_MAX && self.0[shard / 64] & (1 << (shard % 64)) != 0
    }

    /// The members, ascending.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        (0..SHARD_SET_MAX).filter(|&shard| self.contains(shard))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_are_deterministic_nonzero_and_json_safe() {
        let id = MessageId([7; 16]);
        let a = new_conversation_id(1, 2, id);
        assert_eq!(a, new_conversation_id(1, 2, id));
        assert_ne!(a, new_conversation_id(2, 2, id));
        assert_ne!(a, new_conversation_id(1, 3, id));
        assert!(a > 0 && a < (1 << 53));
        assert_eq!(
            new_conversation_id(0, 0, MessageId::default()).max(1),
            new_conversation_id(0, 0, MessageId::default())
        );
    }

    #[test]
    fn owners_spread_over_shards() {
        let mut counts = [0u32; 4];
        for conversation in 1..=4_000u64 {
            counts[owner_of(conversation, 4)] += 1;
        }
        assert!(counts.iter().all(|&count| count > 800), "{counts:?}");
        assert!((1..100).all(|c| owner_of(c, 1) == 0));
    }

    #[test]
    fn shard_set_operations() {
        let mut set = ShardSet::default();
        set.insert(0);
        set.insert(200);
        assert!(set.contains(200) && set.contains(0) && !set.contains(1));
        assert_eq!(set.iter().collect::<Vec<_>>(), vec![0, 200]);
        set.remove(200);
        assert_eq!(set.iter().collect::<Vec<_>>(), vec![0]);
        assert_eq!(ShardSet::all(3).iter().count(), 3);
    }
}
