//! The routing/AI shard thread in chat mode: a [`RoutingShard`] driven by the cross-core rings.
//!
//! Loop: take every input from the connection shards' rings, hand it to the routing shard with the time,
//! send each decision to the owner shard of its conversation, tick the router once a second (grace periods,
//! reply timeouts, idle expiry), sleep on the eventfd when idle. It never blocks a connection shard: they
//! push without waiting, and a decision that does not fit a full ring waits in a per-shard overflow queue.
//!
//! Metrics: after every batch the loop publishes the shard's counters into a [`RoutingStats`] (single
//! writer, lock-free readers, read by `/metrics`), and the gauges (customers waiting for a human, group
//! fairness), which cost a walk over the queues, at most every [`GAUGES_PUBLISH_MS`].

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard_core::channel::Endpoint;
use tracing::{info, warn};

use super::chat_stats::RoutingStats;
use crate::chat::messages::ShardMsg;
use crate::chat::shard::route_output;
use crate::routing::shard::RoutingShard;

/// Inputs taken from each shard's ring per loop turn.
const BATCH_PER_PEER: usize = 1_024;
/// How often the router's timers are checked.
const TICK_MS: u64 = 1_000;
/// How often the gauges (waiting customers, fairness) are recomputed and published, at most.
pub(crate) const GAUGES_PUBLISH_MS: u64 = 250;

/// Publishes the routing shard's counters, and its gauges when `gauges_due`.
fn publish(shard: &RoutingShard, stats: &mut RoutingStats, gauges_due: bool) {
    stats.publish_counters(&shard.counters());
    if gauges_due {
        stats.publish_gauges(shard.waiting_count(), &shard.fairness());
    }
}

/// Runs the routing shard until `stop` is set (then woken through its inbox), publishing its metrics into
/// `stats`.
pub(crate) fn run(
    mut shard: RoutingShard,
    mut endpoint: Endpoint<ShardMsg>,
    shards: usize,
    stop: Arc<AtomicBool>,
    mut stats: RoutingStats,
) {
    let epoch = Instant::now();
    let mut overflow: Vec<VecDeque<ShardMsg>> = (0..shards).map(|_| VecDeque::new()).collect();
    let mut batch = Vec::new();
    let mut next_tick = TICK_MS;
    let mut next_gauges = 0;
    publish(&shard, &mut stats, true);
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
            route_output(output, shards, |to, message| {
                overflow[to].push_back(message)
            });
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
        let gauges_due = now >= next_gauges;
        if gauges_due {
            next_gauges = now + GAUGES_PUBLISH_MS;
        }
        publish(&shard, &mut stats, gauges_due);
        if pending {
            std::thread::sleep(Duration::from_millis(1));
        } else if endpoint.inbox.prepare_to_sleep() {
            // Wake for the next timer tick, or the next gauge refresh if queues or loads may have moved.
            let next = if gauges_due {
                next_tick
            } else {
                next_tick.min(next_gauges)
            };
            let wait = next.saturating_sub(epoch.elapsed().as_millis() as u64);
            endpoint.inbox.wait(wait);
            endpoint.inbox.drain_wake();
        }
    }
    info!(counters = ?shard.counters(), "routing shard stopped");
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use switchboard_core::channel::{Mesh, MeshConfig};

    use super::*;
    use crate::routing::shard::{RoutingInput, RoutingShardConfig};
    use crate::server::chat_stats::ROUTING_DECISIONS;

    /// How long the test waits for the routing thread to publish.
    const PUBLISH_WAIT_MS_MAX: u64 = 10_000;

    #[test]
    fn the_thread_publishes_its_decisions() {
        let shard = RoutingShard::new(RoutingShardConfig::default()).unwrap();
        let (stats, reader) = RoutingStats::new(shard.groups());
        let mut mesh = Mesh::<ShardMsg>::new(MeshConfig {
            shards_count: 1,
            ring_capacity: 64,
        })
        .unwrap();
        let routing_id = mesh.routing_id();
        let mut sender = mesh.shards.pop().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let wake = mesh.routing.inbox.wake_signal();
        let flag = Arc::clone(&stop);
        let endpoint = mesh.routing;
        let thread = std::thread::spawn(move || run(shard, endpoint, 1, flag, stats));
        let question = RoutingInput::CustomerMessage {
            tenant: 1,
            conversation: 7,
            customer: 3,
            sequence: 1,
            text: "三连是什么意思".to_owned(),
            customer_value: 0.5,
            raw: None,
        };
        sender
            .outboxes
            .push(routing_id, ShardMsg::ToRouting(question))
            .unwrap();
        let answers = ROUTING_DECISIONS.iter().position(|d| *d == "bot_answer");
        let answers = answers.unwrap();
        let deadline = Instant::now() + Duration::from_millis(PUBLISH_WAIT_MS_MAX);
        while reader.decision(answers) == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        stop.store(true, Ordering::Release);
        wake.notify();
        thread.join().unwrap();
        assert_eq!(reader.customer_messages(), 1);
        assert_eq!(reader.decision(answers), 1, "the knowledge-base answer");
        assert_eq!(reader.waiting(), 0);
        let mut delivered = 0;
        sender.inbox.drain(16, |_, _| delivered += 1);
        assert_eq!(delivered, 1, "the answer went to the owner shard");
    }
}
