//! [`OverloadDetector`]: one shard's degradation mode, moved by its measured load over simulated time.

use super::admission::{admit, Refusal, RequestClass};
use super::config::OverloadConfig;
use super::mode::Mode;
use super::window::{Pressure, Thresholds, Window, WindowSummary};
use crate::config::ConfigError;

/// One measurement of a shard's load, taken by the shard loop (typically once per tick).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LoadSample {
    /// Bytes held for the shard's clients, summed over its connections: queued and not yet handed to the
    /// kernel, plus the unfinished messages being reassembled (WebSocket and switchboard.v1 fragments).
    pub queued_bytes: u64,
    /// Occupancy of the shard's fullest outgoing cross-core ring, percent of its capacity (values above
    /// 100 count as 100); see [`LoadSample::ring_percent_of`].
    pub ring_percent: u8,
    /// One latency measurement in µs, if the shard took one: the loop's tick time (wake-up to the end of
    /// the tick's work) or the worst delivery latency since the previous sample. More samples can be fed
    /// between observations with [`OverloadDetector::record_latency_us`].
    pub latency_us: Option<u64>,
}

impl LoadSample {
    /// `used` of `capacity` ring slots as a percentage, rounded up so that any occupancy counts and a
    /// full ring is exactly 100. A zero-capacity ring (none configured) is 0.
    pub fn ring_percent_of(used: usize, capacity: usize) -> u8 {
        if capacity == 0 {
            return 0;
        }
        let percent = (used.min(capacity) as u128 * 100).div_ceil(capacity as u128);
        u8::try_from(percent).unwrap_or(100)
    }
}

/// Why the mode changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransitionCause {
    /// A threshold of the new, more severe mode was crossed.
    Pressure(Pressure),
    /// Every signal stayed below the exit thresholds of the old mode for `recover_ms`.
    Recovered,
}

impl TransitionCause {
    /// A short name for log lines and metric labels.
    pub fn label(self) -> &'static str {
        match self {
            TransitionCause::Pressure(Pressure::QueueBytes) => "queue_bytes",
            TransitionCause::Pressure(Pressure::RingOccupancy) => "ring_occupancy",
            TransitionCause::Pressure(Pressure::Latency) => "latency",
            TransitionCause::Recovered => "recovered",
        }
    }
}

/// A change of mode, returned by [`OverloadDetector::observe`]: the shard logs one line and tells its
/// clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// The mode before.
    pub from: Mode,
    /// The mode now.
    pub to: Mode,
    /// When the change happened (the time of the observation that closed the window), ms.
    pub at_ms: u64,
    /// Why.
    pub cause: TransitionCause,
    /// What the window that decided it measured.
    pub window: WindowSummary,
}

/// The degradation state machine of one shard. Sans-IO: time comes in as `now_ms` (any monotonic epoch),
/// and the shard decides what to do with a [`Transition`].
///
/// Rules, applied when a window of `window_ms` closes:
/// - **Escalate at once**: if the window crossed the enter thresholds of a more severe mode, the shard
///   moves straight to the most severe one crossed (normal can jump to survival).
/// - **Step down one level at a time**: only when every signal has stayed below the exit thresholds
///   (`exit_percent` of the current mode's enter thresholds) for `recover_ms`, counted in whole windows;
///   after a step the next one needs another `recover_ms`.
/// - Otherwise the mode stays: a signal between the exit and enter thresholds holds it (hysteresis).
#[derive(Debug, Clone)]
pub struct OverloadDetector {
    config: OverloadConfig,
    thresholds: Thresholds,
    mode: Mode,
    window: Window,
    /// Start of the current run of calm windows (all signals below the current mode's exit thresholds).
    calm_since_ms: Option<u64>,
}

impl OverloadDetector {
    /// A detector in normal mode.
    ///
    /// # Errors
    ///
    /// The first invalid field of `config`, as [`OverloadConfig::validate`].
    pub fn new(config: OverloadConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self {
            thresholds: Thresholds::from_config(&config),
            config,
            mode: Mode::Normal,
            window: Window::default(),
            calm_since_ms: None,
        })
    }

    /// The current mode. Changed only by [`OverloadDetector::observe`].
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The configuration this detector was built with.
    pub fn config(&self) -> &OverloadConfig {
        &self.config
    }

    /// Whether `class` is served in the current mode; see [`admit`].
    ///
    /// # Errors
    ///
    /// A [`Refusal`] to send to the client as an `overloaded` error.
    pub fn admit(&self, class: RequestClass) -> Result<(), Refusal> {
        admit(&self.config, self.mode, class)
    }

    /// Adds a latency sample (µs) to the open window without a gauge sample, for example the delivery
    /// latency of each message. Never changes the mode by itself.
    pub fn record_latency_us(&mut self, latency_us: u64) {
        self.window.add_latency(latency_us, &self.thresholds);
    }

    /// Adds `sample`, taken at `now_ms`, to the open window; when the window has lasted `window_ms`, closes
    /// it, applies the rules, opens the next one and returns the change of mode, if any. A clock that
    /// goes backwards counts as no time passing.
    pub fn observe(&mut self, now_ms: u64, sample: LoadSample) -> Option<Transition> {
        if !self.config.enabled {
            return None;
        }
        let started_ms = self.window.open(now_ms);
        self.window
            .add_gauges(sample.queued_bytes, sample.ring_percent);
        if let Some(latency_us) = sample.latency_us {
            self.window.add_latency(latency_us, &self.thresholds);
        }
        if now_ms.saturating_sub(started_ms) < self.config.window_ms {
            return None;
        }
        let transition = self.close_window(now_ms);
        self.window = Window::default();
        self.window.open(now_ms);
        self.invariants();
        transition
    }

    /// Applies the rules to the window that just closed at `now_ms`.
    fn close_window(&mut self, now_ms: u64) -> Option<Transition> {
        let summary = self.window.summary();
        let escalation = self
            .window
            .worst_pressure(&self.thresholds)
            .filter(|&(pressed, _)| pressed > self.mode);
        if let Some((pressed, pressure)) = escalation {
            self.calm_since_ms = None;
            let cause = TransitionCause::Pressure(pressure);
            return Some(self.change(pressed, now_ms, cause, summary));
        }
        if self.mode == Mode::Normal || !self.window.below_exit(self.mode, &self.thresholds) {
            self.calm_since_ms = None;
            return None;
        }
        let calm_since_ms = *self.calm_since_ms.get_or_insert(summary.started_ms);
        if now_ms.saturating_sub(calm_since_ms) < self.config.recover_ms {
            return None;
        }
        // The next level down must prove itself calm for a full `recover_ms` of its own.
        self.calm_since_ms = None;
        let lower = self.mode.step_down();
        Some(self.change(lower, now_ms, TransitionCause::Recovered, summary))
    }

    fn change(
        &mut self,
        to: Mode,
        now_ms: u64,
        cause: TransitionCause,
        window: WindowSummary,
    ) -> Transition {
        let from = std::mem::replace(&mut self.mode, to);
        Transition {
            from,
            to,
            at_ms: now_ms,
            cause,
            window,
        }
    }

    /// Checks the relations between the fields (our bugs, not the load's).
    fn invariants(&self) {
        debug_assert!(
            self.mode != Mode::Normal || self.calm_since_ms.is_none(),
            "normal mode has nothing to recover from"
        );
        debug_assert!(
            self.config.enabled || self.mode == Mode::Normal,
            "a disabled detector never leaves normal mode"
        );
    }
}
