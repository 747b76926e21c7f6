//! The shard mesh: one SPSC ring per ordered pair of participants.
//!
//! Participants are the `shards_count` connection shards, numbered `0..shards_count`, and one
//! routing shard numbered `shards_count` ([`Mesh::routing_id`]). Every shard has a ring to every
//! other shard and to the routing shard, and the routing shard has a ring to every shard. Each
//! participant owns one [`WakeSignal`]; every ring into it notifies that signal.

use std::os::fd::RawFd;
use std::sync::Arc;

use crate::channel::{spsc, ChannelError, Consumer, Full, Producer, WakeSignal};
use crate::config::{check_range, ConfigError};

/// The most connection shards a mesh connects (rings grow with the square of this).
pub const MESH_SHARDS_MAX: usize = 256;

/// Sizes a [`Mesh`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeshConfig {
    /// Number of connection shards, not counting the routing shard.
    pub shards_count: usize,
    /// Slots per ring, a power of two; a full ring is backpressure on the sender.
    pub ring_capacity: usize,
}

impl MeshConfig {
    /// Checks every field's range.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the first field out of range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_range("shards_count", self.shards_count, 1..=MESH_SHARDS_MAX)?;
        crate::config::check_power_of_two(
            "ring_capacity",
            self.ring_capacity,
            2..=spsc::RING_CAPACITY_MAX,
        )?;
        Ok(())
    }
}

/// The receiving side of one participant: a consumer from every peer and its wake signal.
#[derive(Debug)]
pub struct Inbox<T> {
    /// `consumers[peer]` receives from participant `peer`; `None` where there is no ring (self).
    consumers: Vec<Option<Consumer<T>>>,
    /// This participant's wake-up signal.
    wake: Arc<WakeSignal>,
}

/// The sending side of one participant: a producer to every peer.
#[derive(Debug)]
pub struct Outboxes<T> {
    /// `producers[peer]` sends to participant `peer`; `None` where there is no ring (self).
    producers: Vec<Option<Producer<T>>>,
}

/// Everything one participant (shard or routing shard) needs; move it to its thread.
#[derive(Debug)]
pub struct Endpoint<T> {
    /// This participant's id: `0..shards_count`, or `shards_count` for the routing shard.
    pub id: usize,
    /// Rings from every peer.
    pub inbox: Inbox<T>,
    /// Rings to every peer.
    pub outboxes: Outboxes<T>,
}

/// A built mesh: one [`Endpoint`] per shard and one for the routing shard.
#[derive(Debug)]
pub struct Mesh<T> {
    /// Endpoints of the connection shards, indexed by shard id.
    pub shards: Vec<Endpoint<T>>,
    /// Endpoint of the routing shard.
    pub routing: Endpoint<T>,
}

impl<T> Mesh<T> {
    /// Builds all rings and eventfds: one ring per ordered pair of distinct participants, that is
    /// `n × (n - 1)` rings for `n = shards_count + 1`, and one eventfd per participant.
    ///
    /// # Errors
    ///
    /// [`ChannelError::Config`] for an invalid config, [`ChannelError::EventFd`] if an eventfd
    /// cannot be created.
    pub fn new(config: MeshConfig) -> Result<Self, ChannelError> {
        config.validate()?;
        let participants = config.shards_count + 1;
        let wakes = (0..participants)
            .map(|_| WakeSignal::new().map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        let mut inboxes: Vec<Vec<Option<Consumer<T>>>> = (0..participants)
            .map(|_| (0..participants).map(|_| None).collect())
            .collect();
        let mut outboxes: Vec<Vec<Option<Producer<T>>>> = (0..participants)
            .map(|_| (0..participants).map(|_| None).collect())
            .collect();
        for from in 0..participants {
            for to in 0..participants {
                if from == to {
                    continue;
                }
                let wake = Some(Arc::clone(&wakes[to]));
                let (producer, consumer) = spsc::channel(config.ring_capacity, wake)?;
                outboxes[from][to] = Some(producer);
                inboxes[to][from] = Some(consumer);
            }
        }
        let mut endpoints: Vec<Endpoint<T>> = inboxes
            .into_iter()
            .zip(outboxes)
            .zip(wakes)
            .enumerate()
            .map(|(id, ((consumers, producers), wake))| Endpoint {
                id,
                inbox: Inbox { consumers, wake },
                outboxes: Outboxes { producers },
            })
            .collect();
        let routing = endpoints
            .pop()
            .expect("participants include the routing shard");
        Ok(Self {
            shards: endpoints,
            routing,
        })
    }

    /// The id of the routing shard, `shards_count`.
    pub fn routing_id(&self) -> usize {
        self.shards.len()
    }
}

impl<T> Inbox<T> {
    /// The eventfd the engine watches; readable after a peer woke this participant.
    pub fn wake_fd(&self) -> RawFd {
        self.wake.raw_fd()
    }

    /// Whether every inbound ring is empty right now.
    pub fn is_empty(&self) -> bool {
        self.consumers.iter().flatten().all(Consumer::is_empty)
    }

