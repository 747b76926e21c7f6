//! Configuration of a shard's timer wheel.

use crate::config::{check_range, ConfigError};

/// The largest tick accepted: a coarser wheel would make heartbeats visibly late.
pub const TIMER_TICK_MS_MAX: u64 = 1_000;

/// The most timers one wheel may hold (preallocated, ~48 bytes each plus the token).
pub const TIMERS_MAX_LIMIT: usize = 16 * 1024 * 1024;

/// Sizes a [`TimerWheel`](crate::timer::TimerWheel).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    /// Resolution of the wheel: a timer fires at most this late after its deadline.
    pub tick_ms: u64,
    /// How many timers may be pending at once; storage for all of them is allocated at start.
    pub timers_max: usize,
}

impl Default for TimerConfig {
    fn default() -> Self {
        Self {
            tick_ms: 1,
            timers_max: 65_536,
        }
    }
}

impl TimerConfig {
    /// Checks every field's range.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the first field out of range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_range("timer_tick_ms", self.tick_ms, 1..=TIMER_TICK_MS_MAX)?;
        check_range("timers_max", self.timers_max, 1..=TIMERS_MAX_LIMIT)?;
        Ok(())
    }
}
