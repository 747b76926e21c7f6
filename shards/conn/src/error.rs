//! [`ConfigError`]: why the `[limits]` of a serve configuration were refused. Always the operator's fault
//! (or a test's): fix the TOML or the flags.

/// Refused limits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A numeric field is outside its allowed range.
    #[error("config field `{field}` = {value} is out of range: allowed {min}..={max}")]
    OutOfRange {
        /// The field's name as written in the TOML, e.g. `"limits.handshake_bytes_max"`.
        field: &'static str,
        /// The rejected value.
        value: u64,
        /// Smallest allowed value.
        min: u64,
        /// Largest allowed value.
        max: u64,
    },
    /// Two fields are each in range but contradict each other.
    #[error("config field `{field}` = {value} must be {relation}")]
    Relation {
        /// The field to change.
        field: &'static str,
        /// Its rejected value.
        value: u64,
        /// The relation it must satisfy, naming the other field and its value.
        relation: String,
    },
}

impl ConfigError {
    /// Checks `min <= value <= max` for `field`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::OutOfRange`] naming `field` and the range.
    pub fn check_range(field: &'static str, value: u64, min: u64, max: u64) -> Result<(), Self> {
        if (min..=max).contains(&value) {
            Ok(())
        } else {
            Err(Self::OutOfRange {
                field,
                value,
                min,
                max,
            })
        }
    }

    /// Checks `value >= other_value`, naming both fields in the error.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Relation`] when `value < other_value`.
    pub fn check_at_least(
        field: &'static str,
        value: u64,
        other_field: &'static str,
        other_value: u64,
    ) -> Result<(), Self> {
        if value >= other_value {
            Ok(())
        } else {
            Err(Self::Relation {
                field,
                value,
                relation: format!(">= {other_field} ({other_value})"),
            })
        }
    }
}
