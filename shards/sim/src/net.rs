//! [`Net`]: the rings between the simulated shards. One bounded FIFO queue per (from, to) pair, like the
//! server's SPSC rings; each item becomes visible to its receiver after a seeded delay, never before an
//! item pushed earlier on the same ring (rings are FIFO), while different rings interleave freely.

use std::collections::VecDeque;

use switchboard_chat::messages::ShardMsg;
use switchboard_chat::shard::Rings;

use crate::rng::Rng;

/// Every ring of the node: `peers` = connection shards + the routing shard (the last index).
#[derive(Debug)]
pub struct Net {
    peers: usize,
    capacity: usize,
    delay_max: u64,
    /// Indexed by `from * peers + to`: (step at which it may be received, item).
    queues: Vec<VecDeque<(u64, ShardMsg)>>,
}

impl Net {
    /// Rings between `peers` endpoints holding `capacity` items each, delaying items by up to
    /// `delay_max` steps.
    pub fn new(peers: usize, capacity: usize, delay_max: u64) -> Self {
        Net {
            peers,
            capacity,
            delay_max,
            queues: (0..peers * peers).map(|_| VecDeque::new()).collect(),
        }
    }

    /// The pushing side of shard `from` at `step`.
    pub fn sender<'a>(&'a mut self, from: usize, step: u64, rng: &'a mut Rng) -> Sender<'a> {
        Sender {
            net: self,
            from,
            step,
            rng,
        }
    }

    /// Takes up to `batch` items per ring that `to` may receive at `step`, rings visited in a seeded
    /// order.
    pub fn receive(&mut self, to: usize, step: u64, batch: usize, rng: &mut Rng) -> Vec<ShardMsg> {
        let mut froms: Vec<usize> = (0..self.peers).collect();
        for i in (1..froms.len()).rev() {
            froms.swap(i, rng.below(i as u64 + 1) as usize);
        }
        let mut out = Vec::new();
        for from in froms {
            let queue = &mut self.queues[from * self.peers + to];
            let mut taken = 0;
            while taken < batch && queue.front().is_some_and(|(due, _)| *due <= step) {
                out.push(queue.pop_front().expect("checked").1);
                taken += 1;
            }
        }
        out
    }

    /// Items in flight on every ring.
    pub fn in_flight(&self) -> usize {
        self.queues.iter().map(VecDeque::len).sum()
    }

    /// Drops everything in flight (the process died).
    pub fn clear(&mut self) {
        self.queues.iter_mut().for_each(VecDeque::clear);
    }
}

/// The rings out of one shard, as its [`Rings`].
pub struct Sender<'a> {
    net: &'a mut Net,
    from: usize,
    step: u64,
    rng: &'a mut Rng,
}

impl Rings for Sender<'_> {
    fn push(&mut self, to: usize, message: ShardMsg) -> Result<(), ShardMsg> {
        let net = &mut *self.net;
        let queue = &mut net.queues[self.from * net.peers + to];
        if queue.len() >= net.capacity {
            return Err(message);
        }
        let earliest = queue.back().map_or(0, |(due, _)| *due);
        let due = (self.step + self.rng.below(net.delay_max + 1)).max(earliest);
        queue.push_back((due, message));
        Ok(())
    }
}
