//! # switchboard-shards
//!
//! Connection shards, conversation ownership, delivery, the durable log and the routing/AI shard.
