//! [`RateBucket`]: a token bucket counting requests per second, used for the per-connection, per-user and
//! per-tenant request quotas (`chat.*_requests_per_second_max`).
//!
//! Time comes in as an argument (the shard's monotonic milliseconds), so the bucket is deterministic in
//! tests. It holds at most one second's worth of tokens: a quiet client may burst that much, a busy one is
//! held to the rate.

/// A token bucket refilled at `rate` tokens per second, holding at most `rate` tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateBucket {
    /// Tokens available, in thousandths (so that a millisecond's refill is exact at any rate).
    millitokens: u64,
    /// When the bucket was last refilled, shard milliseconds.
    refilled_ms: u64,
}

impl RateBucket {
    /// A full bucket at `now_ms`.
    pub fn full(rate_per_second: u64, now_ms: u64) -> Self {
        RateBucket {
            millitokens: rate_per_second.saturating_mul(1_000),
            refilled_ms: now_ms,
        }
    }

    /// Takes one token at `now_ms`, or says how many milliseconds until one is available.
    pub fn take(&mut self, rate_per_second: u64, now_ms: u64) -> Result<(), u64> {
        let capacity = rate_per_second.saturating_mul(1_000);
        let elapsed = now_ms.saturating_sub(self.refilled_ms);
        // `rate` tokens per 1,000 ms is `rate` millitokens per millisecond.
        self.millitokens = self
            .millitokens
            .saturating_add(elapsed.saturating_mul(rate_per_second))
            .min(capacity);
        self.refilled_ms = now_ms;
        if self.millitokens >= 1_000 {
            self.millitokens -= 1_000;
            return Ok(());
        }
        let missing = 1_000 - self.millitokens;
        Err(missing.div_ceil(rate_per_second.max(1)).max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_bucket_allows_one_second_then_the_rate() {
        let mut bucket = RateBucket::full(10, 0);
        for _ in 0..10 {
            assert_eq!(bucket.take(10, 0), Ok(()));
        }
        assert_eq!(bucket.take(10, 0), Err(100), "one token per 100 ms");
        assert_eq!(bucket.take(10, 99), Err(1));
        assert_eq!(bucket.take(10, 100), Ok(()));
        // A long pause refills to one second's worth, no more.
        let allowed = (0..100).filter(|_| bucket.take(10, 60_000).is_ok()).count();
        assert_eq!(allowed, 10);
    }

    #[test]
    fn a_clock_going_backwards_refills_nothing() {
        let mut bucket = RateBucket::full(1, 1_000);
        assert_eq!(bucket.take(1, 1_000), Ok(()));
        assert_eq!(bucket.take(1, 500), Err(1_000));
    }
}
