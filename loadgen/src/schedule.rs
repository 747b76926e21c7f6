//! The open-loop send schedule: when each message of a connection is due, independent of replies.
//!
//! The total rate rises linearly from 0 to `rate` over `ramp`, then stays; each of the `connections`
//! connections carries `1 / connections` of it, offset by its own phase so that sends are spread over
//! the period instead of bunching at the same instants. A late client sends what is overdue at once,
//! stamped with the *intended* times, so a stalled server shows up as latency, not as a lower rate
//! (no coordinated omission).

/// The per-connection schedule, in seconds since the run's epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    /// Messages per second of one connection after the ramp.
    rate_per_conn: f64,
    /// Ramp length in seconds (0: full rate from the start).
    ramp_secs: f64,
    /// A spike: (start seconds, length seconds, rate multiplier); starts after the ramp.
    burst: Option<(f64, f64, f64)>,
}

impl Schedule {
    /// The schedule of one of `connections` connections sharing `rate_per_sec`.
    pub fn new(rate_per_sec: f64, ramp_secs: f64, connections: u32) -> Schedule {
        assert!(rate_per_sec > 0.0 && connections > 0, "validated in config");
        Schedule {
            rate_per_conn: rate_per_sec / f64::from(connections),
            ramp_secs: ramp_secs.max(0.0),
            burst: None,
        }
    }

    /// The same schedule with the rate multiplied by `factor` from `start_secs` for `length_secs`
    /// (moved to the end of the ramp if it would start during it).
    pub fn with_burst(self, start_secs: f64, length_secs: f64, factor: f64) -> Schedule {
        assert!(factor >= 1.0 && length_secs >= 0.0, "validated in config");
        Schedule {
            burst: Some((start_secs.max(self.ramp_secs), length_secs, factor)),
            ..self
        }
    }

    /// Messages due by `t` seconds without the burst.
    fn base_cumulative(&self, t: f64) -> f64 {
        let t = t.max(0.0);
        if t < self.ramp_secs {
            self.rate_per_conn * t * t / (2.0 * self.ramp_secs)
        } else {
            self.rate_per_conn * (t - self.ramp_secs / 2.0)
        }
    }

    /// Inverse of [`Schedule::base_cumulative`].
    fn base_time_of(&self, n: f64) -> f64 {
        let ramp_messages = self.rate_per_conn * self.ramp_secs / 2.0;
        if n < ramp_messages {
            (2.0 * n * self.ramp_secs / self.rate_per_conn).sqrt()
        } else {
            self.ramp_secs + (n - ramp_messages) / self.rate_per_conn
        }
    }

    /// Messages one connection is due to have sent by `t` seconds (fractional).
    pub fn cumulative(&self, t: f64) -> f64 {
        let base = self.base_cumulative(t);
        match self.burst {
            Some((start, length, factor)) => {
                let inside = (t - start).clamp(0.0, length);
                base + (factor - 1.0) * self.rate_per_conn * inside
            }
            None => base,
        }
    }

    /// The time (seconds) at which `cumulative` reaches `n`.
    pub fn time_of(&self, n: f64) -> f64 {
        let Some((start, length, factor)) = self.burst else {
            return self.base_time_of(n);
        };
        let at_start = self.base_cumulative(start);
        let extra = (factor - 1.0) * self.rate_per_conn * length;
        if n < at_start {
            self.base_time_of(n)
        } else if n < at_start + factor * self.rate_per_conn * length {
            start + (n - at_start) / (factor * self.rate_per_conn)
        } else {
            self.base_time_of(n - extra)
        }
    }

    /// Due time (seconds) of message `index` of a connection with `phase` in `[0, 1)`.
    pub fn due_secs(&self, index: u64, phase: f64) -> f64 {
        self.time_of(index as f64 + phase)
    }

    /// The first message index due at or after `t` for a connection with `phase` (a connection that
    /// opens late does not owe the messages scheduled before it existed).
    pub fn first_index_at(&self, t: f64, phase: f64) -> u64 {
        (self.cumulative(t) - phase).ceil().max(0.0) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steady_rate_spreads_by_phase() {
        let schedule = Schedule::new(1000.0, 0.0, 10);
        assert!((schedule.due_secs(0, 0.5) - 0.005).abs() < 1e-9);
        assert!((schedule.due_secs(3, 0.0) - 0.03).abs() < 1e-9);
        assert_eq!(schedule.first_index_at(0.031, 0.0), 4);
    }

    #[test]
    fn burst_multiplies_the_rate_for_its_length() {
        let schedule = Schedule::new(10.0, 1.0, 1).with_burst(2.0, 1.0, 6.0);
        // 10/s until 2 s (5 in the ramp + 10), 60/s for a second, then 10/s again.
        assert!((schedule.cumulative(2.0) - 15.0).abs() < 1e-9);
        assert!((schedule.cumulative(3.0) - 75.0).abs() < 1e-9);
        assert!((schedule.cumulative(4.0) - 85.0).abs() < 1e-9);
        for n in [3.0, 15.0, 40.0, 75.0, 80.0] {
            let t = schedule.time_of(n);
            assert!((schedule.cumulative(t) - n).abs() < 1e-6, "n={n}");
        }
    }

    #[test]
    fn ramp_is_inverse_of_cumulative() {
        let schedule = Schedule::new(400.0, 2.0, 4);
        for n in [0.5, 10.0, 99.0, 100.0, 101.0, 500.0] {
            let t = schedule.time_of(n);
            assert!((schedule.cumulative(t) - n).abs() < 1e-6, "n={n}");
        }
        // Half the steady count during the ramp.
        assert!((schedule.cumulative(2.0) - 100.0).abs() < 1e-9);
    }
}
