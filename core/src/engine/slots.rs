//! Allocation of connection indices with generations: a fixed-size free list built at start.

use super::ids::ConnId;

/// Hands out `ConnId`s from `0..capacity`, most recently freed first (warm caches).
#[derive(Debug)]
pub(crate) struct SlotAllocator {
    generations: Vec<u32>,
    live: Vec<bool>,
    free: Vec<u32>,
}

impl SlotAllocator {
    pub(crate) fn new(capacity: u32) -> Self {
        Self {
            generations: vec![0; capacity as usize],
            live: vec![false; capacity as usize],
            free: (0..capacity).rev().collect(),
        }
    }

    /// A fresh id, or `None` when all `capacity` ids are live.
    pub(crate) fn allocate(&mut self) -> Option<ConnId> {
        let index = self.free.pop()?;
        self.live[index as usize] = true;
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
    }

    pub(crate) fn live_count(&self) -> usize {
        self.live.len() - self.free.len()
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
}
