//! A fixed-capacity slab with generation-checked keys.
//!
//! Connections (and timers) live in slots preallocated at start. A [`Key`] is an index plus the
//! slot's generation at insertion time; removing a value bumps the generation, so a stale key held
//! by a late completion or an expired timer never reaches the connection that reused the slot.

/// Marks the end of the free list.
const FREE_LIST_END: u32 = u32::MAX;

/// The largest capacity a slab accepts: indices are `u32` and `u32::MAX` marks the free list's end.
pub const SLAB_CAPACITY_MAX: usize = (u32::MAX - 1) as usize;

/// A handle to a value in a [`Slab`]: slot index plus the slot's generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    index: u32,
    generation: u32,
}

impl Key {
    /// The slot index, below the slab's capacity.
    pub fn index(self) -> u32 {
        self.index
    }

    /// The slot generation this key was issued for.
    pub fn generation(self) -> u32 {
        self.generation
    }

    /// Packs the key into a `u64` (generation high, index low), e.g. for io_uring `user_data`.
    pub fn to_u64(self) -> u64 {
        (u64::from(self.generation) << 32) | u64::from(self.index)
    }

    /// Unpacks a key made by [`Key::to_u64`].
    pub fn from_u64(packed: u64) -> Self {
        Self {
            index: packed as u32,
            generation: (packed >> 32) as u32,
        }
    }
}

/// One preallocated slot.
#[derive(Debug)]
struct Slot<T> {
    /// Bumped on every removal so older keys stop matching.
    generation: u32,
    /// The stored value, `None` while the slot is free.
    value: Option<T>,
    /// Next free slot while this one is free; meaningless while occupied.
    next_free: u32,
}

/// A fixed-capacity slab: the storage of all slots is allocated by [`Slab::with_capacity`], never
/// afterwards, but a slot is written (and so becomes resident memory) only when first used, so a slab
/// sized for a million values and holding a thousand keeps a thousand slots resident.
#[derive(Debug)]
pub struct Slab<T> {
    /// The slots used so far, in storage reserved once for `capacity`.
    slots: Vec<Slot<T>>,
    /// The fixed number of slots.
    capacity: usize,
    /// Head of the list of freed slots, or `FREE_LIST_END` when none (slots never used follow `slots`).
    free_head: u32,
    /// Number of occupied slots.
    len: usize,
}

impl<T> Slab<T> {
    /// Allocates a slab holding at most `capacity` values.
    ///
    /// # Panics
    ///
    /// If `capacity` exceeds [`SLAB_CAPACITY_MAX`]: capacities come from validated config.
    pub fn with_capacity(capacity: usize) -> Self {
        assert!(
            capacity <= SLAB_CAPACITY_MAX,
            "slab capacity {capacity} too large"
        );
        Self {
            slots: Vec::with_capacity(capacity),
            capacity,
            free_head: FREE_LIST_END,
            len: 0,
        }
    }

    /// The fixed number of slots.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The number of stored values.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no value is stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether every slot is occupied, so [`Slab::insert`] would return `None`.
    pub fn is_full(&self) -> bool {
        self.len == self.capacity
    }

    /// Stores `value` and returns its key, or `None` when the slab is full (the value is then
    /// dropped; use [`Slab::try_insert`] to get it back).
    pub fn insert(&mut self, value: T) -> Option<Key> {
        self.try_insert(value).ok()
    }

    /// Stores `value` and returns its key, or gives the value back when the slab is full.
    ///
    /// # Errors
    ///
    /// `Err(value)` when every slot is occupied.
    pub fn try_insert(&mut self, value: T) -> Result<Key, T> {
        if self.free_head == FREE_LIST_END {
            if self.slots.len() == self.capacity {
                return Err(value);
            }
            // The lowest slot never used; within the reserved storage, so nothing is reallocated.
            let index = self.slots.len() as u32;
            self.slots.push(Slot {
                generation: 0,
                value: Some(value),
                next_free: FREE_LIST_END,
            });
            self.len += 1;
            return Ok(Key {
                index,
                generation: 0,
            });
        }
        let index = self.free_head;
        let slot = &mut self.slots[index as usize];
        debug_assert!(slot.value.is_none(), "free list points at an occupied slot");
        self.free_head = slot.next_free;
        slot.value = Some(value);
        self.len += 1;
        Ok(Key {
            index,
            generation: slot.generation,
        })
    }

    /// The value for `key`, or `None` if it was removed (even if its slot was reused).
    pub fn get(&self, key: Key) -> Option<&T> {
        let slot = self.slots.get(key.index as usize)?;
        if slot.generation == key.generation {
            slot.value.as_ref()
        } else {
            None
        }
    }

    /// The value for `key` mutably, or `None` if it was removed.
    pub fn get_mut(&mut self, key: Key) -> Option<&mut T> {
        let slot = self.slots.get_mut(key.index as usize)?;
        if slot.generation == key.generation {
            slot.value.as_mut()
        } else {
            None
        }
    }

    /// The key of the value stored in slot `index`, if the slot is occupied.
    pub fn key_at(&self, index: u32) -> Option<Key> {
        let slot = self.slots.get(index as usize)?;
        slot.value.as_ref().map(|_| Key {
            index,
            generation: slot.generation,
        })
    }

    /// Whether `key` still refers to a stored value.
    pub fn contains(&self, key: Key) -> bool {
        self.get(key).is_some()
    }

    /// Removes and returns the value for `key`, or `None` if the key is stale.
    pub fn remove(&mut self, key: Key) -> Option<T> {
        let slot = self.slots.get_mut(key.index as usize)?;
        if slot.generation != key.generation {
            return None;
        }
        let value = slot.value.take()?;
        // Wrapping is fine: a key would have to be held across 2^32 reuses of one slot to alias.
        slot.generation = slot.generation.wrapping_add(1);
        slot.next_free = self.free_head;
        self.free_head = key.index;
        self.len -= 1;
        Some(value)
    }

    /// Iterates over stored values with their keys, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (Key, &T)> + '_ {
        self.slots.iter().enumerate().filter_map(|(index, slot)| {
            let key = Key {
                index: index as u32,
                generation: slot.generation,
            };
            slot.value.as_ref().map(|value| (key, value))
        })
    }

    /// Iterates mutably over stored values with their keys, in slot order.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (Key, &mut T)> + '_ {
        self.slots
            .iter_mut()
            .enumerate()
            .filter_map(|(index, slot)| {
                let key = Key {
                    index: index as u32,
                    generation: slot.generation,
                };
                slot.value.as_mut().map(|value| (key, value))
            })
    }

    /// Checks internal consistency: the free list covers exactly the empty slots used so far.
    ///
    /// Costs O(capacity); meant for tests and debug builds.
    pub fn invariants(&self) {
        let occupied = self
            .slots
            .iter()
            .filter(|slot| slot.value.is_some())
            .count();
        assert_eq!(occupied, self.len, "len disagrees with occupied slots");
        let mut free = 0;
        let mut cursor = self.free_head;
        while cursor != FREE_LIST_END {
            let slot = &self.slots[cursor as usize];
            assert!(
                slot.value.is_none(),
                "occupied slot {cursor} on the free list"
            );
            free += 1;
            assert!(free <= self.slots.len(), "free list has a cycle");
            cursor = slot.next_free;
        }
        assert_eq!(free + self.len, self.slots.len(), "free list misses slots");
        assert!(
            self.slots.len() <= self.capacity,
            "grew beyond its capacity"
        );
    }
}
