//! One measurement window: how it summarises each load signal ([`WindowSummary`]) and judges it
//! against the thresholds of a mode ([`Pressure`]).
//!
//! Each signal is summarised so that neither a burst nor a lull decides on its own:
//! - Queue bytes and ring occupancy (gauges): a level is *entered* when the window's **minimum** reaches
//!   the threshold — a standing queue that never drained for a whole window, not a burst that a healthy
//!   shard absorbs (CoDel's reasoning). A level is *left* only when the window's **maximum** stays below
//!   the exit threshold — one dip is not recovery.
//! - Latency (samples): the window's 99th percentile, nearest rank. Only the comparison with the four
//!   thresholds is needed, so the window counts the samples at or above each one instead of storing them:
//!   `p99 >= t` exactly when more than `n / 100` (integer division) of the `n` samples are `>= t`.

use super::config::OverloadConfig;
use super::mode::Mode;

/// The values one level is entered at or left below.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Signals {
    pub(super) queue_bytes: u64,
    pub(super) ring_percent: u64,
    pub(super) latency_us: u64,
}

/// The enter and exit values of brownout and survival, derived from the configuration once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Thresholds {
    /// Index 0: brownout, 1: survival; see [`Thresholds::level`].
    enter: [Signals; 2],
    exit: [Signals; 2],
}

impl Thresholds {
    pub(super) fn from_config(config: &OverloadConfig) -> Self {
        let enter = [
            Signals {
                queue_bytes: config.brownout_queue_bytes,
                ring_percent: config.brownout_ring_percent,
                latency_us: config.brownout_latency_ms.saturating_mul(1_000),
            },
            Signals {
                queue_bytes: config.survival_queue_bytes,
                ring_percent: config.survival_ring_percent,
                latency_us: config.survival_latency_ms.saturating_mul(1_000),
            },
        ];
        // Rounded up so that a tiny threshold keeps a non-zero exit value (below 0 is never reached).
        let scale = |value: u64| {
            value
                .saturating_mul(config.exit_percent)
                .div_ceil(100)
                .max(1)
        };
        let exit = enter.map(|s| Signals {
            queue_bytes: scale(s.queue_bytes),
            ring_percent: scale(s.ring_percent),
            latency_us: scale(s.latency_us),
        });
        Self { enter, exit }
    }

    /// The slot of a degraded mode in the arrays; `Normal` has no thresholds of its own.
    fn level(mode: Mode) -> usize {
        match mode {
            Mode::Normal => unreachable!("normal mode has no thresholds"),
            Mode::Brownout => 0,
            Mode::Survival => 1,
        }
    }

    /// The four latency thresholds the window counts samples against, in slot order.
    fn latency_us(&self) -> [u64; 4] {
        [
            self.enter[0].latency_us,
            self.exit[0].latency_us,
            self.enter[1].latency_us,
            self.exit[1].latency_us,
        ]
    }
}

/// Why a window asks for a more severe mode: the first signal, in this order, that crossed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pressure {
    /// The queued bytes stood at or above the threshold for the whole window.
    QueueBytes,
    /// The cross-core ring occupancy stood at or above the threshold for the whole window.
    RingOccupancy,
    /// The window's p99 latency reached the threshold.
    Latency,
}

/// What one closed window measured, for the log line of a transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WindowSummary {
    /// When the window opened (the first observation, or the one that closed the previous window), ms.
    pub started_ms: u64,
    /// Gauge samples in the window.
    pub samples: u64,
    /// Smallest queued-bytes sample.
    pub queue_bytes_min: u64,
    /// Largest queued-bytes sample.
    pub queue_bytes_max: u64,
    /// Smallest ring-occupancy sample, percent.
    pub ring_percent_min: u8,
    /// Largest ring-occupancy sample, percent.
    pub ring_percent_max: u8,
    /// Latency samples in the window.
    pub latency_samples: u64,
    /// Largest latency sample, µs.
    pub latency_us_max: u64,
}

/// The open window: a summary plus the latency counts per threshold.
#[derive(Debug, Clone, Default)]
pub(super) struct Window {
    /// `None` until the first gauge sample opens the window.
    started_ms: Option<u64>,
    summary: WindowSummary,
    /// Latency samples at or above each of [`Thresholds::latency_us`].
    latency_at_least: [u64; 4],
}

impl Window {
    /// Opens the window at `now_ms` if no sample has yet, and returns its opening time.
    pub(super) fn open(&mut self, now_ms: u64) -> u64 {
        *self.started_ms.get_or_insert(now_ms)
    }

    /// Adds one gauge sample (queued bytes, ring occupancy in percent, clamped to 100).
    pub(super) fn add_gauges(&mut self, queue_bytes: u64, ring_percent: u8) {
        let ring_percent = ring_percent.min(100);
        let s = &mut self.summary;
        if s.samples == 0 {
            s.queue_bytes_min = queue_bytes;
            s.ring_percent_min = ring_percent;
        }
        s.samples += 1;
        s.queue_bytes_min = s.queue_bytes_min.min(queue_bytes);
        s.queue_bytes_max = s.queue_bytes_max.max(queue_bytes);
        s.ring_percent_min = s.ring_percent_min.min(ring_percent);
        s.ring_percent_max = s.ring_percent_max.max(ring_percent);
    }