    /// Takes up to `max_per_peer` items from each peer in turn (bounded, fair), calling
    /// `handle(from, item)`. Returns how many were taken.
    pub fn drain(&mut self, max_per_peer: usize, mut handle: impl FnMut(usize, T)) -> usize {
        let mut taken = 0;
        for (from, consumer) in self.consumers.iter_mut().enumerate() {
            if let Some(consumer) = consumer {
                taken += consumer.pop_batch(max_per_peer, |item| handle(from, item));
            }
        }
        taken
    }

    /// Announces that this participant is about to block on [`Inbox::wake_fd`] and re-checks the
    /// rings (protocol in [`crate::channel::wake`]). Returns `true` if it may block now; `false`
    /// if items arrived meanwhile (the announcement is withdrawn: drain them instead).
    pub fn prepare_to_sleep(&self) -> bool {
        self.wake.announce_sleep();
        if self.is_empty() {
            true
        } else {
            self.wake.cancel_sleep();
            false
        }
    }

    /// Blocks until a peer wakes this participant or `timeout_ms` passed; call only after
    /// [`Inbox::prepare_to_sleep`] returned `true`, then [`Inbox::drain_wake`].
    pub fn wait(&self, timeout_ms: u64) {
        self.wake.wait(timeout_ms);
    }

    /// Call after waking (for whatever reason): clears the sleep announcement and resets the
    /// eventfd.
    pub fn drain_wake(&self) {
        self.wake.drain();
    }

    /// This participant's wake signal, e.g. to wake it for shutdown from another thread.
    pub fn wake_signal(&self) -> Arc<WakeSignal> {
        Arc::clone(&self.wake)
    }
}

impl<T> Outboxes<T> {
    /// Sends `item` to participant `to` and wakes it if it sleeps.
    ///
    /// # Errors
    ///
    /// [`Full`] with the item when that ring is full: backpressure for the caller to handle.
    ///
    /// # Panics
    ///
    /// If `to` is this participant or not a participant: a bug in the caller's routing.
    pub fn push(&mut self, to: usize, item: T) -> Result<(), Full<T>> {
        self.producer(to).push(item)
    }

    /// Sends `item` to `to` without the wake check; call [`Outboxes::wake_peers`] once per loop
    /// tick, after the batch.
    ///
    /// # Errors
    ///
    /// [`Full`] with the item when that ring is full.
    ///
    /// # Panics
    ///
    /// If `to` is this participant or not a participant.
    pub fn push_deferred(&mut self, to: usize, item: T) -> Result<(), Full<T>> {
        self.producer(to).push_deferred(item)
    }

    /// Wakes every peer that received deferred items and announced a sleep.
    pub fn wake_peers(&mut self) {
        for producer in self.producers.iter_mut().flatten() {
            producer.wake_consumer();
        }
    }

    /// Items queued now in the ring towards `to` (`0..=`[`Outboxes::ring_capacity`]), read lock-free
    /// (see [`Producer::len`]); `None` when there is no ring to `to` (this participant, or out of range).
    pub fn queued(&self, to: usize) -> Option<usize> {
        self.producers.get(to)?.as_ref().map(Producer::len)
    }

    /// Items queued in the fullest of this participant's outgoing rings (0 with no ring).
    pub fn queued_max(&self) -> usize {
        self.producers
            .iter()
            .flatten()
            .map(Producer::len)
            .max()
            .unwrap_or(0)
    }

    /// Slots of each outgoing ring (every ring of a mesh has the same capacity; 0 with no ring).
    pub fn ring_capacity(&self) -> usize {
        self.producers
            .iter()
            .flatten()
            .map(Producer::capacity)
            .next()
            .unwrap_or(0)
    }

    /// Ids of the participants this one can send to.
    pub fn peers(&self) -> impl Iterator<Item = usize> + '_ {
        self.producers
            .iter()
            .enumerate()
            .filter_map(|(id, producer)| producer.as_ref().map(|_| id))
    }

    /// The producer towards `to`, asserting it exists.
    fn producer(&mut self, to: usize) -> &mut Producer<T> {
        self.producers
            .get_mut(to)
            .and_then(Option::as_mut)
            .unwrap_or_else(|| panic!("no ring to participant {to}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn occupancy_counts_each_outgoing_ring() {
        let mut mesh = Mesh::<u32>::new(MeshConfig {
            shards_count: 2,
            ring_capacity: 4,
        })
        .unwrap();
        let routing = mesh.routing_id();
        let shard = &mut mesh.shards[0];
        assert_eq!(shard.outboxes.ring_capacity(), 4);
        assert_eq!(shard.outboxes.queued_max(), 0);
        assert_eq!(shard.outboxes.queued(0), None, "no ring to itself");
        assert_eq!(shard.outboxes.queued(routing + 1), None);
        shard.outboxes.push(1, 10).unwrap();
        for item in 0..4 {
            shard.outboxes.push_deferred(routing, item).unwrap();
        }
        assert_eq!(shard.outboxes.queued(1), Some(1));
        assert_eq!(shard.outboxes.queued(routing), Some(4));
        assert_eq!(shard.outboxes.queued_max(), 4);
        let mut taken = 0;
        mesh.routing.inbox.drain(2, |from, _| {
            assert_eq!(from, 0);
            taken += 1;
        });
        assert_eq!(taken, 2);
        let shard = &mesh.shards[0];
        assert_eq!(shard.outboxes.queued(routing), Some(2));
        assert_eq!(shard.outboxes.queued_max(), 2);
    }
}
