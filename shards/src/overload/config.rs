//! [`OverloadConfig`]: the `[overload]` table — the thresholds that move a shard between modes.

use serde::Deserialize;

use crate::config::ConfigError;

/// One hour in milliseconds, the upper bound of the timers here.
const HOUR_MS: u64 = 3_600_000;

/// One tebibyte: no shard queues more for its clients.
const TEBIBYTE: u64 = 1 << 40;

/// When a shard enters and leaves brownout and survival, and what refused clients are told.
///
/// A threshold is *crossed* when the shard's measurements over one window reach it (see
/// [`super::OverloadDetector`] for how each signal is summarised). The defaults are far above what an idle
/// or moderately loaded laptop produces: they mean "the shard is clearly falling behind".
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OverloadConfig {
    /// Whether the shards degrade at all; `false` keeps every shard in normal mode (benchmarks that
    /// measure the saturated server, not its load shedding).
    pub enabled: bool,
    /// Length of one measurement window; modes change only when a window closes.
    pub window_ms: u64,
    /// Bytes queued for clients on one shard (all its connections) that, standing for a whole window,
    /// enter brownout.
    pub brownout_queue_bytes: u64,
    /// As `brownout_queue_bytes`, entering survival.
    pub survival_queue_bytes: u64,
    /// Occupancy of the shard's fullest outgoing cross-core ring, in percent of its capacity, that,
    /// standing for a whole window, enters brownout.
    pub brownout_ring_percent: u64,
    /// As `brownout_ring_percent`, entering survival.
    pub survival_ring_percent: u64,
    /// 99th percentile over a window of the latency samples (shard loop tick time or delivery latency)
    /// that enters brownout.
    pub brownout_latency_ms: u64,
    /// As `brownout_latency_ms`, entering survival.
    pub survival_latency_ms: u64,
    /// The exit thresholds, in percent of the enter thresholds of the current mode: every signal must
    /// stay below them for `recover_ms` before the shard steps down one level. Below 100 so that a
    /// signal hovering at a threshold cannot make the mode flap.
    pub exit_percent: u64,
    /// Time every signal must stay below the exit thresholds before stepping down one level.
    pub recover_ms: u64,
    /// `retry_after_ms` told to a client refused in brownout.
    pub brownout_retry_after_ms: u64,
    /// `retry_after_ms` told to a client refused in survival.
    pub survival_retry_after_ms: u64,
}

impl Default for OverloadConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            window_ms: 1_000,
            brownout_queue_bytes: 128 * 1_048_576,
            survival_queue_bytes: 512 * 1_048_576,
            brownout_ring_percent: 50,
            survival_ring_percent: 90,
            brownout_latency_ms: 250,
            survival_latency_ms: 1_000,
            exit_percent: 70,
            recover_ms: 10_000,
            brownout_retry_after_ms: 10_000,
            survival_retry_after_ms: 30_000,
        }
    }
}

