//! A hierarchical timer wheel: 4 levels of 64 slots plus an overflow list.
//!
//! Time is counted in ticks of `tick_ms`. A timer due at tick `d` while the wheel has processed every
//! tick up to `elapsed` sits at the level given by the highest 6-bit digit in which `d` and `elapsed`
//! differ, in the slot given by `d`'s digit at that level ("canonical placement"). Consequences that
//! the code relies on, each checked by [`TimerWheel::invariants`]:
//!
//! - every occupied slot of a level lies strictly after `elapsed`'s digit at that level, so the first
//!   occupied slot is the lowest set bit of the level's bitmap, without wrap-around;
//! - every timer on a lower level is due before every timer on a higher level, so the next slot to
//!   process is the first occupied slot of the lowest non-empty level;
//! - moving `elapsed` forward to that slot's start (or to `now` when it lies beyond) keeps every other
//!   timer canonical, so only the processed slot's timers are re-placed ("cascading").
//!
//! Timers in a later 2^24-tick block than `elapsed` wait on the overflow list, which is processed as
//! one slot starting at the next block. Timers inserted already due go on the due list, fired by the
//! next `advance`.

use std::num::NonZeroU16;

use crate::config::ConfigError;
use crate::slab::{Key, Slab};
use crate::timer::TimerConfig;

/// Bits of a tick number consumed by one level.
const SLOT_BITS: u32 = 6;
/// Slots per level.
const SLOTS: usize = 1 << SLOT_BITS;
/// Levels of the wheel: 4 × 6 bits cover 2^24 ticks (4.6 hours at 1 ms) before the overflow list.
const LEVELS: usize = 4;
/// Tick bits covered by all levels together.
const WHEEL_BITS: u32 = SLOT_BITS * LEVELS as u32;
/// List index of timers due in a later 2^24-tick block.
const OVERFLOW_LIST: usize = LEVELS * SLOTS;
/// List index of timers that were already due when inserted.
const DUE_LIST: usize = OVERFLOW_LIST + 1;
/// Number of intrusive lists: every slot, the overflow list and the due list.
const LISTS: usize = DUE_LIST + 1;

// The occupancy bitmap of a level is one u64, one bit per slot.
const _: () = assert!(SLOTS == u64::BITS as usize);
// A list index plus one fits an entry's `NonZeroU16`.
const _: () = assert!(LISTS < u16::MAX as usize);

/// An absent link (slab indices stay below `u32::MAX`, see `SLAB_CAPACITY_MAX`).
const NO_LINK: u32 = u32::MAX;

/// A timer wheel is full: more timers are pending than `timers_max`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimerError {
    /// Every preallocated timer is in use. Who is at fault: the local configuration (`timers_max`
    /// too small for the load) or a bug leaking timers; the caller must shed the work.
    #[error("timer wheel is full: {capacity} timers pending")]
    Full {
        /// The configured `timers_max`.
        capacity: usize,
    },
}

/// Identifies one pending timer; stale after it fires or is cancelled (checked by generation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimerHandle(Key);

/// One pending timer, linked into exactly one list.
///
/// Packed (a shard holds one per connection, a million of them): the links are slab indices, not keys
/// (every linked entry is live, so its key is its slot's current one, see [`TimerWheel::key_of`]), and the
/// list index is 16-bit and non-zero, which leaves the slab's `Option` a niche. 32 bytes with a `ConnId`
/// token, 40 with the slab's generation and free link.
#[derive(Debug)]
struct Entry<T> {
    /// First tick at which the timer may fire: `ceil(deadline_ms / tick_ms)`.
    deadline_tick: u64,
    /// Handed to the caller when the timer fires or is cancelled.
    token: T,
    /// Slab index of the previous entry in the list, or `NO_LINK`.
    prev: u32,
    /// Slab index of the next entry in the list, or `NO_LINK`.
    next: u32,
    /// Index of the list holding this entry, plus one.
    list_plus_one: NonZeroU16,
}

// The budget above, with the token the shards use.
const _: () = assert!(std::mem::size_of::<Option<Entry<crate::engine::ConnId>>>() <= 32);

impl<T> Entry<T> {
    /// Index of the list holding this entry.
    fn list(&self) -> usize {
        usize::from(self.list_plus_one.get()) - 1
    }

    fn set_list(&mut self, list: usize) {
        // Below `LISTS`, so the sum fits (checked at compile time above) and is not zero.
        self.list_plus_one = NonZeroU16::MIN.saturating_add(list as u16);
    }
}

/// A per-shard hierarchical timer wheel with preallocated storage.
#[derive(Debug)]
pub struct TimerWheel<T> {
    /// Storage for every pending timer, allocated once.
    entries: Slab<Entry<T>>,
    /// Head of each list: `LEVELS × SLOTS` slots, then the overflow and due lists.
    heads: Box<[Option<Key>; LISTS]>,
    /// Bit `s` of `occupied[level]` is set iff that slot's list is non-empty.
    occupied: [u64; LEVELS],
    /// Every timer due at or before this tick has fired.
    elapsed_tick: u64,
    /// Length of a tick in milliseconds.
    tick_ms: u64,
}

