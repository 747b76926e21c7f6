//! Small copyable handles the engine gives the shard: connections, listeners, wake fds.

use std::fmt;

/// A connection: an index (usable as a slab key, `< connections_max`) plus a generation that
/// changes each time the index is reused, so a stale id is detected instead of hitting a newer
/// connection.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId {
    index: u32,
    generation: u32,
}

impl ConnId {
    /// An id from its parts. Only the engine hands out live ids; one made up elsewhere (tests, a sans-IO
    /// layer's fixtures) names no connection unless index and generation match a live one.
    pub const fn new(index: u32, generation: u32) -> Self {
        Self { index, generation }
    }

    /// The slot index, dense in `0..connections_max`; reused after `Closed`.
    pub fn index(self) -> usize {
        self.index as usize
    }

    /// How many times this index had been handed out before (wraps).
    pub fn generation(self) -> u32 {
        self.generation
    }
}

impl fmt::Debug for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "conn#{}.{}", self.index, self.generation)
    }
}

/// A listener opened by `listen`; lives as long as the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ListenerId(pub(crate) u32);

/// An external eventfd being watched; reported back in `Event::Wake`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WakeToken(pub(crate) u32);

impl WakeToken {
    /// The order in which the fd was added (0 for the first `watch_eventfd`).
    pub fn index(self) -> usize {
        self.0 as usize
    }
}