impl OverloadConfig {
    /// Checks every field's range and the relations between fields.
    ///
    /// # Errors
    ///
    /// The first offending field as a [`ConfigError`] naming it (`overload.<field>`) and what is allowed.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_ranges()?;
        self.validate_relations()
    }

    fn validate_ranges(&self) -> Result<(), ConfigError> {
        // Retry-after values travel as a u32 on the wire; an hour fits with room to spare.
        let checks: [(&'static str, u64, u64, u64); 11] = [
            ("overload.window_ms", self.window_ms, 10, 60_000),
            (
                "overload.brownout_queue_bytes",
                self.brownout_queue_bytes,
                4_096,
                TEBIBYTE,
            ),
            (
                "overload.survival_queue_bytes",
                self.survival_queue_bytes,
                4_096,
                TEBIBYTE,
            ),
            (
                "overload.brownout_ring_percent",
                self.brownout_ring_percent,
                1,
                100,
            ),
            (
                "overload.survival_ring_percent",
                self.survival_ring_percent,
                1,
                100,
            ),
            (
                "overload.brownout_latency_ms",
                self.brownout_latency_ms,
                1,
                600_000,
            ),
            (
                "overload.survival_latency_ms",
                self.survival_latency_ms,
                1,
                600_000,
            ),
            ("overload.exit_percent", self.exit_percent, 10, 95),
            ("overload.recover_ms", self.recover_ms, 10, HOUR_MS),
            (
                "overload.brownout_retry_after_ms",
                self.brownout_retry_after_ms,
                0,
                HOUR_MS,
            ),
            (
                "overload.survival_retry_after_ms",
                self.survival_retry_after_ms,
                0,
                HOUR_MS,
            ),
        ];
        for (field, value, min, max) in checks {
            ConfigError::check_range(field, value, min, max)?;
        }
        Ok(())
    }

    fn validate_relations(&self) -> Result<(), ConfigError> {
        // Survival is the deeper state: its thresholds may equal brownout's (skip brownout entirely) but
        // never lie below them, or the shard would be "in survival" while not yet in brownout.
        ConfigError::check_at_least(
            "overload.survival_queue_bytes",
            self.survival_queue_bytes,
            "overload.brownout_queue_bytes",
            self.brownout_queue_bytes,
        )?;
        ConfigError::check_at_least(
            "overload.survival_ring_percent",
            self.survival_ring_percent,
            "overload.brownout_ring_percent",
            self.brownout_ring_percent,
        )?;
        ConfigError::check_at_least(
            "overload.survival_latency_ms",
            self.survival_latency_ms,
            "overload.brownout_latency_ms",
            self.brownout_latency_ms,
        )?;
        // Recovery is judged on whole windows, so a shorter recovery time could not be honoured.
        ConfigError::check_at_least(
            "overload.recover_ms",
            self.recover_ms,
            "overload.window_ms",
            self.window_ms,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(OverloadConfig::default().validate(), Ok(()));
    }

    #[test]
    fn empty_toml_is_the_defaults() {
        let config: OverloadConfig = toml::from_str("").unwrap();
        assert_eq!(config, OverloadConfig::default());
    }

    /// The `[overload]` snippet of docs/operations.md lists every field with its default.
    #[test]
    fn operations_guide_snippet_is_the_defaults() {
        let guide = include_str!("../../../docs/operations.md");
        let start = guide
            .find("[overload]\n")
            .expect("docs/operations.md has an [overload] snippet");
        let snippet = &guide[start..];
        let snippet = &snippet[..snippet.find("```").expect("the snippet ends")];
        let table: toml::Table = toml::from_str(snippet).unwrap();
        let config: OverloadConfig = table["overload"].clone().try_into().unwrap();
        assert_eq!(config, OverloadConfig::default());
        assert_eq!(table["overload"].as_table().unwrap().len(), 12);
    }

    #[test]
    fn unknown_field_is_rejected() {
        let error = toml::from_str::<OverloadConfig>("brownout_latency_us = 5").unwrap_err();
        assert!(error.to_string().contains("brownout_latency_us"), "{error}");
    }

    fn field_of(error: &ConfigError) -> &'static str {
        match error {
            ConfigError::OutOfRange { field, .. } | ConfigError::Relation { field, .. } => field,
            other => panic!("unexpected error {other:?}"),
        }
    }

    #[test]
    fn every_range_error_names_its_field() {
        type Edit = fn(&mut OverloadConfig);
        let cases: [(Edit, &str); 11] = [
            (|c| c.window_ms = 0, "overload.window_ms"),
            (
                |c| c.brownout_queue_bytes = 1,
                "overload.brownout_queue_bytes",
            ),
            (
                |c| c.survival_queue_bytes = TEBIBYTE + 1,
                "overload.survival_queue_bytes",
            ),
            (
                |c| c.brownout_ring_percent = 0,
                "overload.brownout_ring_percent",
            ),
            (
                |c| c.survival_ring_percent = 101,
                "overload.survival_ring_percent",
            ),
            (
                |c| c.brownout_latency_ms = 0,
                "overload.brownout_latency_ms",
            ),
            (
                |c| c.survival_latency_ms = 600_001,
                "overload.survival_latency_ms",
            ),
            (|c| c.exit_percent = 100, "overload.exit_percent"),
            (|c| c.recover_ms = 5, "overload.recover_ms"),
            (
                |c| c.brownout_retry_after_ms = HOUR_MS + 1,
                "overload.brownout_retry_after_ms",
            ),
            (
                |c| c.survival_retry_after_ms = u64::MAX,
                "overload.survival_retry_after_ms",
            ),
        ];
        for (edit, field) in cases {
            let mut config = OverloadConfig::default();
            edit(&mut config);
            let error = config.validate().unwrap_err();
            assert!(matches!(error, ConfigError::OutOfRange { .. }), "{error:?}");
            assert_eq!(field_of(&error), field);
        }
    }

    #[test]
    fn every_relation_error_names_its_field() {
        type Edit = fn(&mut OverloadConfig);
        let cases: [(Edit, &str); 4] = [
            (
                |c| c.survival_queue_bytes = c.brownout_queue_bytes - 1,
                "overload.survival_queue_bytes",
            ),
            (
                |c| c.survival_ring_percent = c.brownout_ring_percent - 1,
                "overload.survival_ring_percent",
            ),
            (
                |c| c.survival_latency_ms = c.brownout_latency_ms - 1,
                "overload.survival_latency_ms",
            ),
            (|c| c.recover_ms = c.window_ms - 1, "overload.recover_ms"),
        ];
        for (edit, field) in cases {
            let mut config = OverloadConfig::default();
            edit(&mut config);
            let error = config.validate().unwrap_err();
            assert!(matches!(error, ConfigError::Relation { .. }), "{error:?}");
            assert_eq!(field_of(&error), field);
            assert!(error.to_string().contains(field), "{error}");
        }
    }

    #[test]
    fn equal_brownout_and_survival_thresholds_are_allowed() {
        let config = OverloadConfig {
            survival_queue_bytes: 128 * 1_048_576,
            survival_ring_percent: 50,
            survival_latency_ms: 250,
            ..OverloadConfig::default()
        };
        assert_eq!(config.validate(), Ok(()));
    }
}
