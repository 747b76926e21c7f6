//! Validated configuration helpers shared by every config struct in Switchboard.
//!
//! Each config struct has a `validate()` that is called once at construction and returns the first
//! field that is out of range as a [`ConfigError`], naming the field, the rejected value and what is
//! allowed, so an operator can fix the TOML without reading the source.

use std::fmt::Display;
use std::ops::RangeInclusive;

/// A configuration value that is not allowed.
///
/// Who is at fault: the operator (or the test) that wrote the configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("config field `{field}` = {value} is out of range: allowed {allowed}")]
pub struct ConfigError {
    /// The field's name as written in the configuration file, e.g. `"timer_tick_ms"`.
    pub field: &'static str,
    /// The rejected value, formatted for display.
    pub value: String,
    /// A human description of what is allowed, e.g. `"1..=64"`.
    pub allowed: String,
}

impl ConfigError {
    /// Builds an error for `field` whose `value` is not in `allowed`.
    pub fn new(field: &'static str, value: impl Display, allowed: impl Into<String>) -> Self {
        Self {
            field,
            value: value.to_string(),
            allowed: allowed.into(),
        }
    }
}

/// Checks that `value` lies in `range` (both ends included) and returns it.
///
/// # Errors
///
/// [`ConfigError`] naming `field` and the range when `value` is outside it.
pub fn check_range<T>(
    field: &'static str,
    value: T,
    range: RangeInclusive<T>,
) -> Result<T, ConfigError>
where
    T: PartialOrd + Display,
{
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError::new(
            field,
            &value,
            format!("{}..={}", range.start(), range.end()),
        ))
    }
}

/// Checks that `value` is a power of two lying in `range` and returns it.
///
/// # Errors
///
/// [`ConfigError`] naming `field` when `value` is not a power of two or is outside `range`.
pub fn check_power_of_two(
    field: &'static str,
    value: usize,
    range: RangeInclusive<usize>,
) -> Result<usize, ConfigError> {
    if value.is_power_of_two() && range.contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError::new(
            field,
            value,
            format!("a power of two in {}..={}", range.start(), range.end()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_field_value_and_range() {
        let error = check_range("shards_count", 65u32, 1..=64).unwrap_err();
        assert_eq!(
            error.to_string(),
            "config field `shards_count` = 65 is out of range: allowed 1..=64"
        );
        assert_eq!(check_range("shards_count", 64u32, 1..=64), Ok(64));
    }

    #[test]
    fn power_of_two_is_checked() {
        assert_eq!(
            check_power_of_two("ring_capacity", 1024, 2..=65536),
            Ok(1024)
        );
        let error = check_power_of_two("ring_capacity", 1000, 2..=65536).unwrap_err();
        assert_eq!(error.allowed, "a power of two in 2..=65536");
        assert!(check_power_of_two("ring_capacity", 1 << 20, 2..=65536).is_err());
    }
}
