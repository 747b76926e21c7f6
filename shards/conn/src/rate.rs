//! [`FrameRateLimiter`]: a token bucket bounding the frames a client sends per second.

/// Milli-tokens per frame: tokens are kept in thousandths so a refill per millisecond stays an integer.
const MILLI: u64 = 1_000;

/// A token bucket holding up to `frames_per_second_max` frames, refilled at that rate. A full bucket allows
/// a burst of one second's worth; a client sending faster than the rate for long empties it.
///
/// The rate is not stored (it is the shared connection settings'), so every call passes it: the limiter
/// exists once per connection.
#[derive(Debug, Clone)]
pub struct FrameRateLimiter {
    /// Tokens × 1000.
    tokens_milli: u64,
    last_refill_ms: u64,
}

impl FrameRateLimiter {
    /// A full bucket at `now_ms`.
    pub fn new(frames_per_second_max: u64, now_ms: u64) -> Self {
        assert!(frames_per_second_max > 0, "validated by Limits");
        Self {
            tokens_milli: frames_per_second_max * MILLI,
            last_refill_ms: now_ms,
        }
    }

    /// Takes one frame's token at `now_ms`; `false` when the client is over its rate. `frames_per_second_max`
    /// is the one the limiter was made with.
    pub fn take(&mut self, now_ms: u64, frames_per_second_max: u64) -> bool {
        let elapsed_ms = now_ms.saturating_sub(self.last_refill_ms);
        self.last_refill_ms = self.last_refill_ms.max(now_ms);
        // Per millisecond the bucket gains frames_per_second_max / 1000 tokens, i.e. that many milli-tokens.
        let refill = elapsed_ms.saturating_mul(frames_per_second_max);
        let capacity = frames_per_second_max * MILLI;
        self.tokens_milli = self.tokens_milli.saturating_add(refill).min(capacity);
        if self.tokens_milli < MILLI {
            return false;
        }
        self.tokens_milli -= MILLI;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_steady_rate() {
        let mut limiter = FrameRateLimiter::new(10, 0);
        assert!(
            (0..10).all(|_| limiter.take(0, 10)),
            "a full second's burst"
        );
        assert!(!limiter.take(0, 10));
        assert!(!limiter.take(99, 10), "0.99 frames refilled");
        assert!(limiter.take(100, 10));
        // Steady 10/s forever is fine.
        assert!((1..1000).all(|i| limiter.take(100 + i * 100, 10)));
    }
}