impl<T> TimerWheel<T> {
    /// Builds a wheel whose clock starts at `now_ms`, allocating storage for `timers_max` timers.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] if `config` is invalid.
    pub fn new(config: TimerConfig, now_ms: u64) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self {
            entries: Slab::with_capacity(config.timers_max),
            heads: Box::new([None; LISTS]),
            occupied: [0; LEVELS],
            elapsed_tick: now_ms / config.tick_ms,
            tick_ms: config.tick_ms,
        })
    }

    /// The number of pending timers.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no timer is pending.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The most timers that can be pending at once.
    pub fn capacity(&self) -> usize {
        self.entries.capacity()
    }

    /// The wheel's resolution in milliseconds.
    pub fn tick_ms(&self) -> u64 {
        self.tick_ms
    }

    /// Arms a timer that fires with `token` at the first `advance(now_ms)` with
    /// `now_ms >= deadline_ms` rounded up to the next tick. O(1).
    ///
    /// A deadline already in the past fires at the next `advance`.
    ///
    /// # Errors
    ///
    /// [`TimerError::Full`] when `timers_max` timers are pending; the token is dropped.
    pub fn insert(&mut self, deadline_ms: u64, token: T) -> Result<TimerHandle, TimerError> {
        let mut entry = Entry {
            deadline_tick: deadline_ms.div_ceil(self.tick_ms),
            token,
            prev: NO_LINK,
            next: NO_LINK,
            list_plus_one: NonZeroU16::MIN,
        };
        entry.set_list(DUE_LIST);
        let capacity = self.entries.capacity();
        let key = self
            .entries
            .try_insert(entry)
            .map_err(|_| TimerError::Full { capacity })?;
        self.link(key);
        Ok(TimerHandle(key))
    }

    /// Disarms a pending timer and returns its token, or `None` if it already fired or was
    /// cancelled. O(1).
    pub fn cancel(&mut self, handle: TimerHandle) -> Option<T> {
        if !self.entries.contains(handle.0) {
            return None;
        }
        self.unlink(handle.0);
        self.entries.remove(handle.0).map(|entry| entry.token)
    }

    /// Whether the pending timer `handle` fires at or before the tick of `deadline_ms` (`false` for a stale
    /// handle): a caller whose deadline only moved later may leave it, let it fire early and re-arm then.
    pub fn is_armed_by(&self, handle: TimerHandle, deadline_ms: u64) -> bool {
        self.entries
            .get(handle.0)
            .is_some_and(|entry| entry.deadline_tick <= deadline_ms.div_ceil(self.tick_ms))
    }

    /// Moves a pending timer to a new deadline, keeping its handle; returns `false` if the handle is
    /// stale. O(1); cheaper than cancel plus insert for heartbeats re-armed on every message.
    pub fn reset(&mut self, handle: TimerHandle, deadline_ms: u64) -> bool {
        if !self.entries.contains(handle.0) {
            return false;
        }
        self.unlink(handle.0);
        self.entry_mut(handle.0).deadline_tick = deadline_ms.div_ceil(self.tick_ms);
        self.link(handle.0);
        true
    }

    /// The earliest time in milliseconds at which [`TimerWheel::advance`] may have work, or `None`
    /// when no timer is pending. Use it to bound the event loop's wait.
    ///
    /// Exact for timers due within the current 64-tick window; for later timers it is the start of
    /// their slot, so the loop may wake early, advance (cascading, firing nothing) and ask again.
    /// A value at or before the last `now_ms` means timers are already due.
    pub fn next_deadline(&self) -> Option<u64> {
        if self.heads[DUE_LIST].is_some() {
            return Some(self.elapsed_tick.saturating_mul(self.tick_ms));
        }
        self.next_expiration()
            .map(|(_, start_tick)| start_tick.saturating_mul(self.tick_ms))
    }

    /// Advances the clock to `now_ms` and calls `fire` once with the token of every timer whose
    /// deadline is at or before `now_ms` (rounded down to a tick), then forgets it. Returns how many
    /// fired. A `now_ms` earlier than a previous one does not move the clock back.
    ///
    /// Cost: O(fired + cascaded + occupied slots passed), independent of the time elapsed.
    pub fn advance(&mut self, now_ms: u64, mut fire: impl FnMut(T)) -> usize {
        let now_tick = now_ms / self.tick_ms;
        let mut fired = self.process_list(DUE_LIST, &mut fire);
        while let Some((list, start_tick)) = self.next_expiration() {
            if start_tick > now_tick {
                break;
            }
            debug_assert!(start_tick > self.elapsed_tick, "wheel went backwards");
            self.elapsed_tick = start_tick;
            fired += self.process_list(list, &mut fire);
        }
        self.elapsed_tick = self.elapsed_tick.max(now_tick);
        fired
    }

    /// Checks the wheel's structure: lists, bitmaps and canonical placement. O(pending timers).
    pub fn invariants(&self) {
        let mut linked = 0;
        for list in 0..LISTS {
            let mut prev = None;
            let mut cursor = self.heads[list];
            while let Some(key) = cursor {
                let entry = self.entries.get(key).expect("list links a removed timer");
                assert_eq!(entry.list(), list, "entry on the wrong list");
                assert_eq!(self.key_of(entry.prev), prev, "broken back link");
                if list != DUE_LIST {
                    assert_eq!(self.list_for(entry.deadline_tick), list, "not canonical");
                }
                linked += 1;
                prev = cursor;
                cursor = self.key_of(entry.next);
            }
            if list < OVERFLOW_LIST {
                let bit = self.occupied[list / SLOTS] >> (list % SLOTS) & 1;
                assert_eq!(bit == 1, self.heads[list].is_some(), "bitmap disagrees");
            }
        }
        assert_eq!(linked, self.entries.len(), "timers missing from lists");
        self.entries.invariants();
    }

    /// The list where a timer due at `deadline_tick` belongs given the current `elapsed_tick`.
    fn list_for(&self, deadline_tick: u64) -> usize {
        if deadline_tick <= self.elapsed_tick {
            return DUE_LIST;
        }
        // The highest differing bit, at least bit 5, so differences in the lowest digit give level 0.
        let masked = (self.elapsed_tick ^ deadline_tick) | (SLOTS as u64 - 1);
        let level = ((u64::BITS - 1 - masked.leading_zeros()) / SLOT_BITS) as usize;
        if level >= LEVELS {
            return OVERFLOW_LIST;
        }
        let slot = (deadline_tick >> (level as u32 * SLOT_BITS)) as usize & (SLOTS - 1);
        level * SLOTS + slot
    }

    /// The next list to process and the tick at which its slot starts.
    fn next_expiration(&self) -> Option<(usize, u64)> {
        for (level, &bits) in self.occupied.iter().enumerate() {
            if bits != 0 {
                let slot = bits.trailing_zeros();
                let level_shift = level as u32 * SLOT_BITS;
                let window_shift = level_shift + SLOT_BITS;
                let window_start = (self.elapsed_tick >> window_shift) << window_shift;
                let start_tick = window_start + (u64::from(slot) << level_shift);
                return Some((level * SLOTS + slot as usize, start_tick));
            }
        }
        self.heads[OVERFLOW_LIST]
            .map(|_| ((self.elapsed_tick >> WHEEL_BITS) + 1) << WHEEL_BITS)
            .map(|start_tick| (OVERFLOW_LIST, start_tick))
    }

    /// Detaches `list`, fires its timers that are due and re-places the others.
    fn process_list(&mut self, list: usize, fire: &mut impl FnMut(T)) -> usize {
        let mut cursor = self.heads[list].take();
        if list < OVERFLOW_LIST {
            self.occupied[list / SLOTS] &= !(1 << (list % SLOTS));
        }
        let mut fired = 0;
        while let Some(key) = cursor {
            let next = self.entry_mut(key).next;
            cursor = self.key_of(next);
            let entry = self.entry_mut(key);
            if entry.deadline_tick <= self.elapsed_tick {
                let entry = self
                    .entries
                    .remove(key)
                    .expect("timer vanished while listed");
                fire(entry.token);
                fired += 1;
            } else {
                self.link(key);
            }
        }
        fired
    }

    /// Pushes `key` onto the front of its canonical list.
    fn link(&mut self, key: Key) {
        let deadline_tick = self.entry_mut(key).deadline_tick;
        let list = self.list_for(deadline_tick);
        let old_head = self.heads[list].replace(key);
        if let Some(old_head) = old_head {
            self.entry_mut(old_head).prev = key.index();
        }
        let entry = self.entry_mut(key);
        entry.set_list(list);
        entry.prev = NO_LINK;
        entry.next = old_head.map_or(NO_LINK, Key::index);
        if list < OVERFLOW_LIST {
            self.occupied[list / SLOTS] |= 1 << (list % SLOTS);
        }
    }

    /// Removes `key` from its list, keeping its storage.
    fn unlink(&mut self, key: Key) {
        let entry = self.entry_mut(key);
        let (list, prev, next) = (entry.list(), entry.prev, entry.next);
        match self.key_of(prev) {
            Some(prev_key) => self.entry_mut(prev_key).next = next,
            None => self.heads[list] = self.key_of(next),
        }
        if let Some(next_key) = self.key_of(next) {
            self.entry_mut(next_key).prev = prev;
        }
        if list < OVERFLOW_LIST && self.heads[list].is_none() {
            self.occupied[list / SLOTS] &= !(1 << (list % SLOTS));
        }
    }

    /// The key of the linked entry at slab index `link`, or `None` for `NO_LINK`.
    fn key_of(&self, link: u32) -> Option<Key> {
        (link != NO_LINK).then(|| {
            self.entries
                .key_at(link)
                .expect("timer lists link a removed entry")
        })
    }

    /// The entry for a key known to be live.
    fn entry_mut(&mut self, key: Key) -> &mut Entry<T> {
        self.entries
            .get_mut(key)
            .expect("timer lists link a removed entry")
    }
}