    /// Adds one latency sample.
    pub(super) fn add_latency(&mut self, latency_us: u64, thresholds: &Thresholds) {
        self.summary.latency_samples += 1;
        self.summary.latency_us_max = self.summary.latency_us_max.max(latency_us);
        for (count, threshold) in self
            .latency_at_least
            .iter_mut()
            .zip(thresholds.latency_us())
        {
            *count += u64::from(latency_us >= threshold);
        }
    }

    /// The summary so far, with its opening time.
    pub(super) fn summary(&self) -> WindowSummary {
        WindowSummary {
            started_ms: self.started_ms.unwrap_or(0),
            ..self.summary
        }
    }

    /// Whether the p99 of the latency samples is at or above threshold slot `slot`.
    fn latency_p99_at_least(&self, slot: usize) -> bool {
        p99_at_least(self.latency_at_least[slot], self.summary.latency_samples)
    }

    /// Why the window crossed the enter thresholds of `mode` (a degraded mode), or `None`.
    pub(super) fn pressure(&self, mode: Mode, thresholds: &Thresholds) -> Option<Pressure> {
        let level = Thresholds::level(mode);
        let enter = thresholds.enter[level];
        let s = &self.summary;
        if s.samples > 0 && s.queue_bytes_min >= enter.queue_bytes {
            Some(Pressure::QueueBytes)
        } else if s.samples > 0 && u64::from(s.ring_percent_min) >= enter.ring_percent {
            Some(Pressure::RingOccupancy)
        } else if self.latency_p99_at_least(2 * level) {
            Some(Pressure::Latency)
        } else {
            None
        }
    }

    /// The most severe mode whose enter thresholds the window crossed, and why; `None` when none was.
    pub(super) fn worst_pressure(&self, thresholds: &Thresholds) -> Option<(Mode, Pressure)> {
        [Mode::Survival, Mode::Brownout]
            .into_iter()
            .find_map(|mode| Some((mode, self.pressure(mode, thresholds)?)))
    }

    /// Whether every signal stayed below the exit thresholds of `mode` (a degraded mode) all window.
    pub(super) fn below_exit(&self, mode: Mode, thresholds: &Thresholds) -> bool {
        let level = Thresholds::level(mode);
        let exit = thresholds.exit[level];
        let s = &self.summary;
        s.queue_bytes_max < exit.queue_bytes
            && u64::from(s.ring_percent_max) < exit.ring_percent
            && !self.latency_p99_at_least(2 * level + 1)
    }
}

/// `p99 >= t`, nearest rank, given `at_least` of `samples` samples are `>= t`.
///
/// The nearest-rank p99 of `n` sorted samples is the one at index `ceil(0.99 n) - 1`; it is `>= t` exactly
/// when fewer than `ceil(0.99 n)` samples are below `t`, that is when `at_least > n - ceil(0.99 n)`, and
/// `n - ceil(0.99 n) = floor(n / 100)`. No samples means no latency pressure.
pub(super) fn p99_at_least(at_least: u64, samples: u64) -> bool {
    debug_assert!(
        at_least <= samples,
        "more samples over a threshold than samples"
    );
    at_least > samples / 100
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The plain reference: sort and take the nearest-rank 99th percentile.
    fn p99_reference(samples: &mut [u64]) -> Option<u64> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_unstable();
        let rank = (samples.len() * 99).div_ceil(100);
        Some(samples[rank - 1])
    }

    proptest! {
        #[test]
        fn p99_counting_matches_sorting(
            mut samples in proptest::collection::vec(0u64..2_000, 0..400),
            threshold in 0u64..2_000,
        ) {
            let at_least = samples.iter().filter(|&&s| s >= threshold).count() as u64;
            let counted = p99_at_least(at_least, samples.len() as u64);
            let sorted = p99_reference(&mut samples).is_some_and(|p99| p99 >= threshold);
            prop_assert_eq!(counted, sorted);
        }
    }

    #[test]
    fn exit_thresholds_scale_and_never_reach_zero() {
        let config = OverloadConfig {
            brownout_ring_percent: 1,
            exit_percent: 50,
            ..OverloadConfig::default()
        };
        let thresholds = Thresholds::from_config(&config);
        assert_eq!(thresholds.exit[0].ring_percent, 1);
        assert_eq!(thresholds.enter[1].latency_us, 1_000_000);
        assert_eq!(thresholds.exit[1].latency_us, 500_000);
        assert_eq!(thresholds.exit[0].queue_bytes, 64 * 1_048_576);
    }

    #[test]
    fn a_burst_does_not_cross_but_a_standing_queue_does() {
        let thresholds = Thresholds::from_config(&OverloadConfig::default());
        let mut burst = Window::default();
        burst.add_gauges(1 << 40, 100);
        burst.add_gauges(0, 0);
        assert_eq!(burst.worst_pressure(&thresholds), None);
        assert!(!burst.below_exit(Mode::Brownout, &thresholds));

        let mut standing = Window::default();
        standing.add_gauges(600 * 1_048_576, 0);
        standing.add_gauges(520 * 1_048_576, 0);
        assert_eq!(
            standing.worst_pressure(&thresholds),
            Some((Mode::Survival, Pressure::QueueBytes))
        );
    }
}
