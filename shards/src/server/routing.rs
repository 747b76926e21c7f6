//! The routing/AI shard thread in chat mode: a [`RoutingShard`] driven by the cross-core rings.
//!
//! Loop: take every input from the connection shards' rings, hand it to the routing shard with the time,
//! send each decision to the owner shard of its conversation, tick the router once a second (grace periods,
//! reply timeouts, idle expiry), sleep on the eventfd when idle. It never blocks a connection shard: they
//! push without waiting, and a decision that does not fit a full ring waits in a per-shard overflow queue.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard_core::channel::Endpoint;
use tracing::{info, warn};

use crate::chat::ids::owner_of;
use crate::chat::messages::ShardMsg;
use crate::routing::shard::{RoutingOutput, RoutingShard};

/// Inputs taken from each shard's ring per loop turn.
const BATCH_PER_PEER: usize = 1_024;
/// How often the router's timers are checked.
const TICK_MS: u64 = 1_000;

/// The conversation a decision is about (`None` for agent-level decisions).
fn conversation_of(output: &RoutingOutput) -> Option<u64> {
    match output {
        RoutingOutput::BotMessage { conversation, .. }
        | RoutingOutput::Ticket { conversation, .. }
        | RoutingOutput::Queued { conversation, .. }
        | RoutingOutput::Assigned { conversation, .. }
        | RoutingOutput::Requeued { conversation, .. }
        | RoutingOutput::Transferred { conversation, .. } => Some(*conversation),
        RoutingOutput::AgentAway { .. } => None,
    }
}

/// Runs the routing shard until `stop` is set (then woken through its inbox).
pub(crate) fn run(
    mut shard: RoutingShard,
    mut endpoint: Endpoint<ShardMsg>,
    shards: usize,
    stop: Arc<AtomicBool>,
) {
    let epoch = Instant::now();
    let mut overflow: Vec<VecDeque<ShardMsg>> = (0..shards).map(|_| VecDeque::new()).collect();
    let mut batch = Vec::new();
    let mut next_tick = TICK_MS;
    info!(groups = shard.groups().len(), "routing shard running");
    while !stop.load(Ordering::Acquire) {
        let now = epoch.elapsed().as_millis() as u64;
        endpoint
            .inbox
            .drain(BATCH_PER_PEER, |_, message| batch.push(message));
        for message in batch.drain(..) {
            if let ShardMsg::ToRouting(input) = message {
                if let Err(error) = shard.handle(now, input) {
                    warn!(%error, "routing input refused");
                }
            }
        }
        if now >= next_tick {
            shard.tick(now);
            next_tick = now + TICK_MS;
        }
        while let Some(output) = shard.poll_output() {
            let Some(conversation) = conversation_of(&output) else {
                continue;
            };
            overflow[owner_of(conversation, shards)].push_back(ShardMsg::FromRouting(output));
        }
        let mut pending = false;
        for (to, queue) in overflow.iter_mut().enumerate() {
            while let Some(message) = queue.pop_front() {
                if let Err(full) = endpoint.outboxes.push_deferred(to, message) {
                    queue.push_front(full.0);
                    pending = true;
                    break;
                }
            }
        }
        endpoint.outboxes.wake_peers();
        if pending {
            std::thread::sleep(Duration::from_millis(1));
        } else if endpoint.inbox.prepare_to_sleep() {
            let wait = next_tick.saturating_sub(epoch.elapsed().as_millis() as u64);
            endpoint.inbox.wait(wait);
            endpoint.inbox.drain_wake();
        }
    }
    info!(counters = ?shard.counters(), "routing shard stopped");
}
