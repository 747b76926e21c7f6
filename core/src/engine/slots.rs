//! Allocation of connection indices with generations, from tables reserved at start.
//!
//! The tables are reserved for `capacity` indices at start (one allocation each, never moved) but
//! written only as indices are first handed out, so a shard configured for a million connections and
//! holding a thousand keeps a thousand entries resident, not a million.

use super::ids::ConnId;

/// Hands out `ConnId`s from `0..capacity`, most recently freed first (warm caches), then the lowest
/// never used.
#[derive(Debug)]
pub(crate) struct SlotAllocator {
    capacity: u32,
    /// One per index handed out so far (`len` is the next never-used index).
    generations: Vec<u32>,
    live: Vec<bool>,
    /// Freed indices, the most recently freed last.
    free: Vec<u32>,
    live_count: usize,
}

impl SlotAllocator {
    pub(crate) fn new(capacity: u32) -> Self {
        Self {
            capacity,
            generations: Vec::with_capacity(capacity as usize),
            live: Vec::with_capacity(capacity as usize),
            free: Vec::with_capacity(capacity as usize),
            live_count: 0,
        }
    }

    /// A fresh id, or `None` when all `capacity` ids are live.
    pub(crate) fn allocate(&mut self) -> Option<ConnId> {
        let index = match self.free.pop() {
            Some(index) => index,
            None if self.generations.len() < self.capacity as usize => {
                self.generations.push(0);
                self.live.push(false);
                // Below `capacity`, a u32.
                (self.generations.len() - 1) as u32
            }
            None => return None,
        };
        self.live[index as usize] = true;
        self.live_count += 1;
        Some(ConnId::new(index, self.generations[index as usize]))
    }

    /// Whether `id` is the live holder of its index.
    pub(crate) fn is_live(&self, id: ConnId) -> bool {
        let i = id.index();
        i < self.live.len() && self.live[i] && self.generations[i] == id.generation()
    }

    /// The live id at `index`, if any.
    pub(crate) fn live_at(&self, index: u32) -> Option<ConnId> {
        let i = index as usize;
        (i < self.live.len() && self.live[i]).then(|| ConnId::new(index, self.generations[i]))
    }

    /// Returns `id`'s index to the pool; the next holder gets a new generation.
    pub(crate) fn free(&mut self, id: ConnId) {
        assert!(self.is_live(id), "freeing {id:?} which is not live");
        let i = id.index();
        self.live[i] = false;
        self.generations[i] = self.generations[i].wrapping_add(1);
        self.free.push(id.index() as u32);
        self.live_count -= 1;
    }

    pub(crate) fn live_count(&self) -> usize {
        self.live_count
    }

    /// Indices handed out at least once: every index below is backed by the tables.
    #[cfg(test)]
    pub(crate) fn touched(&self) -> usize {
        self.generations.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuse_bumps_generation_and_exhaustion_is_none() {
        let mut slots = SlotAllocator::new(2);
        let a = slots.allocate().unwrap();
        let b = slots.allocate().unwrap();
        assert!(slots.allocate().is_none());
        slots.free(a);
        assert!(!slots.is_live(a));
        let c = slots.allocate().unwrap();
        assert_eq!(c.index(), a.index());
        assert_ne!(c, a);
        assert!(slots.is_live(b) && slots.is_live(c));
        assert_eq!(slots.live_count(), 2);
    }

    #[test]
    fn indices_are_touched_only_as_they_are_handed_out() {
        let mut slots = SlotAllocator::new(1_000_000);
        assert_eq!(slots.touched(), 0);
        let a = slots.allocate().unwrap();
        let b = slots.allocate().unwrap();
        assert_eq!((a.index(), b.index(), slots.touched()), (0, 1, 2));
        slots.free(a);
        assert_eq!(
            slots.allocate().unwrap().index(),
            0,
            "the freed index first"
        );
        assert_eq!(
            slots.allocate().unwrap().index(),
            2,
            "then the lowest never used"
        );
        assert_eq!((slots.touched(), slots.live_count()), (3, 3));
        assert!(!slots.is_live(ConnId::new(999_999, 0)));
        assert_eq!(slots.live_at(999_999), None);
    }
}
